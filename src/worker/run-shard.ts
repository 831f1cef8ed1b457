import { readRange } from '../capture/reader.js';
import { PacketView } from '../decode/view.js';
import { newFlowRun, packetSink } from '../flow/pipeline.js';
import { inspectorWants } from '../inspect/index.js';
import { PacketKeeper } from './kept-packets.js';
import type { ShardJob, ShardResult } from './shard-protocol.js';

/** One range of one file → a partial flow run (used by the worker thread, and in-process to mend gaps). */
export async function runShard(job: ShardJob): Promise<ShardResult> {
  const run = newFlowRun({ vlanInKey: job.vlanInKey, deferOrphanFragments: true, ...(job.maxFlows !== undefined ? { maxFlows: job.maxFlows } : {}) });
  const view = new PacketView();
  const keeper = job.keepInspected ? new PacketKeeper(job.maxKeptBytes) : null;
  const s = packetSink(run, job.label, view, keeper ? (v, rec) => (inspectorWants(v) ? keeper.keep(rec) : undefined) : undefined);
  // Structured cloning turns the header Buffer into a plain Uint8Array: view it as a Buffer again.
  const b: Uint8Array = job.header.bytes;
  const header = { ...job.header, bytes: Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
  const range = await readRange(job.path, header, job.start, job.end, job.knownBoundary, s.sink, { damage: run.damage, label: job.label });
  s.done();
  return {
    range,
    table: run.table.toShard(),
    packets: run.packets,
    bytes: run.bytes,
    ipPackets: run.ipPackets,
    notIp: [...run.notIp],
    linkTypes: [...run.linkTypes],
    firstSec: run.firstSec,
    firstNs: run.firstNs,
    lastSec: run.lastSec,
    lastNs: run.lastNs,
    tsDigits: run.tsDigits,
    timeReversals: run.timeReversals,
    firstTs: s.firstTs(),
    lastTs: s.lastTs(),
    damage: { counts: [...run.damage.counts], places: [...run.damage.places] },
    kept: keeper ? keeper.result() : null,
    bound: run.bound?.reached ? run.bound.toShard() : null,
  };
}
