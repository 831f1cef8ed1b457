/**
 * A run: what one pass over captures learns (the flow table, its --max-flows bound, the capture facts
 * and the counters beside the flows), one type for the single pass and for a shard's part of a file;
 * a part as it is sent back from a worker, and the one merge of a part into the run that reads on.
 */
import type { CaptureFacts } from '../capture/record.js';
import { DamageTally } from '../core/errors.js';
import { compareTime } from '../core/time.js';
import { BoundShard, FlowBound } from './bound.js';
import { framePlace } from './layout.js';
import { FlowShard, FlowTable, FlowTableOptions } from './table.js';

/**
 * What a pass counts besides flows, as plain data: the form a worker sends (structured cloning keeps
 * the Maps; the tally arrives as its two Maps, without its class).
 */
export interface RunCounts {
  packets: number;
  bytes: number;
  ipPackets: number;
  /** Frames that carried no IP, by ethertype (-1: none, e.g. 802.3/LLC). */
  notIp: Map<number, number>;
  /** Packets per link type. */
  linkTypes: Map<number, number>;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  tsDigits: number;
  /** Packets whose timestamp is earlier than the packet before them in the same file. */
  timeReversals: number;
  damage: Pick<DamageTally, 'counts' | 'places'>;
}

/** The counters while a pass counts into them. */
export interface RunCounters extends RunCounts {
  damage: DamageTally;
}

/** Everything one pass over one or more captures learned: the flow table and the capture's quality. */
export interface FlowRun extends RunCounters {
  table: FlowTable;
  captures: CaptureFacts[];
  /** The table's bound and what was folded past it; null: unbounded. */
  bound: FlowBound | null;
}

export function newFlowRun(opts: FlowTableOptions & { maxFlows?: number } = {}): FlowRun {
  return {
    bound: opts.maxFlows === undefined ? null : new FlowBound(opts.maxFlows),
    table: new FlowTable(opts),
    damage: new DamageTally(),
    captures: [],
    packets: 0,
    bytes: 0,
    ipPackets: 0,
    notIp: new Map(),
    linkTypes: new Map(),
    firstSec: Infinity,
    firstNs: 0,
    lastSec: -Infinity,
    lastNs: 0,
    tsDigits: 0,
    timeReversals: 0,
  };
}

/**
 * The next input file starts: its frames are numbered from 1 again, in file `captures.length` (the
 * index its facts will have in `captures`), so a flow's frames say which file they are in.
 */
export function startFile(run: FlowRun): void {
  run.table.placeBase = framePlace(run.captures.length, 0);
}

/** The packet times a part's neighbours need: its first and last packet's, in file order (null: none had one). */
export interface PartEnds {
  firstTs: [number, number] | null;
  lastTs: [number, number] | null;
}

/** A stretch of one file read apart (by a worker): its flows, its folds and its counters. */
export interface RunPart extends PartEnds {
  /** The typed arrays are transferable. */
  table: FlowShard;
  /** With a bound that was reached: what the part folded past it. */
  bound: BoundShard | null;
  counts: RunCounts;
}

/** A run that read one stretch of a file, as the part the main thread merges. */
export function partOf(run: FlowRun, ends: PartEnds): RunPart {
  return {
    table: run.table.toShard(),
    bound: run.bound?.reached ? run.bound.toShard() : null,
    counts: {
      packets: run.packets,
      bytes: run.bytes,
      ipPackets: run.ipPackets,
      notIp: run.notIp,
      linkTypes: run.linkTypes,
      firstSec: run.firstSec,
      firstNs: run.firstNs,
      lastSec: run.lastSec,
      lastNs: run.lastNs,
      tsDigits: run.tsDigits,
      timeReversals: run.timeReversals,
      damage: run.damage,
    },
    firstTs: ends.firstTs,
    lastTs: ends.lastTs,
  };
}

/** Moves the run's first time back to (sec, ns) when that is earlier. */
export function widenFirst(into: RunCounts, sec: number, ns: number): void {
  if (compareTime(sec, ns, into.firstSec, into.firstNs) < 0) {
    into.firstSec = sec;
    into.firstNs = ns;
  }
}

/** Moves the run's last time on to (sec, ns) when that is later. */
export function widenLast(into: RunCounts, sec: number, ns: number): void {
  if (compareTime(sec, ns, into.lastSec, into.lastNs) > 0) {
    into.lastSec = sec;
    into.lastNs = ns;
  }
}

/**
 * Counters of `from` into `into`: sums add, times widen, the finest timestamp precision stays, damage
 * places are renumbered by `recordOffset` (the records before `from`'s first; a part numbers from 1).
 */
export function mergeCounts(into: RunCounters, from: RunCounts, recordOffset: number): void {
  into.packets += from.packets;
  into.bytes += from.bytes;
  into.ipPackets += from.ipPackets;
  for (const [k, n] of from.notIp) into.notIp.set(k, (into.notIp.get(k) ?? 0) + n);
  for (const [k, n] of from.linkTypes) into.linkTypes.set(k, (into.linkTypes.get(k) ?? 0) + n);
  widenFirst(into, from.firstSec, from.firstNs);
  widenLast(into, from.lastSec, from.lastNs);
  into.tsDigits = Math.max(into.tsDigits, from.tsDigits);
  into.timeReversals += from.timeReversals;
  into.damage.merge(from.damage, recordOffset);
}

/**
 * The next part of the file `run` is reading, merged as if one pass had read on: its flows continue the
 * table's (FlowTable.mergeShard), its folds join the bound's, its counters add (mergeCounts). `before`
 * is the last packet time of the file before the part: a part that starts earlier is one more time
 * reversal. Past the bound the table is trimmed, as the pass would have.
 */
export function mergePart(run: FlowRun, part: RunPart, recordOffset: number, before: [number, number] | null): void {
  if (before && part.firstTs && compareTime(part.firstTs[0], part.firstTs[1], before[0], before[1]) < 0) run.timeReversals++;
  run.table.mergeShard(part.table, recordOffset);
  if (part.bound !== null) run.bound?.mergeShard(part.bound);
  mergeCounts(run, part.counts, recordOffset);
  if (run.bound !== null && run.table.size > run.bound.trimAt) run.bound.trim(run.table, run.lastSec);
}
