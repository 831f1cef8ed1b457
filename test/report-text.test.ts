/**
 * The text report at site scale: findings grouped (one head line per rule and status with counts,
 * what they share said once, the host pairs as a table), --limit and --all, the width followed,
 * expected flows listed, scans folded, human durations, --set in the header. On the real Windows
 * captures of ../shared/captures/windows/ and on the bench's 200 000-flow site mix.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../src/audit/index.js';
import { loadCatalog } from '../src/catalog/index.js';
import { analyzeCaptures } from '../src/cli/analyze.js';
import { humanDuration, plural } from '../src/core/human.js';
import { auditText } from '../src/report/audit.js';
import { tcpConversation } from '../src/synth/frames.js';
import { capturesDir, listCaptures, skipWithoutCaptures } from './helpers/captures.js';
import { run } from './helpers/run.js';
import { scratch } from './helpers/scratch.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const skip = skipWithoutCaptures('text report on real captures');
const zerologon = skip ? '' : join(capturesDir()!, 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');

/** The CLI in a child process, $COLUMNS as given (unset: the default width). */
async function flowaudit(args: string[], columns?: number) {
  const env = { ...process.env };
  delete env.COLUMNS;
  if (columns !== undefined) env.COLUMNS = String(columns);
  const r = await run(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env });
  if (r.status !== 0 && r.status !== 1) throw new Error(`flowaudit ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const lines = (text: string) => text.replace(/\n$/, '').split('\n');
const longest = (text: string) => Math.max(...lines(text).map((l) => l.length));

/** The lines of one section: from its title to the next blank line. */
function section(text: string, title: string): string[] {
  const all = lines(text);
  const at = all.findIndex((l) => l.startsWith(title));
  if (at < 0) return [];
  const end = all.findIndex((l, i) => i > at && l === '');
  return all.slice(at, end < 0 ? undefined : end);
}

/** The rows of every table in a section's lines: after each head line ("from  to …"), up to the group's end. */
function tableRows(section: string[]): string[] {
  const rows: string[] = [];
  let inTable = false;
  for (const l of section) {
    if (/^ {6}from {2,}to /.test(l)) inTable = true;
    else if (!l.startsWith('      ') || l.startsWith('      …') || /^ {6}(evidence|packets|look for): | {6}\s*\(\+\d+ more flows\)/.test(l)) inTable = false;
    else if (inTable) rows.push(l);
  }
  return rows;
}

async function auditOf(file: string, catalog: string): Promise<AuditReport> {
  return analyzeCaptures([file], { catalogs: [loadCatalog(catalog)], roleMap: null, waivers: [], version: 'test', site: [], infer: true }, { workers: 1 });
}

describe('numbers as a person reads them', () => {
  it('durations in the largest units that fit, a bogus timestamp in years', () => {
    expect(humanDuration(0.3)).toBe('0.3 s');
    expect(humanDuration(295.2)).toBe('4 min 55 s');
    expect(humanDuration(2 * 3600 + 5 * 60 + 7)).toBe('2 h 05 min');
    expect(humanDuration(3 * 86400 + 4 * 3600)).toBe('3 days 4 h');
    expect(humanDuration(86400)).toBe('1 day 0 h');
    expect(humanDuration(1786064213.1)).toBe('56 years');
  });
  it('a count with its noun in the right number', () => {
    expect(plural(1, 'flow')).toBe('1 flow');
    expect(plural(0, 'flow')).toBe('0 flows');
    expect(plural(2, 'host pair')).toBe('2 host pairs');
  });

  it('a capture whose last timestamp is decades late says so in years, and one flow is "1 flow"', async () => {
    const s = scratch('fa-text-span-');
    const file = s.capture([tcpConversation('10.0.0.1', 50000, '10.0.0.2', 3389)], { span: 1_786_064_213 });
    const text = await flowaudit(['analyze', file, '--catalog', 'bmc-cm']);
    expect(text).toMatch(/the capture spans 5[56] years/);
    expect(text).not.toMatch(/\b1 flows\b/);
    expect(text).toMatch(/tcp\/3389\s+1 flow, /);
  });
});

describe('--limit and --all', () => {
  it('--limit takes a whole number of rows, 1 or more: anything else is an input error (exit 2) before any capture is read', async () => {
    for (const bad of ['0', '-3', '2.5', 'ten']) {
      const r = await run(process.execPath, [cli, 'analyze', join(root, 'samples/bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--limit', bad], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--limit ${bad}: expected a whole number of rows`);
    }
  });
});

describe('scans are folded', () => {
  it('one host trying 40 ports of one target is one line with counts, not 40 port lines', async () => {
    const s = scratch('fa-text-scan-');
    const probes = Array.from({ length: 40 }, (_, i) => tcpConversation('10.0.0.66', 40000 + i, '10.0.0.2', 31000 + i * 7, { answer: i % 2 ? 'reset' : 'silent' }));
    const talk = tcpConversation('10.0.0.5', 50000, '10.0.0.2', 3389);
    const text = await flowaudit(['analyze', s.capture([...probes, talk]), '--catalog', 'bmc-cm']);
    const undocumented = section(text, 'UNDOCUMENTED SERVICES');
    expect(undocumented.filter((l) => l.includes('10.0.0.66'))).toEqual(['  tcp scan from 10.0.0.66: 40 attempts, 40 ports (31000-31273), 1 target; 20 refused']);
    expect(undocumented.some((l) => l.startsWith('  tcp/3389'))).toBe(true);
    expect(undocumented.some((l) => /^ {2}tcp\/31\d\d\d /.test(l))).toBe(false);
  });
});

describe.skipIf(skip)('the text report on the real Windows captures', () => {
  it('zerologon: 286 satisfied look-ups are one group of a few lines with the count', async () => {
    const text = await flowaudit(['analyze', zerologon, '--catalog', 'bmc-cm']);
    const satisfied = section(text, 'SATISFIED');
    expect(satisfied.length).toBeLessThanOrEqual(6);
    expect(satisfied[1]).toMatch(/^ {2}negotiation:dcerpc-epm {2}tcp\/49670: 286 findings, 2 hosts, 1 host pair/);
    expect(satisfied.join('\n')).toContain('172.16.0.10  172.16.5.59  tcp/49670    dcerpc-epm answer, frame 8 (+285 more)');
    expect(lines(text).length).toBeLessThan(40);
    expect(text).toContain('the capture spans 4 min 55 s');
  });

  it('zerologon: --set is shown in the header (text and JSON)', async () => {
    const text = await flowaudit(['analyze', zerologon, '--catalog', 'bmc-cm', '--set', 'tunnel-port=1612']);
    expect(lines(text)).toContain('--set: tunnel-port=1612');
    const json = JSON.parse(await flowaudit(['analyze', zerologon, '--catalog', 'bmc-cm', '--set', 'tunnel-port=1612', '--format', 'json'])) as { overrides?: Record<string, string> };
    expect(json.overrides).toEqual({ 'tunnel-port': '1612' });
    const plain = JSON.parse(await flowaudit(['analyze', zerologon, '--catalog', 'bmc-cm', '--format', 'json'])) as { overrides?: unknown };
    expect(plain.overrides).toBeUndefined();
  });

  const files = skip ? [] : listCaptures('windows');
  it.each(files.map((f) => [basename(f), f]))('%s: every line fits 72 columns; the expected flows listed match the judged flows', async (_name, file) => {
    const r = await auditOf(file, 'sccm2007');
    const narrow = auditText(r, { width: 72, limit: 20 });
    // The evidence and the tshark command are lines to copy, whole whatever the width (README).
    expect(longest(narrow.split('\n').filter((l) => !/^\s+(evidence|packets|look for): /.test(l)).join('\n'))).toBeLessThanOrEqual(72);
    const all = auditText(r, { width: 100, limit: null });
    expect(all).not.toContain('(--all or --limit)');
    // Every group of expected flows says how many flows it holds: the sum is every expected flow.
    const counts = section(all, 'EXPECTED FLOWS')
      .map((l) => /^ {2}(\d+) flows?, /.exec(l))
      .filter((m) => m !== null)
      .map((m) => Number(m![1]));
    const expected = r.flows.filter((f) => f.verdict === 'expected' && !f.waived).length;
    expect(counts.reduce((a, b) => a + b, 0)).toBe(expected);
    // Every satisfied finding is counted on its group's head line.
    const satisfied = section(all, 'SATISFIED').map((l) => /: (\d+) findings?, /.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
    expect(satisfied.reduce((a, b) => a + b, 0)).toBe(r.requirements.filter((x) => x.status === 'satisfied').length);
  });
});

describe('the text report of the bench site mix (200 000 flows)', () => {
  const s = scratch('fa-text-site-');
  const capture = join(s.dir, 'site.pcap');
  let text = '';
  beforeAll(async () => {
    // Generated in a child process: seconds of synchronous work would block this worker's event loop.
    const gen = await run(process.execPath, ['--import', 'tsx', join(root, 'bench/generate.ts'), '--out', capture, '--packets', '1000000', '--flows', '200000', '--ports', 'catalog', '--vlan', '0.1', '--ipv6', '0.1'], { encoding: 'utf8', timeout: 60_000, cwd: root });
    if (gen.status !== 0) throw new Error(`bench/generate.ts: ${gen.stderr}`);
    text = await flowaudit(['analyze', capture, '--catalog', 'bmc-cm'], 80);
  }, 120_000);

  it('fits a budget of 200 lines at the default limit, no line wider than $COLUMNS', () => {
    expect(text).toContain('Flows: 19');
    expect(lines(text).length).toBeLessThanOrEqual(200);
    expect(longest(text)).toBeLessThanOrEqual(80);
    // The vendor's words are said once per group, not once per finding.
    expect(text.split('vendor: “').length - 1).toBeLessThanOrEqual(20);
    expect(text).toMatch(/… and \d+ more host pairs \(--all or --limit\)/);
  });

  it('--all lists every host pair of the missing findings, as the requirements CSV has them', { timeout: 120_000 }, async () => {
    const out = join(s.dir, 'report.csv');
    // The generated capture lasts seconds: --min-span 0 lets its absent flows be missing, not inconclusive.
    const [all] = await Promise.all([flowaudit(['analyze', capture, '--catalog', 'bmc-cm', '--all', '--min-span', '0']), flowaudit(['analyze', capture, '--catalog', 'bmc-cm', '--format', 'csv', '--out', out, '--min-span', '0'])]);
    const csv = lines(readFileSync(out.replace(/\.csv$/, '.requirements.csv'), 'utf8')).slice(1);
    const pairs = new Set(csv.map((l) => l.split(',')).filter((c) => c[1] === 'missing').map((c) => `${c[2]}  ${c[3] || '-'}`));
    expect(pairs.size).toBeGreaterThan(1000);
    const rows = tableRows(section(all, 'MISSING AND FAILING'));
    const shown = new Set(rows.map((l) => l.trim().split(/\s{2,}/).slice(0, 2).join('  ')));
    expect(shown).toEqual(pairs);
    expect(all).not.toContain('(--all or --limit)');
  });

  it('--limit 3 lists three rows a table', async () => {
    const three = await flowaudit(['analyze', capture, '--catalog', 'bmc-cm', '--limit', '3', '--min-span', '0']);
    const missing = section(three, 'MISSING AND FAILING');
    const head = missing.findIndex((l) => /^ {6}from {2,}to /.test(l));
    expect(missing.slice(head + 1, head + 5).map((l) => l.startsWith('      …'))).toEqual([false, false, false, true]);
  });
});
