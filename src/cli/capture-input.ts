/** The `pcap` input kind (cli/inputs.ts): packet captures read, inspected and audited. */
import { audit, AuditOptions, AuditReport } from '../audit/index.js';
import { Inspectors } from '../inspect/index.js';
import { buildFlowsSharded, ShardedOptions } from '../worker/sharded.js';

/**
 * Reads the captures (large files in byte ranges on worker threads), runs the payload inspectors and
 * judges the flows. The inspectors follow TCP streams across a whole file, so they run here: workers
 * hand over copies of the packets the inspectors read, and those are fed to them shard by shard in
 * record order, as one pass would.
 */
export async function analyzeCaptures(captures: string[], inputs: Omit<AuditOptions, 'grants' | 'failed' | 'inspectorStats'>, read: ShardedOptions): Promise<AuditReport> {
  const inspectors = new Inspectors();
  const run = await buildFlowsSharded(captures, { ...read, onIpPacket: (view, rec, file) => inspectors.onPacket(view, rec, file) });
  const folded = run.bound?.reached ? { foldedFlows: run.bound.records() } : {};
  return audit(run, { ...inputs, ...folded, grants: inspectors.grants, failed: inspectors.failed, inspectorStats: inspectors.stats });
}

