import type { PacketRecord } from '../capture/record.js';
import type { PacketView } from '../decode/view.js';

/**
 * How long a datagram waits for its next fragment, in seconds of capture time (Linux's ipfrag_time is
 * 30 s). Each fragment that joins it starts the wait again, so a slow train of fragments (Zeek keeps
 * them forever by default) stays one flow; a later fragment after 30 s of silence is an orphan.
 */
export const FRAGMENT_TIMEOUT_SEC = 30;
/**
 * Datagrams whose first fragment may wait at once (per flow table). Past it the oldest is forgotten
 * and counted (`overflowed`): a flood of first fragments cannot grow the table.
 */
export const MAX_PENDING_DATAGRAMS = 65536;
/** Orphans a shard keeps for the merge (it cannot know the first fragments of the shards before it). */
export const MAX_DEFERRED_ORPHANS = 65536;

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
  /** Its frame number in the shard's range (1-based). */
  recordNo: number;
  tsSec: number;
  tsNs: number;
  hasTs: boolean;
  tsDigits: number;
  direction: number;
}

/** What a shard's fragment tracker hands to the merge. */
export interface FragmentShard {
  orphans: number;
  overflowed: number;
  /** Datagrams still waiting in the shard, oldest first: key, flow index in the shard, second of the first fragment. */
  pending: Array<[string, number, number]>;
  /** Later fragments without a first fragment in the shard, to meet the first fragments seen before it. */
  deferred: OrphanFragment[];
}

/** The datagram a fragment belongs to: version, addresses, identification, protocol. */
export function fragmentKey(v: PacketView): string {
  const s = v.src;
  const d = v.dst;
  return `${v.ipVersion}|${s[0]}|${s[1]}|${s[2]}|${s[3]}|${d[0]}|${d[1]}|${d[2]}|${d[3]}|${v.fragId}|${v.proto}`;
}

/**
 * Later IP fragments carry no ports: they join the flow of their datagram's first fragment. The
 * tracker remembers first fragments (datagram → flow) while fragments of them keep coming, at most
 * FRAGMENT_TIMEOUT_SEC of capture time apart, and at most MAX_PENDING_DATAGRAMS of them, the longest
 * silent forgotten first, as a reassembler would; it counts the
 * later fragments it cannot place (orphans) and the datagrams it had to forget (overflowed). Nothing
 * is reassembled: the flow only needs the packets and bytes.
 */
export class FragmentTracker {
  /** Insertion order is arrival order: the oldest first fragment is the first entry. */
  private readonly pending = new Map<string, { flow: number; sec: number }>();
  /** Later fragments whose first fragment is not waiting: never captured, timed out, or forgotten. */
  orphans = 0;
  /** First fragments forgotten because MAX_PENDING_DATAGRAMS were waiting. */
  overflowed = 0;
  private readonly deferred: OrphanFragment[] = [];
  /** The shard's first orphan time + the timeout: orphans before it may belong to an earlier shard's datagram. */
  private deferUntil = NaN;
  /** Datagrams with deferred orphans, and the last one's second: its later fragments are deferred while they keep coming. */
  private readonly deferredLast = new Map<string, number>();

  /** `defer`: in a shard, keep orphans that may belong to a first fragment of an earlier shard. */
  constructor(private readonly defer = false) {}

  /** A first fragment (offset 0, more to come) of the datagram `key`, counted in flow `flow`. */
  first(key: string, flow: number, sec: number): void {
    const p = this.pending;
    p.delete(key); // a reused identification starts a new datagram, at the end of the order
    for (const [k, e] of p) {
      if (sec - e.sec > FRAGMENT_TIMEOUT_SEC) p.delete(k);
      else if (p.size >= MAX_PENDING_DATAGRAMS) {
        p.delete(k);
        this.overflowed++;
      } else break;
    }
    p.set(key, { flow, sec });
  }

  /** The flow of a later fragment's datagram, or -1 when its first fragment is not waiting (not counted yet). */
  flowOf(key: string, sec: number): number {
    const p = this.pending;
    const e = p.get(key);
    if (e === undefined) return -1;
    p.delete(key);
    if (sec - e.sec > FRAGMENT_TIMEOUT_SEC) return -1;
    // The datagram is alive again: its wait restarts, at the end of the order.
    e.sec = sec;
    p.set(key, e);
    return e.flow;
  }

  /**
   * A later fragment `flowOf` could not place: in a shard, kept for the merge while it may belong to an
   * earlier shard's datagram (true); otherwise counted as an orphan (false: the caller counts the packet).
   */
  orphan(v: PacketView, rec: PacketRecord): boolean {
    if (this.defer) {
      if (Number.isNaN(this.deferUntil)) this.deferUntil = rec.tsSec + FRAGMENT_TIMEOUT_SEC;
      const key = fragmentKey(v);
      const last = this.deferredLast.get(key);
      const mayBelong = rec.tsSec <= this.deferUntil || (last !== undefined && rec.tsSec - last <= FRAGMENT_TIMEOUT_SEC);
      if (mayBelong && this.deferred.length < MAX_DEFERRED_ORPHANS) {
        this.deferredLast.set(key, rec.tsSec);
        this.deferred.push({
          ipVersion: v.ipVersion, src: Array.from(v.src), dst: Array.from(v.dst), proto: v.proto, fragId: v.fragId, vlan: v.vlan, tunnel: v.tunnel,
          icmpType: v.icmpType, icmpCode: v.icmpCode, origLen: rec.origLen, recordNo: rec.recordNo, tsSec: rec.tsSec, tsNs: rec.tsNs, hasTs: rec.hasTs, tsDigits: rec.tsDigits, direction: rec.direction,
        });
        return true;
      }
    }
    this.orphans++;
    return false;
  }

  /** Flow indices after a compaction: `remap[f]` is the new index, -1 for a flow that left the table. */
  remap(remap: Int32Array): void {
    for (const [key, e] of this.pending) {
      const g = remap[e.flow]!;
      if (g < 0) this.pending.delete(key);
      else e.flow = g;
    }
  }

  toShard(): FragmentShard {
    return { orphans: this.orphans, overflowed: this.overflowed, pending: [...this.pending].map(([k, e]) => [k, e.flow, e.sec]), deferred: this.deferred };
  }

  /**
   * A shard's counts and waiting datagrams, after its deferred orphans were replayed (through the
   * table, against the datagrams waiting here); `flowOf[g]` is the merged index of the shard's flow g.
   */
  mergeShard(sh: FragmentShard, flowOf: Int32Array): void {
    this.orphans += sh.orphans;
    this.overflowed += sh.overflowed;
    for (const [key, g, sec] of sh.pending) this.first(key, flowOf[g]!, sec);
  }
}
