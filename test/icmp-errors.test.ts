/**
 * ICMP errors are answers to the flow they quote (RFC 792: the internet header plus the first 64 bits
 * of the original datagram; RFC 4443 3: as much of the invoking packet as fits): the error counts on
 * that flow (icmpErrors, the last one's type and code) instead of being a flow of its own, and a UDP
 * flow answered by nothing but port unreachable is `rejected`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { analyzeCaptures, loadAuditInputs } from '../src/cli/analyze.js';
import { buildFlows } from '../src/flow/pipeline.js';
import type { FlowRecord } from '../src/flow/record.js';
import { frame, ipPacket, type PacketSpec } from '../src/synth/frames.js';
import { capturesDir, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';

const dir = mkdtempSync(join(tmpdir(), 'flowaudit-icmp-errors-'));

async function flowsOf(file: string): Promise<FlowRecord[]> {
  return (await buildFlows([file])).table.export();
}

/** An ICMP error from `from` to the quoted packet's sender, quoting its IP header and first 8 bytes. */
function errorFor(quoted: PacketSpec, from: string, type: number, code: number): PacketSpec {
  const ip = ipPacket(quoted);
  const header = ip[0]! >> 4 === 6 ? 40 : (ip[0]! & 15) * 4;
  return { proto: 'icmp', src: from, dst: quoted.src, type, code, payload: ip.slice(0, header + 8) };
}

describe('ICMP errors on synthetic captures (src/synth, the project writer)', () => {
  const write = (name: string, specs: PacketSpec[]) => {
    const file = join(dir, name);
    writeFileSync(file, writePcap(specs.map((s, i) => ({ data: frame(s), tsSec: 1_700_000_000, tsNs: i * 1_000_000 })), { linkType: 1 }));
    return file;
  };

  it('a UDP datagram answered by port unreachable is one rejected flow with the error counted on it (IPv4 and IPv6)', async () => {
    const v4: PacketSpec = { proto: 'udp', src: '10.0.0.5', dst: '10.0.0.9', srcPort: 50000, dstPort: 9999, payload: 20 };
    const v6: PacketSpec = { proto: 'udp', src: 'fd00::5', dst: 'fd00::9', srcPort: 50001, dstPort: 9999, payload: 20 };
    const file = write('unreachable.pcap', [v4, errorFor(v4, '10.0.0.9', 3, 3), v4, errorFor(v4, '10.0.0.9', 3, 3), v6, errorFor(v6, 'fd00::9', 1, 4)]);
    const flows = await flowsOf(file);
    expect(flows).toHaveLength(2);
    expect(flows.find((f) => f.ipVersion === 4)).toMatchObject({ proto: 'udp', client: '10.0.0.5', serverPort: 9999, packets: 2, serverPackets: 0, outcome: 'rejected', icmpErrors: 2, icmpErrorType: 3, icmpErrorCode: 3 });
    expect(flows.find((f) => f.ipVersion === 6)).toMatchObject({ proto: 'udp', client: 'fd00::5', packets: 1, outcome: 'rejected', icmpErrors: 1, icmpErrorType: 1, icmpErrorCode: 4 });
  });

  it('a flow that was answered keeps its outcome; a time exceeded on a TCP SYN counts on the TCP flow; an error quoting no flow of the capture stays an ICMP flow', async () => {
    const q: PacketSpec = { proto: 'udp', src: '10.0.0.5', dst: '10.0.0.9', srcPort: 50002, dstPort: 53, payload: 20 };
    const a: PacketSpec = { proto: 'udp', src: '10.0.0.9', dst: '10.0.0.5', srcPort: 53, dstPort: 50002, payload: 40 };
    const syn: PacketSpec = { proto: 'tcp', src: '10.0.0.5', dst: '192.0.2.7', srcPort: 50003, dstPort: 443, flags: 'S' };
    const stray: PacketSpec = { proto: 'udp', src: '10.0.0.5', dst: '10.0.0.77', srcPort: 50004, dstPort: 7, payload: 8 };
    const file = write('mixed.pcap', [q, a, errorFor(q, '10.0.0.9', 3, 3), syn, errorFor(syn, '10.0.0.1', 11, 0), errorFor(stray, '10.0.0.77', 3, 3)]);
    const flows = await flowsOf(file);
    expect(flows).toHaveLength(3);
    expect(flows.find((f) => f.serverPort === 53)).toMatchObject({ outcome: null, icmpErrors: 1, icmpErrorType: 3, icmpErrorCode: 3 });
    expect(flows.find((f) => f.serverPort === 443)).toMatchObject({ outcome: 'attempted', icmpErrors: 1, icmpErrorType: 11, icmpErrorCode: 0 });
    const icmp = flows.find((f) => f.proto === 'icmp')!;
    expect(icmp.icmpType).toBe(3);
    expect([icmp.client, icmp.server].sort()).toEqual(['10.0.0.5', '10.0.0.77']);
    expect(icmp.icmpErrors).toBeUndefined();
  });
});

describe.skipIf(skipWithoutCaptures('ICMP errors') || skipWithoutTshark('ICMP errors'))('ICMP errors on a real capture (tcpdump/afs.pcap: AFS over UDP answered by port unreachables)', () => {
  it('counts every port unreachable tshark sees on the UDP flow it quotes, and rejects the flow nothing else answered', async () => {
    const file = join(capturesDir()!, 'tcpdump', 'afs.pcap');
    const errors = await tsharkFields(file, ['ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport'], ['-Y', 'icmp.type == 3 && icmp.code == 3 && udp']);
    // The quoted datagram's addresses and ports (the second IP header; the only UDP header).
    const quoted = new Map<string, number>();
    for (const [src, dst, sp, dp] of errors.rows) {
      const k = `${src!.split(',')[1]}:${sp} ${dst!.split(',')[1]}:${dp}`;
      quoted.set(k, (quoted.get(k) ?? 0) + 1);
    }
    expect(quoted.size).toBeGreaterThan(1);
    const datagrams = await tsharkFields(file, ['ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport'], ['-Y', 'udp && !icmp']);
    const sent = new Map<string, number>();
    for (const [src, dst, sp, dp] of datagrams.rows) sent.set(`${src}:${sp} ${dst}:${dp}`, (sent.get(`${src}:${sp} ${dst}:${dp}`) ?? 0) + 1);
    const flows = await flowsOf(file);
    // No port unreachable is a flow of its own: each is counted on the flow it quotes.
    expect(flows.filter((f) => f.proto === 'icmp' && f.icmpType === 3)).toEqual([]);
    let rejected = 0;
    for (const [k, n] of quoted) {
      const [from, to] = k.split(' ');
      const f = flows.find((x) => x.proto === 'udp' && [`${x.client}:${x.clientPort}`, `${x.server}:${x.serverPort}`].sort().join(' ') === [from, to].sort().join(' '));
      expect(f, k).toBeDefined();
      expect(f, k).toMatchObject({ icmpErrors: n, icmpErrorType: 3, icmpErrorCode: 3 });
      // Rejected exactly when the quoted datagram's destination never sent a datagram back.
      const answered = (sent.get(`${to} ${from}`) ?? 0) > 0;
      expect(f!.outcome, k).toBe(answered ? null : 'rejected');
      if (!answered) rejected++;
    }
    expect(rejected).toBeGreaterThan(0);
    expect(flows.filter((f) => f.icmpErrors !== undefined).reduce((n, f) => n + f.icmpErrors!, 0)).toBe(errors.rows.length);
  });
});

describe('a required UDP flow that an ICMP error refused is failing, not satisfied', () => {
  // cam: the Manager's discovery on 3081 must be answered by the device on 3080 (requirement
  // discovery-answered-on-3080). Here the device answers, and the Manager's stack refuses the answer
  // with a port unreachable; without the error the same answer satisfies the requirement.
  const manager = '10.8.0.10';
  const device = '10.8.1.21';
  const ask: PacketSpec = { proto: 'udp', src: manager, dst: device, srcPort: 3081, dstPort: 3081, payload: 16 };
  const answer: PacketSpec = { proto: 'udp', src: device, dst: manager, srcPort: 3080, dstPort: 3080, payload: 16 };
  const roles = join(dir, 'cam-roles.yaml');
  writeFileSync(roles, `roles:\n  manager: [${manager}]\n  device: [${device}]\n`);

  async function statusOf(specs: PacketSpec[]): Promise<{ status: string; detail: string }> {
    const file = join(dir, `cam-${specs.length}.pcap`);
    writeFileSync(file, writePcap(specs.map((s, i) => ({ data: frame(s), tsSec: 1_732_000_000, tsNs: i * 1_000_000 })), { linkType: 1 }));
    const inputs = { ...loadAuditInputs({ catalog: ['cam'], roles, minSpan: '0' }), version: 'test' };
    const report = await analyzeCaptures([file], inputs, { workers: 1 });
    const r = report.requirements.find((x) => x.rule === 'cam:discovery-answered-on-3080')!;
    return { status: r.status, detail: r.detail };
  }

  it('answered: satisfied; the answer refused by port unreachable: failing, naming the rejected flow', async () => {
    expect((await statusOf([ask, answer])).status).toBe('satisfied');
    const refused = await statusOf([ask, answer, errorFor(answer, manager, 3, 3)]);
    expect(refused.status).toBe('failing');
    expect(refused.detail).toContain(`udp ${device}:3080 → ${manager}:3080 (rejected)`);
  });
});
