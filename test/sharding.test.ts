import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap, writePcapng } from '../src/capture/writer.js';
import { buildFlows, summarise } from '../src/flow/pipeline.js';
import { analyzeCaptures, loadAuditInputs } from '../src/cli/analyze.js';
import type { AuditReport } from '../src/audit/index.js';
import { bind, bindAck, eptMapRequest, eptMapResponse } from '../src/synth/dcerpc.js';
import { frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { listCaptures, skipWithoutCaptures } from './helpers/captures.js';

const dir = mkdtempSync(join(tmpdir(), 'fa-shard-'));

/** Everything a user sees of a run, for comparing one pass with sharded passes. */
async function outcome(run: Awaited<ReturnType<typeof buildFlows>>) {
  const s = summarise(run);
  return { flows: run.table.export(), capture: { ...s, files: s.files.map((f) => ({ ...f })) } };
}

async function sameForAllWorkerCounts(file: string): Promise<void> {
  const one = await outcome(await buildFlows([file]));
  for (const workers of [2, 3, 4]) {
    const sharded = await outcome(await buildFlowsSharded([file], { workers, minShardBytes: 64 }));
    expect(sharded, `${file} with ${workers} workers`).toEqual(one);
  }
}

describe('worker sharding gives the same result as one pass', () => {
  it('on a synthetic capture whose handshakes straddle the shard boundaries', async () => {
    const packets = [];
    let t = 0;
    for (let i = 0; i < 400; i++) {
      const conv = tcpConversation(`10.0.${i % 7}.${(i % 200) + 1}`, 40000 + (i % 50), '10.1.0.1', [443, 1610, 135][i % 3]!, { answer: i % 11 === 0 ? 'silent' : i % 13 === 0 ? 'reset' : 'accept' });
      for (const spec of conv) packets.push({ data: frame(spec, i % 5 === 0 ? { vlan: [10 + (i % 3)] } : {}), tsSec: 1_700_000_000 + Math.floor(t / 1000), tsNs: (t++ % 1000) * 1_000_000 });
    }
    const pcap = join(dir, 'synthetic.pcap');
    writeFileSync(pcap, writePcap(packets, { linkType: 1 }));
    await sameForAllWorkerCounts(pcap);
    const ng = join(dir, 'synthetic.pcapng');
    writeFileSync(ng, writePcapng(packets, { interfaces: [{ linkType: 1, tsresol: 9 }] }));
    await sameForAllWorkerCounts(ng);
  });

  it('on a damaged capture: a corrupted record header in the middle of a shard', async () => {
    const packets = Array.from({ length: 300 }, (_, i) => ({ data: frame({ proto: 'udp', src: '10.0.0.1', dst: `10.0.1.${i % 50}`, srcPort: 50000 + i, dstPort: 514, payload: 40 + (i % 30) }), tsSec: 1_700_000_000 + i, tsNs: 0 }));
    const buf = writePcap(packets, { linkType: 1 });
    // Corrupt the captured length of a record about a third into the file.
    let off = 24;
    for (let i = 0; i < 100; i++) off += 16 + buf.readUInt32LE(off + 8);
    buf.writeUInt32LE(0xfffffff0, off + 8);
    const file = join(dir, 'damaged.pcap');
    writeFileSync(file, buf);
    await sameForAllWorkerCounts(file);
  });

  describe.skipIf(skipWithoutCaptures('sharding on real captures'))('on real captures from ../shared/captures', () => {
    it('every tcpdump and zeek capture over 20 kB, corrupt ones included', async () => {
      const { statSync } = await import('node:fs');
      const files = [...listCaptures('tcpdump'), ...listCaptures('zeek')].filter((f) => !f.endsWith('.gz') && statSync(f).size > 20_000);
      expect(files.length).toBeGreaterThan(20);
      for (const f of files) {
        let one;
        try {
          one = await outcome(await buildFlows([f]));
        } catch {
          continue; // not a capture we can read at all (the CLI exits 2): nothing to shard
        }
        // Two and three shards: every file is cut at two different sets of places.
        for (const workers of [2, 3]) {
          const sharded = await outcome(await buildFlowsSharded([f], { workers, minShardBytes: 4096 }));
          expect(sharded, `${f} with ${workers} workers`).toEqual(one);
        }
      }
    }, 300_000);
  });
});

describe('analyze with workers gives the same report as one pass', () => {
  async function sameReports(file: string, id: string, roles?: string): Promise<AuditReport> {
    const inputs = { ...loadAuditInputs({ catalog: [id], ...(roles ? { roles } : {}) }), version: 'test' };
    const one = await analyzeCaptures([file], inputs, { workers: 1 });
    // Judged flows are made on demand: compare their records, not the lists' internals.
    const plain = (r: AuditReport) => ({ ...r, flows: r.flows.toArray() });
    for (const workers of [2, 3, 4]) {
      const sharded = await analyzeCaptures([file], inputs, { workers, minShardBytes: 2048 });
      expect(plain(sharded), `${file} with ${workers} workers`).toEqual(plain(one));
    }
    return one;
  }

  it('endpoint-mapper conversations cut by shard boundaries still grant their dynamic ports', async () => {
    // 60 clients ask the endpoint mapper, each reply in pieces, then connect to the port it named;
    // other traffic in between spreads each conversation over several shards.
    const specs: PacketSpec[] = [];
    const convs = Array.from({ length: 60 }, (_, i) => {
      const client = `10.0.${i >> 4}.${(i % 16) + 10}`;
      const port = 49700 + i;
      const reply = eptMapResponse(2, [{ port, ip: '10.9.0.1' }]);
      const cut = 10 + (i % 40);
      return [
        ...epmSession(client, 50000 + i, '10.9.0.1', [bind(1), eptMapRequest(2)], [bindAck(1), reply.subarray(0, cut), reply.subarray(cut)]),
        ...tcpConversation(client, 51000 + i, '10.9.0.1', port, { answer: 'accept' }),
      ];
    });
    for (let step = 0; convs.some((c) => c.length > 0); step++) {
      for (const c of convs) if (c.length && (step + convs.indexOf(c)) % 3 === 0) specs.push(c.shift()!);
      specs.push({ proto: 'udp', src: '10.5.0.1', dst: '10.5.0.2', srcPort: 40000 + (step % 100), dstPort: 514, payload: 200 });
    }
    const file = join(dir, 'epm-across-shards.pcap');
    writeFileSync(file, writePcap(specs.map((spec, i) => ({ data: frame(spec), tsSec: 1_700_000_000 + Math.floor(i / 1000), tsNs: (i % 1000) * 1_000_000 })), { linkType: 1 }));
    const report = await sameReports(file, 'sccm2007');
    // The test means something only if the grants are there: every dynamic connection is explained.
    expect(report.grants.length).toBe(60);
    const dynamic = report.flows.filter((f) => f.serverPort !== null && f.serverPort >= 49700 && f.serverPort < 49760);
    expect(dynamic.length).toBe(60);
    expect(dynamic.every((f) => f.grant?.reason === 'dcerpc-epm')).toBe(true);
  });

  it('on the bundled samples, with their role maps', async () => {
    for (const id of ['bmc-cm', 'cam', 'itms8', 'sccm2007']) await sameReports(`samples/${id}-site.pcapng`, id, `samples/${id}-roles.yaml`);
  });

  describe.skipIf(skipWithoutCaptures('analyze sharding on real DCE/RPC captures'))('on real captures', () => {
    it("Zeek's DCE/RPC and SMB traces", async () => {
      const files = [...listCaptures('zeek/dce-rpc'), ...listCaptures('zeek/smb')].filter((f) => !f.endsWith('.gz'));
      expect(files.length).toBeGreaterThan(5);
      for (const f of files) await sameReports(f, 'sccm2007');
    }, 300_000);
  });
});

/** A TCP connection to the endpoint mapper: handshake, client PDUs, server PDUs (in the pieces given). */
function epmSession(client: string, cport: number, server: string, fromClient: Buffer[], fromServer: Buffer[]): PacketSpec[] {
  let cseq = 1000;
  let sseq = 9000;
  const c = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: client, dst: server, srcPort: cport, dstPort: 135, flags, seq: cseq, ack: sseq, ...(payload ? { payload } : {}) });
  const s = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: server, dst: client, srcPort: 135, dstPort: cport, flags, seq: sseq, ack: cseq, ...(payload ? { payload } : {}) });
  const out: PacketSpec[] = [c('S')];
  cseq++;
  out.push(s('SA'));
  sseq++;
  out.push(c('A'));
  const n = Math.max(fromClient.length, fromServer.length);
  for (let i = 0; i < n; i++) {
    const a = fromClient[i];
    if (a) {
      out.push(c('PA', a));
      cseq += a.length;
    }
    const b = fromServer[i];
    if (b) {
      out.push(s('PA', b));
      sseq += b.length;
    }
  }
  out.push(c('FA'), s('FA'));
  return out;
}
