import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AddressSpace, parseBlock } from '../src/audit/addresses.js';
import { audit, AuditReport, loadRoleMap, RoleMapError } from '../src/audit/index.js';
import { bundledCatalogIds, loadCatalog } from '../src/catalog/index.js';
import type { Catalog } from '../src/catalog/types.js';
import { analyzeCaptures } from '../src/cli/analyze.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { auditHtml } from '../src/report/html.js';
import { auditJson, auditText, writeAuditFlowsCsv, writeAuditRequirementsCsv } from '../src/report/audit.js';
import { PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { listCaptures, skipWithoutCaptures } from './helpers/captures.js';
import { scratch } from './helpers/scratch.js';
import { checkAuditReport } from './helpers/report-schema.js';

const { write, capture: layOut } = scratch('fa-roles-');

const udp = (src: string, srcPort: number, dst: string, dstPort: number): PacketSpec => ({ proto: 'udp', src, dst, srcPort, dstPort, payload: 40 });

/** Conversations 10 ms apart from T0; `span` seconds later one last packet between two quiet hosts. */
function capture(conversations: PacketSpec[][], span = 0): string {
  return layOut(conversations, { span });
}

async function run(file: string, catalogs: Catalog[], opts: { roles?: string; site?: string[]; infer?: boolean } = {}): Promise<AuditReport> {
  return checkAuditReport(audit(await buildFlows([file]), {
    catalogs,
    roleMap: opts.roles ? loadRoleMap(opts.roles, catalogs) : null,
    grants: [],
    version: 'test',
    // These captures last a moment: --min-span is off so that absence is a finding (min-span.test.ts weighs it).
    minSpan: 0,
    site: (opts.site ?? []).map((p) => parseBlock(p)!),
    ...(opts.infer === false ? { infer: false } : {}),
  }));
}

const bmc = loadCatalog('bmc-cm');
const sccm = loadCatalog('sccm2007');
const fixture = loadCatalog(join(__dirname, 'fixtures/audit-catalog.yaml'));
const EXTERNAL_ROLES = ['bmc-cloud', 'apple-push', 'google-android-management', 'google-oauth'];

const flowOf = (r: AuditReport, client: string, port: number) => r.flows.find((f) => f.client === client && f.serverPort === port)!;
const inferredHosts = (r: AuditReport) => Object.values(r.roles.inferred).flat();
const findingHosts = (r: AuditReport) => r.requirements.flatMap((q) => [q.from, q.to]).filter((h): h is string => h !== null);

describe('the site address space', () => {
  // A DNS query from a site that numbers its hosts from a public block, and an agent reaching its parent.
  const dns = [udp('130.1.1.1', 50000, '8.8.8.8', 53), udp('8.8.8.8', 53, '130.1.1.1', 50000)];
  const publicSite = () => capture([dns, tcpConversation('130.1.2.2', 50001, '130.1.1.1', 1610)]);

  it('without a role map or --site, hosts outside RFC 1918 are external — and a DNS query is not Wake-on-LAN to a broadcast', async () => {
    const r = await run(publicSite(), [bmc]);
    const q = flowOf(r, '130.1.1.1', 53);
    expect(q.clientRoles).toEqual(EXTERNAL_ROLES);
    expect(q.serverRoles).toEqual(EXTERNAL_ROLES);
    // bandwidth-wake-on-lan documents any UDP port to a broadcast address: 8.8.8.8 is none.
    expect(q).toMatchObject({ verdict: 'undocumented', rule: null });
    expect(q.matches).toEqual([]);
  });

  it('with --site or a role map\'s site:, the public block is inside: no external roles, and udp/53 is still not expected', async () => {
    const file = publicSite();
    const bySite = await run(file, [bmc], { site: ['130.1.0.0/16'] });
    const roles = write('public-roles.yaml', 'site: [130.1.0.0/16, "2001:db8::/32"]\nroles:\n  client: [130.1.2.2]\n');
    const byMap = await run(file, [bmc], { roles });
    for (const r of [bySite, byMap]) {
      const q = flowOf(r, '130.1.1.1', 53);
      expect(q.clientRoles).not.toContain('bmc-cloud');
      expect(q.serverRoles).toEqual(EXTERNAL_ROLES);
      expect(q.verdict).toBe('undocumented');
      expect(flowOf(r, '130.1.2.2', 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent' });
      expect(flowOf(r, '130.1.2.2', 1610).serverRoles).toEqual([]);
    }
    expect(bySite.roles.site).toEqual(['130.1.0.0/16']);
    expect(byMap.roles.site).toEqual(['130.1.0.0/16', '2001:db8::/32']);
  });

  it('classifies addresses: default inside, CGNAT inside, loopback and unspecified neither, a site prefix\'s top is its broadcast', () => {
    const space = new AddressSpace({ site: [parseBlock('130.1.0.0/16')!] });
    const kinds = ['10.1.2.3', '172.31.0.1', '192.168.1.1', '100.64.0.1', 'fd00::1', '169.254.3.4', 'fe80::1', '130.1.9.9', '8.8.8.8', '2001:4860::8888', '127.0.0.1', '::1', '0.0.0.0', '::', '224.0.0.251', 'ff02::1:3', '255.255.255.255', '10.46.255.255', '130.1.255.255', '130.1.7.255', '8.8.8.255'].map((a) => [a, space.kindOf(a)]);
    expect(Object.fromEntries(kinds)).toEqual({
      '10.1.2.3': 'inside', '172.31.0.1': 'inside', '192.168.1.1': 'inside', '100.64.0.1': 'inside', 'fd00::1': 'inside',
      '169.254.3.4': 'link-local', 'fe80::1': 'link-local', '130.1.9.9': 'inside', '8.8.8.8': 'external', '2001:4860::8888': 'external',
      '127.0.0.1': 'loopback', '::1': 'loopback', '0.0.0.0': 'unspecified', '::': 'unspecified', '224.0.0.251': 'multicast', 'ff02::1:3': 'multicast',
      '255.255.255.255': 'broadcast', '10.46.255.255': 'broadcast', '130.1.255.255': 'broadcast', '130.1.7.255': 'broadcast',
      // Outside the site a .255 is some other network's host: directed broadcasts are not forwarded (RFC 2644).
      '8.8.8.255': 'external',
    });
    // An address ending in .255 that the capture shows as a host is one of a /23 or wider subnet.
    const sending = new AddressSpace({ seenAsHost: (a) => a === '10.0.1.255' });
    expect([sending.kindOf('10.0.1.255'), sending.kindOf('10.0.3.255')]).toEqual(['inside', 'broadcast']);
    // A role map that names the address itself makes it a host; a block's top is its broadcast.
    const mapped = new AddressSpace({ subnets: [parseBlock('10.0.3.255/32')!, parseBlock('10.0.4.0/25')!] });
    expect([mapped.kindOf('10.0.3.255'), mapped.kindOf('10.0.4.127')]).toEqual(['inside', 'broadcast']);
  });
});

describe('addresses that never receive inferred roles', () => {
  it('a subnet broadcast that Wake-on-LAN reaches gets no inferred role and no missing required flow', async () => {
    // sccm2007 documents Wake-on-LAN from the site server to [client, broadcast]: the destination
    // 10.46.255.255 used to be inferred a client, then reported missing its policy polls.
    const file = capture([[udp('10.46.0.5', 50000, '10.46.255.255', 9)], tcpConversation('10.46.0.7', 50001, '10.46.0.9', 1433)], 400);
    const r = await run(file, [sccm]);
    expect(flowOf(r, '10.46.0.5', 9)).toMatchObject({ verdict: 'expected', serverRoles: ['broadcast'] });
    expect(inferredHosts(r)).not.toContain('10.46.255.255');
    expect(r.roles.inferred['site-server']).toEqual(['10.46.0.5']);
    expect(findingHosts(r)).not.toContain('10.46.255.255');
  });

  it('a .255 address that a SPAN port shows only receiving TCP is a host (of a /23) and learns its role', async () => {
    // Only the server's half of a SQL connection: SYN-ACK and data to 10.0.1.255 (TCP is unicast only).
    const half: PacketSpec[] = [
      { proto: 'tcp', src: '10.0.0.2', srcPort: 1433, dst: '10.0.1.255', dstPort: 50000, flags: 'SA', seq: 1000, ack: 1 },
      { proto: 'tcp', src: '10.0.0.2', srcPort: 1433, dst: '10.0.1.255', dstPort: 50000, flags: 'PA', seq: 1001, ack: 101, payload: 200 },
    ];
    const r = await run(capture([half, [udp('10.0.0.1', 50001, '10.0.3.255', 9)]]), [fixture]);
    expect(flowOf(r, '10.0.1.255', 1433)).toMatchObject({ verdict: 'expected', rule: 'audit-test:database', clientRolesFrom: 'inferred' });
    expect(r.roles.inferred['master-server']).toContain('10.0.1.255');
    // The Wake-on-LAN destination only ever receives UDP: a broadcast.
    expect(flowOf(r, '10.0.0.1', 9)).toMatchObject({ verdict: 'expected', serverRoles: ['broadcast'] });
  });

  it('loopback, link-local and unspecified addresses learn nothing; the same traffic between site hosts does', async () => {
    const file = capture([
      tcpConversation('10.0.0.1', 50000, '10.0.0.2', 1433),
      tcpConversation('127.0.0.1', 50001, '127.0.0.2', 1433),
      tcpConversation('169.254.1.1', 50002, '169.254.1.2', 1433),
      tcpConversation('fe80::1', 50003, 'fe80::2', 1433),
      tcpConversation('0.0.0.0', 50004, '10.0.0.3', 1433),
      tcpConversation('10.0.1.11', 50005, '127.0.0.1', 1610),
    ]);
    const r = await run(file, [fixture]);
    expect(r.roles.inferred).toEqual({ 'master-server': ['10.0.0.1'], 'database-server': ['10.0.0.2', '10.0.0.3'] });
    for (const h of ['127.0.0.1', '127.0.0.2', '169.254.1.1', '169.254.1.2', 'fe80::1', 'fe80::2', '0.0.0.0']) expect(findingHosts(r)).not.toContain(h);
    // Still judged by port: the flows are expected, their hosts' roles unknown.
    expect(flowOf(r, '127.0.0.1', 1433)).toMatchObject({ verdict: 'expected', clientRolesFrom: 'unknown', serverRolesFrom: 'unknown' });
  });

  it('--no-infer: no roles learnt, flows judged by port and address class, no for-each finding on a guess', async () => {
    const file = capture([tcpConversation('10.0.0.1', 50000, '10.0.0.2', 1433), tcpConversation('10.0.1.11', 50001, '10.0.0.1', 1610), [udp('10.0.0.1', 50002, '10.0.1.255', 9)]], 120);
    const inferring = await run(file, [fixture]);
    expect(inferring.roles.inferred).not.toEqual({});
    expect(inferring.requirements.some((q) => q.rule === 'audit-test:client-reaches-parent')).toBe(true);
    const r = await run(file, [fixture], { infer: false });
    expect(r.roles).toMatchObject({ inferred: {}, inference: false });
    expect(r.flows.every((f) => f.clientRolesFrom === 'unknown' && f.serverRolesFrom === 'unknown')).toBe(true);
    expect(flowOf(r, '10.0.0.1', 1433)).toMatchObject({ verdict: 'expected', rule: 'audit-test:database' });
    expect(flowOf(r, '10.0.0.1', 9)).toMatchObject({ verdict: 'expected', rule: 'audit-test:wake-on-lan', serverRoles: ['broadcast'] });
    expect(r.requirements.filter((q) => q.rule === 'audit-test:client-reaches-parent')).toEqual([]);
    expect(auditText(r)).toContain('no role map and no inference (--no-infer)');
  });
});

/** A catalog for the wide-range paths: a range, an unnegotiated ephemeral port, `any`, `external`. */
const wideCatalog = (() => {
  const file = write(
    'wide-catalog.yaml',
    `id: wide-test
name: Wide ranges
documents: [{ id: doc, title: Test }]
roles:
  - { id: collector, name: Collector }
  - { id: source, name: Source }
  - { id: agent, name: Agent }
  - { id: anyone, name: Any, address: any }
  - { id: cloud, name: Cloud, address: external }
rules:
  - { id: data-range, from: collector, to: source, transport: [tcp, udp], ports: "1024-65535", required: optional, cite: { section: s, text: t } }
  - { id: agent-ephemeral, from: agent, to: collector, transport: tcp, ports: { dynamic: ephemeral, range: "20000-30000" }, required: optional, cite: { section: s, text: t } }
  - { id: anyone-to-agent, from: anyone, to: agent, transport: udp, ports: "40000-50000", required: optional, cite: { section: s, text: t } }
  - { id: agent-to-cloud, from: agent, to: cloud, transport: tcp, ports: "30001-39999", required: optional, cite: { section: s, text: t } }
  - { id: agent-to-cloud-tls, from: agent, to: cloud, transport: tcp, ports: 8443, required: optional, cite: { section: s, text: t } }
  - { id: agent-to-collector, from: agent, to: collector, transport: tcp, ports: 7000, required: optional, cite: { section: s, text: t } }
`,
  );
  return loadCatalog(file);
})();

describe('wide port specs explain a flow only when its roles fit for certain', () => {
  const flows = [
    tcpConversation('130.1.1.1', 50000, '130.1.2.2', 5000), // data-range between two public (external) hosts
    tcpConversation('10.0.0.1', 50001, '10.0.0.2', 5001), // data-range between two site hosts
    tcpConversation('130.1.1.1', 50002, '8.8.8.8', 25000), // agent-ephemeral between external hosts
    [udp('10.0.0.5', 50003, '10.0.0.6', 45000)], // anyone-to-agent: `any` fits the client, not the server
    tcpConversation('10.0.0.6', 50004, '52.1.2.3', 35000), // agent-to-cloud: the server really is external
    tcpConversation('10.0.0.6', 50005, '10.0.0.7', 35001), // agent-to-cloud to a site host
  ];

  it('without a role map none of them is expected: not on external or `any` classes, not on an ephemeral port', async () => {
    const r = await run(capture(flows), [wideCatalog]);
    for (const [client, port] of [['130.1.1.1', 5000], ['10.0.0.1', 5001], ['130.1.1.1', 25000], ['10.0.0.5', 45000], ['10.0.0.6', 35000], ['10.0.0.6', 35001]] as const) {
      expect(flowOf(r, client, port).verdict, `${client} → ${port}`).toBe('undocumented');
    }
  });

  it('with the roles given, each is expected exactly where both sides fit', async () => {
    const roles = write('wide-roles.yaml', 'roles:\n  collector: [130.1.1.1, 10.0.0.1]\n  source: [10.0.0.2]\n  agent: [10.0.0.6]\n');
    const r = await run(capture(flows), [wideCatalog], { roles });
    expect(flowOf(r, '130.1.1.1', 5000).verdict).toBe('undocumented'); // 130.1.2.2: no role given
    expect(flowOf(r, '10.0.0.1', 5001)).toMatchObject({ verdict: 'expected', rule: 'wide-test:data-range' });
    expect(flowOf(r, '130.1.1.1', 25000).verdict).toBe('undocumented'); // the collector is the client here
    expect(flowOf(r, '10.0.0.5', 45000)).toMatchObject({ verdict: 'expected', rule: 'wide-test:anyone-to-agent' });
    expect(flowOf(r, '10.0.0.6', 35000)).toMatchObject({ verdict: 'expected', rule: 'wide-test:agent-to-cloud' });
    // A wide range never makes a flow a role mismatch.
    expect(flowOf(r, '10.0.0.6', 35001).verdict).toBe('undocumented');
  });
});

describe('findings that rest on inferred roles say so in every format', () => {
  // The agent is inferred from 7000; it then reaches a site host on the cloud's port (a role mismatch
  // of a class, whoever the agent is) and reaches its parent with no way back (a requirement).
  const file = () =>
    capture([tcpConversation('10.0.1.11', 50000, '10.0.0.9', 7000), tcpConversation('10.0.1.11', 50001, '10.0.0.50', 8443), tcpConversation('10.0.1.12', 50002, '10.0.0.1', 1610)], 120);

  it('text, JSON, CSV and HTML', async () => {
    const r = await run(file(), [wideCatalog, fixture]);
    expect(r.roles.inferred).toMatchObject({ agent: ['10.0.1.11'], collector: ['10.0.0.9'] });
    const mismatch = flowOf(r, '10.0.1.11', 8443);
    expect(mismatch).toMatchObject({ verdict: 'role-mismatch', rule: 'wide-test:agent-to-cloud-tls', clientRolesFrom: 'inferred', serverRolesFrom: 'unknown' });
    const missing = r.requirements.find((q) => q.rule === 'audit-test:parent-return-path')!;
    expect(missing).toMatchObject({ status: 'missing', from: '10.0.1.12', rolesFrom: 'inferred' });

    const text = auditText(r);
    expect(text).toContain('  MISSING  audit-test:parent-return-path  tcp/1610,1611: 1 finding, 2 hosts  (roles inferred)\n');
    expect(text).toMatch(/\n {6}10\.0\.1\.12 {2}10\.0\.0\.1 {2}tcp\/1610,1611 /);
    expect(text).toContain("  wide-test:agent-to-cloud-tls: 1 flow, 2 hosts  (client's roles inferred)\n");
    expect(text).toMatch(/\n {6}10\.0\.1\.11:50001 {2}10\.0\.0\.50:8443 {2}tcp /);

    const json = JSON.parse(auditJson(r));
    expect(json.requirements.find((q: { rule: string }) => q.rule === 'audit-test:parent-return-path').rolesFrom).toBe('inferred');
    expect(json.flows.find((f: { serverPort: number }) => f.serverPort === 8443).clientRolesFrom).toBe('inferred');

    const csv = async (w: typeof writeAuditFlowsCsv) => {
      let out = '';
      const sink = new (await import('node:stream')).Writable({ write: (chunk, _e, cb) => ((out += String(chunk)), cb()) });
      await w(r, sink);
      return out.trim().split('\n').map((l) => l.split(','));
    };
    const flowsCsv = await csv(writeAuditFlowsCsv);
    const fc = (name: string) => flowsCsv[0]!.indexOf(name);
    const row = flowsCsv.find((l) => l[fc('serverPort')] === '8443')!;
    expect([row[fc('clientRolesFrom')], row[fc('serverRolesFrom')]]).toEqual(['inferred', 'unknown']);
    const reqCsv = await csv(writeAuditRequirementsCsv);
    const rc = (name: string) => reqCsv[0]!.indexOf(name);
    expect(reqCsv.find((l) => l[0] === 'audit-test:parent-return-path')![rc('rolesFrom')]).toBe('inferred');

    const html = auditHtml(r);
    expect(html).toMatch(/<td>agent[^<]*<span class="inferred">\(inferred\)<\/span><\/td>/);
    expect(html).toMatch(/audit-test:parent-return-path — [^<]*<span class="inferred">\(roles inferred\)<\/span>/);
  });

  it('with a role map nothing is marked', async () => {
    const roles = write('marked-roles.yaml', 'roles:\n  agent: [10.0.1.11]\n  client: [10.0.1.12]\n  master-server: [10.0.0.1]\n');
    const r = await run(file(), [wideCatalog, fixture], { roles });
    expect(r.requirements.find((q) => q.rule === 'audit-test:parent-return-path')!.rolesFrom).toBe('given');
    expect(auditText(r)).not.toContain('inferred');
    expect(auditHtml(r)).not.toContain('class="inferred"');
  });
});

describe('role map site: prefixes', () => {
  it('a bad prefix or an empty site: names file, line and column', () => {
    const bad = write('bad-site.yaml', 'site:\n  - 130.1.0.0/16\n  - 130.1.0.0/33\n  - campus\nroles:\n  client: [130.1.2.2]\nsites: [10.0.0.0/8]\n');
    let message = '';
    try {
      loadRoleMap(bad, [bmc]);
    } catch (e) {
      expect(e).toBeInstanceOf(RoleMapError);
      message = (e as Error).message;
    }
    expect(message.split('\n')).toEqual([
      `${bad}:3:5: site: "130.1.0.0/33" is not an IPv4/IPv6 prefix (address/length, e.g. 130.1.0.0/16)`,
      `${bad}:4:5: site: "campus" is not an IPv4/IPv6 prefix (address/length, e.g. 130.1.0.0/16)`,
      `${bad}:7:1: unknown key "sites" (a role map has "roles" and, optionally, "site")`,
    ]);
    const empty = write('empty-site.yaml', 'roles:\n  client: [10.0.0.1]\nsite: []\n');
    expect(() => loadRoleMap(empty, [bmc])).toThrow(`${empty}:3:1: "site" lists the site's own prefixes`);
  });
});

describe.skipIf(skipWithoutCaptures('role inference over the Windows captures'))('role inference over the real Windows captures', () => {
  const files = listCaptures('windows');
  const special = (a: string) => {
    const kind = new AddressSpace().kindOf(a);
    return kind === 'broadcast' || kind === 'multicast' || kind === 'loopback' || kind === 'link-local' || kind === 'unspecified' || a.endsWith('.255');
  };
  it.each(bundledCatalogIds())('%s: no broadcast, multicast, loopback or link-local address is inferred a role or named by a requirement finding', async (id) => {
    const catalogs = [loadCatalog(id)];
    let inferred = 0;
    for (const file of files) {
      const r = await analyzeCaptures([file], { catalogs, roleMap: null, version: 'test' }, { workers: 1 });
      const where = `${basename(file)} under ${id}`;
      expect(inferredHosts(r).filter(special), where).toEqual([]);
      expect(findingHosts(r).filter(special), where).toEqual([]);
      inferred += inferredHosts(r).length;
    }
    // The captures do teach roles: the check is not vacuous.
    expect(inferred).toBeGreaterThan(0);
  }, 120_000);
});
