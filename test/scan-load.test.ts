import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseString } from 'fast-csv';
import { describe, expect, it } from 'vitest';
import { generateScan } from '../bench/scan.js';
import { compareTime } from '../src/core/time.js';
import { columnsOfRecords, mergeColumns } from '../src/flow/columns.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { scratch } from './helpers/scratch.js';
import { tsharkAvailable, tsharkFields } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';

/*
 * A SYN scan on the SPAN port: 60 000 flows of one packet each (one in ten a UDP probe), from one
 * scanner to distinct (target, port) pairs, read with --max-flows 5000 by a CLI whose heap is held
 * to 48 MB. Every format must finish with exit 0 and say what was folded.
 */
const FLOWS = 60_000;
const MAX = 5_000;
const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const dir = scratch('fa-scan-');
const scan = join(dir.dir, 'scan.pcap');
generateScan({ out: scan, flows: FLOWS });

function flowaudit(args: string[], stdinFile?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--max-old-space-size=48', cli, ...args], { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin!);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

function csvRows(text: string): Promise<string[][]> {
  return new Promise((done, fail) => {
    const rows: string[][] = [];
    parseString(text, { strictColumnHandling: true, headers: false })
      .on('data', (r: string[]) => rows.push(r))
      .on('data-invalid', () => fail(new Error('a row with the wrong number of fields')))
      .on('error', fail)
      .on('end', () => done(rows));
  });
}

interface Bound { limit: number; active: number; expired: number; evicted: number; scanFlows: number; scanRecords: number; foldedFlows: number; foldedRecords: number; dropped: number; scanners: Array<{ proto: string; scanner: string; flows: number; ports: number; targets: number }> }

/** Every flow of the capture is in the table, in a fold, or counted as dropped; the table kept its bound. */
function checkBound(b: Bound, flows: Array<{ flows?: number }>): void {
  expect(b.limit).toBe(MAX);
  expect(b.active).toBeLessThanOrEqual(MAX);
  expect(b.scanFlows + b.foldedFlows + b.dropped).toBe(b.expired + b.evicted);
  expect(b.scanFlows).toBeGreaterThan(FLOWS / 2);
  const plain = flows.filter((f) => f.flows === undefined).length;
  const folded = flows.reduce((n, f) => n + (f.flows ?? 0), 0);
  expect(plain + folded + b.dropped).toBe(FLOWS);
  expect(flows.length).toBe(plain + b.scanRecords + b.foldedRecords);
  expect(b.scanners.map((s) => `${s.proto} ${s.scanner}`)).toEqual(['tcp 10.66.0.1', 'udp 10.66.0.1']);
  expect(b.scanners[0]!.ports).toBe(900); // ports 1-1000 but every tenth, which is UDP
}

describe('a port scan past --max-flows is folded, never aborts the run', () => {
  it('flows: JSON (from standard input, as a stream), CSV and text say what was folded', async () => {
    const [json, csv, text] = await Promise.all([
      flowaudit(['flows', '-', '--format', 'json', '--max-flows', String(MAX)], scan),
      flowaudit(['flows', scan, '--format', 'csv', '--max-flows', '5k']),
      flowaudit(['flows', scan, '--format', 'text', '--max-flows', String(MAX)]),
    ]);
    for (const r of [json, csv, text]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const doc = checkReport('flows', JSON.parse(json.stdout));
    checkBound(doc.capture.flowTable, doc.flows);
    const tcp = doc.flows.find((f: { proto: string; flows?: number }) => f.proto === 'tcp' && f.flows !== undefined);
    expect(tcp).toMatchObject({ client: '10.66.0.1', outcome: 'attempted', serverPackets: 0 });
    expect(tcp.targets).toBeGreaterThan(1);
    // A scan record's filter names the scanner and the port, whoever received the probes: in tshark it
    // selects the record's packets and those of the flows to that port still held as flows of their own.
    expect(tcp.filter).toBe(`ip.addr==10.66.0.1 && tcp.port==${tcp.serverPort} && !icmp`);
    if (tsharkAvailable() && doc.capture.flowTable.dropped === 0) {
      const frames = await tsharkFields(scan, ['frame.number'], ['-Y', tcp.filter]);
      const same = doc.flows.filter((f: { proto: string; client: string; serverPort: number }) => f.proto === 'tcp' && f.client === '10.66.0.1' && f.serverPort === tcp.serverPort);
      expect(same.length).toBeGreaterThan(1);
      expect(frames.rows.length).toBe(same.reduce((n: number, f: { packets: number }) => n + f.packets, 0));
    }

    const rows = await csvRows(csv.stdout);
    expect(rows[0]!.slice(-2)).toEqual(['flows', 'targets']);
    expect(rows.length - 1).toBe(doc.flows.length);
    const at = rows[0]!.indexOf('flows');
    expect(rows.slice(1).reduce((n, r) => n + (r[at] === '' ? 1 : Number(r[at])), 0)).toBe(FLOWS - doc.capture.flowTable.dropped);

    expect(text.stdout).toContain(`flow table bound reached (--max-flows ${MAX})`);
    expect(text.stdout).toMatch(/scanner 10\.66\.0\.1: \d+ tcp attempts, 900 ports 1-999/);
    expect(text.stdout).toMatch(/ {2}scan: \d+ attempts, \d+ targets\n/);
  }, 90_000);

  it('analyze: every format finishes, the audit judges the folded records and says so', async () => {
    const args = (format: string) => ['analyze', scan, '--catalog', 'bmc-cm', '--format', format, '--max-flows', String(MAX)];
    const [json, text] = await Promise.all([flowaudit(args('json')), flowaudit(args('text'))]);
    const [csv, html] = await Promise.all([flowaudit(args('csv')), flowaudit(args('html'))]);
    const reqs = await flowaudit([...args('csv'), '--table', 'requirements']);
    for (const r of [json, text, csv, html, reqs]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const doc = checkReport('analyze', JSON.parse(json.stdout));
    checkBound(doc.capture.flowTable, doc.flows);
    expect(doc.summary.flows).toBe(doc.flows.length);
    // The scan's folded records are judged like any flow: undocumented ports, an unanswered 135 failing.
    expect(doc.flows.some((f: { flows?: number; verdict: string }) => f.flows !== undefined && f.verdict === 'undocumented')).toBe(true);

    expect(text.stdout).toContain(`flow table bound reached (--max-flows ${MAX})`);
    expect(html.stdout).toContain(`flow table bound reached (--max-flows ${MAX})`);
    expect(html.stdout.trimEnd().endsWith('</html>')).toBe(true);

    // Standard output gets one table: the flows, or the requirements with --table.
    const rows = await csvRows(csv.stdout);
    expect(rows[0]!.slice(-2)).toEqual(['flows', 'targets']);
    expect(rows.length - 1).toBe(doc.flows.length);
    expect((await csvRows(reqs.stdout)).length - 1).toBe(doc.requirements.length);
  }, 90_000);

  it('worker shards are bounded and their folds merged: no flow lost or counted twice', async () => {
    const run = await buildFlowsSharded([scan], { workers: 2, minShardBytes: 1 << 20, maxFlows: MAX });
    const b = run.bound!.summary(run.table.activeFlows);
    expect(b.active).toBeLessThanOrEqual(MAX);
    const records = run.bound!.records() as unknown as Array<{ flows: number }>;
    expect(run.table.size + records.reduce((n, f) => n + f.flows, 0) + b.dropped).toBe(FLOWS);
  });

  it('the audit reads the folded records merged with the table as it would read them all sorted by start', async () => {
    const run = await buildFlows([scan], { maxFlows: MAX });
    const folded = run.bound!.records();
    const merged = mergeColumns(columnsOfRecords(folded), run.table.columns());
    const sorted = columnsOfRecords([...folded, ...run.table.export()].sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs)));
    expect(merged.n).toBe(sorted.n);
    const text = (c: typeof merged, i: number) => `${c.hosts[c.client[i]!]} ${c.hosts[c.server[i]!]} ${c.proto[i]} ${c.clientPort[i]} ${c.serverPort[i]} ${c.outcome[i]} ${c.clientPackets[i]} ${c.startSec[i]}.${c.startNs[i]}`;
    for (let i = 0; i < merged.n; i += 7) {
      expect(text(merged, i)).toBe(text(sorted, i));
      expect(merged.record(i)).toEqual(sorted.record(i));
    }
  });
});
