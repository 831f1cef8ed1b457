/**
 * A quick single-core measurement of the capture engine (the full benchmark with peers and sharding
 * lives beside it as its own issue):
 *   npx tsx bench/quick-decode.ts [packets=2000000] [flows=50000]
 * Writes a synthetic Ethernet/IPv4 pcap of TCP and UDP packets (64–1514 bytes) to a temp file, then
 * times (1) the reader alone and (2) reader + decoder + flow table, on one core.
 */
import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCapture } from '../src/capture/reader.js';
import { PcapWriter } from '../src/capture/writer.js';
import { DamageTally } from '../src/core/errors.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { frame } from '../src/synth/frames.js';

const packets = Number(process.argv[2] ?? 2_000_000);
const flows = Number(process.argv[3] ?? 50_000);
const path = join(tmpdir(), `flowaudit-quick-${process.pid}.pcap`);

// A small set of template frames per flow would be faithful but slow to build; vary addresses in place.
const tcp = Buffer.from(frame({ proto: 'tcp', src: '10.0.0.1', dst: '10.1.0.1', srcPort: 50000, dstPort: 443, flags: 'PA', payload: 400 }));
const udp = Buffer.from(frame({ proto: 'udp', src: '10.0.0.1', dst: '10.1.0.1', srcPort: 50000, dstPort: 53, payload: 40 }));
const fd = openSync(path, 'w');
const writer = new PcapWriter(fd, { linkType: 1, nanosecond: false });
const t0 = 1_700_000_000;
for (let i = 0; i < packets; i++) {
  const f = i % 5 === 0 ? udp : tcp;
  const flow = (i * 2654435761) % flows;
  const reply = (i & 1) === 1;
  // client 10.0.x.y:port ↔ server 10.1.0.(flow % 200): write addresses and ports per packet.
  const client = 0x0a000000 + flow;
  const server = 0x0a010000 + (flow % 200);
  f.writeUInt32BE(reply ? server : client, 26);
  f.writeUInt32BE(reply ? client : server, 30);
  const cport = 49152 + (flow % 16000);
  const sport = f === udp ? 53 : 443;
  f.writeUInt16BE(reply ? sport : cport, 34);
  f.writeUInt16BE(reply ? cport : sport, 36);
  writer.write({ data: f, tsSec: t0 + Math.floor(i / 100000), tsNs: (i % 100000) * 10000 });
}
writer.flush();
closeSync(fd);
const size = statSync(path).size;

function report(what: string, ms: number): void {
  const s = ms / 1000;
  console.log(`${what.padEnd(28)} ${(packets / s / 1e6).toFixed(2)} Mpackets/s  ${(size / s / 1e6).toFixed(0)} MB/s  (${s.toFixed(2)} s)`);
}

console.log(`${packets} packets, ${flows} flows, ${(size / 1e6).toFixed(0)} MB, node ${process.version}, one core`);
for (let round = 0; round < 2; round++) {
  let n = 0;
  let start = performance.now();
  await readCapture(path, () => n++, { damage: new DamageTally() });
  report('read records', performance.now() - start);
  start = performance.now();
  const run = await buildFlows([path]);
  report('read + decode + flows', performance.now() - start);
  if (round === 1) console.log(`flows: ${run.table.size}, peak RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
}
unlinkSync(path);
