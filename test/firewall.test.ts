/**
 * `flowaudit firewall`: the allow-list of every sample site rule by rule, its diff against the
 * catalog, the CSV read back with a CSV parser, the JSON held to its schema, the nftables rule set
 * checked by `nft -c -f`, zones, a before/after baseline, and real Windows captures.
 */
import { parseString } from 'fast-csv';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateScan } from '../bench/scan.js';
import type { AllowList } from '../src/firewall/types.js';
import { capturesDir, skipWithoutCaptures, skipWithoutCommand } from './helpers/captures.js';
import { checkReport, reportProblems } from './helpers/report-schema.js';
import { run } from './helpers/run.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = (f: string) => join(root, 'samples', f);
const dir = mkdtempSync(join(tmpdir(), 'fa-firewall-'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'COLUMNS'));
const noNft = skipWithoutCommand('nft', 'firewall --format nft checked by nft -c');
const noEditcap = skipWithoutCommand('editcap', 'firewall --baseline on two captures cut by editcap');

async function firewall(args: string[]) {
  const r = await run(process.execPath, [cli, 'firewall', ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const site = (c: string) => [sample(`${c}-site.pcapng`), '--catalog', c, '--roles', sample(`${c}-roles.yaml`)];

async function list(args: string[]): Promise<AllowList> {
  const r = await firewall([...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return checkReport('firewall', JSON.parse(r.stdout)) as AllowList;
}

/** Each rule as `id ports flows basis`, the way a reviewer reads the list. */
const rows = (l: AllowList, which: 'rules' | 'background' = 'rules') => l[which].map((r) => `${r.id} ${r.ports.join(',') || r.icmpTypes.map((t) => `type ${t}`).join(',')} ${r.flows} ${r.basis}`);

async function nftCheck(text: string, name: string) {
  const file = join(dir, `${name}.nft`);
  writeFileSync(file, text);
  const r = await run('nft', ['-c', '-f', file], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stderr: r.stderr };
}

describe('the allow-list of each sample site', () => {
  it('bmc-cm: every expected flow and every required flow, per role pair, and the diff against the catalog', async () => {
    const l = await list(site('bmc-cm'));
    expect(rows(l)).toEqual([
      'client>master-server:tcp:bmc-cm:agent-to-parent 1610 2 both',
      'client>relay:tcp:bmc-cm:agent-to-parent 1610 1 observed',
      'client>relay:tcp:bmc-cm:agent-tunnel 1611 1 observed',
      'console>master-server:tcp:bmc-cm:console 1611 1 observed',
      'master-server>broadcast:udp:bmc-cm:bandwidth-wake-on-lan 9 1 observed',
      'master-server>client:tcp:bmc-cm:parent-to-agent 1610 1 both',
      'master-server>database-server:tcp:bmc-cm:database-connection 1433 1 observed',
      'relay>client:tcp:bmc-cm:parent-to-agent 1610 1 both',
    ]);
    const toParent = l.rules[0]!;
    expect(toParent.sourceHosts).toEqual(['10.20.0.21', '10.20.0.22']);
    expect(toParent.destinationHosts).toEqual(['10.10.0.10']);
    expect(toParent.cite?.text).toMatch(/1610/);
    expect(toParent.requiredBy).toEqual(['bmc-cm:client-reaches-parent']);
    expect(toParent.firstSeen! < toParent.lastSeen!).toBe(true);
    // The relay plays client for its parent (acts-as), but its own role names it in the list.
    expect(l.groups.find((g) => g.name === 'client')!.addresses).toEqual(['10.20.0.21', '10.20.0.22', '10.20.0.23', '10.20.0.24']);
    // The database port between a client and the database is documented only for the master: for review, not allowed.
    expect(l.diff.review.map((r) => `${r.verdict} ${r.source}>${r.destination} ${r.protocol}/${r.port} ${r.rule ?? '-'}`)).toEqual([
      'role-mismatch client>database-server tcp/1433 bmc-cm:database-connection',
      'undocumented client>master-server tcp/3389 -',
    ]);
    // Failing first: an attempt the network stopped is what a firewall most likely does.
    expect(l.diff.blocked.map((b) => `${b.status} ${b.rule} ${b.from}>${b.to ?? '-'} ${b.allowedBy}`)).toEqual([
      'failing bmc-cm:parent-return-path 10.20.0.23>10.10.0.11 relay>client:tcp:bmc-cm:parent-to-agent',
      'missing bmc-cm:parent-return-path 10.20.0.22>10.10.0.10 master-server>client:tcp:bmc-cm:parent-to-agent',
      'missing bmc-cm:client-reaches-parent 10.20.0.24>- client>master-server:tcp:bmc-cm:agent-to-parent',
    ]);
    const unused = new Map(l.diff.unused.map((u) => [u.rule, u]));
    expect(unused.get('bmc-cm:remote-control')?.rolesOnSite).toBe(true);
    expect(unused.get('bmc-cm:rollout-windows')?.rolesOnSite).toBe(false);
    for (const r of l.rules) expect(unused.has(r.rule)).toBe(false);
    // A role mismatch uses no rule: the database rule is used by the master's own flow, so it is not unused either.
    expect(l.capture.spanSeconds).toBeCloseTo(1800.258, 2);
    expect(l.summary).toEqual({ rules: 8, background: 0, blocked: 3, unused: l.diff.unused.length, review: 2, dynamic: 0 });
  });

  it('sccm2007: endpoint-mapper grants give the granted ports beside the dynamic rule, the missing and failing ones included', async () => {
    const l = await list(site('sccm2007'));
    expect(rows(l)).toEqual([
      'client>management-point:tcp:sccm2007:link-17-http 80 2 observed',
      'site-server>distribution-point:tcp:sccm2007:link-14-rpc-dynamic 49700 1 both',
      'site-server>distribution-point:tcp:sccm2007:link-14-rpc-epm 135 1 observed',
      'site-server>domain-controller:tcp:sccm2007:link-2-rpc-dynamic 49667,49670 1 both',
      'site-server>domain-controller:tcp:sccm2007:link-2-rpc-epm 135 2 observed',
      'site-server>sql-server:tcp:sccm2007:link-28-sql 1433 1 observed',
    ]);
    const dyn = l.rules.find((r) => r.rule === 'sccm2007:link-2-rpc-dynamic')!;
    expect(dyn.dynamic).toMatchObject({ kind: 'dcerpc', documented: null, granted: [49667, 49670], opened: 'granted' });
    expect(dyn.dynamic!.choices[1]).toMatch(/RPC-aware/);
    expect(l.rules.find((r) => r.rule === 'sccm2007:link-14-rpc-dynamic')!.unanswered).toBe(1);
    // Documented 80 and 443; the site used 80 only, and only 80 is opened.
    expect(l.rules[0]!.documentedPorts).toEqual([80]);
    expect(l.groups.find((g) => g.name === 'client')!.addresses).toEqual(['10.2.0.0/24']);
    expect(l.diff.blocked.map((b) => `${b.status} ${b.rule} ${b.allowedBy}`)).toEqual([
      'failing sccm2007:link-14-rpc-dynamic site-server>distribution-point:tcp:sccm2007:link-14-rpc-dynamic',
      'missing sccm2007:link-2-rpc-dynamic site-server>domain-controller:tcp:sccm2007:link-2-rpc-dynamic',
    ]);
    expect(l.diff.review.map((r) => `${r.verdict} ${r.source}>${r.destination} ${r.protocol}/${r.port}`)).toEqual(['undocumented client>site-server tcp/22']);
    expect(l.diff.unused.some((u) => u.rule === 'sccm2007:link-17-https' && u.rolesOnSite)).toBe(true);
  });

  it('itms8: the SQL named instance found through the Browser, and an agent that never reached its server', async () => {
    const l = await list(site('itms8'));
    expect(rows(l)).toEqual([
      'agent>notification-server:tcp:itms8:agent-initial-connection 443 1 observed',
      'agent>notification-server:tcp:itms8:agent-policy-update 80,443 0 required',
      'agent>package-server:tcp:itms8:package-download-http 80 1 observed',
      'notification-server>agent:tcp:itms8:windows-agent-tickle 52028 1 observed',
      'notification-server>sql-server:tcp:itms8:ns-sql-named-instance 49172 1 observed',
      'notification-server>sql-server:udp:itms8:ns-sql-browser 1434 1 observed',
      'task-server>notification-server:tcp:itms8:task-server-to-ns 443 1 observed',
    ]);
    expect(l.rules.find((r) => r.rule === 'itms8:ns-sql-named-instance')!.dynamic).toMatchObject({ kind: 'sql-named-instance', granted: [49172] });
    expect(l.rules[1]!.requiredBy).toEqual(['itms8:agent-reaches-notification-server']);
    expect(l.diff.review.map((r) => `${r.verdict} ${r.protocol}/${r.port}`)).toEqual(['role-mismatch tcp/1433', 'undocumented tcp/23']);
  });

  it('cam: a device answering discovery from 3080 is allowed as the device, and the silent one is required', async () => {
    const l = await list(site('cam'));
    expect(rows(l)).toEqual([
      'client>device:tcp:cam:remote-session 901 1 observed',
      'client>manager:tcp:cam:web-interface 443 1 observed',
      'device>manager:udp:cam:device-discovery 3080 1 both',
      'manager>broadcast:udp:cam:device-discovery 3080 1 observed',
      'manager>device:tcp:cam:device-communication 443 1 observed',
      'manager>device:udp:cam:device-discovery-fallback 3081 1 observed',
    ]);
    expect(l.diff.blocked.map((b) => `${b.status} ${b.from}>${b.to} ${b.allowedBy}`)).toEqual(['missing 10.8.0.10>10.8.1.22 device>manager:udp:cam:device-discovery']);
  });
});

describe('the outputs', () => {
  it('CSV: one line per rule with the columns of a change request, read back by a CSV parser', async () => {
    const l = await list(site('sccm2007'));
    const r = await firewall([...site('sccm2007'), '--format', 'csv']);
    expect(r.code).toBe(0);
    const parsed = await new Promise<Array<Record<string, string>>>((res, rej) => {
      const out: Array<Record<string, string>> = [];
      parseString(r.stdout, { headers: true }).on('data', (row: Record<string, string>) => out.push(row)).on('error', rej).on('end', () => res(out));
    });
    expect(parsed).toHaveLength(l.rules.length + l.background.length);
    expect(Object.keys(parsed[0]!)).toEqual(expect.arrayContaining(['source', 'destination', 'service', 'ports', 'justification', 'evidence']));
    const http = parsed.find((p) => p.rule === 'sccm2007:link-17-http')!;
    expect(http).toMatchObject({ section: 'allow', source: 'client', source_addresses: '10.2.0.0/24', destination: 'management-point', destination_addresses: '10.1.0.11', protocol: 'tcp', ports: '80', flows: '2', basis: 'observed' });
    expect(http.justification).toContain('Hypertext Transfer Protocol (HTTP) -- 80');
    expect(http.evidence).toBe('2 flows from 10.2.0.31 10.2.0.32 to 10.1.0.11');
    const dyn = parsed.find((p) => p.rule === 'sccm2007:link-2-rpc-dynamic')!;
    expect(dyn.ports).toBe('49667 49670');
    expect(dyn.dynamic).toMatch(/^dcerpc: granted 49667 49670; choose \(1\)/);
    expect(dyn.evidence).toContain('required by sccm2007:link-2-rpc-dynamic');
  });

  it.skipIf(noNft)('nftables: every sample rule set passes nft -c, with one chain per pair and the default drop counted', async () => {
    for (const c of ['bmc-cm', 'sccm2007', 'itms8', 'cam']) {
      const r = await firewall([...site(c), '--format', 'nft']);
      expect(r.code).toBe(0);
      expect(await nftCheck(r.stdout, c)).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain('table inet flowaudit {');
      expect(r.stdout).toContain('type filter hook forward priority filter; policy drop;');
      expect(r.stdout).toContain('counter name default_drop drop');
    }
    const text = (await firewall([...site('sccm2007'), '--format', 'nft'])).stdout;
    expect(text).toContain('set g_client_v4 {');
    expect(text).toContain('elements = { 10.2.0.0/24 }');
    expect(text).toContain('ip saddr @g_client_v4 ip daddr @g_management_point_v4 jump g_client_to_management_point');
    expect(text).toMatch(/chain g_site_server_to_domain_controller \{[^}]*tcp dport \{ 49667, 49670 \} counter accept comment "sccm2007:link-2-rpc-dynamic RPC"/);
    // The granted ports are opened, never the whole range silently; the choices are written beside them.
    expect(text).toContain('# They change when the service restarts: choose one of');
    expect(text).not.toMatch(/^\s*tcp dport 49152-65535/m);
  });

  it('JSON: the schema rejects an altered list, naming the place', async () => {
    const l = await list(site('sccm2007'));
    const bad = JSON.parse(JSON.stringify(l)) as { rules: Array<Record<string, unknown>>; diff: { blocked: Array<Record<string, unknown>> } };
    bad.rules[0]!.ports = ['80,443'];
    bad.rules[1]!.basis = 'guessed';
    bad.diff.blocked[0]!.status = 'satisfied';
    bad.rules[2]!.extra = 1;
    const problems = reportProblems('firewall', bad).join('\n');
    expect(problems).toMatch(/\/rules\/0\/ports\/0/);
    expect(problems).toMatch(/\/rules\/1\/basis/);
    expect(problems).toMatch(/\/diff\/blocked\/0\/status/);
    expect(problems).toMatch(/\/rules\/2.*extra/);
  });

  it('text: the sections in order, failing before missing', async () => {
    const r = await firewall(site('bmc-cm'));
    expect(r.code).toBe(0);
    const heads = r.stdout.split('\n').filter((l) => /^[A-Z]{4,}/.test(l)).map((l) => l.split(' (')[0]);
    expect(heads).toEqual(['ALLOW', 'BACKGROUND', 'REQUIRED FLOWS MISSING OR FAILING', 'REVIEW', 'DOCUMENTED, NEVER USED in 30 min 00 s', 'GROUPS']);
    expect(r.stdout.indexOf('  FAILING  bmc-cm:parent-return-path')).toBeLessThan(r.stdout.indexOf('  MISSING  bmc-cm:parent-return-path'));
  });
});

describe('at site scale', () => {
  it.skipIf(noNft)('a role of 60 000 hosts listed one by one: one set of them all, in seconds, and nft accepts it', async () => {
    const roles = join(dir, 'big-roles.yaml');
    const hosts = Array.from({ length: 60_000 }, (_, i) => `10.${2 + Math.floor(i / 65025)}.${Math.floor(i / 255) % 255}.${(i % 255) + 1}`);
    writeFileSync(roles, `roles:\n  site-server: [10.1.0.10]\n  domain-controller: [10.1.0.2, 10.1.0.3]\n  management-point: [10.1.0.11]\n  distribution-point: [10.1.0.12]\n  sql-server: [10.1.0.20]\n  client:\n${hosts.map((h) => `    - ${h}\n`).join('')}`);
    const started = Date.now();
    const l = await list([sample('sccm2007-site.pcapng'), '--catalog', 'sccm2007', '--roles', roles]);
    expect(l.groups.find((g) => g.name === 'client')!.addresses).toHaveLength(60_000);
    const nft = await firewall([sample('sccm2007-site.pcapng'), '--catalog', 'sccm2007', '--roles', roles, '--format', 'nft']);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await nftCheck(nft.stdout, 'big-roles')).toEqual({ code: 0, stderr: '' });
  }, 60_000);
});

describe('at site scale, scanned', () => {
  it('a SYN scan of 100 000 flows (targets inferred as devices): the list in seconds, the scan left for review', async () => {
    const scan = join(dir, 'scan.pcap');
    generateScan({ out: scan, flows: 100_000 });
    const started = Date.now();
    const l = await list([scan, '--catalog', 'bmc-cm']);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(l.diff.review.reduce((n, r) => n + r.flows, 0) + [...l.rules, ...l.background].reduce((n, r) => n + r.flows, 0)).toBe(100_000);
    // Folded past --max-flows, the records stand for the same flows.
    const folded = await list([scan, '--catalog', 'bmc-cm', '--max-flows', '5000']);
    expect(folded.diff.review.reduce((n, r) => n + r.flows, 0) + [...folded.rules, ...folded.background].reduce((n, r) => n + r.flows, 0)).toBe(100_000);
  }, 60_000);
});

describe('zones', () => {
  it.skipIf(noNft)('rules per zone pair: roles and blocks map hosts to zones, and the rule set loads', async () => {
    const zones = join(dir, 'zones.yaml');
    writeFileSync(zones, 'zones:\n  servers: [master-server, relay, database-server]\n  clients: [10.20.0.0/24]\n  admin: [console]\n');
    const l = await list([...site('bmc-cm'), '--zones', zones]);
    expect(l.zones).toBe(zones);
    expect([...new Set(l.rules.map((r) => `${r.source}>${r.destination}`))]).toEqual(['admin>servers', 'clients>servers', 'servers>clients', 'servers>servers']);
    expect(l.groups.find((g) => g.name === 'clients')).toEqual({ name: 'clients', kind: 'zone', addresses: ['10.20.0.0/24'] });
    expect(l.groups.find((g) => g.name === 'servers')!.addresses).toEqual(['10.10.0.10', '10.10.0.11', '10.10.0.20']);
    const nft = await firewall([...site('bmc-cm'), '--zones', zones, '--format', 'nft']);
    expect(await nftCheck(nft.stdout, 'zones')).toEqual({ code: 0, stderr: '' });
    expect(nft.stdout).toContain('chain g_clients_to_servers {');
  });

  it.skipIf(noNft)('blocks inside other blocks of a zone are listed once, so the interval set loads', async () => {
    const zones = join(dir, 'overlapping-zones.yaml');
    writeFileSync(zones, 'zones:\n  clients: [client, 10.20.0.0/24, 10.20.0.21]\n  servers: [master-server, relay, 10.10.0.0/25, database-server]\n');
    const l = await list([...site('bmc-cm'), '--zones', zones]);
    expect(l.groups.map((g) => `${g.name} ${g.addresses.join(' ')}`)).toEqual(['clients 10.20.0.0/24', 'servers 10.10.0.0/25', 'unzoned 10.30.0.5']);
    const nft = await firewall([...site('bmc-cm'), '--zones', zones, '--format', 'nft']);
    expect(await nftCheck(nft.stdout, 'overlapping-zones')).toEqual({ code: 0, stderr: '' });
  });

  it('waivers: a waived required flow is not blocked, a waived flow for review names its reason and stays out', async () => {
    const waivers = join(dir, 'waivers.yaml');
    writeFileSync(waivers, 'waivers:\n  - port: tcp/3389\n    reason: RDP until the jump host is ready\n  - rule: bmc-cm:client-reaches-parent\n    hosts: [10.20.0.24]\n    reason: decommissioned\n');
    const l = await list([...site('bmc-cm'), '--waivers', waivers]);
    expect(l.diff.blocked.map((b) => b.rule)).toEqual(['bmc-cm:parent-return-path', 'bmc-cm:parent-return-path']);
    expect(l.diff.review.find((r) => r.port === 3389)?.waived).toBe('RDP until the jump host is ready');
    expect(l.rules.some((r) => r.ports.includes('3389'))).toBe(false);
    expect(l.rules.find((r) => r.rule === 'bmc-cm:agent-to-parent')!.requiredBy).toEqual([]);
  });

  it('a zone item that is neither a block nor a role is an error at its file:line:col', async () => {
    const zones = join(dir, 'bad-zones.yaml');
    writeFileSync(zones, 'zones:\n  servers: [master-server, mastr-server]\n');
    const r = await firewall([...site('bmc-cm'), '--zones', zones]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${zones.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:28: zones\\.servers\\.1: "mastr-server" is neither an address or CIDR block nor a role of the catalogs`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a baseline that is not an allow-list is one line, exit 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"tool":{"command":"analyze"}}');
    const r = await firewall([...site('bmc-cm'), '--baseline', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`flowaudit: ${bad}: not an allow-list of \`flowaudit firewall --format json\` (no tool.command "firewall" and rules)\n`);
  });
});

describe.skipIf(noEditcap)('two captures of the same site', () => {
  it('the first ten minutes as the baseline: the later captures add rules, and the same capture changes nothing', async () => {
    const before = join(dir, 'before.pcapng');
    const cut = await run('editcap', ['-B', '2024-11-19 07:16:40', sample('bmc-cm-site.pcapng'), before], { encoding: 'utf8', env: { ...env, TZ: 'UTC' } });
    expect(cut.status).toBe(0);
    const old = join(dir, 'before.json');
    const b = await firewall([before, '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml'), '--format', 'json', '--out', old]);
    expect(b.code).toBe(0);
    const l = await list([...site('bmc-cm'), '--baseline', old]);
    const earlier = JSON.parse(readFileSync(old, 'utf8')) as AllowList;
    expect(l.baseline!.added.length).toBeGreaterThan(0);
    expect(l.baseline!.added).toEqual(l.rules.map((r) => r.id).filter((id) => !earlier.rules.some((e) => e.id === id)));
    expect(l.baseline!.removed).toEqual([]);
    expect(l.baseline!.unchanged + l.baseline!.changed.length + l.baseline!.added.length).toBe(l.rules.length);
    const same = await list(site('bmc-cm'));
    writeFileSync(join(dir, 'same.json'), JSON.stringify(same));
    const again = await list([...site('bmc-cm'), '--baseline', join(dir, 'same.json')]);
    expect(again.baseline).toMatchObject({ added: [], removed: [], changed: [], unchanged: again.rules.length });
    const text = await firewall([...site('bmc-cm'), '--baseline', old]);
    expect(text.stdout.replace(/\n +/g, ' ')).toMatch(/AGAINST THE BASELINE .*before\.json .*: \d+ added, 0 removed/);
  });
});

describe.skipIf(skipWithoutCaptures('firewall on real Windows captures'))('real Windows captures', () => {
  const win = (f: string) => join(capturesDir() ?? '', 'windows', f);

  it('Zerologon under sccm2007: 286 endpoint-mapper grants give the one granted port of the dynamic rule', async () => {
    const l = await list([win('corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap'), '--catalog', 'sccm2007']);
    const dyn = l.rules.find((r) => r.rule === 'sccm2007:link-2-rpc-dynamic')!;
    expect(dyn).toMatchObject({ protocol: 'tcp', ports: ['49670'], flows: 286, sourceHosts: ['172.16.0.10'], destinationHosts: ['172.16.5.59'] });
    expect(dyn.dynamic).toMatchObject({ kind: 'dcerpc', granted: [49670] });
    expect(l.rules.find((r) => r.rule === 'sccm2007:link-2-rpc-epm')).toMatchObject({ ports: ['135'], flows: 286 });
    expect(l.diff.blocked).toEqual([]);
  });

  it('DCSync under bmc-cm: the background RPC rule shows the granted ports beside the documented 49152-65535, and the rule set loads', async () => {
    const file = win('security-datasets/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap');
    const l = await list([file, '--catalog', 'bmc-cm']);
    const rpc = l.background.find((r) => r.rule === 'background:rpc-dynamic')!;
    expect(rpc.ports).toEqual(['49674']);
    expect(rpc.dynamic).toMatchObject({ kind: 'dcerpc', documented: '49152-65535', granted: [49667, 49674] });
    expect(rpc.dynamic!.choices[0]).toBe('the documented range tcp/49152-65535, as the vendor writes it');
    expect(l.background.map((r) => r.rule).sort()).toEqual(['background:cldap', 'background:dns', 'background:kerberos', 'background:rpc-dynamic']);
    if (!noNft) {
      const nft = await firewall([file, '--catalog', 'bmc-cm', '--format', 'nft']);
      expect(await nftCheck(nft.stdout, 'dcsync')).toEqual({ code: 0, stderr: '' });
      expect(nft.stdout).toContain('#   tcp dport 49152-65535 counter accept comment "background:rpc-dynamic documented range"');
      expect(nft.stdout).toMatch(/^\t\ttcp dport 49674 counter accept comment "background:rpc-dynamic/m);
    }
    // Asked for, the documented range is what opens, with the granted ports still named.
    const ranged = await list([file, '--catalog', 'bmc-cm', '--dynamic', 'range']);
    expect(ranged.background.find((r) => r.rule === 'background:rpc-dynamic')).toMatchObject({ ports: ['49152-65535'], dynamic: { granted: [49667, 49674], opened: 'range' } });
    if (!noNft) {
      const nft = await firewall([file, '--catalog', 'bmc-cm', '--dynamic', 'range', '--format', 'nft']);
      expect(await nftCheck(nft.stdout, 'dcsync-range')).toEqual({ code: 0, stderr: '' });
      expect(nft.stdout).toMatch(/^\t\ttcp dport 49152-65535 counter accept comment "background:rpc-dynamic/m);
    }
  });

  it('--dynamic range where the document gives no range still opens the granted ports', async () => {
    const l = await list([...site('sccm2007'), '--dynamic', 'range']);
    expect(l.rules.find((r) => r.rule === 'sccm2007:link-2-rpc-dynamic')).toMatchObject({ ports: ['49667', '49670'], dynamic: { documented: null, opened: 'granted' } });
  });
});
