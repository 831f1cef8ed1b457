/**
 * The published report contract (schema/): the schemas are sound, the reports the golden run does not
 * reach fit them (waivers, records folded past --max-flows, --no-infer and --site, the catalog
 * commands, a site catalog), and a report that breaks the contract is rejected with a readable list.
 * Every JSON report of the golden run (test/support/golden-run.ts) is held to them as well.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateScan } from '../bench/scan.js';
import { checkReport, REPORT_SCHEMAS, reportProblems, schemaDir, type ReportKind } from './helpers/report-schema.js';
import { scratch } from './helpers/scratch.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = (f: string) => join(root, 'samples', f);
const { dir, write } = scratch('fa-schema-');

function json(args: string[]): any {
  const r = spawnSync(process.execPath, [cli, ...args, '--format', 'json'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 << 20 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

const bmc = [sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml')];

describe('the schemas', () => {
  it('compile in strict mode, one for each report kind, and ship with the package', () => {
    for (const kind of Object.keys(REPORT_SCHEMAS) as ReportKind[]) expect(reportProblems(kind, null).length, kind).toBeGreaterThan(0);
    const files = readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json'));
    expect(files.sort()).toEqual([...Object.values(REPORT_SCHEMAS), 'definitions.schema.json'].sort());
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('schema');
  });
});

describe('reports the golden run does not reach fit their schema', () => {
  it('the bundled samples, flows and analyze (also without the shared corpus)', () => {
    for (const s of ['bmc-cm', 'cam', 'itms8', 'sccm2007']) {
      checkReport('flows', json(['flows', sample(`${s}-site.pcapng`)]), `flows of ${s}`);
      checkReport('analyze', json(['analyze', sample(`${s}-site.pcapng`), '--catalog', s, '--roles', sample(`${s}-roles.yaml`)]), `analyze of ${s}`);
    }
  });

  it('waivers: a waived flow and requirement, expired waivers by rule and by port', () => {
    const waivers = write(
      'waivers.yaml',
      'waivers:\n  - port: tcp/3389\n    hosts: [10.10.0.10]\n    reason: admin RDP\n    expires: 2099-01-01\n  - rule: bmc-cm:parent-return-path\n    reason: tunnel planned\n' +
        '  - port: tcp/9999\n    reason: old\n    expires: 2001-01-01\n  - rule: bmc-cm:console\n    reason: older\n    expires: 2002-01-01\n',
    );
    const r = checkReport('analyze', json(['analyze', ...bmc, '--waivers', waivers]));
    expect(r.waivers.expired).toHaveLength(2);
    expect(r.flows.some((f: { waived?: object }) => f.waived)).toBe(true);
    expect(r.requirements.some((q: { waived?: object }) => q.waived)).toBe(true);
  });

  it('a scan past --max-flows: capture.flowTable, folded and scan records, in flows and analyze', () => {
    const scan = join(dir, 'scan.pcap');
    generateScan({ out: scan, flows: 6000 });
    const flows = checkReport('flows', json(['flows', scan, '--max-flows', '1000']));
    expect(flows.capture.flowTable.scanRecords).toBeGreaterThan(0);
    expect(flows.flows.some((f: { targets?: number }) => f.targets !== undefined)).toBe(true);
    checkReport('analyze', json(['analyze', scan, '--catalog', 'bmc-cm', '--max-flows', '1000']));
  });

  it('--no-infer and --site', () => {
    const r = checkReport('analyze', json(['analyze', sample('sccm2007-site.pcapng'), '--catalog', 'sccm2007', '--no-infer', '--site', '192.0.2.0/24']));
    expect(r.roles).toMatchObject({ inference: false, site: ['192.0.2.0/24'] });
  });

  it('catalog list, catalog show of every bundled catalog, with --set, and of a site catalog', () => {
    const list = checkReport('catalog-list', json(['catalog', 'list'])) as Array<{ id: string }>;
    for (const { id } of list) checkReport('catalog-show', json(['catalog', 'show', id]), `catalog show ${id}`);
    checkReport('catalog-show', json(['catalog', 'show', 'sccm2007', '--set', 'wsus-http-port=8530']));
    const site = write('site.yaml', 'id: site-tunnel\nextends: bmc-cm\nparams:\n  tunnel-port: 443\n');
    expect(checkReport('catalog-show', json(['catalog', 'show', site]))).toMatchObject({ id: 'site-tunnel', extends: 'bmc-cm' });
  });
});

describe('a report that breaks the contract is rejected, saying where and why', () => {
  const analyzed = JSON.stringify(json(['analyze', ...bmc]));
  const flowed = JSON.stringify(json(['flows', sample('bmc-cm-site.pcapng')]));
  const mutated = (text: string, change: (r: any) => void) => {
    const r = JSON.parse(text);
    change(r);
    return r;
  };

  it.each([
    ['an unknown verdict', (r: any) => (r.flows[0].verdict = 'fine'), '/flows/0/verdict must be one of "expected", "role-mismatch", "undocumented", "background", found "fine"'],
    ['a flow without its rule', (r: any) => delete r.flows[0].rule, "/flows/0 must have required property 'rule'"],
    ['a flow with a property the contract does not name', (r: any) => (r.flows[0].score = 1), '/flows/0 has the unexpected property "score"'],
    ['an undocumented flow that names a rule', (r: any) => (r.flows.find((f: any) => f.verdict === 'undocumented').rule = 'bmc-cm:console'), 'rule must be null, found "bmc-cm:console"'],
    ['an unknown requirement status', (r: any) => (r.requirements[0].status = 'ok'), '/requirements/0/status must be one of "satisfied", "missing", "failing", "inconclusive", found "ok"'],
    ['a count as text', (r: any) => (r.summary.missing = '2'), '/summary/missing must be integer, found "2"'],
    ['a summary count left out', (r: any) => delete r.summary.failing, "/summary must have required property 'failing'"],
    ['a live section in an analyze report', (r: any) => (r.live = null), '/live must not be there'],
  ])('analyze: %s', (_what, change, message) => {
    const problems = reportProblems('analyze', mutated(analyzed, change));
    expect(problems.join('\n')).toContain(message);
    expect(() => checkReport('analyze', mutated(analyzed, change))).toThrow(/does not fit schema\/analyze-report\.schema\.json/);
  });

  it.each([
    ['a judged field in the flow table', (r: any) => (r.flows[0].verdict = 'expected'), '/flows/0 has the unexpected property "verdict"'],
    ['a TCP flow without its flags', (r: any) => delete r.flows[0].clientFlags, "/flows/0 must have required property 'clientFlags'"],
    ['a time that is not ISO 8601', (r: any) => (r.flows[0].start = '2024-11-19 07:06:40'), '/flows/0/start must match pattern'],
    ['the audit\'s capture quality', (r: any) => (r.capture.quality = {}), '/capture has the unexpected property "quality"'],
    ['a port out of range', (r: any) => (r.flows[0].serverPort = 70000), '/flows/0/serverPort must be <= 65535'],
  ])('flows: %s', (_what, change, message) => {
    expect(reportProblems('flows', mutated(flowed, change)).join('\n')).toContain(message);
  });

  it('an analyze report is not a live report', () => {
    expect(reportProblems('live', JSON.parse(analyzed))).toEqual(["(the report) must have required property 'live' (schema #/required)"]);
  });
});
