/** The `pcap` input kind (cli/inputs.ts): packet captures read and inspected (and, alone, audited). */
import { audit, type AuditOptions, type AuditReport } from '../audit/index.js';
import type { SensorRead } from '../audit/run-input.js';
import { Inspectors } from '../inspect/index.js';
import { buildFlowsSharded, ShardedOptions } from '../worker/sharded.js';

/**
 * Reads the captures (large files in byte ranges on worker threads) and runs the payload inspectors.
 * The inspectors follow TCP streams across a whole file, so they run here: workers hand over copies
 * of the packets the inspectors read, and those are fed to them shard by shard in record order, as
 * one pass would.
 */
export async function readCaptures(captures: string[], read: ShardedOptions): Promise<SensorRead> {
  const inspectors = new Inspectors();
  const run = await buildFlowsSharded(captures, { ...read, onIpPacket: (view, rec, file) => inspectors.onPacket(view, rec, file) });
  const folded = run.bound?.reached ? { foldedFlows: run.bound.records() } : {};
  return { run, ...folded, grants: inspectors.grants, failed: inspectors.failed, inspectorStats: inspectors.stats };
}

/** Captures read and audited alone: one sensor, as `analyze` without --sensor. */
export async function analyzeCaptures(captures: string[], inputs: Omit<AuditOptions, 'grants' | 'failed' | 'inspectorStats'>, read: ShardedOptions): Promise<AuditReport> {
  const { run, ...found } = await readCaptures(captures, read);
  return audit(run, { ...inputs, ...found });
}
