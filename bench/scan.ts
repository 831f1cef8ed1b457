/**
 * Writes a port scan as seen on a SPAN port, with the project's own writer:
 *   npx tsx bench/scan.ts --out bench/out/scan-1m.pcap --flows 1000000 [--scanners 1] [--udp 0.1] [--rate 50000]
 * Every flow is one packet (a SYN never answered, or a UDP probe) from a scanner to a distinct
 * (target, port): targets 10.128.0.0 upwards, 1000 ports each. `rate` new flows a second of capture
 * time. The frame is built once and its addresses and ports written in place.
 */
import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PcapWriter, WrittenPacket } from '../src/capture/writer.js';
import { frame } from '../src/synth/frames.js';

export interface ScanOptions {
  out: string;
  flows: number;
  /** Scanners take turns, flow by flow (10.66.0.1 upwards). */
  scanners?: number;
  /** Share of UDP probes. */
  udpShare?: number;
  /** New flows per second of capture time. */
  rate?: number;
  /** The first packet's time (seconds). */
  startSec?: number;
}

export function generateScan(o: ScanOptions): { bytes: number } {
  const scanners = o.scanners ?? 1;
  const udpShare = o.udpShare ?? 0.1;
  const rate = o.rate ?? 50_000;
  const syn = Buffer.from(frame({ proto: 'tcp', src: '10.66.0.1', dst: '10.128.0.0', srcPort: 40000, dstPort: 1, flags: 'S' }));
  const udp = Buffer.from(frame({ proto: 'udp', src: '10.66.0.1', dst: '10.128.0.0', srcPort: 40000, dstPort: 1, payload: 0 }));
  const fd = openSync(o.out, 'w');
  const writer = new PcapWriter(fd, { linkType: 1, snaplen: 65535 }, 8 << 20);
  const pkt: WrittenPacket = { data: syn, origLen: syn.length, tsSec: 0, tsNs: 0 };
  const t0 = o.startSec ?? 1_732_000_000;
  let bytes = 0;
  const udpEvery = udpShare > 0 ? Math.round(1 / udpShare) : 0;
  for (let i = 0; i < o.flows; i++) {
    const t = udpEvery > 0 && i % udpEvery === udpEvery - 1 ? udp : syn;
    t.writeUInt32BE(0x0a420001 + (i % scanners), 26);
    t.writeUInt32BE(0x0a800000 + Math.floor(i / 1000), 30);
    t.writeUInt16BE(40000 + (i % 20000), 34);
    t.writeUInt16BE(1 + (i % 1000), 36);
    pkt.data = t;
    pkt.origLen = t.length;
    const ns = Math.round((i * 1e9) / rate);
    pkt.tsSec = t0 + Math.floor(ns / 1e9);
    pkt.tsNs = ns % 1e9;
    writer.write(pkt);
    bytes += t.length;
  }
  writer.flush();
  closeSync(fd);
  return { bytes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'bench/out/scan.pcap' },
      flows: { type: 'string', default: '1000000' },
      scanners: { type: 'string', default: '1' },
      udp: { type: 'string', default: '0.1' },
      rate: { type: 'string', default: '50000' },
    },
  });
  const t = performance.now();
  const { bytes } = generateScan({ out: values.out!, flows: Number(values.flows), scanners: Number(values.scanners), udpShare: Number(values.udp), rate: Number(values.rate) });
  console.log(`wrote ${values.out}: ${values.flows} flows, ${(bytes / 1e6).toFixed(0)} MB of frames, in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
