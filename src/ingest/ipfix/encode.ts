/**
 * flowaudit's flows → IPFIX messages (RFC 7011), the inverse of decoder.ts + stitch.ts: what a
 * flowaudit sensor sends a collector (`live --export`), and what the benchmark's generator writes.
 *
 * One record a flow, a biflow (RFC 5103): the source is the client, the reverse elements the
 * server's side, biflowDirection `initiator` (1) saying so to any collector; flowaudit's direction
 * evidence and outcome ride as enterprise elements (elements.ts FLOWAUDIT_PEN) that flowaudit's own
 * decoder and stitcher read back. The fields are rows naming elements.ts's rows, so whatever is
 * written is what the decoder reads. A flow's shape (IPv4 or IPv6, ICMP type and code or ports and
 * TCP flags, a VLAN, times) picks one of 16 templates; a template is made when a flow first needs it.
 *
 * Messages stay within maxMessageBytes (the path MTU's share: RFC 7011 §10.3.3, no IP fragments);
 * within a message the records are grouped in one data set per template. The sequence number is the
 * count of data records sent before the message in the observation domain (§3.1). Templates go in
 * the message that first needs them, and again after templateRefreshMs or templateRefreshMessages
 * (§8.4: over UDP a collector that starts late or restarts learns them only so): after a refresh a
 * template is sent again in the next message that uses it.
 *
 * `octetDeltaCount` carries flowaudit's byte counts, which are whole frames as captured (link header
 * included), as every flowaudit report counts them; exporters that meter IP packets count fewer.
 */
import { parseAddressWords } from '../../core/addr.js';
import { FLAG_TEXT, type FlowRecord } from '../../flow/record.js';
import { DIRECTION_CODES, element, OUTCOME_CODES } from './elements.js';

/** The default most bytes of a message: under a 1500-byte Ethernet MTU with room for tunnels and IPv6. */
export const MESSAGE_BYTES = 1400;
/** Templates are sent again after this long (the exporter's clock), well within collectors' lifetimes (flowaudit's: 35 min). */
export const TEMPLATE_REFRESH_MS = 60_000;
/** … or after this many messages, whichever comes first. */
export const TEMPLATE_REFRESH_MESSAGES = 64;
/** The smallest message bound that holds any template and a record of it. */
export const MIN_MESSAGE_BYTES = 256;

const HEADER = 16;
const SET_HEADER = 4;
const TEMPLATE_SET = 2;
/** biflowDirection `initiator`: the source address is the flow's initiator (RFC 5103 §6.3). */
const INITIATOR = 1;

/** What picks a flow's template: bits of its shape. */
const enum Shape {
  V6 = 1,
  Icmp = 2,
  Vlan = 4,
  Untimed = 8,
}
const SHAPES = 16;

/** One flow's values as the fields write them: a scratch filled per record. */
class EncodedFlow {
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  srcPort = 0;
  dstPort = 0;
  proto = 0;
  clientFlags = 0;
  serverFlags = 0;
  icmp = 0;
  clientPackets = 0;
  clientBytes = 0;
  serverPackets = 0;
  serverBytes = 0;
  startMs = 0;
  endMs = 0;
  vlan = 0;
  direction = 0;
  outcome = 0;
}

type FieldWriter = (b: Uint8Array, o: number, f: EncodedFlow) => void;

interface FieldRow {
  element: string;
  length: number;
  /** Whether a template of this shape has the field. */
  in: (shape: number) => boolean;
  write: FieldWriter;
}

function w16(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 8;
  b[o + 1] = n;
}
function w32(b: Uint8Array, o: number, n: number): void {
  b[o] = n >>> 24;
  b[o + 1] = n >>> 16;
  b[o + 2] = n >>> 8;
  b[o + 3] = n;
}
/** An unsigned64 (counts, milliseconds) exact up to 2^53. */
function w64(b: Uint8Array, o: number, n: number): void {
  w32(b, o, Math.floor(n / 4294967296));
  w32(b, o + 4, n >>> 0);
}
function w128(b: Uint8Array, o: number, w: Uint32Array): void {
  for (let i = 0; i < 4; i++) w32(b, o + 4 * i, w[i]!);
}

const all = () => true;
const v4 = (s: number) => !(s & Shape.V6);
const v6 = (s: number) => !!(s & Shape.V6);
const ports = (s: number) => !(s & Shape.Icmp);
const timed = (s: number) => !(s & Shape.Untimed);

/** The fields of every template, in order; a shape keeps those whose `in` holds. */
const FIELDS: FieldRow[] = [
  { element: 'sourceIPv4Address', length: 4, in: v4, write: (b, o, f) => w32(b, o, f.src[0]!) },
  { element: 'destinationIPv4Address', length: 4, in: v4, write: (b, o, f) => w32(b, o, f.dst[0]!) },
  { element: 'sourceIPv6Address', length: 16, in: v6, write: (b, o, f) => w128(b, o, f.src) },
  { element: 'destinationIPv6Address', length: 16, in: v6, write: (b, o, f) => w128(b, o, f.dst) },
  { element: 'sourceTransportPort', length: 2, in: ports, write: (b, o, f) => w16(b, o, f.srcPort) },
  { element: 'destinationTransportPort', length: 2, in: ports, write: (b, o, f) => w16(b, o, f.dstPort) },
  { element: 'protocolIdentifier', length: 1, in: all, write: (b, o, f) => { b[o] = f.proto; } },
  // Two bytes as RFC 7125 defines tcpControlBits (the low byte holds the flags flowaudit counts). The
  // server's first: nfdump 1.7 keeps one flags field and the element read last overwrites it.
  { element: 'reverseTcpControlBits', length: 2, in: ports, write: (b, o, f) => w16(b, o, f.serverFlags) },
  { element: 'tcpControlBits', length: 2, in: ports, write: (b, o, f) => w16(b, o, f.clientFlags) },
  { element: 'icmpTypeCodeIPv4', length: 2, in: (s) => !!(s & Shape.Icmp) && v4(s), write: (b, o, f) => w16(b, o, f.icmp) },
  { element: 'icmpTypeCodeIPv6', length: 2, in: (s) => !!(s & Shape.Icmp) && v6(s), write: (b, o, f) => w16(b, o, f.icmp) },
  { element: 'packetDeltaCount', length: 8, in: all, write: (b, o, f) => w64(b, o, f.clientPackets) },
  { element: 'octetDeltaCount', length: 8, in: all, write: (b, o, f) => w64(b, o, f.clientBytes) },
  { element: 'reversePacketDeltaCount', length: 8, in: all, write: (b, o, f) => w64(b, o, f.serverPackets) },
  { element: 'reverseOctetDeltaCount', length: 8, in: all, write: (b, o, f) => w64(b, o, f.serverBytes) },
  { element: 'flowStartMilliseconds', length: 8, in: timed, write: (b, o, f) => w64(b, o, f.startMs) },
  { element: 'flowEndMilliseconds', length: 8, in: timed, write: (b, o, f) => w64(b, o, f.endMs) },
  { element: 'vlanId', length: 2, in: (s) => !!(s & Shape.Vlan), write: (b, o, f) => w16(b, o, f.vlan) },
  { element: 'biflowDirection', length: 1, in: all, write: (b, o) => { b[o] = INITIATOR; } },
  { element: 'flowauditDirectionEvidence', length: 1, in: all, write: (b, o, f) => { b[o] = f.direction; } },
  { element: 'flowauditOutcome', length: 1, in: all, write: (b, o, f) => { b[o] = f.outcome; } },
];

interface EncoderTemplate {
  id: number;
  writers: FieldWriter[];
  lengths: number[];
  recordLength: number;
  /** The template record (RFC 7011 §3.4.1) as it goes into a template set. */
  record: Uint8Array;
}

function makeTemplate(shape: number): EncoderTemplate {
  const rows = FIELDS.filter((r) => r.in(shape));
  const specs = rows.map((r) => ({ row: r, e: element(r.element) }));
  const record = new Uint8Array(4 + specs.reduce((n, s) => n + (s.e.enterprise ? 8 : 4), 0));
  const id = 256 + shape;
  w16(record, 0, id);
  w16(record, 2, specs.length);
  let o = 4;
  for (const { row, e } of specs) {
    w16(record, o, e.enterprise ? e.id | 0x8000 : e.id);
    w16(record, o + 2, row.length);
    if (e.enterprise) w32(record, o + 4, e.enterprise);
    o += e.enterprise ? 8 : 4;
  }
  const lengths = rows.map((r) => r.length);
  return { id, writers: rows.map((r) => r.write), lengths, recordLength: lengths.reduce((a, b) => a + b, 0), record };
}

const FLAG_BITS = new Map(FLAG_TEXT.map((text, bits) => [text, bits]));
const DIRECTION_NUMBER = new Map(DIRECTION_CODES.map((d, i) => [d as string, i]));
const OUTCOME_NUMBER = new Map(OUTCOME_CODES.map((d, i) => [d as string, i + 1]));

/** Milliseconds of a time given as whole seconds and nanoseconds past them. */
function ms(sec: number, ns: number): number {
  return sec * 1000 + Math.floor(ns / 1e6);
}

/** The record's values into `f`; returns its shape, or -1 when it cannot be encoded (an address that is no address). */
function fill(f: EncodedFlow, r: FlowRecord): number {
  const family = parseAddressWords(r.client, f.src);
  if (family === 0 || parseAddressWords(r.server, f.dst) !== family) return -1;
  let shape = family === 6 ? Shape.V6 : 0;
  f.proto = r.protoNumber & 0xff;
  if ((f.proto === 1 || f.proto === 58) && r.icmpType !== undefined) {
    shape |= Shape.Icmp;
    f.icmp = ((r.icmpType & 0xff) << 8) | ((r.icmpCode ?? 0) & 0xff);
  }
  f.srcPort = r.clientPort ?? 0;
  f.dstPort = r.serverPort ?? 0;
  f.clientFlags = r.clientFlags === undefined ? 0 : FLAG_BITS.get(r.clientFlags) ?? 0;
  f.serverFlags = r.serverFlags === undefined ? 0 : FLAG_BITS.get(r.serverFlags) ?? 0;
  f.clientPackets = r.clientPackets;
  f.clientBytes = r.clientBytes;
  f.serverPackets = r.serverPackets;
  f.serverBytes = r.serverBytes;
  if (r.start === null) shape |= Shape.Untimed;
  else {
    f.startMs = ms(r.startSec, r.startNs);
    // The end from the start and the duration in nanoseconds: whole-epoch nanoseconds are past 2^53.
    const endNs = r.startNs + Math.round(r.duration * 1e9);
    f.endMs = r.startSec * 1000 + Math.floor(endNs / 1e6);
  }
  if (r.vlan !== undefined) {
    shape |= Shape.Vlan;
    f.vlan = r.vlan & 0xfff;
  }
  // 255: evidence this encoder has no number for, which a decoder leaves unsaid.
  f.direction = DIRECTION_NUMBER.get(r.direction) ?? 255;
  f.outcome = r.outcome === null ? 0 : OUTCOME_NUMBER.get(r.outcome) ?? 0;
  return shape;
}

export interface EncoderOptions {
  /** Each finished message (a fresh buffer, the caller's to keep). */
  onMessage: (message: Uint8Array) => void;
  /** The observation domain (RFC 7011 §3.1); its sequence numbers are this encoder's. Default 1. */
  domain?: number;
  maxMessageBytes?: number;
  templateRefreshMs?: number;
  templateRefreshMessages?: number;
  /** The exporter's clock, Unix ms: export times and the refresh interval. Default Date.now. */
  clock?: () => number;
}

export interface EncoderStats {
  messages: number;
  records: number;
  bytes: number;
  /** Template records sent (first sendings and refreshes). */
  templates: number;
  /** Flows not encoded: an address that is no IPv4 or IPv6 address, or of two families. */
  unencodable: number;
}

/** One template's records waiting for the message. */
interface PendingSet {
  bytes: Uint8Array;
  used: number;
}

export class IpfixEncoder {
  readonly stats: EncoderStats = { messages: 0, records: 0, bytes: 0, templates: 0, unencodable: 0 };
  readonly domain: number;
  private readonly max: number;
  private readonly refreshMs: number;
  private readonly refreshMessages: number;
  private readonly clock: () => number;
  private readonly onMessage: (message: Uint8Array) => void;
  private readonly flow = new EncodedFlow();
  private readonly templates: Array<EncoderTemplate | undefined> = new Array(SHAPES);
  private readonly pending: PendingSet[] = [];
  /** Templates sent since the last refresh (by shape). */
  private readonly sent = new Uint8Array(SHAPES);
  /** Shapes whose template goes in the message being made. */
  private announce: number[] = [];
  /** Bytes of the message being made, header and set headers included. */
  private size = HEADER;
  private records = 0;
  private sequence = 0;
  private refreshedMs = NaN;
  private messagesSinceRefresh = 0;

  constructor(opts: EncoderOptions) {
    this.onMessage = opts.onMessage;
    this.domain = opts.domain ?? 1;
    this.max = opts.maxMessageBytes ?? MESSAGE_BYTES;
    if (!(this.max >= MIN_MESSAGE_BYTES && this.max <= 65535)) throw new RangeError(`IPFIX message bound ${this.max}: expected ${MIN_MESSAGE_BYTES} to 65535 bytes`);
    this.refreshMs = opts.templateRefreshMs ?? TEMPLATE_REFRESH_MS;
    this.refreshMessages = opts.templateRefreshMessages ?? TEMPLATE_REFRESH_MESSAGES;
    this.clock = opts.clock ?? Date.now;
    for (let s = 0; s < SHAPES; s++) this.pending.push({ bytes: new Uint8Array(this.max), used: 0 });
  }

  /** One flow into the message being made (sent when full). Returns false when the flow cannot be encoded (counted). */
  add(r: FlowRecord): boolean {
    const f = this.flow;
    const shape = fill(f, r);
    if (shape < 0) {
      this.stats.unencodable++;
      return false;
    }
    const t = (this.templates[shape] ??= makeTemplate(shape));
    if (this.records === 0) this.startMessage();
    if (this.size + this.cost(shape, t) > this.max) {
      this.flush();
      this.startMessage();
    }
    if (this.sent[shape] === 0 && !this.announce.includes(shape)) {
      this.size += (this.announce.length === 0 ? SET_HEADER : 0) + t.record.length;
      this.announce.push(shape);
    }
    const set = this.pending[shape]!;
    if (set.used === 0) this.size += SET_HEADER;
    let o = set.used;
    const writers = t.writers;
    const lengths = t.lengths;
    for (let i = 0; i < writers.length; i++) {
      writers[i]!(set.bytes, o, f);
      o += lengths[i]!;
    }
    set.used = o;
    this.size += t.recordLength;
    this.records++;
    return true;
  }

  /** Sends the message being made, if it holds any record. */
  flush(): void {
    if (this.records === 0) return;
    const msg = new Uint8Array(this.size);
    w16(msg, 0, 10);
    w16(msg, 2, this.size);
    w32(msg, 4, Math.floor(this.clock() / 1000));
    w32(msg, 8, this.sequence);
    w32(msg, 12, this.domain);
    let o = HEADER;
    if (this.announce.length > 0) {
      const start = o;
      o += SET_HEADER;
      for (const shape of this.announce) {
        const rec = this.templates[shape]!.record;
        msg.set(rec, o);
        o += rec.length;
        this.sent[shape] = 1;
      }
      w16(msg, start, TEMPLATE_SET);
      w16(msg, start + 2, o - start);
      this.stats.templates += this.announce.length;
    }
    for (let shape = 0; shape < SHAPES; shape++) {
      const set = this.pending[shape]!;
      if (set.used === 0) continue;
      w16(msg, o, 256 + shape);
      w16(msg, o + 2, SET_HEADER + set.used);
      msg.set(set.bytes.subarray(0, set.used), o + SET_HEADER);
      o += SET_HEADER + set.used;
      set.used = 0;
    }
    this.sequence = (this.sequence + this.records) >>> 0;
    this.stats.messages++;
    this.stats.records += this.records;
    this.stats.bytes += msg.length;
    this.messagesSinceRefresh++;
    this.announce = [];
    this.size = HEADER;
    this.records = 0;
    this.onMessage(msg);
  }

  /** The bytes a record of `shape` adds to the message being made: its set's header, its template, itself. */
  private cost(shape: number, t: EncoderTemplate): number {
    let n = t.recordLength;
    if (this.pending[shape]!.used === 0) n += SET_HEADER;
    if (this.sent[shape] === 0 && !this.announce.includes(shape)) n += t.record.length + (this.announce.length === 0 ? SET_HEADER : 0);
    return n;
  }

  /** A new message: when the refresh is due, every template is sent again as it is next used. */
  private startMessage(): void {
    const now = this.clock();
    if (!(now - this.refreshedMs < this.refreshMs) || this.messagesSinceRefresh >= this.refreshMessages) {
      this.sent.fill(0);
      this.refreshedMs = now;
      this.messagesSinceRefresh = 0;
    }
  }
}

/** Flows as a list of IPFIX messages (tests, small files). */
export function encodeFlows(flows: Iterable<FlowRecord>, opts: Omit<EncoderOptions, 'onMessage'> = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  const enc = new IpfixEncoder({ ...opts, onMessage: (m) => out.push(m) });
  for (const f of flows) enc.add(f);
  enc.flush();
  return out;
}
