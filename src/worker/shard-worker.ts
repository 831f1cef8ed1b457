import { parentPort, workerData } from 'node:worker_threads';
import { runShard } from './run-shard.js';
import type { ShardJob } from './shard-protocol.js';

// The worker_threads entry: decode one byte range and send back the partial flow table. Typed arrays
// are transferred, not copied.
const result = await runShard(workerData as ShardJob);
const t = result.table;
parentPort!.postMessage(result, [
  t.keys.buffer, t.clientIsA.buffer, t.evidence.buffer, t.pktsA.buffer, t.pktsB.buffer, t.bytesA.buffer, t.bytesB.buffer,
  t.firstSec.buffer, t.lastSec.buffer, t.firstNs.buffer, t.lastNs.buffer, t.hasTime.buffer, t.digits.buffer, t.flagsA.buffer,
  t.flagsB.buffer, t.state.buffer, t.icmp.buffer, t.vlan.buffer, t.tunnel.buffer,
] as ArrayBuffer[]);
