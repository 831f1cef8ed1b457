/**
 * A flow says where its packets are: the input file and tshark's frame numbers of its first and last
 * packet. Frames count every record of the file (non-IP and undecodable ones too), a flow seen in two
 * files starts in the first and ends in the last, and sharded reads number frames as one pass does.
 * (test/frames-tshark.test.ts holds the numbers to tshark's on real captures.)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { frame, tcpConversation } from '../src/synth/frames.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';

const dir = mkdtempSync(join(tmpdir(), 'fa-frames-'));
const ARP = Uint8Array.from([...Array(12).fill(0xff), 0x08, 0x06, ...Array(28).fill(0)]);

function pcapOf(frames: Uint8Array[], name: string): string {
  const file = join(dir, name);
  writeFileSync(file, writePcap(frames.map((data, i) => ({ data, tsSec: 1_700_000_000 + i, tsNs: 0 })), { linkType: 1 }));
  return file;
}

describe('frame numbers of a flow', () => {
  it('count every record of the file, ARP and truncated frames included', async () => {
    const conv = tcpConversation('10.0.0.1', 40000, '10.0.0.2', 443).map((s) => frame(s));
    const other = frame({ proto: 'udp', src: '10.0.0.3', dst: '10.0.0.4', srcPort: 5000, dstPort: 53, payload: 20 });
    // Records 1 (ARP), 2 (a frame cut inside its IP header), then the conversation with a UDP datagram after its second packet.
    const frames = [ARP, frame({ proto: 'udp', src: '10.9.0.1', dst: '10.9.0.2', srcPort: 1, dstPort: 2, payload: 0 }).subarray(0, 20), conv[0]!, conv[1]!, other, ...conv.slice(2)];
    const run = await buildFlows([pcapOf(frames, 'mixed.pcap')]);
    const flows = run.table.export();
    const tcp = flows.find((f) => f.proto === 'tcp')!;
    expect([tcp.firstFile, tcp.firstFrame, tcp.lastFile, tcp.lastFrame]).toEqual([0, 3, 0, frames.length]);
    const udp = flows.find((f) => f.serverPort === 53)!;
    expect([udp.firstFrame, udp.lastFrame]).toEqual([5, 5]);
  });

  it('of a flow seen in two files: the first frame in the first file, the last in the last', async () => {
    const conv = tcpConversation('10.0.0.1', 40000, '10.0.0.2', 443, { exchanges: 3 }).map((s) => frame(s));
    const cut = 4;
    const a = pcapOf([ARP, ...conv.slice(0, cut)], 'a.pcap');
    const b = pcapOf([ARP, ARP, ...conv.slice(cut)], 'b.pcap');
    const run = await buildFlows([a, b]);
    const [tcp] = run.table.export();
    expect([tcp!.firstFile, tcp!.firstFrame, tcp!.lastFile, tcp!.lastFrame]).toEqual([0, 2, 1, 2 + conv.length - cut]);
    // The same file twice (an open connection, so one flow): the second file's frames are numbered from 1 again.
    const twice = await buildFlows([a, a]);
    expect(twice.table.export().map((f) => [f.firstFile, f.firstFrame, f.lastFile, f.lastFrame])).toEqual([[0, 2, 1, cut + 1]]);
  });

  it('are the same when the file is read in shards', async () => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      frames.push(...tcpConversation(`10.0.${i % 5}.${(i % 90) + 1}`, 40000 + (i % 30), '10.1.0.1', 443).map((s) => frame(s)));
      if (i % 7 === 0) frames.push(ARP);
    }
    const file = pcapOf(frames, 'sharded.pcap');
    const one = (await buildFlows([file])).table.export();
    expect(Math.max(...one.map((f) => f.lastFrame))).toBe(frames.length);
    for (const workers of [2, 3]) {
      const sharded = (await buildFlowsSharded([file, file], { workers, minShardBytes: 4096 })).table.export();
      const twice = (await buildFlows([file, file])).table.export();
      expect(sharded.map((f) => [f.firstFile, f.firstFrame, f.lastFile, f.lastFrame])).toEqual(twice.map((f) => [f.firstFile, f.firstFrame, f.lastFile, f.lastFrame]));
    }
  });
});
