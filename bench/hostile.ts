/**
 * Captures of hostile or heavy inspector traffic, for measuring the inspectors' bounds and the audit
 * of many grants (the numbers in the commits of src/inspect/bounds.ts, judge.ts and followups.ts):
 *
 *   npx tsx bench/hostile.ts rpc N out.pcap        N RPC conversations (ept_map, then the granted port; 50 clients, 2 servers)
 *   npx tsx bench/hostile.ts rpc1 N out.pcap       the same between one client and one server
 *   npx tsx bench/hostile.ts ssrp N out.pcap       N SQL Browser answers of 6 500 instances each
 *   npx tsx bench/hostile.ts bytes N out.pcap      N ept_map exchanges on one connection, every PDU in 1-byte segments
 *   npx tsx bench/hostile.ts exchanges N out.pcap  N ept_map exchanges on one connection
 *   npx tsx bench/hostile.ts nolast N out.pcap     N MB of response fragments that never set PFC_LAST_FRAG
 *
 * then e.g. `/usr/bin/time -v node dist/cli/main.js analyze out.pcap --catalog sccm2007 --format json --out /dev/null`.
 */
import { closeSync, openSync } from 'node:fs';
import { PcapWriter } from '../src/capture/writer.js';
import { bind, bindAck, eptMapRequest, eptMapResponse, PFC_FIRST, responsePdu } from '../src/synth/dcerpc.js';
import { epmExchange } from '../src/synth/epm.js';
import { frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';

type Step = { from: 'c' | 's'; bytes: Buffer; cut?: number };

const T0 = 1_732_000_000;
const [kind, count, out] = process.argv.slice(2);
if (!kind || !count || !out) {
  console.error('usage: tsx bench/hostile.ts rpc|rpc1|ssrp|bytes|exchanges|nolast N out.pcap');
  process.exit(2);
}
const n = Number(count);
const fd = openSync(out, 'w');
const writer = new PcapWriter(fd, { linkType: 1 });
let packets = 0;

/** Packets 10 ms apart. */
function put(spec: PacketSpec): void {
  writer.write({ data: frame(spec), tsSec: T0 + Math.floor(packets / 100), tsNs: (packets % 100) * 10_000_000 });
  packets++;
}

/** A TCP connection to port 135 carrying the steps' bytes, each cut into segments of `cut` bytes. */
function session(client: string, server: string, cport: number, steps: Step[]): void {
  const seq = { c: 1000, s: 5000 };
  const pkt = (who: 'c' | 's', flags: string, s: number, payload?: Buffer): PacketSpec =>
    who === 'c'
      ? { proto: 'tcp', src: client, dst: server, srcPort: cport, dstPort: 135, flags, seq: s, ack: seq.s, ...(payload ? { payload } : {}) }
      : { proto: 'tcp', src: server, dst: client, srcPort: 135, dstPort: cport, flags, seq: s, ack: seq.c, ...(payload ? { payload } : {}) };
  put(pkt('c', 'S', seq.c++));
  put(pkt('s', 'SA', seq.s++));
  put(pkt('c', 'A', seq.c));
  for (const st of steps) {
    const cut = st.cut ?? st.bytes.length;
    for (let at = 0; at < st.bytes.length; at += cut) {
      const piece = st.bytes.subarray(at, at + cut);
      put(pkt(st.from, 'PA', seq[st.from], piece));
      seq[st.from] += piece.length;
    }
  }
  put(pkt('c', 'FA', seq.c++));
  put(pkt('s', 'FA', seq.s++));
}

/** Bind, ack and n ept_map calls answered with one tower each, every PDU cut into `cut`-byte segments. */
function mapCalls(calls: number, cut?: number): Step[] {
  const steps: Step[] = [
    { from: 'c', bytes: bind(1), ...(cut ? { cut } : {}) },
    { from: 's', bytes: bindAck(1), ...(cut ? { cut } : {}) },
  ];
  for (let k = 0; k < calls; k++) {
    steps.push({ from: 'c', bytes: eptMapRequest(10 + k), ...(cut ? { cut } : {}) });
    steps.push({ from: 's', bytes: eptMapResponse(10 + k, [{ port: 49664 + (k % 100), ip: '10.3.0.1' }]), ...(cut ? { cut } : {}) });
  }
  return steps;
}

if (kind === 'rpc' || kind === 'rpc1') {
  for (let k = 0; k < n; k++) {
    const client = kind === 'rpc1' ? '10.1.0.10' : `10.1.0.${(k % 50) + 10}`;
    const server = k % 2 ? '10.1.0.2' : '10.1.0.3';
    const port = 49152 + (k % 500);
    const cport = 50000 + ((k * 2) % 15000);
    for (const spec of [...epmExchange(client, server, cport, [{ port }]), ...tcpConversation(client, cport + 1, server, port)]) put(spec);
  }
} else if (kind === 'ssrp') {
  // As many 10-byte instances as one datagram holds.
  const body = Buffer.from('tcp;1433;;'.repeat(6500), 'latin1');
  const answer = Buffer.concat([Buffer.from([5, body.length & 0xff, body.length >> 8]), body]);
  for (let k = 0; k < n; k++) {
    put({ proto: 'udp', src: '10.2.0.5', dst: '10.2.0.1', srcPort: 50000 + k, dstPort: 1434, payload: Buffer.from([3]) });
    put({ proto: 'udp', src: '10.2.0.1', dst: '10.2.0.5', srcPort: 1434, dstPort: 50000 + k, payload: answer });
  }
} else if (kind === 'bytes' || kind === 'exchanges') {
  session('10.3.0.5', '10.3.0.1', 50000, mapCalls(n, kind === 'bytes' ? 1 : undefined));
} else if (kind === 'nolast') {
  const stub = Buffer.alloc(60_000, 7);
  const steps: Step[] = [...mapCalls(0), { from: 'c', bytes: eptMapRequest(2) }, { from: 's', bytes: responsePdu(2, 0, stub, PFC_FIRST), cut: 1460 }];
  const middle = responsePdu(2, 0, stub, 0);
  for (let k = 0; k < (n * 1e6) / stub.length; k++) steps.push({ from: 's', bytes: middle, cut: 1460 });
  session('10.3.0.5', '10.3.0.1', 50000, steps);
} else {
  console.error(`unknown kind ${kind}`);
  process.exit(2);
}
writer.flush();
closeSync(fd);
console.log(`${out}: ${packets} packets`);
