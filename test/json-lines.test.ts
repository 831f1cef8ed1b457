/**
 * The JSON reports' flow lines are written field by field into bytes (src/report/json-lines.ts). They
 * must be exactly what JSON.stringify makes of the public flow: on every capture the suite has, judged
 * and not, and on records built to hit every branch (optional fields, escapes, big numbers, shared
 * and unshared verdicts, waivers).
 */
import { Writable } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JudgedFlows } from '../src/audit/judged.js';
import type { JudgedFlow } from '../src/audit/types.js';
import { analyzeCaptures, loadAuditInputs } from '../src/cli/analyze.js';
import { buildFlows, summarise } from '../src/flow/pipeline.js';
import type { FlowRecord } from '../src/flow/table.js';
import { writePcap } from '../src/capture/writer.js';
import { frame, type PacketSpec } from '../src/synth/frames.js';
import { writeAuditJson, auditJson } from '../src/report/audit.js';
import { flowsJson, publicFlow, writeFlowsJson, writeJsonWithFlows } from '../src/report/flows.js';
import { FlowLineEncoder, judgedLineChunks } from '../src/report/json-lines.js';

/** The lines of records through the record writer: the reference the table's own writer must equal. */
function flowLineChunks(batches: Iterable<FlowRecord[]>): Buffer[] {
  const enc = new FlowLineEncoder();
  const out: Buffer[] = [];
  for (const batch of batches) for (const f of batch) enc.flow(f);
  out.push(enc.take());
  return out;
}
import { listCaptures, skipWithoutCaptures } from './helpers/captures.js';

const root = resolve(__dirname, '..');
const sample = (f: string) => join(root, 'samples', f);

/** Every line the encoder writes, split back, against JSON.stringify of the public flow. */
function expectLinesEqual(flows: FlowRecord[], judged: boolean, chunkBytes = 1 << 20): void {
  const enc = new FlowLineEncoder(chunkBytes);
  const chunks: Buffer[] = [];
  for (const f of flows) {
    if (judged) enc.judged(f as JudgedFlow);
    else enc.flow(f);
    if (enc.full) chunks.push(enc.take());
  }
  chunks.push(enc.take());
  const text = Buffer.concat(chunks).toString('utf8');
  const want = flows.map((f, i) => `${i ? ',' : ''}\n    ${JSON.stringify(publicFlow(f))}`).join('');
  if (text !== want) {
    // Name the first flow that differs, not a megabyte of diff.
    const got = text.split(/,?\n {4}/).slice(1);
    const i = got.findIndex((line, k) => line !== JSON.stringify(publicFlow(flows[k]!)));
    expect(got[i], `flow ${i}`).toBe(JSON.stringify(publicFlow(flows[i]!)));
  }
  expect(text).toBe(want);
}

/**
 * A report's judged lines as it writes them (straight from the flow table, each verdict's text made
 * once) against the record writer on its judged records, in big chunks and in tiny ones.
 */
function expectReportLines(flows: JudgedFlows): void {
  const enc = new FlowLineEncoder();
  for (const f of flows) enc.judged(f);
  const want = enc.take();
  expect(flows.columns.line, 'the table writes its own lines').toBeDefined();
  expect(Buffer.concat([...flows.jsonChunks(judgedLineChunks)]).equals(want)).toBe(true);
  expect(Buffer.concat([...flows.jsonChunks(judgedLineChunks, 64)]).equals(want)).toBe(true);
}

class Sink extends Writable {
  parts: Buffer[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.parts.push(Buffer.from(chunk));
    done();
  }
  get text() {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

const base: FlowRecord = {
  proto: 'tcp', protoNumber: 6, ipVersion: 4, client: '10.0.0.1', clientPort: 49152, server: '10.0.0.2', serverPort: 1611,
  packets: 12, bytes: 3400, clientPackets: 7, clientBytes: 1200, serverPackets: 5, serverBytes: 2200,
  start: '2026-12-02T10:00:00.123456Z', end: '2026-12-02T10:00:01.5Z', duration: 1.376544, outcome: 'established',
  direction: 'syn', firstFile: 0, firstFrame: 3, lastFile: 1, lastFrame: 2 ** 36 - 1, clientFlags: 'SAP', serverFlags: 'SAF', startSec: 1, startNs: 2,
};

describe('flow lines written as bytes', () => {
  it('equal JSON.stringify on records that reach every branch', () => {
    const flows: FlowRecord[] = [
      base,
      { ...base, clientPort: null, serverPort: null, start: null, end: null, outcome: null, duration: 0, proto: 'udp', protoNumber: 17 },
      { ...base, packets: 2 ** 40 + 3, bytes: 9_007_199_254_740_991, clientBytes: 2 ** 31, serverBytes: 2 ** 31 - 1, duration: 1e-9 },
      { ...base, duration: 123456.000000001, clientPackets: 0, serverPackets: 0 },
      { ...base, duration: Number.NaN },
      { ...base, proto: '132', protoNumber: 132, ipVersion: 6, client: '2001:db8::1', server: '::ffff:10.0.0.1' },
      { ...base, icmpType: 8, icmpCode: 0, vlan: 4094, vlanAsymmetric: true, tunnel: ['gre', 'vxlan'] },
      { ...base, vlan: 0, vlanAsymmetric: false, tunnel: [] },
      // Not ASCII or needing escapes: the slow path, still the same text.
      { ...base, client: 'fe80::1%eth"0\\', server: 'héte\u2192\u0001' },
      { ...base, direction: 'catalog-port' },
    ];
    expectLinesEqual(flows, false);
    // Chunks far smaller than a line: every write grows the chunk, nothing is lost.
    expectLinesEqual(flows, false, 16);
  });

  it('judged: the verdict text is made once per judgement, and shared parts never mix', () => {
    const cite = { document: 'BMC "Ports"', section: '§ 4.1', text: 'The agent listens on 1610 → for the master.\nSecond line.' };
    const roles = ['agent'];
    const v1 = { clientRoles: roles, serverRoles: ['master'], clientRolesFrom: 'given', serverRolesFrom: 'inferred', verdict: 'expected', rule: 'bmc-cm:agent', matches: ['bmc-cm:agent'], cite, detail: 'agent → master' } as const;
    const v2 = { ...v1, cite: { ...cite, text: 'other' } }; // same detail, another citation
    const v3 = { clientRoles: [], serverRoles: [], clientRolesFrom: 'unknown', serverRolesFrom: 'unknown', verdict: 'undocumented', rule: null, matches: [], cite: null, detail: 'no catalog rule documents tcp/7' } as const;
    const flows: JudgedFlow[] = [];
    for (let i = 0; i < 40; i++) {
      const v = [v1, v2, v3][i % 3]!;
      // Keys in the order the audit sets them; even flows share the verdict's arrays, odd ones have copies.
      const { detail, ...head } = v;
      const shared = i % 2 === 0;
      const f = {
        ...base, client: `10.0.0.${i}`, ...head,
        clientRoles: shared ? v.clientRoles : [...v.clientRoles], serverRoles: shared ? v.serverRoles : [...v.serverRoles], matches: shared ? v.matches : [...v.matches],
        ...(i % 5 === 0 ? { grant: { reason: 'dcerpc-epm', host: '10.0.0.9', port: 49700, at: '2026-12-02T10:00:00.000000Z', detail: 'ept_map → 49700' } } : {}),
        detail,
      } as unknown as JudgedFlow;
      if (i % 7 === 0) f.waived = { reason: 'change "CR-12"', ...(i % 14 === 0 ? { expires: '2027-01-01' } : {}) };
      flows.push(f);
    }
    expectLinesEqual(flows, true);
    expectLinesEqual(flows, true, 64);
  });

  it('make the same documents as the one-string writers, a flow a line, empty flow lists included', async () => {
    const same = (streamed: string, whole: string) => {
      expect(JSON.parse(streamed)).toEqual(JSON.parse(whole));
      const flows = (JSON.parse(whole) as { flows: unknown[] }).flows;
      expect(streamed.split('\n').filter((l) => l.startsWith('    {"proto":'))).toHaveLength(flows.length);
      expect(streamed.endsWith('}\n')).toBe(true);
    };
    for (const file of ['bmc-cm-site.pcapng', 'mirror-port.pcapng']) {
      const run = await buildFlows([sample(file)]);
      const capture = summarise(run);
      const sink = new Sink();
      await writeFlowsJson(capture, run.table.jsonChunks(), sink);
      same(sink.text, flowsJson(capture, run.table.export()));
      const fromRecords = Buffer.concat([...flowLineChunks(run.table.exportBatches())]);
      expect(Buffer.concat([...run.table.jsonChunks(100)]).equals(fromRecords)).toBe(true);
    }
    const empty = new Sink();
    const run = await buildFlows([sample('cam-site.pcapng')]);
    await writeFlowsJson(summarise(run), [], empty);
    expect(empty.text).toContain('"flows": []');
    same(empty.text, flowsJson(summarise(run), []));

    const inputs = { ...loadAuditInputs({ catalog: ['bmc-cm'], roles: sample('bmc-cm-roles.yaml') }), version: 'test' };
    const report = await analyzeCaptures([sample('bmc-cm-site.pcapng')], inputs, { workers: 1 });
    const sink = new Sink();
    await writeAuditJson(report, sink);
    same(sink.text, auditJson(report));
  });

  it('writes the other top-level arrays element by element, as JSON.stringify does, around the flows in document order', async () => {
    const doc = {
      version: 'x',
      requirements: [{ rule: 'a', evidence: ['e1', 'e2'], nested: { list: [1, [2, 3]], empty: [] } }, null, 'line\nbreak', 7],
      capture: { files: [{ file: 'f' }] },
      flows: [] as unknown[],
      empty: [],
      grants: [{ port: 135 }],
      tail: { a: 1 },
    };
    const sink = new Sink();
    await writeJsonWithFlows(doc, [Buffer.from('\n    {"proto":"tcp"}')], sink);
    expect(sink.text).toBe(JSON.stringify({ ...doc, flows: [{ proto: 'tcp' }] }, null, 2).replace('[\n    {\n      "proto": "tcp"\n    }\n  ]', '[\n    {"proto":"tcp"}\n  ]') + '\n');
    expect(JSON.parse(sink.text)).toEqual({ ...doc, flows: [{ proto: 'tcp' }] });
  });

  it('equal JSON.stringify on every sample, judged under each catalog with and without its role map', async () => {
    let n = 0;
    for (const id of ['bmc-cm', 'cam', 'itms8', 'sccm2007']) {
      for (const roles of [undefined, sample(`${id}-roles.yaml`)]) {
        const inputs = { ...loadAuditInputs({ catalog: [id], ...(roles ? { roles } : {}) }), version: 'test' };
        const files = ['bmc-cm-site', 'cam-site', 'itms8-site', 'sccm2007-site', 'mirror-port'].map((s) => sample(`${s}.pcapng`));
        const report = await analyzeCaptures(files, inputs, { workers: 1 });
        expectLinesEqual(report.flows.toArray(), true);
        expectReportLines(report.flows);
        n += report.flows.length;
      }
    }
    expect(n).toBeGreaterThan(300);
  });

  it('written from the table, equal the judged records with waivers, swapped sides and grants', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const waivers = join(mkdtempSync(join(tmpdir(), 'fa-lines-')), 'waivers.yaml');
    // A waiver with a reason JSON must escape, one without expiry, and one for a whole rule.
    writeFileSync(waivers, 'waivers:\n  - port: tcp/3389\n    reason: "admin \\"RDP\\", change 1234"\n    expires: 2099-01-01\n  - port: udp/9\n    reason: wake-on-lan é\n');
    // Flows caught mid-stream (no SYN) between 700 and 1610: the port rank takes 700 for the server,
    // bmc-cm documents only 1610, so the judged flow has its sides exchanged (direction catalog-port).
    const midStream = join(dirname(waivers), 'mid-stream.pcap');
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 6; i++) {
      const [a, b] = [`10.1.0.${i + 1}`, `10.2.0.${i + 1}`];
      specs.push({ proto: 'tcp', src: b, dst: a, srcPort: 1610, dstPort: 700, flags: 'PA', payload: 100 + i });
      if (i % 2 === 0) specs.push({ proto: 'tcp', src: a, dst: b, srcPort: 700, dstPort: 1610, flags: 'A' });
      specs.push({ proto: 'tcp', src: b, dst: a, srcPort: 3389, dstPort: 50000 + i, flags: 'PA', payload: 20 });
    }
    writeFileSync(midStream, writePcap(specs.map((spec, i) => ({ data: frame(spec), tsSec: 1_700_000_000, tsNs: i * 1000 })), { linkType: 1 }));
    let waived = 0;
    let swapped = 0;
    let granted = 0;
    for (const [id, file] of [['bmc-cm', sample('bmc-cm-site.pcapng')], ['sccm2007', sample('sccm2007-site.pcapng')], ['itms8', sample('mirror-port.pcapng')], ['bmc-cm', midStream]] as const) {
      const inputs = { ...loadAuditInputs({ catalog: [id], waivers }), version: 'test' };
      const report = await analyzeCaptures([file], inputs, { workers: 1 });
      expectReportLines(report.flows);
      waived += report.flows.waivedCount;
      swapped += report.flows.filter((f) => f.direction === 'catalog-port').length;
      granted += report.flows.filter((f) => f.grant !== undefined).length;
    }
    expect(waived).toBeGreaterThan(0);
    expect(swapped).toBeGreaterThan(0);
    // A report stringified whole still has its flows as an array of judged records.
    const inputs = { ...loadAuditInputs({ catalog: ['bmc-cm'], waivers }), version: 'test' };
    const report = await analyzeCaptures([midStream], inputs, { workers: 1 });
    expect(JSON.parse(JSON.stringify(report)).flows).toEqual(JSON.parse(JSON.stringify(report.flows.toArray())));
    expect(JSON.parse(JSON.stringify(report)).flows).toHaveLength(report.flows.length);
    expect(granted).toBeGreaterThan(0);
  });
});

describe.skipIf(skipWithoutCaptures('flow lines on the shared corpus'))('flow lines on the shared corpus', () => {
  it('equal JSON.stringify for every flow of every capture (Zeek traces judged too)', async () => {
    const files = [...listCaptures('zeek'), ...listCaptures('tcpdump')];
    let flows = 0;
    for (const f of files) {
      const run = await buildFlows([f]).catch(() => null);
      if (run === null) continue;
      const records = run.table.export();
      expectLinesEqual(records, false);
      flows += records.length;
      // Straight from the table: the same bytes as from its records, in big chunks and in tiny ones.
      const fromRecords = Buffer.concat([...flowLineChunks(run.table.exportBatches())]);
      expect(Buffer.concat([...run.table.jsonChunks()]).equals(fromRecords), f).toBe(true);
      expect(Buffer.concat([...run.table.jsonChunks(64)]).equals(fromRecords), f).toBe(true);
    }
    expect(flows).toBeGreaterThan(1000);
    const inputs = { ...loadAuditInputs({ catalog: ['sccm2007', 'itms8'] }), version: 'test' };
    for (const f of listCaptures('zeek')) {
      const report = await analyzeCaptures([f], inputs, { workers: 1 }).catch(() => null);
      if (report) {
        expectLinesEqual(report.flows.toArray(), true);
        expectReportLines(report.flows);
      }
    }
  }, 240_000);
});
