import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { INSPECTOR_ROWS, Inspectors, inspectorWants } from '../src/inspect/index.js';
import { PacketView } from '../src/decode/view.js';
import { bind, bindAck, eptMapRequest, eptMapResponse, ssrpReply, tftpReadRequest } from '../src/synth/dcerpc.js';
import { frame, PacketSpec } from '../src/synth/frames.js';
import { capturesDir, skipWithoutCaptures, skipWithoutTshark } from './helpers/captures.js';

const dir = mkdtempSync(join(tmpdir(), 'fa-inspect-'));
const CLIENT = '10.0.0.5';
const SERVER = '10.0.0.9';

/** A TCP connection to port 135 carrying these client and server payloads, each possibly cut in pieces. */
function epmConversation(exchanges: Array<{ from: 'client' | 'server'; pieces: Buffer[] }>): PacketSpec[] {
  let cseq = 1000;
  let sseq = 5000;
  const c = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: CLIENT, dst: SERVER, srcPort: 50100, dstPort: 135, flags, seq: cseq, ack: sseq, ...(payload ? { payload } : {}) });
  const s = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: SERVER, dst: CLIENT, srcPort: 135, dstPort: 50100, flags, seq: sseq, ack: cseq, ...(payload ? { payload } : {}) });
  const out: PacketSpec[] = [c('S')];
  cseq++;
  out.push(s('SA'));
  sseq++;
  out.push(c('A'));
  for (const e of exchanges) {
    for (const piece of e.pieces) {
      if (e.from === 'client') {
        out.push(c('PA', piece));
        cseq += piece.length;
      } else {
        out.push(s('PA', piece));
        sseq += piece.length;
      }
    }
  }
  out.push(c('FA'), s('FA'));
  return out;
}

async function inspect(specs: PacketSpec[]): Promise<{ file: string; ins: Inspectors }> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, writePcap(specs.map((spec, i) => ({ data: frame(spec), tsSec: 1_700_000_000, tsNs: i * 1000 })), { linkType: 1 }));
  const ins = new Inspectors();
  await buildFlows([file], { onIpPacket: (v, rec, f) => ins.onPacket(v, rec, f) });
  return { file, ins };
}

const grantsOf = (ins: Inspectors) => ins.grants.map((g) => `${g.transport} ${g.host}:${g.port} for ${g.peer}`);

describe('endpoint-mapper replies grant the ports they name', () => {
  const reply = eptMapResponse(2, [
    { port: 49667, ip: SERVER },
    { port: 49668, ip: '10.0.0.10' },
  ]);
  const exchange = [
    { from: 'client' as const, pieces: [bind(1)] },
    { from: 'server' as const, pieces: [bindAck(1)] },
    { from: 'client' as const, pieces: [eptMapRequest(2)] },
  ];

  it('one reply, several towers', async () => {
    const { ins } = await inspect(epmConversation([...exchange, { from: 'server', pieces: [reply] }]));
    expect(grantsOf(ins)).toEqual([`tcp ${SERVER}:49667 for ${CLIENT}`, 'tcp 10.0.0.10:49668 for 10.0.0.5']);
    expect(ins.grants[0]).toMatchObject({ reason: 'dcerpc-epm', kind: 'dcerpc', evidence: { server: SERVER, serverPort: 135, detail: `ept_map reply: ncacn_ip_tcp ${SERVER}[49667]` } });
    expect(ins.stats[0]).toMatchObject({ inspector: 'dcerpc-epm', read: 1, malformed: 0 });
  });

  it('a reply split across three segments, and a bind_ack with the reply in one segment', async () => {
    const cuts = [reply.subarray(0, 10), reply.subarray(10, 61), reply.subarray(61)];
    const split = await inspect(epmConversation([...exchange, { from: 'server', pieces: cuts }]));
    expect(grantsOf(split.ins)).toHaveLength(2);
    const together = await inspect(
      epmConversation([
        { from: 'client', pieces: [Buffer.concat([bind(1), eptMapRequest(2)])] },
        { from: 'server', pieces: [Buffer.concat([bindAck(1), reply])] },
      ]),
    );
    expect(grantsOf(together.ins)).toHaveLength(2);
  });

  it('a tower with address 0.0.0.0 means the server itself; a response to another call grants nothing', async () => {
    const { ins } = await inspect(epmConversation([...exchange, { from: 'server', pieces: [eptMapResponse(2, [{ port: 50001, ip: '0.0.0.0' }]), eptMapResponse(7, [{ port: 50002, ip: '0.0.0.0' }])] }]));
    expect(grantsOf(ins)).toEqual([`tcp ${SERVER}:50001 for ${CLIENT}`]);
  });

  it('garbage on port 135 is counted, never thrown', async () => {
    const { ins } = await inspect(epmConversation([{ from: 'server', pieces: [Buffer.from('HTTP/1.1 200 OK\r\n\r\n')] }]));
    expect(ins.grants).toHaveLength(0);
    expect(ins.stats[0]!.malformed).toBe(1);
  });

  it.skipIf(skipWithoutTshark('EPM against tshark'))('tshark reads the same towers from the same bytes', async () => {
    const { file, ins } = await inspect(epmConversation([...exchange, { from: 'server', pieces: [reply] }]));
    const out = execFileSync('tshark', ['-r', file, '-Y', 'epm.proto.tcp_port', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'epm.proto.tcp_port', '-e', 'epm.proto.ip'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // The request's tower (port 135) and the reply's two towers.
    const replyLine = out.split('\n').find((l) => l.includes('49667'))!;
    const [ports, ips] = replyLine.split('\t');
    expect(ports!.split(',').map(Number)).toEqual(ins.grants.map((g) => g.port));
    expect(ips!.split(',')).toEqual(ins.grants.map((g) => g.host));
  });

  it('fuzz: random bytes and mutated PDUs never throw and keep state bounded', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }), fc.nat(reply.length - 1), fc.integer({ min: 0, max: 255 }), async (junk, at, value) => {
        const mutated = Buffer.from(reply);
        mutated[at] = value;
        const { ins } = await inspect(epmConversation([...exchange, { from: 'server', pieces: [mutated, ...junk.map((j) => Buffer.from(j))] }]));
        expect(ins.grants.length).toBeLessThanOrEqual(2 + 64);
      }),
      { numRuns: 150, seed: 7 },
    );
  }, 60_000);
});

describe('SQL Server Browser and TFTP', () => {
  it('a browser reply grants each instance its TCP port', async () => {
    const { ins } = await inspect([
      { proto: 'udp', src: CLIENT, dst: SERVER, srcPort: 50200, dstPort: 1434, payload: Buffer.from([0x04, ...Buffer.from('SQLEXPRESS')]) },
      { proto: 'udp', src: SERVER, dst: CLIENT, srcPort: 1434, dstPort: 50200, payload: ssrpReply([{ server: 'DB1', name: 'SQLEXPRESS', port: 49172 }, { server: 'DB1', name: 'SCCM', port: 1433 }]) },
    ]);
    expect(grantsOf(ins)).toEqual([`tcp ${SERVER}:49172 for ${CLIENT}`, `tcp ${SERVER}:1433 for ${CLIENT}`]);
    expect(ins.grants[0]).toMatchObject({ kind: 'sql-named-instance', evidence: { detail: 'SQL Browser: instance SQLEXPRESS tcp 49172' } });
  });

  it('a TFTP read request grants the transfer from any server port to the request port', async () => {
    const { ins } = await inspect([{ proto: 'udp', src: CLIENT, dst: SERVER, srcPort: 2070, dstPort: 69, payload: tftpReadRequest('boot\\x86\\wdsnbp.com') }]);
    expect(ins.grants).toMatchObject([{ host: SERVER, port: null, transport: 'udp', peer: CLIENT, peerPort: 2070, kind: 'tftp-transfer', evidence: { detail: 'TFTP RRQ boot\\x86\\wdsnbp.com' } }]);
  });

  it('a TFTP request retransmitted byte for byte from the same port is one negotiation; a new request is another', async () => {
    const rrq = (srcPort: number, name: string) => ({ proto: 'udp' as const, src: CLIENT, dst: SERVER, srcPort, dstPort: 69, payload: tftpReadRequest(name) });
    const { ins } = await inspect([rrq(2070, 'a.bin'), rrq(2070, 'a.bin'), rrq(2070, 'b.bin'), rrq(2071, 'a.bin'), { proto: 'udp', src: CLIENT, dst: SERVER, srcPort: 2072, dstPort: 69, payload: Buffer.from([0, 1, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0]) }]);
    expect(ins.grants.map((g) => [g.peerPort, g.subject, g.evidence.record])).toEqual([
      [2070, 'a.bin', 1],
      [2070, 'b.bin', 3],
      [2071, 'a.bin', 4],
      [2072, '', 5], // an empty file name: still a request a server may answer
    ]);
    expect(ins.stats.find((s) => s.inspector === 'tftp')).toMatchObject({ read: 4, retransmitted: 1 });
  });

  it.skipIf(skipWithoutCaptures('TFTP on real captures') || skipWithoutTshark('TFTP on real captures'))('real TFTP captures: one grant per request tshark sees', async () => {
    const file = join(capturesDir()!, 'tcpdump', 'tftp.pcap');
    const ins = new Inspectors();
    await buildFlows([file], { onIpPacket: (v, rec, f) => ins.onPacket(v, rec, f) });
    const names = execFileSync('tshark', ['-r', file, '-Y', 'tftp.opcode == 1 || tftp.opcode == 2', '-T', 'fields', '-e', 'tftp.source_file', '-e', 'tftp.destination_file'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/\t/g, ''));
    expect(names.length).toBeGreaterThan(0);
    expect(ins.grants.map((g) => g.evidence.detail.replace(/^TFTP (RRQ|WRQ) /, ''))).toEqual(names);
  });
});

describe('the registry', () => {
  it('workers keep exactly the packets of the ports the rows declare', () => {
    const v = new PacketView();
    const wants = (proto: number, srcPort: number, dstPort: number, payloadLen: number, flags = 0x18) => {
      v.reset();
      v.proto = proto;
      v.srcPort = srcPort;
      v.dstPort = dstPort;
      v.payloadLen = payloadLen;
      v.tcpFlags = flags;
      return inspectorWants(v);
    };
    expect(INSPECTOR_ROWS.map((r) => [r.name, r.transport, r.ports])).toEqual([
      ['dcerpc', 'tcp', [135]],
      ['ssrp', 'udp', [1434]],
      ['tftp', 'udp', [69]],
    ]);
    for (const row of INSPECTOR_ROWS) {
      const proto = row.transport === 'tcp' ? 6 : 17;
      for (const port of row.ports) {
        expect(wants(proto, 50000, port, 10)).toBe(true);
        expect(wants(proto, port, 50000, 10)).toBe(true);
        expect(wants(proto === 6 ? 17 : 6, 50000, port, 10)).toBe(false);
      }
    }
    expect(wants(6, 50000, 443, 100)).toBe(false);
    expect(wants(6, 50000, 135, 0, 0x10)).toBe(false); // a bare ACK carries nothing to read
    expect(wants(6, 50000, 135, 0, 0x11)).toBe(true); // a FIN frees the connection's state
    expect(wants(1, -1, -1, 10)).toBe(false);
  });
});
