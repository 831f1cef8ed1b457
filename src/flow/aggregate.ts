import { compareTime } from '../core/time.js';
import { displayFilter, scopeFilters } from './filter.js';
import type { FlowRecord, TcpOutcome } from './record.js';

/** Folded records whose filter already names the server port only. */
const widened = new WeakSet<object>();

/** A flow record that stands for one or more flows of the same conversation that are over. */
export interface FoldedFlow extends FlowRecord {
  /** How many flows were folded into this record. */
  flows: number;
  /** TCP: how many of them ended each way. */
  outcomes?: Partial<Record<TcpOutcome, number>>;
}

/** The counters a fold sums. */
type Counts = Pick<FlowRecord, 'packets' | 'bytes' | 'clientPackets' | 'clientBytes' | 'serverPackets' | 'serverBytes'>;

type Frames = Pick<FlowRecord, 'firstFile' | 'firstFrame' | 'lastFile' | 'lastFrame'>;

/** Widens a fold's frames to a flow's: the earlier first frame (by file, then frame), the later last. */
function widenFrames(into: Frames, f: Frames): void {
  if (f.firstFile < into.firstFile || (f.firstFile === into.firstFile && f.firstFrame < into.firstFrame)) {
    into.firstFile = f.firstFile;
    into.firstFrame = f.firstFrame;
  }
  if (f.lastFile > into.lastFile || (f.lastFile === into.lastFile && f.lastFrame > into.lastFrame)) {
    into.lastFile = f.lastFile;
    into.lastFrame = f.lastFrame;
  }
}

/** Adds a flow's (or a folded record's) packets and bytes, both ways, to a fold's. */
function addCounts(into: Counts, f: Counts): void {
  into.packets += f.packets;
  into.bytes += f.bytes;
  into.clientPackets += f.clientPackets;
  into.clientBytes += f.clientBytes;
  into.serverPackets += f.serverPackets;
  into.serverBytes += f.serverBytes;
}

// The outcome a requirement needs to see: one established connection outweighs any failed attempt.
const OUTCOME_RANK: Record<TcpOutcome, number> = { attempted: 0, rejected: 1, partial: 2, established: 3 };

/**
 * Flows that left a long-running flow table, folded per conversation: protocol, client, server,
 * server port and VLAN (and, for UDP, the client port, which grants such as TFTP's name). What the
 * audit needs from finished flows — who reached whom on what, when first, how it went, how much — stays;
 * the one record per ephemeral port goes. Bounded by `maxRecords`; flows past it are only counted.
 */
export class FlowFolds {
  private readonly byKey = new Map<string, FoldedFlow>();
  /** Flows that arrived when the store was full and were counted only. */
  dropped = 0;
  folded = 0;

  constructor(private readonly maxRecords: number) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Adds a flow, or a record another store folded (a shard's), with its counts. */
  add(f: FlowRecord | FoldedFlow): void {
    const n = 'flows' in f ? f.flows : 1;
    this.folded += n;
    const key = `${f.proto}|${f.client}|${f.server}|${f.serverPort ?? f.icmpType ?? ''}|${f.proto === 'udp' ? f.clientPort : ''}|${f.vlan ?? ''}`;
    const had = this.byKey.get(key);
    if (had === undefined) {
      if (this.byKey.size >= this.maxRecords) {
        this.dropped += n;
        return;
      }
      const rec: FoldedFlow = { ...f, flows: n };
      if (!('flows' in f) && f.outcome !== null) rec.outcomes = { [f.outcome]: 1 };
      this.byKey.set(key, rec);
      return;
    }
    had.flows += n;
    // Flows from other client ports: the record's filter names the server port only (once).
    if (had.filter !== undefined && had.clientPort !== f.clientPort && !widened.has(had)) {
      widened.add(had);
      had.filter = displayFilter(had, { anyClientPort: true });
    }
    addCounts(had, f);
    widenFrames(had, f);
    if (f.start !== null && (had.start === null || compareTime(f.startSec, f.startNs, had.startSec, had.startNs) < 0)) {
      had.start = f.start;
      had.startSec = f.startSec;
      had.startNs = f.startNs;
    }
    if (f.end !== null && (had.end === null || f.end > had.end)) had.end = f.end;
    if (f.outcome !== null) {
      had.outcomes ??= {};
      const outcomes = 'flows' in f ? (f.outcomes ?? {}) : { [f.outcome]: 1 };
      for (const [o, k] of Object.entries(outcomes) as Array<[TcpOutcome, number]>) had.outcomes[o] = (had.outcomes[o] ?? 0) + k;
      if (had.outcome === null || OUTCOME_RANK[f.outcome] > OUTCOME_RANK[had.outcome]) had.outcome = f.outcome;
    }
    if (f.clientFlags !== undefined) had.clientFlags = mergeFlags(had.clientFlags, f.clientFlags);
    if (f.serverFlags !== undefined) had.serverFlags = mergeFlags(had.serverFlags, f.serverFlags);
    if (f.vlanAsymmetric) had.vlanAsymmetric = true;
    if (f.tunnel !== undefined) had.tunnel = [...new Set([...(had.tunnel ?? []), ...f.tunnel])];
    if (had.start !== null && had.end !== null) {
      had.duration = Number((Date.parse(had.end) / 1000 - had.startSec - had.startNs / 1e9).toFixed(6));
    }
  }

  records(): FoldedFlow[] {
    return [...this.byKey.values()];
  }
}

const LETTERS = 'SAFRPUEC';
function mergeFlags(a: string | undefined, b: string): string {
  const all = (a ?? '') + b;
  let s = '';
  for (const l of LETTERS) if (all.includes(l)) s += l;
  return s;
}

/** A scan record: the unanswered (or refused) attempts of one scanner to one port, over all targets. */
export interface ScanRecord extends FoldedFlow {
  /** Distinct targets probed on this port (counted exactly up to the store's budget of addresses). */
  targets: number;
  /** True when the address budget ran out and `targets` is a lower bound. */
  targetsAtLeast?: boolean;
}

/** What a scanner did past the flow table's bound, summed over its scan records. */
export interface ScannerSummary {
  proto: string;
  scanner: string;
  flows: number;
  /** Ports (ICMP: types) it probed, and their range. */
  ports: number;
  lowPort: number | null;
  highPort: number | null;
  /** Targets of its most probed port (a lower bound of all its targets). */
  targets: number;
}

/**
 * Whether a flow that left the table is a bare attempt a scan is made of: one side only spoke (a SYN
 * and its retransmissions, a UDP or ICMP probe) or the other side only refused (a reset), in at most
 * four packets. Such flows carry nothing but "A tried B on port P"; folded per scanner and port they
 * keep exactly what the audit judges (proto, client, port, outcome, first time) and lose the target.
 */
export function isScanAttempt(f: FlowRecord): boolean {
  if (f.packets > 4 || f.clientPackets === 0) return false;
  if (f.proto === 'tcp') return f.outcome === 'attempted' || f.outcome === 'rejected';
  return f.serverPackets === 0;
}

/**
 * Bare attempts folded per (protocol, scanner, server port or ICMP type, VLAN): a SYN scan of ten
 * million address-port pairs from one host becomes at most 65 536 records a protocol. Each keeps the first
 * target as its server and counts flows and distinct targets; the addresses counted are bounded in
 * total (`maxAddresses`), past which counts are lower bounds. Past `maxRecords` records, attempts are
 * only counted (`dropped`).
 */
export class ScanFolds {
  /** Scanner address → (VLAN, protocol, port) as one number → record. */
  private readonly byScanner = new Map<string, Map<number, ScanAcc>>();
  /** The records in the order they were made. */
  private readonly made: ScanAcc[] = [];
  private addresses = 0;
  folded = 0;
  dropped = 0;

  constructor(
    private readonly maxRecords: number,
    private readonly maxAddresses = 1_000_000,
  ) {}

  get size(): number {
    return this.made.length;
  }

  add(f: FlowRecord | ScanRecord): void {
    const n = 'flows' in f ? f.flows : 1;
    this.folded += n;
    // A number, not a string, per attempt: this runs for every flow of a flood.
    const key = ((f.vlan ?? -1) + 1) * 2 ** 24 + f.protoNumber * 65537 + (f.serverPort ?? f.icmpType ?? -1) + 1;
    let ports = this.byScanner.get(f.client);
    if (ports === undefined) this.byScanner.set(f.client, (ports = new Map()));
    let had = ports.get(key);
    if (had === undefined) {
      if (this.made.length >= this.maxRecords) {
        this.dropped += n;
        return;
      }
      ports.set(key, (had = new ScanAcc(f)));
      this.made.push(had);
    }
    had.flows += n;
    addCounts(had, f);
    widenFrames(had.frames, f);
    if (f.start !== null && (had.first.start === null || compareTime(f.startSec, f.startNs, had.first.startSec, had.first.startNs) < 0)) had.first = f;
    if (f.end !== null && (had.end === null || f.end > had.end)) had.end = f.end;
    if ('outcomes' in f && f.outcomes) {
      for (const [o, k] of Object.entries(f.outcomes) as Array<[TcpOutcome, number]>) had.outcomes[OUTCOME_RANK[o]] += k;
    } else if (f.outcome !== null) had.outcomes[OUTCOME_RANK[f.outcome]]++;
    if (f.clientFlags !== undefined && f.clientFlags !== had.clientFlags) had.clientFlags = mergeFlags(had.clientFlags, f.clientFlags);
    if (f.serverFlags !== undefined && f.serverFlags !== had.serverFlags) had.serverFlags = mergeFlags(had.serverFlags, f.serverFlags);
    // Targets: a record from another store (a shard's) brings its count, which cannot be told apart from ours.
    if ('targets' in f) {
      had.targets += f.targets;
      if (f.targetsAtLeast) had.targetsAtLeast = true;
    } else if (!had.seen.has(f.server)) {
      if (this.addresses < this.maxAddresses) {
        had.seen.add(f.server);
        this.addresses++;
        had.targets++;
      } else had.targetsAtLeast = true;
    }
  }

  records(): ScanRecord[] {
    return this.made.map((a) => a.record());
  }

  /** One line per scanner and protocol, most flows first. */
  scanners(): ScannerSummary[] {
    const by = new Map<string, ScannerSummary>();
    for (const a of this.made) {
      const r = a.first;
      const k = `${r.proto}|${r.client}`;
      let s = by.get(k);
      if (!s) by.set(k, (s = { proto: r.proto, scanner: r.client, flows: 0, ports: 0, lowPort: null, highPort: null, targets: 0 }));
      s.flows += a.flows;
      s.ports++;
      const p = r.serverPort ?? r.icmpType ?? null;
      if (p !== null) {
        if (s.lowPort === null || p < s.lowPort) s.lowPort = p;
        if (s.highPort === null || p > s.highPort) s.highPort = p;
      }
      if (a.targets > s.targets) s.targets = a.targets;
    }
    return [...by.values()].sort((a, b) => b.flows - a.flows || (a.scanner < b.scanner ? -1 : a.scanner > b.scanner ? 1 : 0));
  }
}

const OUTCOME_BY_RANK: TcpOutcome[] = ['attempted', 'rejected', 'partial', 'established'];

/** One scan record while it is being summed: fixed fields, the record made once at the end. */
class ScanAcc {
  flows = 0;
  packets = 0;
  bytes = 0;
  clientPackets = 0;
  clientBytes = 0;
  serverPackets = 0;
  serverBytes = 0;
  end: string | null = null;
  clientFlags: string | undefined = undefined;
  serverFlags: string | undefined = undefined;
  /** Flows by outcome, in OUTCOME_RANK's order. */
  readonly outcomes = [0, 0, 0, 0];
  targets = 0;
  targetsAtLeast = false;
  readonly seen = new Set<string>();
  readonly frames: Frames;

  /** `first`: the earliest flow, whose target, ports and start the record shows. */
  constructor(public first: FlowRecord) {
    this.frames = { firstFile: first.firstFile, firstFrame: first.firstFrame, lastFile: first.lastFile, lastFrame: first.lastFrame };
  }

  record(): ScanRecord {
    const f = this.first;
    const rec: ScanRecord = {
      ...f,
      packets: this.packets,
      bytes: this.bytes,
      clientPackets: this.clientPackets,
      clientBytes: this.clientBytes,
      serverPackets: this.serverPackets,
      serverBytes: this.serverBytes,
      end: this.end,
      ...this.frames,
      flows: this.flows,
      targets: this.targets,
    };
    delete rec.outcomes;
    delete (rec as Partial<ScanRecord>).targetsAtLeast;
    // Many targets: the scanner's packets to the port, whoever received them.
    if (f.filter !== undefined && this.flows > 1) {
      const scope = scopeFilters({ from: f.client, to: null, proto: f.proto, ports: f.serverPort === null ? [] : [f.serverPort] }).filter;
      rec.filter = f.proto === 'tcp' || f.proto === 'udp' ? `${scope} && !${f.ipVersion === 6 ? 'icmpv6' : 'icmp'}` : scope;
    }
    if (f.start !== null && this.end !== null) rec.duration = Number((Date.parse(this.end) / 1000 - f.startSec - f.startNs / 1e9).toFixed(6));
    if (this.clientFlags !== undefined) rec.clientFlags = this.clientFlags;
    if (this.serverFlags !== undefined) rec.serverFlags = this.serverFlags;
    if (f.outcome !== null) {
      rec.outcomes = {};
      let best = -1;
      this.outcomes.forEach((k, i) => {
        if (k === 0) return;
        rec.outcomes![OUTCOME_BY_RANK[i]!] = k;
        best = i;
      });
      if (best >= 0) rec.outcome = OUTCOME_BY_RANK[best]!;
    }
    if (this.targetsAtLeast) rec.targetsAtLeast = true;
    return rec;
  }
}
