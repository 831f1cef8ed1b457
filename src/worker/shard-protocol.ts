import type { CaptureHeader, RangeResult } from '../capture/reader.js';
import type { RunPart } from '../flow/run.js';
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

/**
 * What a worker answers: the range it really covered, everything one pass over it learnt (a part of
 * the run, flow/run.ts, merged by mergePart) and, with `keepInspected`, the inspectors' packets of the
 * range in record order.
 */
export interface ShardResult extends RunPart {
  range: RangeResult;
  kept: KeptPackets | null;
}
