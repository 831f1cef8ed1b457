import { readRange } from '../capture/reader.js';
import { PacketView } from '../decode/view.js';
import { runPackets } from '../flow/pipeline.js';
import { newFlowRun, partOf } from '../flow/run.js';
import { inspectorWants } from '../inspect/index.js';
import { PacketKeeper } from './kept-packets.js';
import type { ShardJob, ShardResult } from './shard-protocol.js';

/** One range of one file → a part of the run (used by the worker thread, and in-process to mend gaps). */
export async function runShard(job: ShardJob): Promise<ShardResult> {
  const run = newFlowRun({ vlanInKey: job.vlanInKey, deferOrphanFragments: true, ...(job.maxFlows !== undefined ? { maxFlows: job.maxFlows } : {}) });
  const keeper = job.keepInspected ? new PacketKeeper(job.maxKeptBytes) : null;
  // Structured cloning turns the header Buffer into a plain Uint8Array: view it as a Buffer again.
  const b: Uint8Array = job.header.bytes;
  const header = { ...job.header, bytes: Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
  const pass = await runPackets(run, job.label, new PacketView(), keeper ? (v, rec) => (inspectorWants(v) ? keeper.keep(rec) : undefined) : undefined, (sink) =>
    readRange(job.path, header, job.start, job.end, job.knownBoundary, sink, { damage: run.damage, label: job.label }),
  );
  return { ...partOf(run, pass), range: pass.read, kept: keeper ? keeper.result() : null };
}
