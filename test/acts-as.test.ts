import { describe, expect, it } from 'vitest';
import { audit, loadRoleMap } from '../src/audit/index.js';
import { RoleResolver } from '../src/audit/roles.js';
import { Catalog, loadCatalog } from '../src/catalog/index.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { scratch } from './helpers/scratch.js';
import { checkAuditReport } from './helpers/report-schema.js';

/** Roles that are also other roles (acts-as): a BMC relay is an agent, the client of its own parent. */
const { write, capture } = scratch('fa-acts-as-');
const MASTER = '10.10.0.10';
const RELAY = '10.10.0.11';
const CLIENT = '10.20.0.21';

const bmc = loadCatalog('bmc-cm');
const roleMap = write('roles.yaml', `roles:\n  master-server: [${MASTER}]\n  relay: [${RELAY}]\n  client: [${CLIENT}]\n`);

async function run(conversations: PacketSpec[][], catalog: Catalog = bmc, roles: string | null = roleMap) {
  return checkAuditReport(audit(await buildFlows([capture(conversations)]), { catalogs: [catalog], roleMap: roles ? loadRoleMap(roles, [catalog]) : null, grants: [], version: 'test', minSpan: 0 }));
}

const flowTo = (r: Awaited<ReturnType<typeof run>>, client: string, port: number) => r.flows.find((f) => f.client === client && f.serverPort === port)!;

describe('acts-as: a host of a role also plays the roles it acts as', () => {
  it('bmc-cm: a relay reaching the master on tcp/1610 is expected (agent-to-parent), not a role mismatch', async () => {
    const r = await run([tcpConversation(RELAY, 50001, MASTER, 1610)]);
    expect(flowTo(r, RELAY, 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent', clientRoles: ['relay', 'client'], serverRoles: ['master-server'] });
    // The same capture with the declaration taken away: what the audit said before acts-as.
    const flat = { ...bmc, roles: bmc.roles.map(({ actsAs: _, ...role }) => role) };
    expect(flowTo(await run([tcpConversation(RELAY, 50001, MASTER, 1610)], flat), RELAY, 1610)).toMatchObject({ verdict: 'role-mismatch', clientRoles: ['relay'] });
  });

  it('the relay keeps its own role: its clients still reach it as their parent, and it connects back to them', async () => {
    const r = await run([tcpConversation(CLIENT, 50001, RELAY, 1610), tcpConversation(RELAY, 50002, CLIENT, 1610)]);
    expect(flowTo(r, CLIENT, 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent', serverRoles: ['relay', 'client'] });
    expect(flowTo(r, RELAY, 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:parent-to-agent' });
  });

  it('a relay that reaches its parent is held to the return path like any client', async () => {
    const r = await run([tcpConversation(RELAY, 50001, MASTER, 1610)]);
    expect(r.requirements.filter((q) => q.rule === 'bmc-cm:parent-return-path')).toMatchObject([{ from: RELAY, to: MASTER, status: 'missing' }]);
    const back = await run([tcpConversation(RELAY, 50001, MASTER, 1610), tcpConversation(MASTER, 50002, RELAY, 1610)]);
    expect(back.requirements.filter((q) => q.rule === 'bmc-cm:parent-return-path')).toMatchObject([{ from: RELAY, to: MASTER, status: 'satisfied' }]);
  });

  it('for-each asks the hosts the map gives the role, not those that only act as it', async () => {
    const r = await run([tcpConversation(CLIENT, 50001, RELAY, 1610)]);
    expect(r.requirements.filter((q) => q.rule === 'bmc-cm:client-reaches-parent').map((q) => q.from)).toEqual([CLIENT]);
    const both = write('both.yaml', `roles:\n  master-server: [${MASTER}]\n  relay: [${RELAY}]\n  client: [${CLIENT}, ${RELAY}]\n`);
    const asked = await run([tcpConversation(CLIENT, 50001, RELAY, 1610)], bmc, both);
    expect(asked.requirements.filter((q) => q.rule === 'bmc-cm:client-reaches-parent').map((q) => [q.from, q.status])).toEqual([[RELAY, 'missing'], [CLIENT, 'satisfied']]);
  });

  it('is transitive, and a site catalog can declare a role that acts as a bundled one', async () => {
    const site = write(
      'site.yaml',
      `id: site\nextends: bmc-cm\nroles:\n  - { id: dmz-relay, name: DMZ relay, acts-as: relay }\n`,
    );
    const c = loadCatalog(site);
    const roles = write('dmz.yaml', `roles:\n  master-server: [${MASTER}]\n  dmz-relay: [${RELAY}]\n  client: [${CLIENT}]\n`);
    const r = await run([tcpConversation(RELAY, 50001, MASTER, 1610), tcpConversation(CLIENT, 50002, RELAY, 1610)], c, roles);
    expect(flowTo(r, RELAY, 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent', clientRoles: ['dmz-relay', 'relay', 'client'] });
    expect(flowTo(r, CLIENT, 1610)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-to-parent' });
    expect(r.roles.given).toEqual({ 'master-server': [MASTER], 'dmz-relay': [RELAY], client: [CLIENT] });
  });

  it('inferred roles act as theirs too; the report lists what was inferred', () => {
    const resolver = new RoleResolver(null, [bmc]);
    resolver.infer(RELAY, ['relay']);
    expect(resolver.rolesOf(RELAY)).toEqual({ roles: ['relay', 'client'], source: 'inferred' });
    expect(resolver.knowsRole(RELAY, 'client')).toBe(true);
    expect([...resolver.inferred.get(RELAY)!]).toEqual(['relay']);
    expect(resolver.hostsOf('client', [RELAY])).toEqual([]);
  });
});
