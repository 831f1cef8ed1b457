import { statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFlows } from '../src/flow/pipeline.js';
import { Inspectors } from '../src/inspect/index.js';
import type { Grant } from '../src/inspect/grants.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { listCaptures, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';
import { windowsDir, windowsTruth, type DcomTruth, type EpmTruth, type Retransmitted, type TftpTruth } from './helpers/windows-truth.js';

/**
 * The real Windows captures against the truth files beside them (windows/README.md): every tower of
 * every ept_map reply, the DCOM-learned ports and the TFTP requests, grant by grant with their frames.
 */

const skip = skipWithoutCaptures('inspectors on the windows captures');
const windows = windowsDir();
const truth = windowsTruth;
const files = skip ? [] : listCaptures('windows');
const rel = (f: string) => relative(windows, f);

const results = new Map<string, Inspectors>();
async function inspected(file: string): Promise<Inspectors> {
  let ins = results.get(file);
  if (!ins) {
    const fresh = new Inspectors();
    await buildFlows([file], { onIpPacket: (v, rec, f) => fresh.onPacket(v, rec, f) });
    results.set(file, fresh);
    ins = fresh;
  }
  return ins;
}

const byReason = (ins: Inspectors, reason: Grant['reason']) => ins.grants.filter((g) => g.reason === reason);

describe.skipIf(skip)('the windows captures yield the grants their truth files list', () => {
  it('the corpus is there: every file the truth files name', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    const named = new Set([...truth<EpmTruth[]>('epm-truth.json'), ...truth<DcomTruth[]>('dcom-truth.json'), ...truth<TftpTruth[]>('tftp-truth.json')].map((e) => e.file));
    for (const f of named) expect(files.map(rel)).toContain(f);
  });

  it('endpoint-mapper grants equal epm-truth.json grant by grant, and no capture gives more', async () => {
    const all = truth<EpmTruth[]>('epm-truth.json');
    let found = 0;
    for (const file of files) {
      const ins = await inspected(file);
      const want = all.filter((e) => e.file === rel(file)).sort((a, b) => a.granted_at_frame - b.granted_at_frame || a.tower_index - b.tower_index);
      const got = byReason(ins, 'dcerpc-epm');
      const row = (g: Grant) => [g.peer, g.evidence.server, g.host, g.port, g.evidence.record, g.evidence.requestRecord, g.subject, g.transport];
      expect(got.map(row), rel(file)).toEqual(want.map((e) => [e.requester, e.responder, e.granted_ip, e.port, e.granted_at_frame, e.request_frame, e.interface, 'tcp']));
      // The towers of one reply share one negotiation, as many as the reply had; replies do not share.
      const perNegotiation = new Map<number, Grant[]>();
      for (const g of got) perNegotiation.set(g.negotiation, [...(perNegotiation.get(g.negotiation) ?? []), g]);
      for (const [i, g] of got.entries()) {
        const group = perNegotiation.get(g.negotiation)!;
        expect(group.length, `${rel(file)} frame ${g.evidence.record}`).toBe(want[i]!.num_towers);
        expect(new Set(group.map((x) => x.evidence.record))).toEqual(new Set([g.evidence.record]));
      }
      expect(new Set(got.map((g) => g.evidence.record)).size).toBe(perNegotiation.size);
      found += new Set(got.map((g) => `${g.host}:${g.port}`)).size;
      // Every PDU of these captures is well formed, and none needs more than the reassembler's bounds.
      for (const s of ins.stats) expect([s.inspector, s.malformed, s.streamsDropped], rel(file)).toEqual([s.inspector, 0, 0]);
      // epm-failed-lookups.json lists no refusal in these files.
      const refused = truth<Array<{ file: string; frame: number }>>('epm-failed-lookups.json').filter((e) => e.file === rel(file));
      expect(ins.failed.filter((f) => f.reason === 'dcerpc-epm').map((f) => f.evidence.record), rel(file)).toEqual(refused.map((e) => e.frame));
    }
    expect(found).toBe(23);
  });

  it('retransmitted map replies are counted, never granted again', async () => {
    const retrans = truth<Record<string, Retransmitted[]>>('epm-retransmitted-replies.json');
    expect(Object.keys(retrans).length).toBeGreaterThan(0);
    for (const [name, frames] of Object.entries(retrans)) {
      const ins = await inspected(join(windows, name));
      const records = new Set(ins.grants.map((g) => g.evidence.record));
      for (const r of frames) expect(records.has(r.frame), `${name} frame ${r.frame}`).toBe(false);
      expect(ins.stats.find((s) => s.inspector === 'dcerpc-epm')!.retransmitted, name).toBe(frames.length);
    }
  });

  it('DCOM string bindings grant the ports of dcom-truth.json at their frames, one grant per port', async () => {
    const all = truth<DcomTruth[]>('dcom-truth.json');
    for (const file of files) {
      const ins = await inspected(file);
      const want = all.filter((e) => e.file === rel(file)).sort((a, b) => a.granted_at_frame - b.granted_at_frame);
      const got = byReason(ins, 'dcom');
      expect(
        got.map((g) => [g.peer, g.host, g.port, g.evidence.record, g.kind, g.transport]),
        rel(file),
      ).toEqual(want.map((e) => [e.requester, e.responder, e.port, e.granted_at_frame, 'dcerpc', 'tcp']));
      // Each answer is its own negotiation; no answer here is an activation error.
      expect(new Set(got.map((g) => g.negotiation)).size).toBe(got.length);
      expect(ins.failed.filter((f) => f.reason === 'dcom')).toEqual([]);
      for (const g of got) expect(g.evidence.requestRecord).toBeLessThan(g.evidence.record);
    }
  });

  it('every TFTP request of tftp-truth.json gives one grant with its client port, malformed ones too', async () => {
    const all = truth<TftpTruth[]>('tftp-truth.json');
    for (const file of files) {
      const ins = await inspected(file);
      const want = all.filter((e) => e.file === rel(file)).sort((a, b) => a.request_frame - b.request_frame);
      expect(
        byReason(ins, 'tftp').map((g) => [g.evidence.record, g.peer, g.peerPort, g.host, g.port]),
        rel(file),
      ).toEqual(want.map((e) => [e.request_frame, e.client, e.client_port, e.server, null]));
    }
  });

  it('the sharded reader gives the same grants, refusals and statistics as one pass', async () => {
    const big = files.filter((f) => statSync(f).size > 20_000);
    expect(big.length).toBeGreaterThan(10);
    for (const file of big) {
      const one = await inspected(file);
      for (const workers of [2, 3]) {
        const ins = new Inspectors();
        await buildFlowsSharded([file], { workers, minShardBytes: 4096, onIpPacket: (v, rec, f) => ins.onPacket(v, rec, f) });
        expect({ grants: ins.grants, failed: ins.failed, stats: ins.stats }, `${rel(file)} with ${workers} workers`).toEqual({ grants: one.grants, failed: one.failed, stats: one.stats });
      }
    }
  }, 300_000);
});

describe.skipIf(skip || skipWithoutTshark('endpoint-mapper grants against tshark'))('tshark reads the same towers', () => {
  // tshark decodes ept_map in NDR and NDR64 alike (its epm dissector follows the bind's transfer
  // syntax), so every windows capture is compared whole. It does not decode DCOM activation property
  // blobs down to their string bindings in a field we can ask for, so DCOM is left to dcom-truth.json.
  it('(frame, port, ip) of every map reply tower equals ours on every windows capture', async () => {
    let compared = 0;
    for (const file of files) {
      const ins = await inspected(file);
      const t = await tsharkFields(file, ['frame.number', 'ip.src', 'epm.proto.tcp_port', 'epm.proto.ip'], ['-Y', 'epm.opnum == 3 && dcerpc.pkt_type == 2', '-E', 'occurrence=a', '-E', 'aggregator=,']);
      const theirs = new Set<string>();
      for (const [frame, src, ports, ips] of t.rows) {
        const p = (ports ?? '').split(',').filter(Boolean);
        const a = (ips ?? '').split(',');
        // A tower address of 0.0.0.0 means the responder: that is what we grant, and what tshark's source is.
        p.forEach((port, i) => theirs.add(`${frame} ${port} ${a[i] === '0.0.0.0' || !a[i] ? src : a[i]}`));
      }
      const ours = new Set(byReason(ins, 'dcerpc-epm').map((g) => `${g.evidence.record} ${g.port} ${g.host}`));
      expect([...ours].sort(), rel(file)).toEqual([...theirs].sort());
      compared += theirs.size;
    }
    expect(compared).toBeGreaterThan(300);
  }, 300_000);
});
