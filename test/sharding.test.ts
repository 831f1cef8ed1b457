import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap, writePcapng } from '../src/capture/writer.js';
import { buildFlows, summarise } from '../src/flow/pipeline.js';
import { frame, tcpConversation } from '../src/synth/frames.js';
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
        for (const workers of [2, 3, 4]) {
          const sharded = await outcome(await buildFlowsSharded([f], { workers, minShardBytes: 4096 }));
          expect(sharded, `${f} with ${workers} workers`).toEqual(one);
        }
      }
    }, 300_000);
  });
});
