/**
 * Hostile catalogs, role maps and waiver files: whatever the file, the CLI ends quickly with exit 2
 * and one line on stderr that names the file (and line and column where there is one), never a
 * stack trace; large honest files load in seconds.
 */
import { run } from './helpers/run.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRoleMap } from '../src/audit/index.js';
import { RoleResolver } from '../src/audit/roles.js';
import { loadCatalog } from '../src/catalog/index.js';
import { scratch } from './helpers/scratch.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = join(root, 'samples/bmc-cm-site.pcapng');
const { dir, write } = scratch('fa-hostile-yaml-');

async function flowaudit(args: string[]) {
  const started = Date.now();
  const r = await run(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr, lines: r.stderr.split('\n').filter((l) => l !== ''), ms: Date.now() - started };
}

/** `analyze` of the bmc-cm sample with a hostile role map or waiver file: exit 2 and the one line. */
async function analyzeWith(option: '--roles' | '--waivers' | '--catalog', file: string): Promise<string> {
  const r = await flowaudit(['analyze', sample, ...(option === '--catalog' ? [] : ['--catalog', 'bmc-cm']), option, file, '--format', 'json', '--out', join(dir, 'report.json')]);
  expect(r.status).toBe(2);
  expect(r.lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return r.lines[0]!;
}

const laughs = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...'bcdefghi'.split('').map((x, i) => `${x}: &${x} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('hostile catalogs (catalog lint: one line a file, exit 2)', () => {
  it('aliases, depth, devices, size and extends chains are each one located line', async () => {
    const files = {
      laughs: write('laughs.yaml', `id: lol\nextends: bmc-cm\n${laughs}\n`),
      unresolved: write('unresolved.yaml', 'id: x\nextends: bmc-cm\nname: *nowhere\n'),
      selfAlias: write('self-alias.yaml', 'id: x\nextends: bmc-cm\nloop: &me [1, *me]\n'),
      flow: write('flow-deep.yaml', `id: x\nextends: bmc-cm\nfoo: ${nested(100_000)}\n`),
      block: write('block-deep.yaml', `id: x\nextends: bmc-cm\nfoo: ${'- '.repeat(100_000)}x\n`),
      syntax: write('syntax.yaml', 'id: x\nroles: [a\n'),
      two: write('two-docs.yaml', 'id: x\nextends: bmc-cm\n---\nid: y\n'),
      big: write('big.yaml', ''),
      dir: join(dir, 'a-directory.yaml'),
    };
    truncateSync(files.big, 17 * 1024 * 1024);
    mkdirSync(files.dir);
    const r = await flowaudit(['catalog', 'lint', ...Object.values(files), '/dev/zero']);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(r.lines).toEqual([
      `${files.laughs}:8:8: YAML: aliases expand to more than 100000 nodes (at *e)`,
      `${files.unresolved}:3:7: YAML: alias *nowhere has no anchor &nowhere before it`,
      `${files.selfAlias}:3:15: YAML: alias *me stands inside the node it names`,
      `${files.flow}:3:70: YAML: collections nested deeper than 64 levels`,
      `${files.block}:3:134: YAML: collections nested deeper than 64 levels`,
      expect.stringMatching(new RegExp(`^${files.syntax}:[23]:\\d+: YAML: `)),
      `${files.two}:3:1: YAML: a second document: the file holds one`,
      `${files.big}: 17825792 bytes (17 MiB) is over the 16 MiB limit for a catalog`,
      `${files.dir}: not a regular file (a directory): give the catalog as a file`,
      '/dev/zero: not a regular file (a character device): give the catalog as a file',
    ]);
    expect(r.ms).toBeLessThan(20_000);
  });

  it('an extends chain longer than 32 catalogs, and a cycle, are named at the extends: line', async () => {
    for (let i = 0; i < 40; i++) write(`chain-${i}.yaml`, `id: chain-${i}\nextends: ./chain-${i + 1}.yaml\n`);
    write('chain-40.yaml', 'id: chain-40\nextends: bmc-cm\n');
    write('cycle-a.yaml', 'id: cycle-a\nextends: cycle-b.yaml\n');
    write('cycle-b.yaml', 'id: cycle-b\nextends: ./cycle-a.yaml\n');
    const at = (name: string) => join(dir, name);
    expect(() => loadCatalog(at('chain-0.yaml'))).toThrow(
      `${at('chain-31.yaml')}:2:10: "extends" chains more than 32 catalogs: ${at('chain-0.yaml')} extends ${at('chain-1.yaml')} extends ${at('chain-2.yaml')} extends ${at('chain-3.yaml')} extends … (27 more) extends ${at('chain-31.yaml')} extends ${at('chain-32.yaml')}`,
    );
    expect(loadCatalog(at('chain-10.yaml')).rules.length).toBe(loadCatalog('bmc-cm').rules.length);
    expect(() => loadCatalog(at('cycle-a.yaml'))).toThrow(`${at('cycle-b.yaml')}:2:10: "extends" forms a cycle: ${at('cycle-a.yaml')} extends ${at('cycle-b.yaml')} extends ${at('cycle-a.yaml')}`);
  });

  it('an acts-as chain of 2000 roles is refused, and a mistake in every row lists the first 50', async () => {
    const roles = Array.from({ length: 2000 }, (_, i) => `  - { id: r-${i}, name: R${i}${i + 1 < 2000 ? `, acts-as: r-${i + 1}` : ''} }`).join('\n');
    const chain = write('acts-as-chain.yaml', `id: chain\nname: Chain\ndocuments: [{ id: d, title: D }]\nroles:\n${roles}\nrules: []\n`);
    expect(() => loadCatalog(chain)).toThrow(`${chain}:5:35: roles.0.acts-as: acts-as chains more than 16 roles: r-0 → r-1 → r-2 → r-3 → r-4 → r-5 → … (11 more)`);
    const rules = Array.from({ length: 1000 }, (_, i) => `  - { id: rule-${i}, from: nobody, to: a, transport: tcp, ports: 1, required: optional, cite: { section: S, text: T } }`).join('\n');
    const bad = write('bad-rows.yaml', `id: bad\nname: Bad\ndocuments: [{ id: d, title: D }]\nroles: [{ id: a, name: A }]\nrules:\n${rules}\n`);
    const lines = (() => {
      try {
        loadCatalog(bad);
      } catch (e) {
        return (e as Error).message.split('\n');
      }
      return [];
    })();
    expect(lines).toHaveLength(51);
    expect(lines[0]).toBe(`${bad}:6:25: rules.0.from: unknown role "nobody" (declared: a)`);
    expect(lines[50]).toBe(`${bad}: … and 950 more problems`);
  });

  it('a catalog of 10 000 roles and 1000 rules loads in seconds', async () => {
    const roles = Array.from({ length: 10_000 }, (_, i) => `  - { id: role-${i}, name: Role ${i} }`).join('\n');
    const rules = Array.from({ length: 1000 }, (_, i) => `  - { id: rule-${i}, from: role-${i}, to: role-${i + 1}, transport: tcp, ports: ${1000 + i}, required: optional, cite: { section: S, text: T } }`).join('\n');
    const file = write('many-roles.yaml', `id: many\nname: Many\ndocuments:\n  - { id: doc, title: Doc }\nroles:\n${roles}\nrules:\n${rules}\n`);
    const started = Date.now();
    const c = loadCatalog(file);
    expect([c.roles.length, c.rules.length]).toEqual([10_000, 1000]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('hostile role maps and waiver files (analyze: exit 2, one line)', () => {
  it('a device, a FIFO and an oversized file are refused before reading', async () => {
    const fifo = join(dir, 'roles.fifo');
    spawnSync('mkfifo', [fifo]);
    const big = write('big-waivers.yaml', '');
    truncateSync(big, 16 * 1024 * 1024 + 1);
    expect(await analyzeWith('--roles', '/dev/zero')).toBe('flowaudit: /dev/zero: not a regular file (a character device): give the role map as a file');
    expect(await analyzeWith('--roles', fifo)).toBe(`flowaudit: ${fifo}: not a regular file (a FIFO): give the role map as a file`);
    expect(await analyzeWith('--waivers', big)).toBe(`flowaudit: ${big}: 16777217 bytes (16.0 MiB) is over the 16 MiB limit for a waiver file`);
  });

  it('aliases and depth are located in role maps and waiver files too', async () => {
    const roles = write('laughs-roles.yaml', `${laughs}\nroles:\n  client: [10.0.0.1]\n`);
    expect(await analyzeWith('--roles', roles)).toBe(`${roles}:6:8: YAML: aliases expand to more than 100000 nodes (at *e)`);
    const waivers = write('unresolved-waivers.yaml', 'waivers:\n  - port: tcp/3389\n    reason: *why\n');
    expect(await analyzeWith('--waivers', waivers)).toBe(`${waivers}:3:13: YAML: alias *why has no anchor &why before it`);
    const deep = write('deep-waivers.yaml', `waivers: ${nested(100_000)}\n`);
    expect(await analyzeWith('--waivers', deep)).toBe(`${deep}:1:74: YAML: collections nested deeper than 64 levels`);
  });

  it('a 4000-character bad CIDR is shown cut short, with its length', async () => {
    const roles = write('long-cidr.yaml', `roles:\n  client:\n    - 10.0.0.1\n    - ${'1'.repeat(4000)}/24\n`);
    const line = await analyzeWith('--roles', roles);
    expect(line).toBe(`${roles}:4:7: "${'1'.repeat(60)}…" (4003 characters) is not an IPv4/IPv6 address or CIDR`);
    const waivers = write('long-host.yaml', `waivers:\n  - port: tcp/3389\n    hosts: [${'x'.repeat(4000)}]\n    reason: r\n`);
    expect(await analyzeWith('--waivers', waivers)).toBe(`${waivers}:3:13: "${'x'.repeat(60)}…" (4000 characters) is not an address or CIDR`);
  });
});

describe('large role maps', () => {
  const bmc = loadCatalog('bmc-cm');
  const address = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

  it('a plain map of 100 000 hosts loads in seconds, and aliases, quotes or comments give the same map', async () => {
    const hosts = Array.from({ length: 100_000 }, (_, i) => address(i));
    const file = write('many-hosts.yaml', `# generated\nroles:\n  master-server: [10.10.0.10]\n  console:\n${hosts.map((h) => `    - ${h}`).join('\n')}\nsite: [130.1.0.0/16]\n`);
    const started = Date.now();
    const map = loadRoleMap(file, [bmc]);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(map.given.get('console')!.length).toBe(100_000);
    const resolver = new RoleResolver(map, [bmc]);
    expect(resolver.rolesOf(address(54_321))).toEqual({ roles: ['console'], source: 'given' });
    expect(resolver.rolesOf('10.99.0.1').source).toBe('unknown');

    // The same maps in shapes only the YAML reader takes (anchors, quotes, flow maps) are the same maps.
    const small = hosts.slice(0, 300);
    const plain = `roles:\n  console: [${small.join(', ')}]  # consoles\n  relay: [${small.join(', ')}]\n  client:\n  - 10.20.0.0/24\n  - 2001:db8::/64\nsite:\n  - 130.1.0.0/16\n`;
    const yamlOnly = `roles: { console: &c [${small.map((h) => `"${h}"`).join(', ')}], relay: *c, client: ['10.20.0.0/24', 2001:db8::/64] }\nsite: [130.1.0.0/16]\n`;
    const a = loadRoleMap(write('plain.yaml', plain), [bmc]);
    const b = loadRoleMap(write('yaml-only.yaml', yamlOnly), [bmc]);
    expect(b).toEqual({ ...a, file: b.file });
    expect(a.given.get('relay')).toHaveLength(300);
  });

  it('looks a host up among overlapping prefixes and exact hosts, in the map\'s order of roles', async () => {
    const blocks = Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const file = write('prefixes.yaml', `roles:\n  console: [10.1.2.3, 2001:db8::7]\n  client: [${blocks.join(', ')}, 2001:db8::/32]\n  relay: [10.1.0.0/16]\n`);
    const resolver = new RoleResolver(loadRoleMap(file, [bmc]), [bmc]);
    const given = (a: string) => resolver.givenRoles(a).slice(0, 3);
    expect(given('10.1.2.3')).toEqual(['console', 'client', 'relay']);
    expect(given('10.1.2.4')).toEqual(['client', 'relay']);
    expect(given('10.7.207.9')).toEqual(['client']);
    expect(given('10.1.2.0')).toEqual(['relay', 'client']); // the /24's network address is not its host: a host of the /16 (a relay acts as a client)
    expect(given('10.1.2.255')).toEqual([]); // the /24's broadcast is nobody's host
    expect(given('2001:db8::7')).toEqual(['console', 'client']);
    expect(given('2001:db9::7')).toEqual([]);
  });
});

describe('strict waiver files and site catalogs (a mistake that would match nothing is an error)', () => {
  it('a misspelt or unknown rule, an impossible date, an unknown key and a port out of range are located, with the key', async () => {
    const cases: Array<[string, string, string]> = [
      ['misspelt-rule.yaml', 'waivers:\n  - rule: bmc-cm:agent-to-parnt\n    reason: r\n', ':2:11: waivers.0.rule: "bmc-cm:agent-to-parnt" is no rule or requirement of the catalogs; did you mean "bmc-cm:agent-to-parent"?'],
      ['unknown-rule.yaml', 'waivers:\n  - rule: nosuch:thing\n    reason: r\n', ':2:11: waivers.0.rule: "nosuch:thing" is no rule or requirement of the catalogs (catalogs: bmc-cm)'],
      ['bad-date.yaml', 'waivers:\n  - rule: bmc-cm:console\n    reason: r\n    expires: 2099-13-45\n', ':4:14: waivers.0.expires: "2099-13-45" is not a date (YYYY-MM-DD)'],
      ['not-a-leap-day.yaml', 'waivers:\n  - rule: bmc-cm:console\n    reason: r\n    expires: 2027-02-29\n', ':4:14: waivers.0.expires: "2027-02-29" is not a date (YYYY-MM-DD)'],
      ['unknown-key.yaml', 'waivers:\n  - port: tcp/3389\n    reason: r\n    expiry: 2027-01-01\n', ':4:13: waivers.0: unknown key "expiry" (a waiver file has rule, port, hosts, reason, expires)'],
      ['top-key.yaml', 'waivers: []\nowner: netops\n', ':2:8: unknown key "owner" (a waiver file has "waivers")'],
      ['port-range.yaml', 'waivers:\n  - port: tcp/70000\n    reason: r\n', ':2:11: waivers.0.port: "tcp/70000": a port is 1 to 65535'],
    ];
    for (const [name, text, line] of cases) {
      const file = write(name, text);
      expect(await analyzeWith('--waivers', file), name).toBe(`${file}${line}`);
    }
  });

  it('waivers of requirements, inherited rules and undocumented negotiations, and a leap day, load', async () => {
    const file = write('good-waivers.yaml', 'waivers:\n  - rule: bmc-cm:parent-return-path\n    reason: r\n  - rule: negotiation:dcerpc-epm\n    reason: r\n    expires: 2028-02-29\n  - port: tcp/3389\n    reason: r\n');
    const r = await flowaudit(['analyze', sample, '--catalog', 'bmc-cm', '--waivers', file, '--format', 'json', '--out', join(dir, 'good.json')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a site catalog that sets a parameter its base does not have is an error unless it declares it', async () => {
    const typo = write('typo-site.yaml', 'id: site\nextends: bmc-cm\nparams:\n  tunnel-prot: 443\n');
    const r = await flowaudit(['catalog', 'lint', typo]);
    expect(r.status).toBe(2);
    expect(r.lines).toEqual([`${typo}:4:16: params.tunnel-prot: bmc-cm has no parameter "tunnel-prot" (it has agent-port, tunnel-port, console-port, kiosk-port, bandwidth-port, multicast-port, webapi-port, mdm-enrollment-port); a new parameter is declared as { default: … }`]);
    const declared = write('declared-site.yaml', 'id: site\nextends: bmc-cm\nparams:\n  jump-port: { default: 2222, description: The jump host listens here. }\n  tunnel-port: 443\n');
    const ok = await flowaudit(['catalog', 'lint', declared]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
  });
});
