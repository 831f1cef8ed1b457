/**
 * The nftables rule set of `flowaudit firewall` on a real router: three network namespaces made by
 * the test (the sample's clients and console, a router, the sample's servers), joined by two veth
 * pairs and holding the addresses of samples/bmc-cm-site.pcapng. The router loads the allow-list of
 * that sample; every expected flow of the sample between the two sides is replayed as a real TCP
 * connection, and one undocumented one (tcp/3389, as the sample has it): the expected ones pass, the
 * undocumented one is dropped and counted by the default-drop counter, and `flowaudit live` on the
 * servers' side judges everything that got through as expected. Needs root (CI runs as root).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutCommand, skipWithoutNetns } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';
import { run } from './helpers/run.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = (f: string) => join(root, 'samples', f);
const tag = `fw${process.pid % 100000}`;
const NS_CLIENTS = `${tag}a`;
const NS_ROUTER = `${tag}r`;
const NS_SERVERS = `${tag}b`;
const IF_A = `${tag}a0`;
const IF_RA = `${tag}ra`;
const IF_RB = `${tag}rb`;
const IF_B = `${tag}b0`;
// The sample's own addresses (samples/bmc-cm-roles.yaml), held only inside the test's namespaces.
const CLIENTS = ['10.20.0.21', '10.20.0.22', '10.20.0.23', '10.20.0.24'];
const CONSOLE = '10.30.0.5';
const MASTER = '10.10.0.10';
const RELAY = '10.10.0.11';
const DATABASE = '10.10.0.20';

const skip = skipWithoutNetns('firewall rule set on a namespace router') || skipWithoutCommand('nft', 'firewall rule set on a namespace router');
let dir = '';
const servers: ChildProcess[] = [];

function sh(args: string[]): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A TCP server on `ports` of every address of a namespace: it answers what it reads. */
function serve(ns: string, ports: number[]): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `const net = require('net'); for (const p of ${JSON.stringify(ports)}) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(p, '0.0.0.0', () => console.log('up', p));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(p);
  return new Promise((r) => {
    let up = 0;
    p.stdout!.on('data', (d: Buffer) => {
      up += (d.toString().match(/up/g) ?? []).length;
      if (up >= ports.length) r();
    });
  });
}

/** Connections from a namespace, each from its own address: `ok` when the data came back, else the error (`timeout` after 2 s). */
async function connect(ns: string, list: Array<[string, string, number]>): Promise<Record<string, string>> {
  const script = `const net = require('net'); const out = {}; let left = ${list.length};
    const done = (k, v) => { if (k in out) return; out[k] = v; if (--left === 0) { console.log(JSON.stringify(out)); process.exit(0); } };
    for (const [from, to, port] of ${JSON.stringify(list)}) {
      const k = from + '>' + to + ':' + port;
      const s = net.connect({ host: to, port, localAddress: from });
      s.setTimeout(2000, () => { s.destroy(); done(k, 'timeout'); });
      s.on('connect', () => s.write('hello'));
      s.on('data', () => { s.end(); done(k, 'ok'); });
      s.on('error', (e) => done(k, e.code));
    }`;
  const r = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`connections from ${ns}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

/** Resolves once process `pid` holds a packet socket: live is capturing. */
async function capturing(pid: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const packet = new Set(readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).at(-1)));
    const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
    if (fds.some((l) => packet.has(/^socket:\[(\d+)\]$/.exec(l)?.[1]))) return;
    if (Date.now() > until) throw new Error(`process ${pid} opened no packet socket within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The packets a counter of the router's table counted: the named one, or the rules of a chain. */
function counted(what: ['counter' | 'chain', string]): number {
  const doc = JSON.parse(sh(['ip', 'netns', 'exec', NS_ROUTER, 'nft', '-j', 'list', what[0], 'inet', 'flowaudit', what[1]])) as { nftables: Array<Record<string, any>> };
  let n = 0;
  for (const item of doc.nftables) {
    if (item.counter) n += item.counter.packets as number;
    for (const e of item.rule?.expr ?? []) if (e.counter) n += e.counter.packets as number;
  }
  return n;
}

describe.skipIf(skip)('the nftables allow-list of a sample on a namespace router', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fa-fwns-'));
    for (const ns of [NS_CLIENTS, NS_ROUTER, NS_SERVERS]) sh(['ip', 'netns', 'add', ns]);
    sh(['ip', 'link', 'add', IF_A, 'netns', NS_CLIENTS, 'type', 'veth', 'peer', 'name', IF_RA, 'netns', NS_ROUTER]);
    sh(['ip', 'link', 'add', IF_RB, 'netns', NS_ROUTER, 'type', 'veth', 'peer', 'name', IF_B, 'netns', NS_SERVERS]);
    for (const a of [...CLIENTS, CONSOLE]) sh(['ip', '-n', NS_CLIENTS, 'addr', 'add', `${a}/24`, 'dev', IF_A]);
    for (const a of ['10.20.0.1', '10.30.0.1']) sh(['ip', '-n', NS_ROUTER, 'addr', 'add', `${a}/24`, 'dev', IF_RA]);
    sh(['ip', '-n', NS_ROUTER, 'addr', 'add', '10.10.0.1/24', 'dev', IF_RB]);
    for (const a of [MASTER, RELAY, DATABASE]) sh(['ip', '-n', NS_SERVERS, 'addr', 'add', `${a}/24`, 'dev', IF_B]);
    for (const [ns, ifcs] of [[NS_CLIENTS, [IF_A]], [NS_ROUTER, [IF_RA, IF_RB]], [NS_SERVERS, [IF_B]]] as const) {
      // IPv4 only: no router solicitations or neighbour discovery in the capture.
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      for (const ifc of ifcs) sh(['ip', '-n', ns, 'link', 'set', ifc, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', 'netns', 'exec', NS_SERVERS, 'ethtool', '-K', IF_B, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    sh(['ip', '-n', NS_CLIENTS, 'route', 'add', 'default', 'via', '10.20.0.1']);
    sh(['ip', '-n', NS_SERVERS, 'route', 'add', 'default', 'via', '10.10.0.1']);
    sh(['ip', 'netns', 'exec', NS_ROUTER, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await Promise.all([serve(NS_SERVERS, [1610, 1611, 3389]), serve(NS_CLIENTS, [1610])]);
  }, 60_000);

  afterAll(() => {
    for (const s of servers) s.kill();
    for (const ns of [NS_CLIENTS, NS_ROUTER, NS_SERVERS]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('expected flows pass, an undocumented one is dropped and counted, and live behind the router judges all it saw expected', async () => {
    const rules = join(dir, 'bmc-cm.nft');
    const made = await run(process.execPath, [cli, 'firewall', sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml'), '--format', 'nft', '--out', rules], { encoding: 'utf8', timeout: 60_000 });
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    sh(['nft', '-c', '-f', rules]);
    sh(['ip', 'netns', 'exec', NS_ROUTER, 'nft', '-f', rules]);
    // Loading it again replaces the table whole.
    sh(['ip', 'netns', 'exec', NS_ROUTER, 'nft', '-f', rules]);
    expect(counted(['counter', 'default_drop'])).toBe(0);

    const live = spawn('ip', ['netns', 'exec', NS_SERVERS, process.execPath, cli, 'live', '-i', IF_B, '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml'), '--format', 'json', '--report-every', '60s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    live.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    live.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => live.on('exit', (code) => r(code)));
    await capturing(live.pid!);

    // The sample's expected flows that cross the router, each from the host that made it in the sample.
    const fromClients = await connect(NS_CLIENTS, [
      ['10.20.0.21', MASTER, 1610],
      ['10.20.0.22', MASTER, 1610],
      ['10.20.0.23', RELAY, 1610],
      ['10.20.0.23', RELAY, 1611],
      [CONSOLE, MASTER, 1611],
      // Undocumented: the sample's tcp/3389 from a client to the master (the master listens).
      ['10.20.0.21', MASTER, 3389],
    ]);
    const fromServers = await connect(NS_SERVERS, [
      [MASTER, '10.20.0.21', 1610],
      [RELAY, '10.20.0.23', 1610],
    ]);
    expect(fromClients).toEqual({
      '10.20.0.21>10.10.0.10:1610': 'ok',
      '10.20.0.22>10.10.0.10:1610': 'ok',
      '10.20.0.23>10.10.0.11:1610': 'ok',
      '10.20.0.23>10.10.0.11:1611': 'ok',
      '10.30.0.5>10.10.0.10:1611': 'ok',
      '10.20.0.21>10.10.0.10:3389': 'timeout',
    });
    expect(fromServers).toEqual({ '10.10.0.10>10.20.0.21:1610': 'ok', '10.10.0.11>10.20.0.23:1610': 'ok' });
    // The SYN of 3389 and its retransmission: nothing else hit the default drop.
    const dropped = counted(['counter', 'default_drop']);
    expect(dropped).toBeGreaterThanOrEqual(1);
    expect(dropped).toBeLessThanOrEqual(3);
    // Each pair's chain counted its connections' first packets (replies pass by connection tracking).
    expect(counted(['chain', 'g_client_to_master_server'])).toBe(2);
    expect(counted(['chain', 'g_client_to_relay'])).toBe(2);
    expect(counted(['chain', 'g_console_to_master_server'])).toBe(1);
    expect(counted(['chain', 'g_master_server_to_client'])).toBe(1);
    expect(counted(['chain', 'g_relay_to_client'])).toBe(1);

    await new Promise((r) => setTimeout(r, 500));
    live.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(err).toBe('');
    const final = checkReport('live', JSON.parse(out.trim().split('\n').at(-1)!)) as { live: { final: boolean }; flows: Array<{ proto: string; client: string; server: string; serverPort: number; verdict: string; rule: string | null; outcome: string }>; summary: Record<string, number> };
    expect(final.live.final).toBe(true);
    const seen = final.flows.map((f) => `${f.client}>${f.server}:${f.serverPort} ${f.verdict} ${f.rule} ${f.outcome}`).sort();
    expect(seen).toEqual([
      '10.10.0.10>10.20.0.21:1610 expected bmc-cm:parent-to-agent established',
      '10.10.0.11>10.20.0.23:1610 expected bmc-cm:parent-to-agent established',
      '10.20.0.21>10.10.0.10:1610 expected bmc-cm:agent-to-parent established',
      '10.20.0.22>10.10.0.10:1610 expected bmc-cm:agent-to-parent established',
      '10.20.0.23>10.10.0.11:1610 expected bmc-cm:agent-to-parent established',
      '10.20.0.23>10.10.0.11:1611 expected bmc-cm:agent-tunnel established',
      '10.30.0.5>10.10.0.10:1611 expected bmc-cm:console established',
    ]);
    expect(final.summary).toMatchObject({ flows: 7, expected: 7, undocumented: 0, roleMismatch: 0, background: 0 });
  }, 60_000);
});
