import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../src/capture/record.js';
import { decodePacket, PacketView, Status } from '../src/decode/index.js';
import { FlowFolds } from '../src/flow/aggregate.js';
import { FlowTable, RetireLimits } from '../src/flow/table.js';
import { frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';

const T0 = 1_800_000_000;

/** Feeds packets at given capture times (seconds after T0) into a table. */
function feed(table: FlowTable, packets: Array<[number, PacketSpec]>): void {
  const view = new PacketView();
  const rec = new PacketRecord();
  for (const [t, spec] of packets) {
    const data = frame(spec);
    rec.buf = Buffer.from(data);
    rec.off = 0;
    rec.capLen = rec.origLen = data.length;
    rec.tsSec = T0 + Math.floor(t);
    rec.tsNs = Math.round((t % 1) * 1e9);
    rec.tsDigits = 6;
    rec.linkType = 1;
    decodePacket(rec, view);
    expect(view.status).toBe(Status.Ip);
    table.add(view, rec);
  }
}

const at = (t: number, specs: PacketSpec[]): Array<[number, PacketSpec]> => specs.map((s, i) => [t + i * 0.001, s]);
const limits: RetireLimits = { idle: 60, tcpIdle: 3600, finishedIdle: 30, maxFlows: 1000 };
const udp = (src: string, sp: number, dst: string, dp: number): PacketSpec => ({ proto: 'udp', src, dst, srcPort: sp, dstPort: dp, payload: 20 });

describe('a long-running flow table lets finished and idle flows go', () => {
  it('expires idle UDP, finished TCP after its linger and keeps open TCP; kept flows go on counting in place', () => {
    const table = new FlowTable();
    feed(table, at(0, tcpConversation('10.0.0.5', 50000, '10.0.0.1', 1610))); // finished at ~0 s
    feed(table, at(1, tcpConversation('10.0.0.6', 50001, '10.0.0.1', 1610).slice(0, 5))); // open
    feed(table, [[2, udp('10.0.0.7', 40000, '10.0.0.1', 53)], [100, udp('10.0.0.8', 40001, '10.0.0.1', 53)]]);
    expect(table.activeFlows).toBe(4);

    const r = table.retire(T0 + 101, limits);
    expect(r.evicted).toEqual([]);
    expect(r.expired.map((f) => `${f.proto} ${f.client}`).sort()).toEqual(['tcp 10.0.0.5', 'udp 10.0.0.7']);
    expect(table.activeFlows).toBe(2);
    expect(table.size).toBe(2);

    // After compaction a kept flow still receives its packets, and a new flow gets a fresh record.
    feed(table, [[102, { proto: 'tcp', src: '10.0.0.6', dst: '10.0.0.1', srcPort: 50001, dstPort: 1610, flags: 'FA' }]]);
    feed(table, [[103, udp('10.0.0.9', 40002, '10.0.0.1', 53)]]);
    const flows = table.export();
    expect(flows).toHaveLength(3);
    const open = flows.find((f) => f.client === '10.0.0.6')!;
    expect(open).toMatchObject({ outcome: 'established', clientPackets: 4, clientFlags: 'SAFP' });
    expect(flows.find((f) => f.client === '10.0.0.8')).toMatchObject({ packets: 1 });
  });

  it('a new SYN on a finished 5-tuple leaves the old flow to be retired at once', () => {
    const table = new FlowTable();
    const conv = tcpConversation('10.0.0.5', 50000, '10.0.0.1', 1610);
    feed(table, at(0, conv));
    feed(table, at(1, conv));
    expect(table.size).toBe(2);
    const r = table.retire(T0 + 2, limits);
    expect(r.expired).toHaveLength(1); // the superseded one; the second is finished but still lingering
    expect(table.export()).toHaveLength(1);
  });

  it('past maxFlows evicts the least recently seen flows and says which', () => {
    const table = new FlowTable();
    const packets: Array<[number, PacketSpec]> = [];
    for (let i = 0; i < 1500; i++) packets.push([i * 0.01, udp('10.1.0.1', 20000 + i, '10.0.0.1', 161)]);
    feed(table, packets);
    const r = table.retire(T0 + 16, { ...limits, maxFlows: 1000 });
    expect(r.expired).toHaveLength(0);
    expect(r.evicted).toHaveLength(500);
    expect(r.evicted.map((f) => f.clientPort)).toEqual(Array.from({ length: 500 }, (_, i) => 20000 + i));
    expect(table.activeFlows).toBe(1000);
  });

  it('a burst far past maxFlows is evicted in one go (200 000 flows: no argument list that overflows the stack)', () => {
    const table = new FlowTable();
    const packets: Array<[number, PacketSpec]> = [];
    for (let i = 0; i < 200_000; i++) packets.push([i * 0.00001, udp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 20000 + (i % 1000), '10.0.0.1', 161)]);
    feed(table, packets);
    const r = table.retire(T0 + 3, { ...limits, maxFlows: 1000 });
    expect(r.evicted).toHaveLength(199_000);
    expect(r.evicted[0]!.client).toBe('10.0.0.0');
    expect(table.activeFlows).toBe(1000);
  });
});

describe('folded flows keep what the audit needs', () => {
  it('TCP connections of one client to one service fold into one record; the best outcome wins; UDP keeps its client port', () => {
    const table = new FlowTable();
    feed(table, at(0, tcpConversation('10.0.0.5', 50000, '10.0.0.1', 1610, { answer: 'silent' })));
    feed(table, at(1, tcpConversation('10.0.0.5', 50001, '10.0.0.1', 1610)));
    feed(table, at(2, tcpConversation('10.0.0.5', 50002, '10.0.0.1', 1610, { answer: 'reset' })));
    feed(table, [[3, udp('10.0.0.5', 3000, '10.0.0.1', 69)], [4, udp('10.0.0.5', 3001, '10.0.0.1', 69)]]);
    const folds = new FlowFolds(100);
    const r = table.retire(T0 + 10_000, limits);
    for (const f of r.expired) folds.add(f);
    const recs = folds.records();
    expect(recs).toHaveLength(3);
    const tcp = recs.find((f) => f.proto === 'tcp')!;
    expect(tcp).toMatchObject({ flows: 3, outcome: 'established', outcomes: { attempted: 1, established: 1, rejected: 1 }, clientPort: 50000 });
    expect(tcp.packets).toBe(3 + 10 + 2); // silent SYN ×3, a full conversation, SYN + RST
    expect(tcp.start).toBe(new Date(T0 * 1000).toISOString().replace('.000Z', '.000000Z')); // the first attempt's
    expect(recs.filter((f) => f.proto === 'udp').map((f) => f.clientPort).sort()).toEqual([3000, 3001]);
  });

  it('a full fold store counts what it cannot keep', () => {
    const folds = new FlowFolds(2);
    const table = new FlowTable();
    feed(table, [[0, udp('10.0.0.5', 1, '10.0.0.1', 53)], [0, udp('10.0.0.5', 2, '10.0.0.1', 53)], [0, udp('10.0.0.5', 3, '10.0.0.1', 53)]]);
    for (const f of table.retire(T0 + 1000, limits).expired) folds.add(f);
    expect(folds.size).toBe(2);
    expect(folds.dropped).toBe(1);
    expect(folds.folded).toBe(3);
  });
});
