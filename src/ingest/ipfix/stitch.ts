/**
 * Unidirectional flow export records → bidirectional conversations in flowaudit's FlowRecord shape.
 * The records of both directions of a 5-tuple (and an exporter's active-timeout pieces of one
 * direction) are summed into one conversation; an RFC 5103 biflow brings both directions at once.
 * Memory is bounded by conversations, not records: a map keyed by the normalised 5-tuple, whose
 * entries leave when idle (by the records' own clock) or when the bound is reached (longest idle first).
 *
 * The outcome and the client are decided as the packet table decides them (flow/tcp-state.ts,
 * flow/direction.ts) from what export keeps, each side's TCP flags unioned over its packets:
 * - a side whose flags have SYN without ACK sent only SYNs: it is the client;
 * - a SYN on one side only, with ACK: its SYN-ACK answered, the other side is the client (a lone
 *   SYN-ACK confirmed by the other side's packets, 'syn-ack');
 * - SYN on both sides: the side whose record starts first opened the connection ('syn');
 * - otherwise the first packet's rules of direction.ts (ICMP request or reply, port rank), and
 *   last the earlier record's sender ('first-packet').
 * A flowaudit sensor's record (its enterprise elements, elements.ts FLOWAUDIT_PEN) says what the
 * sensor decided from the packets: its source is the client, on the evidence it names, with the
 * outcome it names. The first such record of a conversation is taken as it is.
 */
import { formatIPv4, formatIPv6 } from '../../core/addr.js';
import { formatIso } from '../../core/time.js';
import { PROTO_NAMES } from '../../flow/columns.js';
import { Evidence, State } from '../../flow/layout.js';
import { claimClientIsA, claimEvidence, firstPacketClaim } from '../../flow/direction.js';
import { Tcp, tcpOutcome } from '../../flow/tcp-state.js';
import { DIRECTION_EVIDENCE, FLAG_TEXT, type DirectionEvidence, type FlowRecord, type TcpOutcome } from '../../flow/record.js';
import { DIRECTION_CODES, OUTCOME_CODES } from './elements.js';
import type { ExportRecordView } from './view.js';

/** A conversation idle this long (record time) is finished: softflowd's shortest default timeout is 120 s (tcp.rst). */
export const IDLE_MS = 5 * 60 * 1000;
/** Conversations held at once; past it the eighth idle longest leave first (counted). */
export const MAX_CONVERSATIONS = 1 << 20;

interface Side {
  packets: number;
  bytes: number;
  flags: number;
  /** Unix ms of the side's first and last packet, NaN when no record gave a time. */
  startMs: number;
  endMs: number;
}

interface Conversation {
  key: string;
  proto: number;
  ipVersion: 4 | 6;
  ports: boolean;
  /** A is the lower (address, port), as the flow table normalises. */
  a: Uint32Array;
  b: Uint32Array;
  portA: number;
  portB: number;
  sideA: Side;
  sideB: Side;
  /** Which side sent the earliest record's first packet (true: A). */
  firstFromA: boolean;
  firstMs: number;
  /** The latest record end seen, for the idle timeout. */
  lastMs: number;
  icmp: number;
  vlan: number;
  records: number;
  biflow: boolean;
  /** The first record's sender's port (its destination's) for the port rank. */
  firstSrcPort: number;
  firstDstPort: number;
  /** What a flowaudit sensor's record said (its source is the client; outcome undefined: not said). */
  given?: { clientIsA: boolean; evidence: DirectionEvidence; outcome: TcpOutcome | null | undefined };
  /** The messages of the first and the last record (the decoder's numbers): where the conversation is in its input. */
  firstMessage: number;
  lastMessage: number;
}

export interface StitcherOptions {
  /** Receives each finished conversation. */
  onFlow: (r: FlowRecord) => void;
  idleMs?: number;
  maxConversations?: number;
}

export interface StitcherStats {
  records: number;
  biflows: number;
  conversations: number;
  /** Conversations that left early because the bound was reached. */
  evicted: number;
}

/** Whether address a (4 words) with port pa orders before b with pb. */
function lower(a: Uint32Array, pa: number, b: Uint32Array, pb: number): boolean {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return pa <= pb;
}

function side(): Side {
  return { packets: 0, bytes: 0, flags: 0, startMs: NaN, endMs: NaN };
}

function add(s: Side, packets: number, bytes: number, flags: number, startMs: number, endMs: number): void {
  // A biflow record whose forward side is empty (softflowd's ICMP reply) says nothing of that side's time.
  if (packets === 0) return;
  s.packets += packets;
  s.bytes += bytes;
  s.flags |= flags;
  if (!Number.isNaN(startMs) && (Number.isNaN(s.startMs) || startMs < s.startMs)) s.startMs = startMs;
  if (!Number.isNaN(endMs) && (Number.isNaN(s.endMs) || endMs > s.endMs)) s.endMs = endMs;
}

export class FlowStitcher {
  readonly stats: StitcherStats = { records: 0, biflows: 0, conversations: 0, evicted: 0 };
  /**
   * Open conversations by key. Entries are not moved on activity (a delete and set per record costs
   * more than the rest of the record's work): expire() and the bound scan them instead, rarely.
   */
  private readonly open = new Map<string, Conversation>();
  /** The clock at the last expire() scan: the next scan waits until the clock moves a quarter of the timeout. */
  private scannedMs = -Infinity;
  private readonly onFlow: (r: FlowRecord) => void;
  private readonly idleMs: number;
  private readonly max: number;
  /** The latest record end seen: the clock the idle timeout runs on. */
  private clockMs = -Infinity;

  constructor(opts: StitcherOptions) {
    this.onFlow = opts.onFlow;
    this.idleMs = opts.idleMs ?? IDLE_MS;
    this.max = opts.maxConversations ?? MAX_CONVERSATIONS;
  }

  /** Conversations open now. */
  get size(): number {
    return this.open.size;
  }

  /** One decoded record (the decoder's reused view: nothing of it is kept). */
  add(v: ExportRecordView): void {
    if (v.ipVersion !== 4 && v.ipVersion !== 6) return;
    this.stats.records++;
    if (v.biflow) this.stats.biflows++;
    const ports = v.srcPort >= 0 && v.dstPort >= 0 && (v.proto === 6 || v.proto === 17 || v.proto === 132 || v.proto === 33);
    const sp = ports ? v.srcPort : 0;
    const dp = ports ? v.dstPort : 0;
    const srcIsA = lower(v.src, sp, v.dst, dp);
    const a = srcIsA ? v.src : v.dst;
    const b = srcIsA ? v.dst : v.src;
    const pa = srcIsA ? sp : dp;
    const pb = srcIsA ? dp : sp;
    // Numbers into one string: the map's key (IPv4 needs one word an address).
    const key = v.ipVersion === 4
      ? `${v.proto} ${a[0]} ${pa} ${b[0]} ${pb}`
      : `${v.proto} ${a[0]} ${a[1]} ${a[2]} ${a[3]} ${pa} ${b[0]} ${b[1]} ${b[2]} ${b[3]} ${pb}`;
    // Who sent the record's first packet: its source, unless only its reverse side has packets.
    const reverseOnly = v.biflow && v.packets === 0 && v.reversePackets > 0;
    const senderIsA = reverseOnly ? !srcIsA : srcIsA;
    const senderPort = reverseOnly ? dp : sp;
    const receiverPort = reverseOnly ? sp : dp;
    let c = this.open.get(key);
    // A record that starts after the conversation went idle is a new conversation on the same 5-tuple.
    if (c !== undefined && v.startMs - c.lastMs > this.idleMs) {
      this.finish(c);
      c = undefined;
    }
    if (c === undefined) {
      if (this.open.size >= this.max) this.evict();
      c = {
        key, proto: v.proto, ipVersion: v.ipVersion === 4 ? 4 : 6, ports, a: Uint32Array.from(a), b: Uint32Array.from(b),
        portA: pa, portB: pb, sideA: side(), sideB: side(), firstFromA: senderIsA, firstMs: v.startMs,
        lastMs: v.endMs, icmp: -1, vlan: -1, records: 0, biflow: false, firstSrcPort: senderPort, firstDstPort: receiverPort,
        firstMessage: v.message, lastMessage: v.message,
      };
      this.stats.conversations++;
      this.open.set(key, c);
    }
    c.records++;
    if (c.given === undefined && v.directionCode >= 0 && v.directionCode < DIRECTION_CODES.length) {
      const outcome = v.outcomeCode === 0 ? null : v.outcomeCode > 0 ? OUTCOME_CODES[v.outcomeCode - 1] : undefined;
      c.given = { clientIsA: srcIsA, evidence: DIRECTION_CODES[v.directionCode]!, outcome };
    }
    c.lastMessage = v.message;
    if (v.biflow) c.biflow = true;
    const fwd = srcIsA ? c.sideA : c.sideB;
    const rev = srcIsA ? c.sideB : c.sideA;
    add(fwd, v.packets, v.bytes, v.tcpFlags, v.startMs, v.endMs);
    if (v.biflow) add(rev, v.reversePackets, v.reverseBytes, v.reverseTcpFlags, v.startMs, v.endMs);
    // The earliest record is the first packet's; ties go to the record seen first.
    if (v.startMs < c.firstMs || (Number.isNaN(c.firstMs) && !Number.isNaN(v.startMs))) {
      c.firstMs = v.startMs;
      c.firstFromA = senderIsA;
      c.firstSrcPort = senderPort;
      c.firstDstPort = receiverPort;
    }
    if (!Number.isNaN(v.endMs) && (Number.isNaN(c.lastMs) || v.endMs > c.lastMs)) c.lastMs = v.endMs;
    if (c.icmp < 0 && v.icmpType >= 0) c.icmp = (v.icmpType << 8) | Math.max(0, v.icmpCode);
    if (c.vlan < 0 && v.vlan >= 0) c.vlan = v.vlan;
    if (v.endMs > this.clockMs) this.clockMs = v.endMs;
  }

  /**
   * Finishes the conversations idle for the timeout at the records' clock. Call it now and then (per
   * message or chunk): it scans only once the clock has moved a quarter of the timeout since the last scan.
   */
  expire(): void {
    if (!(this.clockMs - this.scannedMs >= this.idleMs / 4)) return;
    this.scannedMs = this.clockMs;
    for (const c of [...this.open.values()]) if (this.clockMs - c.lastMs > this.idleMs) this.finish(c);
  }

  /** At the bound: finishes the eighth of the conversations idle longest (one scan pays for many new ones). */
  private evict(): void {
    const last = Float64Array.from(this.open.values(), (c) => (Number.isNaN(c.lastMs) ? -Infinity : c.lastMs)).sort();
    const cutoff = last[Math.max(0, Math.floor(last.length / 8) - 1)]!;
    for (const c of [...this.open.values()]) {
      if ((Number.isNaN(c.lastMs) ? -Infinity : c.lastMs) <= cutoff) {
        this.stats.evicted++;
        this.finish(c);
      }
    }
  }

  /** The open conversations as they stand, left open (a report made while records still come). */
  openFlows(): FlowRecord[] {
    return Array.from(this.open.values(), conversationRecord);
  }

  /** Finishes every open conversation (end of input). */
  flush(): void {
    for (const c of [...this.open.values()]) this.finish(c);
  }

  private finish(c: Conversation): void {
    this.open.delete(c.key);
    this.onFlow(conversationRecord(c));
  }
}

/** Who is the client and on what evidence (see the file's comment). */
function client(c: Conversation): { clientIsA: boolean; evidence: Evidence } {
  if (c.proto === 6) {
    const sa = c.sideA.flags & Tcp.Syn;
    const sb = c.sideB.flags & Tcp.Syn;
    const pureA = sa && !(c.sideA.flags & Tcp.Ack);
    const pureB = sb && !(c.sideB.flags & Tcp.Ack);
    if (pureA !== pureB) return { clientIsA: !!pureA, evidence: Evidence.Syn };
    // A SYN-ACK on one side only: confirmed by the other side's packets, as tcpClaim confirms a lone SYN-ACK.
    if (sa && !sb && c.sideB.packets > 0) return { clientIsA: false, evidence: Evidence.SynAck };
    if (sb && !sa && c.sideA.packets > 0) return { clientIsA: true, evidence: Evidence.SynAck };
    // Both sent a SYN: the side whose first packet came first opened; the same millisecond says nothing.
    if (sa && sb && c.sideA.startMs !== c.sideB.startMs && !Number.isNaN(c.sideA.startMs) && !Number.isNaN(c.sideB.startMs)) {
      return { clientIsA: c.sideA.startMs < c.sideB.startMs, evidence: Evidence.Syn };
    }
  }
  const icmpType = c.icmp >= 0 ? c.icmp >> 8 : -1;
  const claim = firstPacketClaim(c.proto, 0, icmpType, c.firstSrcPort, c.firstDstPort, c.ports, 0, c.firstFromA);
  return { clientIsA: claimClientIsA(claim), evidence: claimEvidence(claim) };
}

/** The State bits (flow/layout.ts) that unioned flags give: each side's SYN, SYN-ACK, RST and FIN. */
function tcpStateOf(c: Conversation, clientIsA: boolean): number {
  const fa = c.sideA.flags;
  const fb = c.sideB.flags;
  let st = 0;
  // The client's SYN, the server's SYN(-ACK): what a SYN of each side must have been.
  if (clientIsA) {
    if (fa & Tcp.Syn) st |= State.SynA;
    if (fb & Tcp.Syn) st |= State.SynAckB;
  } else {
    if (fb & Tcp.Syn) st |= State.SynB;
    if (fa & Tcp.Syn) st |= State.SynAckA;
  }
  if (fa & Tcp.Rst) st |= State.RstA;
  if (fb & Tcp.Rst) st |= State.RstB;
  if (fa & Tcp.Fin) st |= State.FinA;
  if (fb & Tcp.Fin) st |= State.FinB;
  return st;
}

function address(version: 4 | 6, w: Uint32Array): string {
  return version === 4 ? formatIPv4(w[0]!) : formatIPv6(w[0]!, w[1]!, w[2]!, w[3]!);
}

function conversationRecord(c: Conversation): FlowRecord {
  const decided = client(c);
  const clientIsA = c.given?.clientIsA ?? decided.clientIsA;
  const evidence = decided.evidence;
  const cs = clientIsA ? c.sideA : c.sideB;
  const ss = clientIsA ? c.sideB : c.sideA;
  const start = Math.min(...[c.sideA.startMs, c.sideB.startMs].filter((t) => !Number.isNaN(t)));
  const end = Math.max(...[c.sideA.endMs, c.sideB.endMs].filter((t) => !Number.isNaN(t)));
  const hasTime = Number.isFinite(start) && Number.isFinite(end);
  const startSec = hasTime ? Math.floor(start / 1000) : 0;
  const startNs = hasTime ? Math.round((start - startSec * 1000) * 1e6) : 0;
  const endSec = hasTime ? Math.floor(end / 1000) : 0;
  const endNs = hasTime ? Math.round((end - endSec * 1000) * 1e6) : 0;
  const r: FlowRecord = {
    proto: PROTO_NAMES[c.proto] ?? String(c.proto),
    protoNumber: c.proto,
    ipVersion: c.ipVersion,
    client: address(c.ipVersion, clientIsA ? c.a : c.b),
    clientPort: c.ports ? (clientIsA ? c.portA : c.portB) : null,
    server: address(c.ipVersion, clientIsA ? c.b : c.a),
    serverPort: c.ports ? (clientIsA ? c.portB : c.portA) : null,
    packets: cs.packets + ss.packets,
    bytes: cs.bytes + ss.bytes,
    clientPackets: cs.packets,
    clientBytes: cs.bytes,
    serverPackets: ss.packets,
    serverBytes: ss.bytes,
    start: hasTime ? formatIso(startSec, startNs, 3) : null,
    end: hasTime ? formatIso(endSec, endNs, 3) : null,
    duration: hasTime ? Number(((end - start) / 1000).toFixed(9)) : 0,
    outcome: c.proto === 6 ? tcpOutcome(tcpStateOf(c, clientIsA), clientIsA, ss.packets, ss.flags) : null,
    direction: DIRECTION_EVIDENCE[evidence]!,
    // Flow export keeps no frames: the places are the messages of the first and last records (the
    // input, a file or a listener, is the reader's to number).
    firstFile: 0,
    firstFrame: c.firstMessage,
    lastFile: 0,
    lastFrame: c.lastMessage,
    startSec,
    startNs,
  };
  if (c.proto === 6) {
    r.clientFlags = FLAG_TEXT[cs.flags & 0xff]!;
    r.serverFlags = FLAG_TEXT[ss.flags & 0xff]!;
  }
  if (c.icmp >= 0) {
    r.icmpType = c.icmp >> 8;
    r.icmpCode = c.icmp & 0xff;
  }
  if (c.vlan >= 0) r.vlan = c.vlan;
  if (c.given !== undefined) {
    r.direction = c.given.evidence;
    if (c.given.outcome !== undefined) r.outcome = c.given.outcome;
  }
  return r;
}
