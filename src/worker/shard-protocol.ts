import type { CaptureHeader, RangeResult } from '../capture/reader.js';
import type { DamagePlace } from '../core/errors.js';
import type { BoundShard } from '../flow/bound.js';
import type { FlowShard } from '../flow/table.js';
import type { KeptPackets } from './kept-packets.js';

/** What the main thread asks of a worker: one byte range of one file. */
export interface ShardJob {
  path: string;
  label: string;
  header: CaptureHeader;
  start: number;
  end: number;
  knownBoundary: boolean;
  vlanInKey: boolean;
  /** Keep copies of the packets the payload inspectors read, for the main thread to replay in order. */
  keepInspected: boolean;
  /** `--max-flows`: the shard's table is bounded as the whole run's is. */
  maxFlows?: number;
  /** Bytes of them kept at most (MAX_KEPT_BYTES unless given). */
  maxKeptBytes?: number;
}

/** What a worker answers: the range it really covered, and everything one pass over it learnt. */
export interface ShardResult {
  range: RangeResult;
  table: FlowShard;
  packets: number;
  bytes: number;
  ipPackets: number;
  notIp: Array<[number, number]>;
  linkTypes: Array<[number, number]>;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  tsDigits: number;
  timeReversals: number;
  /** Timestamps of the shard's first and last packet in file order (for reversals across shards). */
  firstTs: [number, number] | null;
  lastTs: [number, number] | null;
  damage: { counts: Array<[string, number]>; places: Array<[string, DamagePlace[]]> };
  /** With `keepInspected`: the inspectors' packets of this range, in record order. */
  kept: KeptPackets | null;
  /** With `maxFlows`: what the shard folded past the bound. */
  bound: BoundShard | null;
}
