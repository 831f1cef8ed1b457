import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { audit, loadRoleMap, loadWaivers, tripsFailOn, GrantLike } from '../src/audit/index.js';
import { loadCatalog } from '../src/catalog/index.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { scratch, T0 } from './helpers/scratch.js';
import { checkAuditReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const catalog = loadCatalog(join(root, 'test/fixtures/audit-catalog.yaml'));
const { write, capture } = scratch('fa-audit-');

const MASTER = '10.0.0.1';
const DB = '10.0.0.2';
const C1 = '10.0.1.11';
const C2 = '10.0.1.12';

const roleMap = write('roles.yaml', `roles:\n  master-server: [${MASTER}]\n  database-server: [${DB}]\n  client: [10.0.1.0/24]\n`);

/** Conversations laid end to end, 10 ms apart, from T0 (plus `span` seconds of quiet at the end). */
async function run(conversations: PacketSpec[][], opts: { roles?: boolean; grants?: GrantLike[]; span?: number; waivers?: string } = {}) {
  const file = capture(conversations, { span: opts.span, quiet: { proto: 'udp', src: MASTER, dst: '10.0.9.9', srcPort: 50000, dstPort: 50001 } });
  const flowRun = await buildFlows([file]);
  return checkAuditReport(audit(flowRun, {
    catalogs: [catalog],
    roleMap: opts.roles === false ? null : loadRoleMap(roleMap, [catalog]),
    grants: opts.grants ?? [],
    // These captures last a moment: --min-span is off so that absence is a finding (min-span.test.ts weighs it).
    minSpan: 0,
    ...(opts.waivers ? { waivers: loadWaivers(opts.waivers, [catalog]), today: '2026-11-24' } : {}),
    version: 'test',
  }));
}

const req = (r: Awaited<ReturnType<typeof run>>, id: string, from?: string) => r.requirements.filter((x) => x.rule === `audit-test:${id}` && (from === undefined || x.from === from));

describe('required flows', () => {
  it('a client that reaches its parent on 1610, with no connection back and no 1611 tunnel, is missing — naming the tunnel', async () => {
    const r = await run([tcpConversation(C1, 50001, MASTER, 1610), tcpConversation(C1, 50002, MASTER, 1612)], { span: 120 });
    const [x, ...rest] = req(r, 'parent-return-path');
    expect(rest).toHaveLength(0);
    expect(x).toMatchObject({ status: 'missing', from: C1, to: MASTER, proto: 'tcp', ports: [1610, 1611] });
    expect(x!.detail).toContain('tcp/1611');
    expect(x!.detail).toContain('agent-tunnel');
    expect(x!.detail).toContain(`from ${MASTER} to ${C1}`);
    expect(x!.cite).toBeTruthy();
  });

  it('the parent connecting back satisfies it; a tunnel attempt nobody answers makes it failing', async () => {
    const back = await run([tcpConversation(C1, 50001, MASTER, 1610), tcpConversation(MASTER, 50100, C1, 1610)]);
    expect(req(back, 'parent-return-path')[0]).toMatchObject({ status: 'satisfied' });
    const tunnel = await run([tcpConversation(C1, 50001, MASTER, 1610), tcpConversation(C1, 50003, MASTER, 1611, { answer: 'silent' })], { span: 120 });
    const x = req(tunnel, 'parent-return-path')[0]!;
    expect(x.status).toBe('failing');
    expect(x.evidence.join()).toContain('attempted');
  });

  it('an endpoint-mapper call whose granted port is never connected is missing; one attempted but never answered is failing', async () => {
    const grant: GrantLike = {
      host: C1, transport: 'tcp', port: 49667, peer: MASTER, fromSec: T0, fromNs: 50_000_000, kind: 'dcerpc', reason: 'dcerpc-epm', negotiation: 0,
      evidence: { file: 'test', record: 7, client: MASTER, clientPort: 50200, server: C1, serverPort: 135, detail: `ept_map reply: ncacn_ip_tcp ${C1}[49667]` },
    };
    const epm = tcpConversation(MASTER, 50200, C1, 135);
    const missing = await run([epm], { grants: [grant], span: 120 });
    expect(req(missing, 'epm-dynamic-connection')[0]).toMatchObject({ status: 'missing', from: MASTER, to: C1, ports: [49667] });
    const failing = await run([epm, tcpConversation(MASTER, 50201, C1, 49667, { answer: 'silent' })], { grants: [grant], span: 120 });
    expect(req(failing, 'epm-dynamic-connection')[0]).toMatchObject({ status: 'failing' });
    const ok = await run([epm, tcpConversation(MASTER, 50201, C1, 49667)], { grants: [grant] });
    expect(req(ok, 'epm-dynamic-connection')[0]).toMatchObject({ status: 'satisfied' });
    const dyn = ok.flows.find((f) => f.serverPort === 49667)!;
    expect(dyn).toMatchObject({ verdict: 'expected', rule: 'audit-test:rpc-dynamic', grant: { reason: 'dcerpc-epm', port: 49667 } });
  });

  it('a host of the role map that never shows the traffic is missing; a short capture makes a periodic flow inconclusive', async () => {
    const r = await run([tcpConversation(C1, 50001, MASTER, 1610), tcpConversation(MASTER, 50100, C1, 1610), tcpConversation(C2, 50001, MASTER, 1612)]);
    expect(req(r, 'client-reaches-parent', C1)[0]).toMatchObject({ status: 'satisfied', to: MASTER });
    expect(req(r, 'client-reaches-parent', C2)[0]).toMatchObject({ status: 'missing' });
    // Bandwidth every 60 s: C1 showed none, but the capture is well under a minute long.
    const bw = req(r, 'bandwidth-check', C1)[0]!;
    expect(bw.status).toBe('inconclusive');
    expect(bw.detail).toMatch(/shorter than the documented period of 1 min 00 s/);
    expect(req(r, 'bandwidth-check', C2)[0]).toMatchObject({ status: 'satisfied' });
  });
});

describe('many hosts', () => {
  it('each of 2000 clients is judged on its own flows: return path, reach and period per host and pair', async () => {
    const bigRoles = write('big-roles.yaml', `roles:\n  master-server: [${MASTER}]\n  database-server: [${DB}]\n  client: [10.1.0.0/16]\n`);
    const host = (i: number) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const convs: PacketSpec[][] = [];
    const firstPacket: number[] = [];
    let count = 0;
    for (let i = 0; i < 2000; i++) {
      const c = host(i);
      firstPacket.push(count);
      if (i % 3 === 0) convs.push(tcpConversation(c, 50001, MASTER, 1610), tcpConversation(MASTER, 50100, c, 1610));
      else if (i % 3 === 1) convs.push(tcpConversation(c, 50001, MASTER, 1610));
      else convs.push(tcpConversation(c, 50001, MASTER, 1612));
      count = firstPacket[i]! + convs.slice(convs.length - (i % 3 === 0 ? 2 : 1)).reduce((sum, x) => sum + x.length, 0);
    }
    const file = capture(convs);
    const r = audit(await buildFlows([file]), { catalogs: [catalog], roleMap: loadRoleMap(bigRoles, [catalog]), grants: [], version: 'test', minSpan: 0 });
    for (let i = 0; i < 2000; i++) {
      const c = host(i);
      const reach = req(r, 'client-reaches-parent', c);
      expect(reach).toHaveLength(1);
      expect(reach[0]!.status).toBe(i % 3 === 2 ? 'missing' : 'satisfied');
      const back = req(r, 'parent-return-path', c);
      if (i % 3 === 2) expect(back).toHaveLength(0);
      else expect(back[0]!.status, c).toBe(i % 3 === 0 ? 'satisfied' : 'missing');
      // Bandwidth every 60 s: only hosts first seen a minute or more before the end can miss it.
      const at = (k: number) => Math.floor(k / 100) + (k % 100) / 100;
      const span = at(count - 1) - at(firstPacket[i]!);
      expect(req(r, 'bandwidth-check', c)[0]!.status, c).toBe(i % 3 === 2 ? 'satisfied' : span >= 60 ? 'missing' : 'inconclusive');
    }
    expect(r.summary).toMatchObject({ flows: 2000 + 667, roleMismatch: 0, undocumented: 0 });
  });
});

describe('flow verdicts', () => {
  it('expected, role-mismatch and undocumented, each with its rule and the vendor words', async () => {
    const r = await run([tcpConversation(MASTER, 50300, DB, 1433), tcpConversation(C1, 50301, DB, 1433), tcpConversation(C1, 50302, MASTER, 8080)]);
    const by = (client: string, port: number) => r.flows.find((f) => f.client === client && f.serverPort === port)!;
    expect(by(MASTER, 1433)).toMatchObject({ verdict: 'expected', rule: 'audit-test:database', clientRoles: ['master-server'], serverRoles: ['database-server'], clientRolesFrom: 'given' });
    expect(by(MASTER, 1433).cite!.text).toBe('For communication between the master server and the database.');
    expect(by(C1, 1433)).toMatchObject({ verdict: 'role-mismatch', rule: 'audit-test:database' });
    expect(by(C1, 1433).detail).toBe('tcp/1433 is documented for master-server → database-server, not client → database-server');
    expect(by(C1, 8080)).toMatchObject({ verdict: 'undocumented', rule: null, cite: null });
    expect(r.summary).toMatchObject({ flows: 3, expected: 1, roleMismatch: 1, undocumented: 1 });
  });

  it('address classes: a Wake-on-LAN packet to the subnet broadcast is expected', async () => {
    const r = await run([[{ proto: 'udp', src: MASTER, dst: '10.0.1.255', srcPort: 50400, dstPort: 9, payload: 102 }]]);
    expect(r.flows.at(0)).toMatchObject({ verdict: 'expected', rule: 'audit-test:wake-on-lan', serverRoles: ['broadcast'] });
  });

  it('without a role map, flows are judged by port and roles are inferred from unambiguous traffic', async () => {
    const r = await run([tcpConversation(MASTER, 50300, DB, 1433), tcpConversation(C1, 50301, MASTER, 1610)], { roles: false });
    expect(r.flows.every((f) => f.verdict === 'expected')).toBe(true);
    expect(r.roles).toMatchObject({ file: null, given: {}, inferred: { 'master-server': [MASTER], 'database-server': [DB], client: [C1] } });
  });
});

describe('waivers and --fail-on', () => {
  it('waived findings stay visible but do not trip --fail-on; expired waivers are reported and not applied', async () => {
    const waivers = write(
      'waivers.yaml',
      `waivers:\n  - port: tcp/8080\n    hosts: [${MASTER}]\n    reason: vendor web console, ticket 4711\n    expires: 2027-06-30\n  - rule: audit-test:database\n    reason: old exception\n    expires: 2025-01-01\n`,
    );
    const r = await run([tcpConversation(C1, 50302, MASTER, 8080), tcpConversation(C1, 50301, DB, 1433)], { waivers });
    expect(r.flows.find((f) => f.serverPort === 8080)).toMatchObject({ verdict: 'undocumented', waived: { reason: 'vendor web console, ticket 4711' } });
    expect(r.flows.find((f) => f.serverPort === 1433)!.waived).toBeUndefined();
    expect(r.waivers.expired).toEqual([{ rule: 'audit-test:database', reason: 'old exception', expires: '2025-01-01', line: 6 }]);
    expect(tripsFailOn(r, ['undocumented'])).toBe(false);
    expect(tripsFailOn(r, ['role-mismatch'])).toBe(true);
  });
});

describe('role maps', () => {
  it('an unknown role or a bad address names the file and line', () => {
    const bad = write('bad-roles.yaml', 'roles:\n  master-server: [10.0.0.1]\n  mastr: [10.0.0.2]\n  client: [10.0.1.0/33, not-an-ip]\n');
    expect(() => loadRoleMap(bad, [catalog])).toThrow(
      new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:3: unknown role "mastr"[^\\n]*\\n${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:12: "10.0.1.0/33" is not an IPv4/IPv6 address or CIDR\\n.*:4:25: "not-an-ip"`),
    );
  });
});
