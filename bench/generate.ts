/**
 * Writes a large synthetic capture for benchmarks with the project's own writer:
 *   npx tsx bench/generate.ts --out bench/out/big.pcap [--packets 20000000] [--flows 200000]
 *     [--format pcap|pcapng] [--vlan 0.1] [--ipv6 0.1] [--snaplen 0] [--active 2000] [--ports web|catalog]
 * Frame sizes follow a SPAN-port mix (mostly bare ACKs, some full frames: about 107 bytes on average).
 * Addresses and ports are written into prebuilt frames in place, so generation runs at millions of
 * packets per second. Checksums are not recomputed: they are wrong, as with checksum offload.
 */
import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PcapngWriter, PcapWriter, WrittenPacket } from '../src/capture/writer.js';
import { frame } from '../src/synth/frames.js';

export interface GenerateOptions {
  out: string;
  packets: number;
  flows: number;
  format: 'pcap' | 'pcapng';
  vlanShare: number;
  ipv6Share: number;
  snaplen: number;
  /**
   * Flows active at once: each packet belongs to one of a sliding window of this many flows, as on a
   * real link where a few thousand conversations are open at any moment. 0: every packet picks any of
   * the flows at random (the worst case for a flow table's caches).
   */
  active: number;
  /**
   * Server ports: 'web' (TCP 443, UDP 53: a flow table's plain case) or 'catalog' (a client-management
   * site's mix: BMC Client Management's agent and tunnel ports, SMB, RDP, SQL, SNMP, syslog … most
   * documented by the bmc-cm catalog, some not), so that `analyze` judges many rules.
   */
  ports?: 'web' | 'catalog';
}

const PORT_MIXES = {
  web: { tcp: [443], udp: [53] },
  catalog: { tcp: [1610, 1611, 443, 80, 445, 3389, 1433, 8080, 22, 1612, 5985, 23], udp: [53, 1610, 161, 514, 67, 123] },
} as const;

/** Payload sizes and their shares: avg frame ≈ 107 bytes. */
const SIZE_MIX: Array<[payload: number, share: number]> = [
  [0, 0.8],
  [96, 0.15],
  [536, 0.04],
  [1460, 0.01],
];

export function generate(o: GenerateOptions): { bytes: number } {
  // Templates: [ipv6][vlan][udp][sizeClass] → frame bytes.
  const templates: Buffer[][][][] = [];
  for (const v6 of [0, 1]) {
    templates[v6] = [];
    for (const vlan of [0, 1]) {
      templates[v6]![vlan] = [];
      for (const udp of [0, 1]) {
        templates[v6]![vlan]![udp] = SIZE_MIX.map(([payload]) => {
          const src = v6 ? '2001:db8::1' : '10.0.0.1';
          const dst = v6 ? '2001:db8:1::1' : '10.1.0.1';
          const spec = udp ? { proto: 'udp' as const, src, dst, srcPort: 50000, dstPort: 53, payload: Math.max(payload, 12) } : { proto: 'tcp' as const, src, dst, srcPort: 50000, dstPort: 443, flags: 'A', payload };
          return Buffer.from(frame(spec, vlan ? { vlan: [100] } : {}));
        });
      }
    }
  }
  const cumulative: number[] = [];
  SIZE_MIX.reduce((acc, [, share]) => (cumulative.push(acc + share), acc + share), 0);
  const fd = openSync(o.out, 'w');
  const writer =
    o.format === 'pcap'
      ? new PcapWriter(fd, { linkType: 1, snaplen: o.snaplen || 65535 }, 8 << 20)
      : new PcapngWriter(fd, { interfaces: [{ linkType: 1, snaplen: o.snaplen || 0, tsresol: 6 }] }, 8 << 20);
  const pkt: WrittenPacket = { data: Buffer.alloc(0), origLen: 0, tsSec: 1_732_000_000, tsNs: 0 };
  let bytes = 0;
  let rnd = 0x12345678;
  const mix = PORT_MIXES[o.ports ?? 'web'];
  const catalogMix = o.ports === 'catalog';
  for (let i = 0; i < o.packets; i++) {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    let f: number;
    if (o.active > 0) {
      // The window slides by one flow every packets/flows packets, so every flow gets its share. The
      // high bits of the generator pick the flow (an LCG's low bits repeat too soon).
      const base = Math.floor((i * o.flows) / o.packets);
      f = (base + ((rnd >>> 12) % o.active)) % o.flows;
    } else f = (Math.imul(i, 0x9e3779b1) >>> 0) % o.flows;
    const v6 = (f % 1000) / 1000 < o.ipv6Share ? 1 : 0;
    const vlan = ((f >>> 3) % 1000) / 1000 < o.vlanShare ? 1 : 0;
    const udp = f % 5 === 0 ? 1 : 0;
    const r = (rnd >>> 8) / 16777216;
    let c = 0;
    while (c < cumulative.length - 1 && r > cumulative[c]!) c++;
    const t = templates[v6]![vlan]![udp]![c]!;
    const reply = (rnd >>> 7) & 1;
    const ipOff = 14 + vlan * 4;
    const client = 0x0a000000 + f;
    const server = 0x0a010000 + (f % 251);
    if (v6) {
      // Clients in 2001:db8::/64, servers in 2001:db8:1::/64: the prefix moves with the address.
      t.writeUInt32BE(reply ? 0x00010000 : 0, ipOff + 8 + 4);
      t.writeUInt32BE(reply ? server : client, ipOff + 8 + 12);
      t.writeUInt32BE(reply ? 0 : 0x00010000, ipOff + 24 + 4);
      t.writeUInt32BE(reply ? client : server, ipOff + 24 + 12);
    } else {
      t.writeUInt32BE(reply ? server : client, ipOff + 12);
      t.writeUInt32BE(reply ? client : server, ipOff + 16);
    }
    const l4 = ipOff + (v6 ? 40 : 20);
    // The catalog mix's server ports are registered ones (1610 …): clients on ephemeral ports, as Windows's.
    const cport = catalogMix ? 49152 + (f % 16384) : 1024 + (f % 60000);
    const sport = udp ? mix.udp[(f >>> 4) % mix.udp.length]! : mix.tcp[(f >>> 4) % mix.tcp.length]!;
    t.writeUInt16BE(reply ? sport : cport, l4);
    t.writeUInt16BE(reply ? cport : sport, l4 + 2);
    pkt.data = t;
    pkt.origLen = t.length;
    pkt.tsSec = 1_732_000_000 + Math.floor(i / 1_000_000);
    pkt.tsNs = (i % 1_000_000) * 1000;
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
      out: { type: 'string', default: 'bench/out/big.pcap' },
      packets: { type: 'string', default: '20000000' },
      flows: { type: 'string', default: '200000' },
      format: { type: 'string', default: 'pcap' },
      vlan: { type: 'string', default: '0.1' },
      ipv6: { type: 'string', default: '0.1' },
      snaplen: { type: 'string', default: '0' },
      active: { type: 'string', default: '2000' },
      ports: { type: 'string', default: 'web' },
    },
  });
  const t = performance.now();
  const opts: GenerateOptions = {
    out: values.out!,
    packets: Number(values.packets),
    flows: Number(values.flows),
    format: values.format === 'pcapng' ? 'pcapng' : 'pcap',
    vlanShare: Number(values.vlan),
    ipv6Share: Number(values.ipv6),
    snaplen: Number(values.snaplen),
    active: Number(values.active),
    ports: values.ports === 'catalog' ? 'catalog' : 'web',
  };
  const { bytes } = generate(opts);
  console.log(`wrote ${opts.out}: ${opts.packets} packets, ${opts.flows} flows, avg frame ${(bytes / opts.packets).toFixed(0)} B, in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
