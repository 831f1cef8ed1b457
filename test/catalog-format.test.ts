import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogError, loadCatalog, alternativePorts, displayPorts } from '../src/catalog/index.js';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const fixture = join(root, 'test/fixtures/site-catalog.yaml');
const dir = mkdtempSync(join(tmpdir(), 'fa-catalog-'));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function problems(path: string): string[] {
  try {
    loadCatalog(path);
  } catch (e) {
    if (e instanceof CatalogError) return e.problems.map((p) => `${p.line}: ${p.message}`);
    throw e;
  }
  return [];
}

const header = `id: broken
name: Broken
documents:
  - { id: doc, title: A doc }
roles:
  - { id: client, name: Client }
  - { id: server, name: Server }
params:
  agent-port: 1610
`;

describe('catalog format', () => {
  it('resolves ports, parameters, dynamic kinds, periods and citations', () => {
    const c = loadCatalog(fixture);
    expect(c.rules.map((r) => r.id)).toEqual(['agent', 'wsus', 'ping', 'epm', 'rpc']);
    const rule = (id: string) => c.rules.find((r) => r.id === id)!;
    expect(displayPorts(rule('agent'))).toEqual([1610, 9999]);
    expect(rule('agent')).toMatchObject({ params: ['agent-port'], configurable: true, period: 3600, transport: ['tcp'], direction: 'one-way' });
    expect(rule('agent').cite).toEqual({ document: 'doc', section: 'S', text: 'The agent port' });
    expect(displayPorts(rule('rpc'))).toEqual(['dcerpc']);
    expect(rule('rpc').dynamic).toEqual({ kind: 'dcerpc', range: [49152, 65535] });
    expect(rule('ping')).toMatchObject({ transport: ['icmp'], icmp: { type: 8 }, ranges: [] });
    expect(alternativePorts(c, rule('wsus')).map((a) => a.ports)).toEqual([[[80, 80], [443, 443]], [[8530, 8530], [8531, 8531]]]);
    expect(c.requirements[0]).toMatchObject({ id: 'epm-follow', when: { rule: 'epm' }, expect: [{ grant: 'dcerpc' }], period: null });
    expect(c.requirements[1]).toMatchObject({ forEach: 'client', expect: [{ rule: 'agent', reverse: false }, { rule: 'wsus', reverse: true }], period: 300 });
  });

  it('--set overrides a parameter and every rule that uses it', () => {
    const c = loadCatalog(fixture, { set: { 'agent-port': '443' } });
    expect(displayPorts(c.rules.find((r) => r.id === 'agent')!)).toEqual([443, 9999]);
    expect(c.params['agent-port']).toMatchObject({ value: [[443, 443]], default: [[1610, 1610]] });
    expect(() => loadCatalog(fixture, { set: { 'agent-port': 'https' } })).toThrow(/expected a port/);
  });

  it('a site catalog extends a bundled one: adds rules and roles, overrides parameters', () => {
    const site = write(
      'site.yaml',
      `id: site-extra
extends: ${fixture.replace(/\\/g, '/')}
params:
  agent-port: 443
roles:
  - { id: jump-host, name: Jump host }
rules:
  - id: jump-ssh
    from: jump-host
    to: server
    transport: tcp
    ports: 22
    required: optional
    cite: { section: Site policy, text: Administrators go through the jump host. }
`,
    );
    const c = loadCatalog(site);
    expect(c.rules).toHaveLength(6);
    expect(c.rules.find((r) => r.id === 'jump-ssh')!.catalog).toBe('site-extra');
    expect(c.params['agent-port']!.value).toEqual([[443, 443]]);
    // The inherited rule that uses the parameter follows the site's value, as with --set.
    expect(displayPorts(c.rules.find((r) => r.id === 'agent')!)).toEqual([443, 9999]);
    expect(c.rules.find((r) => r.id === 'agent')!.catalog).not.toBe('site-extra');
  });

  it('names the file, line and what is wrong', () => {
    const p = write(
      'bad.yaml',
      header +
        `rules:
  - id: a
    from: client
    to: servr
    transport: tcp
    ports: [80, "100-90", { param: nope }]
    required: conditional
    cite: { section: S, text: T }
  - id: a
    from: client
    to: server
    transport: icmp
    ports: 80
    required: optional
    cite: { section: S, text: T }
`,
    );
    expect(problems(p)).toEqual([
      '11: rules.0: rule "a" is conditional: state the condition in "condition"',
      '13: rules.0.to: unknown role "servr" (declared: client, server)',
      '15: rules.0.ports.1: range "100-90" is not low-high within 0-65535',
      '15: rules.0.ports.2: unknown parameter "nope" (declared: agent-port)',
      '18: rules.1.id: rule "a" is declared twice',
      '22: rules.1.ports: ICMP has no ports: name the message with icmp: { type: … }',
    ]);
  });

  it('reports schema mistakes at the offending key', () => {
    const p = write(
      'schema.yaml',
      header +
        `rules:
  - id: a
    from: client
    to: server
    transport: tcp
    ports: { dynamic: guess }
    required: maybe
    period: 60 seconds
    colour: red
    cite: { section: S }
`,
    );
    expect(problems(p)).toEqual([
      '15: rules.0.ports.dynamic: must be one of dcerpc, sql-named-instance, tftp-transfer, ephemeral',
      '16: rules.0.required: must be one of required, optional, conditional',
      '17: rules.0.period: expected a duration such as 60s, 5m, 1h, 1d (or a number of seconds), got "60 seconds"',
      '18: rules.0: unknown key "colour"',
      '19: rules.0.cite: missing "text"',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const p = write('syntax.yaml', header + 'rules:\n  - id: a\n    from: [client\n');
    expect(problems(p)[0]).toMatch(/^1[23]: YAML: /);
  });

  it('catalog lint rejects an acts-as that names an unknown role or an address class, one on an address class, and a cycle', () => {
    const cli = join(root, 'dist/cli/main.js');
    const bad = write(
      'acts-as.yaml',
      `id: broken
name: Broken
documents:
  - { id: doc, title: A doc }
roles:
  - { id: client, name: Client }
  - { id: server, name: Server, acts-as: [client, clinet] }
  - { id: relay, name: Relay, acts-as: everyone }
  - { id: everyone, name: Everyone, address: any, acts-as: client }
  - id: parent
    name: Parent
    acts-as: child
  - id: child
    name: Child
    acts-as: [client, parent]
  - { id: itself, name: Itself, acts-as: itself }
rules:
  - { id: x, from: client, to: server, transport: tcp, ports: 1, required: required, cite: { section: S, text: T } }
`,
    );
    const r = spawnSync(process.execPath, [cli, 'catalog', 'lint', bad], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${bad}:7:51: roles.1.acts-as.1: unknown role "clinet" (roles of hosts: client, server, relay, parent, child, itself)`,
      `${bad}:8:40: roles.2.acts-as: role "everyone" is an address class (any): a host is in it by its address, not by acting as it`,
      `${bad}:9:60: roles.3.acts-as: role "everyone" is an address class (any): it plays no other role`,
      `${bad}:12:14: roles.4.acts-as: acts-as forms a cycle: parent → child → parent`,
      `${bad}:16:42: roles.6.acts-as: acts-as forms a cycle: itself → itself`,
    ]);
  });

  it('catalog show prints what a role acts as, with the vendor words', () => {
    const cli = join(root, 'dist/cli/main.js');
    const text = spawnSync(process.execPath, [cli, 'catalog', 'show', 'bmc-cm'], { encoding: 'utf8' }).stdout;
    expect(text).toMatch(/^  relay +Relay  \(acts as client\)$/m);
    expect(text).toContain('“XML-RPC packets are sent between the communicating agents as notifications to execute actions.”');
    const json = checkReport('catalog-show', JSON.parse(spawnSync(process.execPath, [cli, 'catalog', 'show', 'bmc-cm', '--format', 'json'], { encoding: 'utf8' }).stdout)) as { roles: Array<{ id: string; actsAs?: string[] }> };
    expect(json.roles.find((r) => r.id === 'relay')!.actsAs).toEqual(['client']);
    expect(json.roles.find((r) => r.id === 'master-server')!.actsAs).toBeUndefined();
  });

  it('catalog lint exits 2 with file:line:col messages, 0 for a good file', () => {
    const cli = join(root, 'dist/cli/main.js');
    const bad = write('lint.yaml', header + 'rules:\n  - { id: x, from: client, to: nobody, transport: tcp, ports: 1, required: required, cite: { section: S, text: T } }\n');
    const r = spawnSync(process.execPath, [cli, 'catalog', 'lint', bad], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${bad}:11:32: rules.0.to: unknown role "nobody" (declared: client, server)`);
    const ok = spawnSync(process.execPath, [cli, 'catalog', 'lint', fixture], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('ok — 5 rules, 2 requirements');
    const missing = spawnSync(process.execPath, [cli, 'catalog', 'show', 'no-such-catalog'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/unknown catalog "no-such-catalog"/);
  });
});
