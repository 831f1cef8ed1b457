import { spawnSync } from 'node:child_process';
import { run } from './helpers/run.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { frame, tcpConversation } from '../src/synth/frames.js';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = (f: string) => join(root, 'samples', f);
const dir = mkdtempSync(join(tmpdir(), 'fa-analyze-'));

// The text report follows $COLUMNS off a terminal: the tests read it at the default width.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'COLUMNS'));

async function analyze(args: string[]) {
  const r = await run(process.execPath, [cli, 'analyze', ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Report {
  flows: Array<{ client: string; server: string; serverPort: number | null; verdict: string; rule: string | null; cite: { text: string } | null; clientRoles: string[]; serverRoles: string[]; grant?: { reason: string; port: number } }>;
  requirements: Array<{ rule: string; status: string; from: string; to: string | null; ports: Array<number | string>; detail: string; cite: { text: string } | null }>;
  summary: Record<string, number>;
  roles: { given: Record<string, string[]> };
  catalogs: Array<{ id: string }>;
  tool: { name: string };
  capture: { packets: number; quality: { durationSeconds: number } };
}

async function report(args: string[]): Promise<Report> {
  const r = await analyze([...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return checkReport('analyze', JSON.parse(r.stdout)) as Report;
}

describe('the bmc-cm sample: every verdict and requirement status', () => {
  let r!: Report;
  beforeAll(async () => {
    r = await report([sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml')]);
  });
  const flow = (client: string, port: number) => r.flows.find((f) => f.client === client && f.serverPort === port)!;
  const req = (id: string, from: string) => r.requirements.find((q) => q.rule === `bmc-cm:${id}` && q.from === from)!;

  it('judges each flow', async () => {
    expect(flow('10.20.0.21', 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent', clientRoles: ['client'], serverRoles: ['master-server'] });
    expect(flow('10.10.0.10', 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:parent-to-agent' });
    expect(flow('10.30.0.5', 1611)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:console' });
    expect(flow('10.10.0.10', 1433)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:database-connection' });
    expect(flow('10.20.0.22', 1433)).toMatchObject({ verdict: 'role-mismatch', rule: 'bmc-cm:database-connection' });
    expect(flow('10.20.0.21', 3389)).toMatchObject({ verdict: 'undocumented', rule: null });
    expect(flow('10.10.0.10', 9)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:bandwidth-wake-on-lan', serverRoles: ['broadcast'] });
    expect(r.summary).toMatchObject({ flows: 11, expected: 9, roleMismatch: 1, undocumented: 1 });
  });

  it('reports the mission example: no connection back and no tunnel is missing, naming the tunnel', async () => {
    const x = req('parent-return-path', '10.20.0.22');
    expect(x).toMatchObject({ status: 'missing', to: '10.10.0.10', ports: [1610, 1611] });
    expect(x.detail).toContain('tcp/1611 from 10.20.0.22 to 10.10.0.10 (agent-tunnel');
    expect(x.cite!.text).toContain('a tunnel on the port 1611 is used');
  });

  it('satisfied, failing and missing for the other hosts', async () => {
    expect(req('parent-return-path', '10.20.0.21').status).toBe('satisfied');
    expect(req('parent-return-path', '10.20.0.23')).toMatchObject({ status: 'failing', to: '10.10.0.11' });
    expect(req('client-reaches-parent', '10.20.0.24')).toMatchObject({ status: 'missing', to: null });
    expect(r.summary).toMatchObject({ requirements: 7, satisfied: 4, missing: 2, failing: 1, inconclusive: 0 });
  });

  it('keeps the JSON contract', async () => {
    expect(r.tool.name).toBe('flowaudit');
    expect(r.catalogs.map((c) => c.id)).toEqual(['bmc-cm']);
    expect(r.roles.given.client).toEqual(['10.20.0.21', '10.20.0.22', '10.20.0.23', '10.20.0.24']);
    expect(r.capture.packets).toBe(87);
  });
});

describe('the sccm2007 sample: endpoint-mapper grants used, never tried, and tried in vain', () => {
  let r!: Report;
  beforeAll(async () => {
    r = await report([sample('sccm2007-site.pcapng'), '--catalog', 'sccm2007', '--roles', sample('sccm2007-roles.yaml')]);
  });
  const req = (id: string, to: string) => r.requirements.find((q) => q.rule === `sccm2007:${id}` && q.to === to)!;
  it('an endpoint-mapper call whose granted port is connected is satisfied, and that connection is expected by its grant', async () => {
    expect(req('link-2-rpc-dynamic', '10.1.0.2')).toMatchObject({ status: 'satisfied', ports: [49667], followUp: { reason: 'dcerpc-epm', by: 'new-connection' } });
    const dyn = r.flows.find((f) => f.serverPort === 49667)!;
    expect(dyn).toMatchObject({ verdict: 'expected', grant: { reason: 'dcerpc-epm', port: 49667 } });
    expect(dyn.rule).toMatch(/rpc-dynamic/);
  });
  it('one whose granted port is never connected is missing; one attempted but never answered is failing', async () => {
    expect(req('link-2-rpc-dynamic', '10.1.0.3')).toMatchObject({ status: 'missing', ports: [49670] });
    expect(req('link-14-rpc-dynamic', '10.1.0.12')).toMatchObject({ status: 'failing', ports: [49700] });
  });
  it('clients polling their management point satisfy the periodic requirements; SSH is undocumented', async () => {
    expect(r.requirements.filter((q) => q.rule === 'sccm2007:client-policy-poll').map((q) => q.status)).toEqual(['satisfied', 'satisfied']);
    expect(r.flows.find((f) => f.serverPort === 22)).toMatchObject({ verdict: 'undocumented' });
  });
});

describe('the itms8 sample', () => {
  let r!: Report;
  beforeAll(async () => {
    r = await report([sample('itms8-site.pcapng'), '--catalog', 'itms8', '--roles', sample('itms8-roles.yaml')]);
  });
  const flow = (client: string, port: number) => r.flows.find((f) => f.client === client && f.serverPort === port)!;
  it('judges each flow, the SQL named instance by the browser answer that granted it', async () => {
    expect(flow('10.6.0.21', 443)).toMatchObject({ verdict: 'expected', serverRoles: ['notification-server'] });
    expect(flow('10.6.0.22', 80)).toMatchObject({ verdict: 'expected', rule: 'itms8:package-download-http' });
    expect(flow('10.5.0.10', 52028)).toMatchObject({ verdict: 'expected', rule: 'itms8:windows-agent-tickle' });
    expect(flow('10.5.0.10', 49172)).toMatchObject({ verdict: 'expected', rule: 'itms8:ns-sql-named-instance', grant: { reason: 'ssrp', port: 49172 } });
    expect(flow('10.6.0.22', 1433)).toMatchObject({ verdict: 'role-mismatch' });
    expect(flow('10.6.0.21', 23)).toMatchObject({ verdict: 'undocumented' });
  });
  it('an agent that never reaches its notification server is missing', async () => {
    const status = (from: string) => r.requirements.find((q) => q.rule === 'itms8:agent-reaches-notification-server' && q.from === from)!.status;
    expect([status('10.6.0.21'), status('10.6.0.22')]).toEqual(['satisfied', 'missing']);
    expect(r.requirements.find((q) => q.rule === 'itms8:sql-browser-answer-used')!.status).toBe('satisfied');
    expect(r.summary).toMatchObject({ flows: 8, expected: 6, roleMismatch: 1, undocumented: 1, satisfied: 3, missing: 1 });
  });
});

describe('the cam sample', () => {
  let r!: Report;
  beforeAll(async () => {
    r = await report([sample('cam-site.pcapng'), '--catalog', 'cam', '--roles', sample('cam-roles.yaml')]);
  });
  it('discovery, status, web login and a remote session are expected; a user on SSH is not', async () => {
    expect(r.flows.filter((f) => f.verdict === 'expected').map((f) => f.rule).sort()).toEqual(['cam:device-communication', 'cam:device-discovery', 'cam:device-discovery-fallback', 'cam:remote-session', 'cam:web-interface', 'cam:device-discovery'].sort());
    expect(r.flows.find((f) => f.serverPort === 22)).toMatchObject({ verdict: 'role-mismatch', rule: 'cam:ssh-troubleshooting' });
  });
  it('a device asked on 3081 that never answers on 3080 is missing', async () => {
    expect(r.requirements).toMatchObject([{ rule: 'cam:discovery-answered-on-3080', status: 'missing', from: '10.8.0.10', to: '10.8.1.22' }]);
  });
});

describe('analyze on the command line', () => {
  it('--fail-on sets exit 1 for CI gates; waivers keep findings visible without failing', async () => {
    const args = [sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml')];
    expect((await analyze([...args, '--fail-on', 'missing'])).code).toBe(1);
    expect((await analyze([...args, '--fail-on', 'undocumented'])).code).toBe(1);
    const waivers = join(dir, 'waivers.yaml');
    writeFileSync(waivers, 'waivers:\n  - port: tcp/3389\n    hosts: [10.10.0.10]\n    reason: admin RDP, change 1234\n    expires: 2099-01-01\n');
    const waived = await analyze([...args, '--waivers', waivers, '--fail-on', 'undocumented', '--format', 'json']);
    expect(waived.code).toBe(0);
    expect(checkReport('analyze', JSON.parse(waived.stdout)).flows.find((f: { serverPort: number }) => f.serverPort === 3389).waived.reason).toBe('admin RDP, change 1234');
    // The text lists what was waived, and why.
    const text = (await analyze([...args, '--waivers', waivers])).stdout;
    expect(text).toContain('WAIVED (1 finding)\n  undocumented tcp/3389: 1 (10.20.0.21 → 10.10.0.10)\n      waived: admin RDP, change 1234 (until 2099-01-01)\n');
    expect(text).not.toMatch(/UNDOCUMENTED SERVICES[^]*tcp\/3389/);
  });

  it('the text report puts missing and failing required flows first, with the vendor words', async () => {
    const r = await analyze([sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml')]);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text.indexOf('Capture quality')).toBeLessThan(text.indexOf('MISSING AND FAILING'));
    expect(text.indexOf('MISSING AND FAILING')).toBeLessThan(text.indexOf('UNDOCUMENTED SERVICES'));
    expect(text).toContain('  FAILING  bmc-cm:parent-return-path  tcp/1610,1611: 1 finding, 2 hosts\n');
    expect(text).toMatch(/\n {6}10\.20\.0\.23 {2}10\.10\.0\.11 {2}tcp\/1610,1611 {2}tcp 10\.10\.0\.11:\d+ → 10\.20\.0\.23:1610 \(attempted\)\n/);
    expect(text).toContain('likely cause: the SYN was never answered');
  });

  it('a tunnel the parent refuses is failing with "refused" as the likely cause, one group of 2000 agents (each listed with --all)', async () => {
    // Every agent reaches its parent on 1610; the parent never connects back and resets the 1611 tunnel.
    const packets = [];
    let t = 0;
    for (let i = 0; i < 2000; i++) {
      const agent = `10.20.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
      for (const [port, answer] of [[1610, 'accept'], [1611, 'reset']] as const) {
        for (const spec of tcpConversation(agent, 50000 + (i % 10000), '10.10.0.10', port, { answer })) {
          packets.push({ data: frame(spec), tsSec: 1_700_000_000 + Math.floor(t / 1000), tsNs: (t++ % 1000) * 1_000_000 });
        }
      }
    }
    const file = join(dir, 'refused-tunnels.pcap');
    writeFileSync(file, writePcap(packets, { linkType: 1 }));
    const roles = join(dir, 'refused-roles.yaml');
    writeFileSync(roles, 'roles:\n  master-server: [10.10.0.10]\n  client: [10.20.0.0/16]\n');
    const out = join(dir, 'refused.txt');
    expect((await analyze([file, '--catalog', 'bmc-cm', '--roles', roles, '--out', out, '--all'])).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.match(/FAILING\s+bmc-cm:parent-return-path/g)).toEqual(['FAILING  bmc-cm:parent-return-path']);
    expect(text).toContain('  FAILING  bmc-cm:parent-return-path  tcp/1610,1611: 2000 findings, 2001 hosts\n');
    expect(text.match(/likely cause: the connection was refused \(reset\)/g)?.length).toBe(1);
    expect(text.match(/\n {6}10\.20\.\d+\.\d+ +10\.10\.0\.10 +tcp\/1610,1611 +tcp 10\.20\.\d+\.\d+:\d+ → 10\.10\.0\.10:1611 \(rejected\)/g)?.length).toBe(2000);
  });

  it('writes flows and requirements as CSV files', async () => {
    const out = join(dir, 'audit.csv');
    expect((await analyze([sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml'), '--format', 'csv', '--out', out])).code).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe('verdict,rule,proto,client,clientPort,server,serverPort,clientRoles,serverRoles,clientRolesFrom,serverRolesFrom,packets,bytes,outcome,icmpErrors,start,end,grant,waived,detail,cite');
    const reqs = readFileSync(join(dir, 'audit.requirements.csv'), 'utf8').trim().split('\n');
    expect(reqs).toHaveLength(8);
    expect(reqs[0]).toBe('rule,status,from,to,proto,ports,rolesFrom,detail,waived,cite,negotiation');
    expect(reqs.slice(1).every((l) => l.includes(',given,'))).toBe(true);
  });

  it('--site puts public prefixes inside the site; --no-infer learns no roles; both on live too', async () => {
    const packets = [
      { proto: 'udp', src: '130.1.1.1', dst: '8.8.8.8', srcPort: 50000, dstPort: 53, payload: 30 },
      { proto: 'udp', src: '8.8.8.8', dst: '130.1.1.1', srcPort: 53, dstPort: 50000, payload: 60 },
      ...tcpConversation('10.0.0.5', 50001, '10.0.0.6', 1433),
    ] as const;
    const file = join(dir, 'public-site.pcap');
    writeFileSync(file, writePcap(packets.map((spec, i) => ({ data: frame(spec), tsSec: 1_700_000_000, tsNs: i * 1_000_000 })), { linkType: 1 }));
    const dns = (r: Report) => r.flows.find((f) => f.serverPort === 53)!;
    const plain = await report([file, '--catalog', 'bmc-cm']);
    expect(dns(plain)).toMatchObject({ verdict: 'background', rule: 'background:dns', clientRoles: ['bmc-cloud', 'apple-push', 'google-android-management', 'google-oauth'] });
    const site = await report([file, '--catalog', 'bmc-cm', '--site', '130.1.0.0/16,2001:db8::/32', '--site', '192.0.2.0/24']);
    expect(dns(site)).toMatchObject({ verdict: 'background', clientRoles: [] });
    expect((site.roles as unknown as { site: string[] }).site).toEqual(['130.1.0.0/16', '2001:db8::/32', '192.0.2.0/24']);
    expect(Object.keys((plain.roles as unknown as { inferred: object }).inferred)).not.toHaveLength(0);
    const noInfer = await report([file, '--catalog', 'bmc-cm', '--no-infer']);
    expect(noInfer.roles).toMatchObject({ inferred: {}, inference: false });
    expect(noInfer.flows.find((f) => f.serverPort === 1433)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:database-connection' });
    const bad = await analyze([file, '--catalog', 'bmc-cm', '--site', '130.1.0.0/33']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--site 130\.1\.0\.0\/33: expected IPv4\/IPv6 prefixes/);
    const live = spawnSync(process.execPath, [cli, 'live', '--help'], { encoding: 'utf8' }).stdout;
    expect(live).toContain('--site <prefixes>');
    expect(live).toContain('--no-infer');
  });

  it('a bad role map, catalog or --set is a one-line (per problem) error with exit 2', async () => {
    const roles = join(dir, 'roles.yaml');
    writeFileSync(roles, 'roles:\n  master: [10.0.0.1]\n');
    const r = await analyze([sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', roles]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/roles\.yaml:2:3: unknown role "master"/);
    expect((await analyze([sample('bmc-cm-site.pcapng'), '--catalog', 'nope'])).stderr).toMatch(/unknown catalog "nope"/);
    const set = await analyze([sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--set', 'agent-prot=443']);
    expect(set.code).toBe(2);
    expect(set.stderr).toMatch(/--set agent-prot: no such parameter/);
  });
});

describe('samples', () => {
  it('npm run samples rebuilds them byte for byte', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fa-samples-'));
    const r = await run(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'samples/generate.ts'), out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['mirror-port.pcapng', 'bmc-cm-site.pcapng', 'bmc-cm-roles.yaml', 'sccm2007-site.pcapng', 'sccm2007-roles.yaml', 'itms8-site.pcapng', 'itms8-roles.yaml', 'cam-site.pcapng', 'cam-roles.yaml']) {
      expect(readFileSync(join(out, f)).equals(readFileSync(sample(f))), f).toBe(true);
    }
  });
});
