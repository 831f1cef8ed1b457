import { PacketRecord } from '../capture/record.js';
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import { compareTime, formatIso } from '../core/time.js';
import { PacketView } from '../decode/view.js';

/** Which evidence decided who the client of a flow is, weakest first. */
export const DIRECTION_EVIDENCE = ['first-packet', 'port-rank', 'epb-flags', 'icmp-type', 'syn-ack', 'syn'] as const;
/** 'catalog-port' is set by the audit when only the catalog's documented port shows who listens. */
export type DirectionEvidence = (typeof DIRECTION_EVIDENCE)[number] | 'catalog-port';
const EV_FIRST = 0;
const EV_PORT = 1;
const EV_EPB = 2;
const EV_ICMP = 3;
const EV_SYNACK = 4;
const EV_SYN = 5;

export type TcpOutcome = 'established' | 'attempted' | 'rejected' | 'partial';

/** A flow as reports see it: made once per flow at export, never per packet. */
export interface FlowRecord {
  proto: string;
  protoNumber: number;
  ipVersion: 4 | 6;
  client: string;
  clientPort: number | null;
  server: string;
  serverPort: number | null;
  packets: number;
  bytes: number;
  clientPackets: number;
  clientBytes: number;
  serverPackets: number;
  serverBytes: number;
  start: string | null;
  end: string | null;
  /** Seconds between the first and the last packet. */
  duration: number;
  /** TCP only: how the connection went; null for other protocols. */
  outcome: TcpOutcome | null;
  /** What decided which side is the client. */
  direction: DirectionEvidence;
  /** TCP flags seen from each side, as letters (S A F R P U E C). */
  clientFlags?: string;
  serverFlags?: string;
  icmpType?: number;
  icmpCode?: number;
  vlan?: number;
  tunnel?: string[];
  /** For sorting and later stages: the start time as numbers. */
  startSec: number;
  startNs: number;
}

// Per-flow TCP state bits. "A" and "B" are the two sides of the normalised key.
const SYN_A = 1;
const SYN_B = 2;
const SYNACK_A = 4;
const SYNACK_B = 8;
const RST_A = 16;
const RST_B = 32;
const FIN_A = 64;
const FIN_B = 128;
/** A SYN-ACK was seen before any SYN; its receiver becomes the client once another packet follows. */
const PENDING_SYNACK = 256;
const PENDING_TO_A = 512;
/** The flow's first packet was a pure SYN: when shards are merged, it cannot continue an earlier flow. */
const OPENED_BY_SYN = 1024;

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_RST = 0x04;
const TCP_FIN = 0x01;

const KW = 11; // key words: meta, A address ×4, B address ×4, ports, vlan
const TUNNEL_NAMES = ['vlan', 'mpls', 'pppoe', 'gre', 'erspan', 'vxlan', 'geneve', 'ip-in-ip', 'teredo'];
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };

/** A flow table as plain arrays: what a worker sends back (the buffers are transferable). */
export interface FlowShard {
  size: number;
  orphanFragments: number;
  /** First fragments seen in the shard: fragment key → flow index in the shard. */
  firstFragments: Array<[string, number]>;
  orphans: OrphanFragment[];
  keys: Uint32Array;
  clientIsA: Uint8Array;
  evidence: Uint8Array;
  pktsA: Float64Array;
  pktsB: Float64Array;
  bytesA: Float64Array;
  bytesB: Float64Array;
  firstSec: Float64Array;
  lastSec: Float64Array;
  firstNs: Uint32Array;
  lastNs: Uint32Array;
  hasTime: Uint8Array;
  digits: Uint8Array;
  flagsA: Uint32Array;
  flagsB: Uint32Array;
  state: Uint32Array;
  icmp: Int32Array;
  vlan: Int32Array;
  tunnel: Uint32Array;
}

export interface FlowTableOptions {
  /** Put the outermost VLAN id in the flow key (off by default: a tag seen one way must not split a flow). */
  vlanInKey?: boolean;
  /** For shards: keep later fragments whose first fragment is not in this table for the merge. */
  deferOrphanFragments?: boolean;
}

/** A later IP fragment a shard could not place, with what is needed to count it at the merge. */
export interface OrphanFragment {
  ipVersion: number;
  src: number[];
  dst: number[];
  proto: number;
  fragId: number;
  vlan: number;
  tunnel: number;
  icmpType: number;
  icmpCode: number;
  origLen: number;
  tsSec: number;
  tsNs: number;
  hasTs: boolean;
  tsDigits: number;
  direction: number;
}

function portRank(port: number): number {
  return port < 1024 ? 0 : port < 49152 ? 1 : 2;
}

function growF64(a: Float64Array, n: number) {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
function growU32(a: Uint32Array, n: number) {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

/**
 * Bidirectional 5-tuple flows in typed arrays with open addressing. The key is normalised so both
 * directions land in one slot; side A is the lower (address, port). Memory grows with flows only.
 */
export class FlowTable {
  readonly vlanInKey: boolean;
  /** Number of flows (including those superseded by a new SYN on the same 5-tuple). */
  size = 0;
  private slots: Int32Array;
  private mask: number;
  private liveCount = 0;
  private cap = 0;
  private keys = new Uint32Array(0);
  private live = new Uint8Array(0);
  private clientIsA = new Uint8Array(0);
  private evidence = new Uint8Array(0);
  private pktsA = new Float64Array(0);
  private pktsB = new Float64Array(0);
  private bytesA = new Float64Array(0);
  private bytesB = new Float64Array(0);
  private firstSec = new Float64Array(0);
  private lastSec = new Float64Array(0);
  private firstNs = new Uint32Array(0);
  private lastNs = new Uint32Array(0);
  private hasTime = new Uint8Array(0);
  private digits = new Uint8Array(0);
  private flagsA = new Uint32Array(0);
  private flagsB = new Uint32Array(0);
  private state = new Uint32Array(0);
  private icmp = new Int32Array(0);
  private vlan = new Int32Array(0);
  private tunnel = new Uint32Array(0);
  private readonly k = new Uint32Array(KW);
  /** First fragments: (version, addresses, id, proto) → flow, so later fragments join that flow. */
  private readonly fragments = new Map<string, number>();
  /** Later fragments whose first fragment was never seen. */
  orphanFragments = 0;
  /** In a shard: later fragments without a first fragment so far, resolved when shards are merged. */
  private readonly deferOrphans: boolean;
  private readonly orphans: OrphanFragment[] = [];

  constructor(opts: FlowTableOptions = {}) {
    this.vlanInKey = opts.vlanInKey ?? false;
    this.deferOrphans = opts.deferOrphanFragments ?? false;
    this.slots = new Int32Array(1 << 12).fill(-1);
    this.mask = (1 << 12) - 1;
    this.ensureFlowCapacity(1024);
  }

  private ensureFlowCapacity(n: number): void {
    if (n <= this.cap) return;
    let cap = Math.max(this.cap, 1024);
    while (cap < n) cap *= 2;
    const keys = new Uint32Array(cap * KW);
    keys.set(this.keys);
    this.keys = keys;
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.live = u8(this.live);
    this.clientIsA = u8(this.clientIsA);
    this.evidence = u8(this.evidence);
    this.hasTime = u8(this.hasTime);
    this.digits = u8(this.digits);
    this.pktsA = growF64(this.pktsA, cap);
    this.pktsB = growF64(this.pktsB, cap);
    this.bytesA = growF64(this.bytesA, cap);
    this.bytesB = growF64(this.bytesB, cap);
    this.firstSec = growF64(this.firstSec, cap);
    this.lastSec = growF64(this.lastSec, cap);
    this.firstNs = growU32(this.firstNs, cap);
    this.lastNs = growU32(this.lastNs, cap);
    this.flagsA = growU32(this.flagsA, cap);
    this.flagsB = growU32(this.flagsB, cap);
    this.state = growU32(this.state, cap);
    this.tunnel = growU32(this.tunnel, cap);
    this.icmp = i32(this.icmp);
    this.vlan = i32(this.vlan);
    this.cap = cap;
  }

  private hashKey(k: Uint32Array, base: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < KW; i++) {
      h = Math.imul(h ^ k[base + i]!, 0x01000193);
      h ^= h >>> 13;
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    return (h ^ (h >>> 13)) >>> 0;
  }

  private rehash(): void {
    const n = this.slots.length * 2;
    const slots = new Int32Array(n).fill(-1);
    const mask = n - 1;
    for (let f = 0; f < this.size; f++) {
      if (!this.live[f]) continue;
      let s = this.hashKey(this.keys, f * KW) & mask;
      while (slots[s] !== -1) s = (s + 1) & mask;
      slots[s] = f;
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** Finds the slot of the scratch key, or the empty slot where it would go. */
  private findSlot(): number {
    const k = this.k;
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    let s = this.hashKey(k, 0) & mask;
    for (;;) {
      const f = slots[s]!;
      if (f === -1) return s;
      const b = f * KW;
      if (
        keys[b] === k[0] && keys[b + 1] === k[1] && keys[b + 5] === k[5] && keys[b + 9] === k[9] &&
        keys[b + 2] === k[2] && keys[b + 3] === k[3] && keys[b + 4] === k[4] &&
        keys[b + 6] === k[6] && keys[b + 7] === k[7] && keys[b + 8] === k[8] && keys[b + 10] === k[10]
      ) {
        return s;
      }
      s = (s + 1) & mask;
    }
  }

  private newFlow(slot: number): number {
    const f = this.size++;
    this.ensureFlowCapacity(this.size);
    this.keys.set(this.k, f * KW);
    this.live[f] = 1;
    this.clientIsA[f] = 0;
    this.evidence[f] = EV_FIRST;
    this.pktsA[f] = this.pktsB[f] = this.bytesA[f] = this.bytesB[f] = 0;
    this.hasTime[f] = 0;
    this.digits[f] = 0;
    this.flagsA[f] = this.flagsB[f] = this.state[f] = this.tunnel[f] = 0;
    this.icmp[f] = -1;
    this.vlan[f] = -1;
    if (this.slots[slot] === -1) this.liveCount++;
    else this.live[this.slots[slot]!] = 0;
    this.slots[slot] = f;
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
      fragKey = `${v.ipVersion}|${src[0]}|${src[1]}|${src[2]}|${src[3]}|${dst[0]}|${dst[1]}|${dst[2]}|${dst[3]}|${v.fragId}|${proto}`;
      if (v.fragment === 2) {
        const f = this.fragments.get(fragKey);
        if (f !== undefined) {
          const b = f * KW;
          const fromA = src[0] === this.keys[b + 1] && src[1] === this.keys[b + 2] && src[2] === this.keys[b + 3] && src[3] === this.keys[b + 4];
          this.count(f, fromA, v, rec);
          return;
        }
        if (this.deferOrphans) {
          // A shard cannot know the first fragments of the shards before it: keep the packet for the merge.
          this.orphans.push({
            ipVersion: v.ipVersion, src: Array.from(src), dst: Array.from(dst), proto, fragId: v.fragId, vlan: v.vlan, tunnel: v.tunnel,
            icmpType: v.icmpType, icmpCode: v.icmpCode, origLen: rec.origLen, tsSec: rec.tsSec, tsNs: rec.tsNs, hasTs: rec.hasTs, tsDigits: rec.tsDigits, direction: rec.direction,
          });
          return;
        }
        this.orphanFragments++;
      }
    }
    const hasPorts = sp >= 0 ? 1 : 0;
    if (!hasPorts) sp = dp = 0;
    // Normalise: side A is the lower (address, port).
    let srcIsA = true;
    for (let i = 0; i < 4; i++) {
      if (src[i] !== dst[i]) {
        srcIsA = src[i]! < dst[i]!;
        break;
      }
      if (i === 3) srcIsA = sp <= dp;
    }
    k[0] = proto | (v.ipVersion << 8) | (hasPorts << 12);
    const a = srcIsA ? src : dst;
    const bb = srcIsA ? dst : src;
    k[1] = a[0]!;
    k[2] = a[1]!;
    k[3] = a[2]!;
    k[4] = a[3]!;
    k[5] = bb[0]!;
    k[6] = bb[1]!;
    k[7] = bb[2]!;
    k[8] = bb[3]!;
    k[9] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
    k[10] = this.vlanInKey ? (v.vlan + 1) >>> 0 : 0;
    const slot = this.findSlot();
    let f = this.slots[slot]!;
    const flags = v.tcpFlags;
    const pureSyn = proto === 6 && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (f === -1 || (pureSyn && this.finished(f))) {
      f = this.newFlow(slot);
      this.decideDirection(f, srcIsA, sp, dp, v, rec);
      if (pureSyn) this.state[f] = OPENED_BY_SYN;
      if (this.liveCount * 2 > this.slots.length) this.rehash();
    }
    if (fragKey !== null && v.fragment === 1) {
      if (this.fragments.size >= 65536) this.fragments.clear(); // bounded: fragments are short-lived
      this.fragments.set(fragKey, f);
    }
    this.count(f, srcIsA, v, rec);
  }

  private finished(f: number): boolean {
    const st = this.state[f]!;
    return (st & (RST_A | RST_B)) !== 0 || (st & (FIN_A | FIN_B)) === (FIN_A | FIN_B);
  }

  /** The first packet of a flow decides who is the client (later packets may overrule with a SYN). */
  private decideDirection(f: number, srcIsA: boolean, sp: number, dp: number, v: PacketView, rec: PacketRecord): void {
    const proto = v.proto;
    let srcIsClient = true;
    let ev = EV_FIRST;
    if (proto === 6 && v.tcpFlags & TCP_SYN && !(v.tcpFlags & TCP_ACK)) {
      ev = EV_SYN;
    } else if (proto === 1 || proto === 58) {
      const t = v.icmpType;
      // Echo, timestamp, information, address mask, router solicitation … requests vs. their replies.
      const request = proto === 1 ? t === 8 || t === 13 || t === 15 || t === 17 : t === 128 || t === 133 || t === 135;
      const reply = proto === 1 ? t === 0 || t === 14 || t === 16 || t === 18 : t === 129 || t === 134 || t === 136;
      if (request || reply) {
        srcIsClient = request;
        ev = EV_ICMP;
      }
    } else if (sp !== dp && v.srcPort >= 0 && (proto === 6 || portRank(sp) !== portRank(dp))) {
      // The side on the ephemeral (higher-ranked, then higher) port talks to the well-known one.
      const rs = portRank(sp);
      const rd = portRank(dp);
      srcIsClient = rs !== rd ? rs > rd : sp > dp;
      ev = EV_PORT;
    } else if (rec.direction !== 0) {
      // The capturing host is taken as the client: an outbound packet's sender, an inbound one's receiver.
      srcIsClient = rec.direction === 2;
      ev = EV_EPB;
    }
    this.clientIsA[f] = srcIsClient === srcIsA ? 1 : 0;
    this.evidence[f] = ev;
  }

  private count(f: number, fromA: boolean, v: PacketView, rec: PacketRecord): void {
    const len = rec.origLen;
    if (fromA) {
      this.pktsA[f]++;
      this.bytesA[f] += len;
    } else {
      this.pktsB[f]++;
      this.bytesB[f] += len;
    }
    if (rec.hasTs) {
      const sec = rec.tsSec;
      const ns = rec.tsNs;
      if (!this.hasTime[f]) {
        this.hasTime[f] = 1;
        this.firstSec[f] = this.lastSec[f] = sec;
        this.firstNs[f] = this.lastNs[f] = ns;
      } else {
        if (compareTime(sec, ns, this.firstSec[f]!, this.firstNs[f]!) < 0) {
          this.firstSec[f] = sec;
          this.firstNs[f] = ns;
        }
        if (compareTime(sec, ns, this.lastSec[f]!, this.lastNs[f]!) > 0) {
          this.lastSec[f] = sec;
          this.lastNs[f] = ns;
        }
      }
      if (rec.tsDigits > this.digits[f]!) this.digits[f] = rec.tsDigits;
    }
    this.tunnel[f] |= v.tunnel;
    if (v.vlan >= 0 && this.vlan[f]! < 0) this.vlan[f] = v.vlan;
    if (v.icmpType >= 0 && this.icmp[f]! < 0) this.icmp[f] = (v.icmpType << 8) | v.icmpCode;
    if (v.proto !== 6 || v.fragment === 2) return;
    const flags = v.tcpFlags;
    if (fromA) this.flagsA[f] |= flags;
    else this.flagsB[f] |= flags;
    let st = this.state[f]!;
    const syn = flags & TCP_SYN;
    const ack = flags & TCP_ACK;
    if (st & PENDING_SYNACK && !(syn && ack)) {
      // Something followed a lone SYN-ACK: now it counts as evidence of direction.
      if (!(st & (SYN_A | SYN_B))) {
        this.clientIsA[f] = st & PENDING_TO_A ? 1 : 0;
        this.evidence[f] = EV_SYNACK;
      }
      st &= ~(PENDING_SYNACK | PENDING_TO_A);
    }
    if (syn && !ack) {
      if (!(st & (SYN_A | SYN_B))) {
        this.clientIsA[f] = fromA ? 1 : 0;
        this.evidence[f] = EV_SYN;
      }
      st |= fromA ? SYN_A : SYN_B;
    } else if (syn && ack) {
      st |= fromA ? SYNACK_A : SYNACK_B;
      if (!(st & (SYN_A | SYN_B)) && this.evidence[f]! < EV_SYNACK) {
        st |= PENDING_SYNACK | (fromA ? 0 : PENDING_TO_A);
      }
    }
    if (flags & TCP_RST) st |= fromA ? RST_A : RST_B;
    if (flags & TCP_FIN) st |= fromA ? FIN_A : FIN_B;
    this.state[f] = st;
  }

  /** The table as plain typed arrays (sliced to the flows in use), to send from a worker thread. */
  toShard(): FlowShard {
    const n = this.size;
    return {
      size: n,
      orphanFragments: this.orphanFragments,
      firstFragments: [...this.fragments],
      orphans: this.orphans,
      keys: this.keys.slice(0, n * KW),
      clientIsA: this.clientIsA.slice(0, n),
      evidence: this.evidence.slice(0, n),
      pktsA: this.pktsA.slice(0, n),
      pktsB: this.pktsB.slice(0, n),
      bytesA: this.bytesA.slice(0, n),
      bytesB: this.bytesB.slice(0, n),
      firstSec: this.firstSec.slice(0, n),
      lastSec: this.lastSec.slice(0, n),
      firstNs: this.firstNs.slice(0, n),
      lastNs: this.lastNs.slice(0, n),
      hasTime: this.hasTime.slice(0, n),
      digits: this.digits.slice(0, n),
      flagsA: this.flagsA.slice(0, n),
      flagsB: this.flagsB.slice(0, n),
      state: this.state.slice(0, n),
      icmp: this.icmp.slice(0, n),
      vlan: this.vlan.slice(0, n),
      tunnel: this.tunnel.slice(0, n),
    };
  }

  /**
   * Adds the flows of a shard that covers the packets after everything already in this table. The first
   * flow of a 5-tuple in the shard continues the live flow of that 5-tuple here unless it was opened by
   * a SYN after that flow had finished, exactly as one pass over the file would have decided; so a SYN
   * at the end of one shard and its SYN-ACK in the next still make an established flow.
   */
  mergeShard(sh: FlowShard): void {
    const k = this.k;
    this.orphanFragments += sh.orphanFragments;
    // The shard's fragments that found no first fragment in it meet the first fragments seen before it.
    if (sh.orphans.length > 0) {
      const v = new PacketView();
      const rec = new PacketRecord();
      for (const o of sh.orphans) {
        v.reset();
        v.ipVersion = o.ipVersion;
        v.src.set(o.src);
        v.dst.set(o.dst);
        v.proto = o.proto;
        v.fragment = 2;
        v.fragId = o.fragId;
        v.vlan = o.vlan;
        v.tunnel = o.tunnel;
        v.icmpType = o.icmpType;
        v.icmpCode = o.icmpCode;
        rec.origLen = o.origLen;
        rec.tsSec = o.tsSec;
        rec.tsNs = o.tsNs;
        rec.hasTs = o.hasTs;
        rec.tsDigits = o.tsDigits;
        rec.direction = o.direction;
        this.add(v, rec);
      }
    }
    const merged = new Int32Array(sh.size);
    for (let g = 0; g < sh.size; g++) {
      for (let i = 0; i < KW; i++) k[i] = sh.keys[g * KW + i]!;
      const slot = this.findSlot();
      let f = this.slots[slot]!;
      const st = sh.state[g]!;
      if (f === -1 || (st & OPENED_BY_SYN && this.finished(f))) {
        f = this.newFlow(slot);
        this.clientIsA[f] = sh.clientIsA[g]!;
        this.evidence[f] = sh.evidence[g]!;
        this.state[f] = st;
        if (this.liveCount * 2 > this.slots.length) this.rehash();
      } else {
        const mine = this.state[f]!;
        const haveSyn = (mine & (SYN_A | SYN_B)) !== 0;
        // A lone SYN-ACK at the end of this table is confirmed by the shard's packets of the flow.
        if (mine & PENDING_SYNACK && !haveSyn) {
          this.clientIsA[f] = mine & PENDING_TO_A ? 1 : 0;
          this.evidence[f] = EV_SYNACK;
        }
        // Otherwise a SYN decides unless one was already seen, and the stronger evidence wins.
        if (!haveSyn && sh.evidence[g]! > this.evidence[f]!) {
          this.clientIsA[f] = sh.clientIsA[g]!;
          this.evidence[f] = sh.evidence[g]!;
        }
        let merged = (mine & ~(PENDING_SYNACK | PENDING_TO_A)) | (st & ~OPENED_BY_SYN);
        if (merged & (SYN_A | SYN_B)) merged &= ~(PENDING_SYNACK | PENDING_TO_A);
        this.state[f] = merged;
      }
      this.pktsA[f] += sh.pktsA[g]!;
      this.pktsB[f] += sh.pktsB[g]!;
      this.bytesA[f] += sh.bytesA[g]!;
      this.bytesB[f] += sh.bytesB[g]!;
      if (sh.hasTime[g]) {
        if (!this.hasTime[f]) {
          this.hasTime[f] = 1;
          this.firstSec[f] = sh.firstSec[g]!;
          this.firstNs[f] = sh.firstNs[g]!;
          this.lastSec[f] = sh.lastSec[g]!;
          this.lastNs[f] = sh.lastNs[g]!;
        } else {
          if (compareTime(sh.firstSec[g]!, sh.firstNs[g]!, this.firstSec[f]!, this.firstNs[f]!) < 0) {
            this.firstSec[f] = sh.firstSec[g]!;
            this.firstNs[f] = sh.firstNs[g]!;
          }
          if (compareTime(sh.lastSec[g]!, sh.lastNs[g]!, this.lastSec[f]!, this.lastNs[f]!) > 0) {
            this.lastSec[f] = sh.lastSec[g]!;
            this.lastNs[f] = sh.lastNs[g]!;
          }
        }
      }
      if (sh.digits[g]! > this.digits[f]!) this.digits[f] = sh.digits[g]!;
      this.flagsA[f] |= sh.flagsA[g]!;
      this.flagsB[f] |= sh.flagsB[g]!;
      this.tunnel[f] |= sh.tunnel[g]!;
      if (this.icmp[f]! < 0) this.icmp[f] = sh.icmp[g]!;
      if (this.vlan[f]! < 0) this.vlan[f] = sh.vlan[g]!;
      merged[g] = f;
    }
    for (const [key, g] of sh.firstFragments) {
      if (this.fragments.size >= 65536) this.fragments.clear();
      this.fragments.set(key, merged[g]!);
    }
  }

  /** Plain records of every flow, in order of first packet. */
  export(): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (let f = 0; f < this.size; f++) out.push(this.record(f));
    out.sort((x, y) => compareTime(x.startSec, x.startNs, y.startSec, y.startNs));
    return out;
  }

  private record(f: number): FlowRecord {
    const b = f * KW;
    const keys = this.keys;
    const meta = keys[b]!;
    const proto = meta & 0xff;
    const version = ((meta >> 8) & 0xf) as 4 | 6;
    const hasPorts = (meta >> 12) & 1;
    const addr = (o: number) => (version === 4 ? formatIPv4(keys[o]!) : formatIPv6(keys[o]!, keys[o + 1]!, keys[o + 2]!, keys[o + 3]!));
    const portA = keys[b + 9]! >>> 16;
    const portB = keys[b + 9]! & 0xffff;
    const cA = this.clientIsA[f] === 1;
    const pC = cA ? this.pktsA[f]! : this.pktsB[f]!;
    const pS = cA ? this.pktsB[f]! : this.pktsA[f]!;
    const bC = cA ? this.bytesA[f]! : this.bytesB[f]!;
    const bS = cA ? this.bytesB[f]! : this.bytesA[f]!;
    const hasTime = this.hasTime[f] === 1;
    const digits = this.digits[f]!;
    const r: FlowRecord = {
      proto: PROTO_NAMES[proto] ?? String(proto),
      protoNumber: proto,
      ipVersion: version,
      client: addr(cA ? b + 1 : b + 5),
      clientPort: hasPorts ? (cA ? portA : portB) : null,
      server: addr(cA ? b + 5 : b + 1),
      serverPort: hasPorts ? (cA ? portB : portA) : null,
      packets: pC + pS,
      bytes: bC + bS,
      clientPackets: pC,
      clientBytes: bC,
      serverPackets: pS,
      serverBytes: bS,
      start: hasTime ? formatIso(this.firstSec[f]!, this.firstNs[f]!, digits) : null,
      end: hasTime ? formatIso(this.lastSec[f]!, this.lastNs[f]!, digits) : null,
      duration: hasTime ? Number((this.lastSec[f]! - this.firstSec[f]! + (this.lastNs[f]! - this.firstNs[f]!) / 1e9).toFixed(9)) : 0,
      outcome: proto === 6 ? this.outcome(f, cA) : null,
      direction: DIRECTION_EVIDENCE[this.evidence[f]!]!,
      startSec: hasTime ? this.firstSec[f]! : 0,
      startNs: hasTime ? this.firstNs[f]! : 0,
    };
    if (proto === 6) {
      r.clientFlags = flagLetters(cA ? this.flagsA[f]! : this.flagsB[f]!);
      r.serverFlags = flagLetters(cA ? this.flagsB[f]! : this.flagsA[f]!);
    }
    if (this.icmp[f]! >= 0) {
      r.icmpType = this.icmp[f]! >> 8;
      r.icmpCode = this.icmp[f]! & 0xff;
    }
    if (this.vlan[f]! >= 0) r.vlan = this.vlan[f]!;
    const t = this.tunnel[f]! & ~1; // a VLAN tag is not a tunnel
    if (t) r.tunnel = TUNNEL_NAMES.filter((_, i) => t & (1 << i));
    return r;
  }

  private outcome(f: number, clientIsA: boolean): TcpOutcome {
    const st = this.state[f]!;
    const clientSyn = st & (clientIsA ? SYN_A : SYN_B);
    if (!clientSyn) return 'partial';
    if (st & (clientIsA ? SYNACK_B : SYNACK_A)) return 'established';
    const serverPkts = clientIsA ? this.pktsB[f]! : this.pktsA[f]!;
    if (serverPkts === 0) return 'attempted';
    const serverFlags = clientIsA ? this.flagsB[f]! : this.flagsA[f]!;
    // The server answered only with resets: the port is closed (or a firewall answered for it).
    if (serverFlags & TCP_RST && (serverFlags & ~(TCP_RST | TCP_ACK)) === 0) return 'rejected';
    return 'partial';
  }
}

const FLAG_LETTERS: Array<[number, string]> = [
  [0x02, 'S'], [0x10, 'A'], [0x01, 'F'], [0x04, 'R'], [0x08, 'P'], [0x20, 'U'], [0x40, 'E'], [0x80, 'C'],
];
function flagLetters(flags: number): string {
  let s = '';
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) s += letter;
  return s;
}
