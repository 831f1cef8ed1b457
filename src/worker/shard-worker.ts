import { parentPort, workerData } from 'node:worker_threads';
import { runShard } from './run-shard.js';
import type { ShardJob } from './shard-protocol.js';

// The worker_threads entry: decode one byte range and send back the partial flow table. Typed arrays
// are transferred, not copied.
const result = await runShard(workerData as ShardJob);
const t = result.table;
const transfer = [t.keys.buffer, t.hot.buffer, t.meta.buffer, t.icmp.buffer, t.vlan.buffer] as ArrayBuffer[];
if (t.outer) transfer.push(t.outer.buffer as ArrayBuffer);
if (result.kept) transfer.push(result.kept.bytes.buffer as ArrayBuffer, result.kept.meta.buffer as ArrayBuffer);
parentPort!.postMessage(result, transfer);
