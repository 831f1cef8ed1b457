/**
 * The flow table: bidirectional 5-tuple flows in typed arrays (layout.ts) with open addressing, and
 * `add`, the per-packet path. What the table does with its flows beyond counting lives beside it:
 * tcp-state.ts and direction.ts (pure functions of the words), fragments.ts, shard.ts (a worker's
 * table and its merge), retire.ts (flows that are over leave), export.ts (records, columns) and
 * json.ts (JSON lines straight from the words).
 */
import { PacketRecord } from '../capture/record.js';
import { compareTime } from '../core/time.js';
import { PacketView } from '../decode/view.js';
import type { FlowColumns } from './columns.js';
import { claimClientIsA, claimEvidence, firstPacketClaim, NO_CLAIM, tcpClaim } from './direction.js';
import { exportOrder, record, recordBatches } from './export.js';
import { fragmentKey, FragmentTracker } from './fragments.js';
import { jsonChunks } from './json.js';
import { Hot, icmpErrorWord, isV4, Key, keyWord0, Meta, Outer, OUTER_UDP, State, type FlowWords } from './layout.js';
import type { FlowRecord, TcpOutcome } from './record.js';
import { compactWords, retiredFlows, type RetireLimits } from './retire.js';
import { deferError, replayErrors, type DeferredError } from './quoted-errors.js';
import { mergeFlow, replayOrphans, toShard, type FlowShard } from './shard.js';
import { tableColumns } from './table-columns.js';
import { finished, Tcp, tcpState } from './tcp-state.js';

/** The types of the table's methods, for its callers. */
export type { FlowRecord, FlowShard, RetireLimits, TcpOutcome };

/** A hash slot: the flow's Key.W key words, then its index + 1 (0: empty). */
const SLOT_W = Key.W + 1;

export interface FlowTableOptions {
  /** Put the outermost VLAN id in the flow key (off by default: a tag seen one way must not split a flow). */
  vlanInKey?: boolean;
  /** For shards: keep later fragments whose first fragment is not in this table for the merge. */
  deferOrphanFragments?: boolean;
}

/**
 * Bidirectional 5-tuple flows in typed arrays with open addressing. The key is normalised so both
 * directions land in one slot; side A is the lower (address, port). Memory grows with flows only.
 * The words (FlowWords) are public for the table's own files; everything else goes through the methods.
 */
export class FlowTable implements FlowWords {
  readonly vlanInKey: boolean;
  /** Number of flows (including those superseded by a new SYN on the same 5-tuple). */
  size = 0;
  /**
   * Open addressing with the key inline: a slot is SLOT_W words, so a probe reads one place in memory.
   * Per-flow data is laid out by flow, not by field: the counters a packet updates share one or two
   * cache lines.
   */
  private slotKeys: Uint32Array;
  private mask: number;
  private liveCount = 0;
  private cap = 0;
  /** Key words of every flow (also of flows superseded by a new SYN), for export and merging. */
  keys = new Uint32Array(0);
  hot = new Float64Array(0);
  meta = new Uint32Array(0);
  icmp = new Int32Array(0);
  vlan = new Int32Array(0);
  outer: Uint32Array | null = null;
  private readonly k = new Uint32Array(Key.W);
  /**
   * The place (layout.ts framePlace) of frame 0 of the file being read: a packet's place is this plus
   * its record number. The pipeline sets it before each file.
   */
  placeBase = 0;
  /** Datagrams whose first fragment was seen, so that their later fragments join its flow. */
  private readonly fragments: FragmentTracker;
  /** In a shard: ICMP errors whose quoted flow is not here, for the merge (quoted-errors.ts). */
  private readonly deferErrors: boolean;
  private readonly deferredErrors: DeferredError[] = [];

  constructor(opts: FlowTableOptions = {}) {
    this.vlanInKey = opts.vlanInKey ?? false;
    this.fragments = new FragmentTracker(opts.deferOrphanFragments ?? false);
    this.deferErrors = opts.deferOrphanFragments ?? false;
    // Start large enough for a busy capture's first seconds (3 MB): growing from tiny tables rehashes often.
    this.slotKeys = new Uint32Array((1 << 16) * SLOT_W);
    this.mask = (1 << 16) - 1;
    this.ensureFlowCapacity(16384);
  }

  private ensureFlowCapacity(n: number): void {
    if (n <= this.cap) return;
    let cap = Math.max(this.cap, 1024);
    while (cap < n) cap *= 4;
    const keys = new Uint32Array(cap * Key.W);
    keys.set(this.keys);
    this.keys = keys;
    const hot = new Float64Array(cap * Hot.W);
    hot.set(this.hot);
    this.hot = hot;
    const meta = new Uint32Array(cap * Meta.W);
    meta.set(this.meta);
    this.meta = meta;
    const icmp = new Int32Array(cap);
    icmp.set(this.icmp);
    this.icmp = icmp;
    const vlan = new Int32Array(cap);
    vlan.set(this.vlan);
    this.vlan = vlan;
    if (this.outer !== null) this.outer = grown(this.outer, cap * Outer.W);
    this.cap = cap;
  }

  /** Flow f's outer header, from its first tunnelled packet (decode/view.ts ipTunnel), by side. */
  private setOuter(f: number, fromA: boolean, v: PacketView): void {
    this.outer ??= new Uint32Array(this.cap * Outer.W);
    const o = this.outer;
    const ob = f * Outer.W;
    o[ob + Outer.Info] = v.outerVersion | (v.outerSrcPort >= 0 ? OUTER_UDP : 0);
    o.set(fromA ? v.outerSrc : v.outerDst, ob + Outer.A);
    o.set(fromA ? v.outerDst : v.outerSrc, ob + Outer.B);
    const src = Math.max(0, v.outerSrcPort);
    const dst = Math.max(0, v.outerDstPort);
    o[ob + Outer.Ports] = (fromA ? (src << 16) | dst : (dst << 16) | src) >>> 0;
  }

  /**
   * Each key word (Key: by offset, as one 11-word key) times its own odd constant, combined, then one
   * avalanche: the multiplies do not wait on each other. An IPv4 key has zeros in words 2-4 and 6-8
   * (the IP version is in word 0), so it takes five multiplies.
   */
  private hashKey(k: Uint32Array, base: number): number {
    const w0 = k[base]!;
    let h =
      (Math.imul(w0 ^ k[base + 9]!, 0x9e3779b1) ^ Math.imul(k[base + 1]!, 0x85ebca77)) +
      (Math.imul(k[base + 5]!, 0xc2b2ae3d) ^ Math.imul(k[base + 10]!, 0x27d4eb2f));
    if (!isV4(w0)) {
      h ^=
        (Math.imul(k[base + 2]!, 0x165667b1) ^ Math.imul(k[base + 3]!, 0xd3a2646c | 1) ^ Math.imul(k[base + 4]!, 0xfd7046c5)) +
        (Math.imul(k[base + 6]!, 0xb55a4f09) ^ Math.imul(k[base + 7]!, 0x8ebc6af1) ^ Math.imul(k[base + 8]!, 0x5bd1e995));
    }
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    h = Math.imul(h, 0x297a2d39);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** Makes room for `more` flows at once (before merging shards): one growth instead of several. */
  reserve(more: number): void {
    this.ensureFlowCapacity(this.size + more);
    let slots = this.slotKeys.length / SLOT_W;
    while ((this.liveCount + more) * 2 > slots) slots *= 2;
    if (slots > this.slotKeys.length / SLOT_W) this.rehash(slots);
  }

  private rehash(slots = (this.slotKeys.length / SLOT_W) * 2): void {
    const old = this.slotKeys;
    const n = slots;
    const slotKeys = new Uint32Array(n * SLOT_W);
    const mask = n - 1;
    for (let o = 0; o < old.length; o += SLOT_W) {
      if (old[o + Key.W] === 0) continue;
      let s = this.hashKey(old, o) & mask;
      while (slotKeys[s * SLOT_W + Key.W] !== 0) s = (s + 1) & mask;
      slotKeys.set(old.subarray(o, o + SLOT_W), s * SLOT_W);
    }
    this.slotKeys = slotKeys;
    this.mask = mask;
  }

  /** Finds the slot of the scratch key, or the empty slot where it would go. */
  private findSlot(): number {
    const k = this.k;
    const sk = this.slotKeys;
    const mask = this.mask;
    let s = this.hashKey(k, 0) & mask;
    for (;;) {
      const b = s * SLOT_W;
      if (sk[b + Key.W] === 0) return s;
      if (
        sk[b] === k[0] && sk[b + 1] === k[1] && sk[b + 5] === k[5] && sk[b + 9] === k[9] &&
        sk[b + 2] === k[2] && sk[b + 3] === k[3] && sk[b + 4] === k[4] &&
        sk[b + 6] === k[6] && sk[b + 7] === k[7] && sk[b + 8] === k[8] && sk[b + 10] === k[10]
      ) {
        return s;
      }
      s = (s + 1) & mask;
    }
  }

  /** The live flow in a slot, or -1. */
  private flowAt(slot: number): number {
    return this.slotKeys[slot * SLOT_W + Key.W]! - 1;
  }

  private newFlow(slot: number): number {
    const f = this.size++;
    this.ensureFlowCapacity(this.size);
    this.keys.set(this.k, f * Key.W);
    this.hot.fill(0, f * Hot.W, (f + 1) * Hot.W);
    this.meta.fill(0, f * Meta.W, (f + 1) * Meta.W);
    this.icmp[f] = -1;
    this.vlan[f] = -1;
    if (this.outer !== null) this.outer[f * Outer.W + Outer.Info] = 0;
    const b = slot * SLOT_W;
    if (this.slotKeys[b + Key.W] === 0) {
      this.liveCount++;
      this.slotKeys.set(this.k, b);
    }
    this.slotKeys[b + Key.W] = f + 1;
    if (this.liveCount * 2 > this.slotKeys.length / SLOT_W) this.rehash();
    return f;
  }

  /** Adds one decoded packet (status Ip) to its flow. */
  add(v: PacketView, rec: PacketRecord): void {
    const k = this.k;
    const src = v.src;
    const dst = v.dst;
    let sp = v.srcPort;
    let dp = v.dstPort;
    const proto = v.proto;
    // Later fragments carry no ports: they join the flow of their first fragment.
    let fragKey: string | null = null;
    if (v.fragment !== 0) {
      fragKey = fragmentKey(v);
      if (v.fragment === 2) {
        const f = this.fragments.flowOf(fragKey, rec.tsSec);
        if (f >= 0) {
          const a = f * Key.W + Key.A;
          const keys = this.keys;
          const fromA = src[0] === keys[a] && src[1] === keys[a + 1] && src[2] === keys[a + 2] && src[3] === keys[a + 3];
          this.count(f, fromA, v, rec);
          return;
        }
        // An orphan: a shard keeps it for the merge, otherwise it counts in a flow of its own addresses.
        if (this.fragments.orphan(v, rec)) return;
      }
    }
    // An ICMP error counts on the flow it quotes, when that flow is in the table (see quotedFlow).
    if (v.quoted === 1 && (this.countQuotedError(v) || (this.deferErrors && deferError(this.deferredErrors, v, rec)))) return;
    const withPorts = sp >= 0;
    if (!withPorts) sp = dp = 0;
    // Normalise: side A is the lower (address, port).
    let srcIsA = true;
    for (let i = 0; i < 4; i++) {
      if (src[i] !== dst[i]) {
        srcIsA = src[i]! < dst[i]!;
        break;
      }
      if (i === 3) srcIsA = sp <= dp;
    }
    k[Key.Meta] = keyWord0(proto, v.ipVersion, withPorts);
    const a = srcIsA ? src : dst;
    const bb = srcIsA ? dst : src;
    k[Key.A] = a[0]!;
    k[Key.A + 1] = a[1]!;
    k[Key.A + 2] = a[2]!;
    k[Key.A + 3] = a[3]!;
    k[Key.B] = bb[0]!;
    k[Key.B + 1] = bb[1]!;
    k[Key.B + 2] = bb[2]!;
    k[Key.B + 3] = bb[3]!;
    k[Key.Ports] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
    k[Key.Vlan] = this.vlanInKey ? (v.vlan + 1) >>> 0 : 0;
    const slot = this.findSlot();
    let f = this.flowAt(slot);
    const flags = v.tcpFlags;
    const pureSyn = proto === 6 && (flags & (Tcp.Syn | Tcp.Ack)) === Tcp.Syn;
    if (f === -1 || (pureSyn && finished(this.meta[f * Meta.W + Meta.State]!))) {
      f = this.newFlow(slot);
      this.setClaim(f * Meta.W, firstPacketClaim(proto, flags, v.icmpType, sp, dp, withPorts, rec.direction, srcIsA));
      if (pureSyn) this.meta[f * Meta.W + Meta.State] = State.OpenedBySyn;
    }
    if (fragKey !== null && v.fragment === 1) this.fragments.first(fragKey, f, rec.tsSec);
    this.count(f, srcIsA, v, rec);
  }

  /**
   * An ICMP error whose quoted packet (decode/icmp-error.ts) belongs to a flow of the table: the error
   * is counted on that flow (Meta.IcmpErrors), not as a flow of its own. False when no such flow is
   * here: the error stays an ICMP flow.
   */
  private countQuotedError(v: PacketView): boolean {
    const k = this.k;
    const src = v.quotedSrc;
    const dst = v.quotedDst;
    const sp = v.quotedSrcPort;
    const dp = v.quotedDstPort;
    let srcIsA = true;
    for (let i = 0; i < 4; i++) {
      if (src[i] !== dst[i]) {
        srcIsA = src[i]! < dst[i]!;
        break;
      }
      if (i === 3) srcIsA = sp <= dp;
    }
    const a = srcIsA ? src : dst;
    const b = srcIsA ? dst : src;
    k[Key.Meta] = keyWord0(v.quotedProto, v.ipVersion, true);
    for (let i = 0; i < 4; i++) {
      k[Key.A + i] = a[i]!;
      k[Key.B + i] = b[i]!;
    }
    k[Key.Ports] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
    k[Key.Vlan] = this.vlanInKey ? (v.vlan + 1) >>> 0 : 0;
    const f = this.flowAt(this.findSlot());
    if (f < 0) return false;
    const w = f * Meta.W + Meta.IcmpErrors;
    this.meta[w] = icmpErrorWord(this.meta[w]!, v.icmpType, v.icmpCode);
    return true;
  }

  private setClaim(mb: number, c: number): void {
    this.meta[mb + Meta.ClientIsA] = claimClientIsA(c) ? 1 : 0;
    this.meta[mb + Meta.Evidence] = claimEvidence(c);
  }

  private count(f: number, fromA: boolean, v: PacketView, rec: PacketRecord): void {
    const hot = this.hot;
    const meta = this.meta;
    const hb = f * Hot.W;
    const mb = f * Meta.W;
    const len = rec.origLen;
    const place = this.placeBase + rec.recordNo;
    if (hot[hb + Hot.FirstFrame] === 0) hot[hb + Hot.FirstFrame] = place;
    if (place > hot[hb + Hot.LastFrame]!) hot[hb + Hot.LastFrame] = place;
    if (fromA) {
      hot[hb + Hot.PacketsA]++;
      hot[hb + Hot.BytesA] += len;
    } else {
      hot[hb + Hot.PacketsB]++;
      hot[hb + Hot.BytesB] += len;
    }
    if (rec.hasTs) {
      const sec = rec.tsSec;
      const ns = rec.tsNs;
      if (!meta[mb + Meta.HasTime]) {
        meta[mb + Meta.HasTime] = 1;
        hot[hb + Hot.FirstSec] = hot[hb + Hot.LastSec] = sec;
        hot[hb + Hot.FirstNs] = hot[hb + Hot.LastNs] = ns;
      } else {
        if (compareTime(sec, ns, hot[hb + Hot.FirstSec]!, hot[hb + Hot.FirstNs]!) < 0) {
          hot[hb + Hot.FirstSec] = sec;
          hot[hb + Hot.FirstNs] = ns;
        }
        if (compareTime(sec, ns, hot[hb + Hot.LastSec]!, hot[hb + Hot.LastNs]!) > 0) {
          hot[hb + Hot.LastSec] = sec;
          hot[hb + Hot.LastNs] = ns;
        }
      }
      if (rec.tsDigits > meta[mb + Meta.Digits]!) meta[mb + Meta.Digits] = rec.tsDigits;
    }
    meta[mb + Meta.Tunnels] |= v.tunnel;
    if (v.outerVersion !== 0 && (this.outer === null || this.outer[f * Outer.W] === 0)) this.setOuter(f, fromA, v);
    if (v.vlan >= 0 && this.vlan[f]! < 0) this.vlan[f] = v.vlan;
    meta[mb + Meta.State] |= v.vlan >= 0 ? (fromA ? State.TaggedA : State.TaggedB) : fromA ? State.UntaggedA : State.UntaggedB;
    if (v.icmpType >= 0 && this.icmp[f]! < 0) this.icmp[f] = (v.icmpType << 8) | v.icmpCode;
    if (v.proto !== 6 || v.fragment === 2) return;
    const flags = v.tcpFlags;
    if (fromA) meta[mb + Meta.FlagsA] |= flags;
    else meta[mb + Meta.FlagsB] |= flags;
    const st = meta[mb + Meta.State]!;
    const c = tcpClaim(st, flags, fromA);
    meta[mb + Meta.State] = tcpState(st, flags, fromA, meta[mb + Meta.Evidence]!);
    if (c !== NO_CLAIM) this.setClaim(mb, c);
  }

  /** The table as plain typed arrays (sliced to the flows in use), to send from a worker thread. */
  toShard(): FlowShard {
    return toShard(this, this.fragments.toShard(), this.deferredErrors);
  }

  /**
   * Adds the flows of a shard that covers the packets after everything already in this table. The first
   * flow of a 5-tuple in the shard continues the live flow of that 5-tuple here unless it was opened by
   * a SYN after that flow had finished, exactly as one pass over the file would have decided; so a SYN
   * at the end of one shard and its SYN-ACK in the next still make an established flow. The shard's
   * frames are numbered after the `recordOffset` records of the file before it.
   */
  mergeShard(sh: FlowShard, recordOffset: number): void {
    // The shard's fragments that found no first fragment in it meet the first fragments seen before it.
    replayOrphans(sh.fragments.deferred, recordOffset, (v, rec) => this.add(v, rec));
    // So do its ICMP errors that quoted no flow of the shard.
    replayErrors(sh.quotedErrors, recordOffset, (v, rec) => this.add(v, rec));
    const k = this.k;
    const merged = new Int32Array(sh.size);
    if (sh.outer !== null) this.outer ??= new Uint32Array(this.cap * Outer.W);
    for (let g = 0; g < sh.size; g++) {
      for (let i = 0; i < Key.W; i++) k[i] = sh.keys[g * Key.W + i]!;
      const slot = this.findSlot();
      let f = this.flowAt(slot);
      const fresh = f === -1 || ((sh.meta[g * Meta.W + Meta.State]! & State.OpenedBySyn) !== 0 && finished(this.meta[f * Meta.W + Meta.State]!));
      if (fresh) f = this.newFlow(slot);
      mergeFlow(this, f, fresh, sh, g, this.placeBase + recordOffset);
      merged[g] = f;
    }
    this.fragments.mergeShard(sh.fragments, merged);
  }

  /** Later fragments whose first fragment was not waiting: never captured, timed out, or forgotten. */
  get orphanFragments(): number {
    return this.fragments.orphans;
  }

  /** Datagrams forgotten because MAX_PENDING_DATAGRAMS first fragments were waiting. */
  get fragmentOverflow(): number {
    return this.fragments.overflowed;
  }

  /** Flows a 5-tuple still points at (the others were superseded by a new SYN on the same 5-tuple). */
  get activeFlows(): number {
    return this.liveCount;
  }

  /**
   * For a capture that runs for days: removes the flows that are over and returns them as records, so
   * the table holds only what is still going on (retire.ts says which go). Flow indices are compacted
   * and the slots rebuilt; O(flows), meant for a timer, not per packet. With `sink`, each flow that
   * goes is handed to it as soon as its record is made (a flood's half million evictions are then
   * garbage one by one, not one array) and the lists returned are empty.
   */
  retire(nowSec: number, limits: RetireLimits, sink?: (f: FlowRecord, evicted: boolean) => void): { expired: FlowRecord[]; evicted: FlowRecord[] } {
    const current = new Uint8Array(this.size);
    const sk = this.slotKeys;
    for (let b = Key.W; b < sk.length; b += SLOT_W) if (sk[b] !== 0) current[sk[b]! - 1] = 1;
    const { keep, expired, evicted } = retiredFlows(this, current, nowSec, limits);
    let out: { expired: FlowRecord[]; evicted: FlowRecord[] } = { expired: [], evicted: [] };
    if (sink === undefined) out = { expired: expired.map((f) => record(this, f)), evicted: evicted.map((f) => record(this, f)) };
    else {
      for (const f of expired) sink(record(this, f), false);
      for (const f of evicted) sink(record(this, f), true);
    }
    if (expired.length + evicted.length > 0) this.compact(keep);
    return out;
  }

  /** Keeps only the given flows (in ascending order), renumbered from 0, with the slots rebuilt. */
  private compact(keep: number[]): void {
    this.fragments.remap(compactWords(this, keep));
    const slots = Math.max(1 << 16, 1 << Math.ceil(Math.log2(Math.max(1, keep.length) * 4)));
    this.slotKeys = new Uint32Array(slots * SLOT_W);
    this.mask = slots - 1;
    this.liveCount = 0;
    const k = this.k;
    for (let i = 0; i < keep.length; i++) {
      for (let w = 0; w < Key.W; w++) k[w] = this.keys[i * Key.W + w]!;
      const s = this.findSlot();
      this.slotKeys.set(k, s * SLOT_W);
      this.slotKeys[s * SLOT_W + Key.W] = i + 1;
      this.liveCount++;
    }
  }

  /** Plain records of every flow, in order of first packet. */
  export(): FlowRecord[] {
    const order = exportOrder(this);
    const out: FlowRecord[] = new Array(order.length);
    for (let i = 0; i < order.length; i++) out[i] = record(this, order[i]!);
    return out;
  }

  /** Plain records in batches, in order of first packet (see export.ts recordBatches). */
  exportBatches(size = 256): Generator<FlowRecord[]> {
    return recordBatches(this, size);
  }

  /** The JSON flow lines of every flow, in export order, straight from the words (json.ts). */
  jsonChunks(chunkBytes = 1 << 20): Generator<Buffer> {
    return jsonChunks(this, chunkBytes);
  }

  /** The flows as columns in export order, for the audit (export.ts tableColumns). */
  columns(): FlowColumns {
    return tableColumns(this);
  }
}

/** `a` copied into a zeroed array of `n` words. */
function grown(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}
