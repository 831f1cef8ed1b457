import { run } from './helpers/run.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { alternativePorts, bundledCatalogIds, displayPorts, loadCatalog } from '../src/catalog/index.js';
import { frame, tcpConversation } from '../src/synth/frames.js';
import { checkReport } from './helpers/report-schema.js';

/**
 * A site catalog (`extends:` a bundled one) judges exactly as the catalog it extends, plus what it
 * adds: its parameter values reach the inherited rules as --set does. Run through `analyze` itself.
 */
const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = (f: string) => join(root, 'samples', f);
const dir = mkdtempSync(join(tmpdir(), 'fa-site-'));

function write(name: string, text: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

interface Report {
  flows: Array<Record<string, unknown>>;
  requirements: Array<Record<string, unknown>>;
  summary: Record<string, number>;
}

async function analyze(args: string[]): Promise<Report> {
  const r = await run(process.execPath, [cli, 'analyze', ...args, '--format', 'json'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return checkReport('analyze', JSON.parse(r.stdout)) as Report;
}

/** What a catalog decides: every flow's verdict, rule, matches and roles, every requirement's status. */
function judgement(r: Report) {
  return {
    flows: r.flows.map((f) => ({ flow: `${f.proto} ${f.client}:${f.clientPort} → ${f.server}:${f.serverPort}`, verdict: f.verdict, rule: f.rule, cite: f.cite, detail: f.detail, clientRoles: f.clientRoles, serverRoles: f.serverRoles, grant: f.grant })),
    requirements: r.requirements.map((q) => ({ rule: q.rule, status: q.status, from: q.from, to: q.to, proto: q.proto, ports: q.ports, detail: q.detail, cite: q.cite })),
    summary: r.summary,
  };
}

describe('a site catalog that adds nothing', () => {
  for (const id of bundledCatalogIds()) {
    it(`judges the ${id} sample exactly as ${id}: verdicts, rule ids, requirement statuses`, async () => {
      const site = write(`empty-${id}.yaml`, `id: site\nextends: ${id}\n`);
      const args = [sample(`${id}-site.pcapng`), '--roles', sample(`${id}-roles.yaml`)];
      const bundled = judgement(await analyze([...args, '--catalog', id]));
      expect(bundled.flows.length).toBeGreaterThan(0);
      expect(judgement(await analyze([...args, '--catalog', site]))).toEqual(bundled);
    });
  }
});

describe('a site catalog that sets a parameter', () => {
  // A client reaches its master on 1610, and the master can only come back through a tunnel on 443.
  const CLIENT = '10.20.0.21';
  const MASTER = '10.10.0.10';
  const packets = [...tcpConversation(CLIENT, 50001, MASTER, 1610), ...tcpConversation(CLIENT, 50002, MASTER, 443)].map((spec, i) => ({ data: frame(spec), tsSec: 1_732_000_000, tsNs: i * 1_000_000 }));
  const capture = write('tunnel-443.pcap', writePcap(packets, { linkType: 1 }));
  const roles = write('roles.yaml', `roles:\n  master-server: [${MASTER}]\n  client: [${CLIENT}]\n`);
  const site = write('tunnel-443.yaml', 'id: site-tunnel\nextends: bmc-cm\nparams:\n  tunnel-port: 443\n');
  const tunnel = (r: Report) => judgement(r).flows.find((f) => f.flow.endsWith(':443'))!;
  const returnPath = (r: Report) => judgement(r).requirements.find((q) => q.rule === 'bmc-cm:parent-return-path')!;

  it('moves the inherited rules to the new port: the catalog lists them there', async () => {
    const c = loadCatalog(site);
    expect(displayPorts(c.rules.find((r) => r.id === 'agent-tunnel')!)).toEqual([443]);
    expect(c.rules.find((r) => r.id === 'agent-tunnel')!.catalog).toBe('bmc-cm');
    expect(c.params['tunnel-port']).toMatchObject({ value: [[443, 443]], default: [[1611, 1611]] });
  });

  it('judges like --set tunnel-port=443 on the bundled catalog, and unlike the default', async () => {
    const viaSite = await analyze([capture, '--catalog', site, '--roles', roles]);
    const viaSet = await analyze([capture, '--catalog', 'bmc-cm', '--set', 'tunnel-port=443', '--roles', roles]);
    expect(judgement(viaSite)).toEqual(judgement(viaSet));
    expect(tunnel(viaSite)).toMatchObject({ verdict: 'expected', rule: 'bmc-cm:agent-tunnel' });
    expect(returnPath(viaSite)).toMatchObject({ status: 'satisfied', ports: [1610, 443] });
    // The capture lasts 20 ms: without --min-span 0 the absent return path would be inconclusive.
    const plain = await analyze([capture, '--catalog', 'bmc-cm', '--roles', roles, '--min-span', '0']);
    expect(tunnel(plain).verdict).toBe('role-mismatch');
    expect(returnPath(plain).status).toBe('missing');
  });

  it('judges the bmc-cm sample like --set tunnel-port=443', async () => {
    const args = [sample('bmc-cm-site.pcapng'), '--roles', sample('bmc-cm-roles.yaml')];
    expect(judgement(await analyze([...args, '--catalog', site]))).toEqual(judgement(await analyze([...args, '--catalog', 'bmc-cm', '--set', 'tunnel-port=443'])));
  });

  it('--set on the site catalog still changes the inherited rules', async () => {
    expect(displayPorts(loadCatalog(site, { set: { 'tunnel-port': '8443' } }).rules.find((r) => r.id === 'agent-tunnel')!)).toEqual([8443]);
    const back = await analyze([capture, '--catalog', site, '--set', 'tunnel-port=1611', '--roles', roles]);
    expect(judgement(back)).toEqual(judgement(await analyze([capture, '--catalog', 'bmc-cm', '--roles', roles])));
  });

  it('keeps alternatives: a site on the WSUS custom web site still accepts either set', async () => {
    const wsus = write('wsus.yaml', 'id: site-wsus\nextends: sccm2007\nparams:\n  wsus-http-port: 8530\n  wsus-https-port: 8531\n');
    const c = loadCatalog(wsus);
    const rule = c.rules.find((r) => r.id === 'link-6-http')!;
    expect(displayPorts(rule)).toEqual([8530]);
    expect(alternativePorts(c, rule).map((a) => a.ports)).toEqual([[[80, 80]], [[8530, 8530]]]);
    expect(displayPorts(c.rules.find((r) => r.id === 'link-6-https')!)).toEqual([8531]);
  });
});
