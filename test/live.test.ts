/**
 * flowaudit live on a real interface: two network namespaces joined by a veth pair, a TCP server in
 * one, flowaudit capturing on the other end, connections made by the test. Needs root (CI runs as root).
 */
import { run } from './helpers/run.js';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutCommand, skipWithoutNetns } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const tag = `fa${process.pid % 100000}`;
const NS_SENSOR = `${tag}s`;
const NS_SITE = `${tag}t`;
const IF_SENSOR = `${tag}s0`;
const IF_SITE = `${tag}t0`;
// Addresses of the test's own hosts, inside the namespaces it made.
const CLIENT = '10.231.7.1';
const PARENT = '10.231.7.2';

const skip = skipWithoutNetns('flowaudit live');
const noNfcapd = skip || skipWithoutCommand('nfcapd', 'nfdump', 'live --export read back by nfcapd');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir = '';
let server: ChildProcess | null = null;

function sh(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

/** Runs a short node script in a namespace and waits for it. */
function nodeIn(ns: string, script: string): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`script in ${ns} failed: ${r.stderr}`);
  return r.stdout;
}

/** From the sensor side: one connection per port, a little data each way, then a clean close. */
function connect(ports: number[]): string {
  return nodeIn(
    NS_SENSOR,
    `const net = require('net'); let left = ${ports.length};
     for (const p of ${JSON.stringify(ports)}) {
       const s = net.connect(p, '${PARENT}', () => { s.write('hello'); setTimeout(() => s.end(), 50); });
       s.on('data', () => {}); s.on('error', (e) => console.log(p, e.code)); s.on('close', () => { if (--left === 0) process.exit(0); });
     }`,
  );
}

interface LiveRun {
  proc: ChildProcess;
  lines: Array<Record<string, any>>;
  stderr: () => string;
  stdout: () => string;
  waitFor(pred: (r: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>;
  exit: Promise<number | null>;
}

/**
 * Resolves once process `pid` holds a packet socket (an fd whose inode /proc/PID/net/packet lists):
 * live opens its capture and catches SIGINT/SIGTERM in the same tick, so a signal after this reaches
 * its handler. (SigCgt cannot tell: Node catches SIGTERM from the start.)
 */
async function capturing(pid: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const packet = new Set(readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).at(-1)));
    const sockets = readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
    if (sockets.some((l) => packet.has(/^socket:\[(\d+)\]$/.exec(l)?.[1]))) return;
    if (Date.now() > until) throw new Error(`process ${pid} opened no packet socket within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startLive(args: string[], ns = NS_SENSOR): LiveRun {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, 'live', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, any>> = [];
  let out = '';
  let err = '';
  let all = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      // Kept even when it does not fit the schema (the throw still fails the run), so a schema error
      // is not also misread as a report that never came.
      if (line.startsWith('{')) {
        const doc = JSON.parse(line);
        lines.push(doc);
        checkReport('live', doc);
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    stdout: () => all,
    exit,
    async waitFor(pred, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no such report within ${ms} ms; stderr: ${err}; ${lines.length} reports`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

const key = (f: any) => `${f.proto} ${f.client}→${f.server}:${f.serverPort} ${f.verdict} ${f.rule}`;
const reqKey = (r: any) => `${r.rule} ${r.from}→${r.to} ${r.status}`;

describe.skipIf(skip)('flowaudit live on a veth pair', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fa-live-'));
    sh(['ip', 'netns', 'add', NS_SENSOR]);
    sh(['ip', 'netns', 'add', NS_SITE]);
    sh(['ip', 'link', 'add', IF_SENSOR, 'netns', NS_SENSOR, 'type', 'veth', 'peer', 'name', IF_SITE, 'netns', NS_SITE]);
    sh(['ip', '-n', NS_SENSOR, 'addr', 'add', `${CLIENT}/24`, 'dev', IF_SENSOR]);
    sh(['ip', '-n', NS_SITE, 'addr', 'add', `${PARENT}/24`, 'dev', IF_SITE]);
    for (const [ns, ifc] of [[NS_SENSOR, IF_SENSOR], [NS_SITE, IF_SITE]] as const) {
      // IPv4 only: no router solicitations or neighbour discovery to make the flow lists vary.
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      sh(['ip', '-n', ns, 'link', 'set', ifc, 'up']);
      // As on a real sensor: with offloads on, libpcap sizes every ring slot for 64 KiB frames.
      sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', ifc, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // The parent listens on the agent port 1610 and on 3389 (not in BMC's document); 1611 is closed.
    server = spawn('ip', ['netns', 'exec', NS_SITE, process.execPath, '-e',
      `const net = require('net'); for (const p of [1610, 3389]) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(p, '${PARENT}', () => console.log('up', p));`], { stdio: ['ignore', 'pipe', 'inherit'] });
    writeFileSync(join(dir, 'roles.yaml'), `roles:\n  master-server: [${PARENT}]\n  client: [${CLIENT}]\n`);
    return new Promise<void>((r) => {
      let up = 0;
      server!.stdout!.on('data', (d: Buffer) => {
        up += (d.toString().match(/up/g) ?? []).length;
        if (up >= 2) r();
      });
    });
  });

  afterAll(() => {
    server?.kill();
    for (const ns of [NS_SENSOR, NS_SITE]) spawnSync('ip', ['netns', 'del', ns]);
  });

  it('reports every tick, judges documented, undocumented and refused traffic, and gives a final report on Ctrl-C that analyze of its pcapng agrees with', async () => {
    const pcap = join(dir, 'seen.pcapng');
    const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--roles', join(dir, 'roles.yaml'), '--report-every', '1s', '--format', 'json', '--write', pcap, '--fail-on', 'undocumented']);
    const first = await live.waitFor((r) => r.live.report === 1);
    expect(first.live).toMatchObject({ interface: IF_SENSOR, final: false, stoppedBy: null, linkType: 1 });
    connect([1610, 3389, 1611]);
    const seen = await live.waitFor((r) => r.summary.flows >= 3 && !r.live.final);
    expect(seen.live.report).toBeGreaterThan(1);
    live.proc.kill('SIGINT');
    expect(await live.exit).toBe(1); // --fail-on undocumented: 3389 is not in the document
    const final = live.lines.at(-1)!;
    expect(final.live).toMatchObject({ final: true, stoppedBy: 'SIGINT', droppedByInterface: 0, notDelivered: 0 });
    expect(final.live.report).toBe(live.lines.length);
    expect(final.live.captured).toBe(final.capture.packets);
    expect(final.live.captured).toBeGreaterThanOrEqual(14);
    expect(final.capture.quality.loss).toBeNull();
    const flows = final.flows.filter((f: any) => f.proto === 'tcp').map(key).sort();
    expect(flows).toEqual([
      `tcp ${CLIENT}→${PARENT}:1610 expected bmc-cm:agent-to-parent`,
      `tcp ${CLIENT}→${PARENT}:1611 expected bmc-cm:agent-tunnel`,
      `tcp ${CLIENT}→${PARENT}:3389 undocumented null`,
    ]);
    expect(final.flows.find((f: any) => f.serverPort === 1611).outcome).toBe('rejected');
    expect(final.requirements.map(reqKey).sort()).toEqual([
      `bmc-cm:client-reaches-parent ${CLIENT}→${PARENT} satisfied`,
      `bmc-cm:parent-return-path ${CLIENT}→${PARENT} failing`,
    ]);

    // The same verdicts from the pcapng it wrote, which also carries its drop counters.
    const a = await run(process.execPath, [cli, 'analyze', pcap, '--catalog', 'bmc-cm', '--roles', join(dir, 'roles.yaml'), '--format', 'json'], { encoding: 'utf8' });
    expect(a.status).toBe(0);
    const offline = checkReport('analyze', JSON.parse(a.stdout));
    expect(offline.capture.packets).toBe(final.live.captured);
    expect(offline.flows.map(key).sort()).toEqual(final.flows.map(key).sort());
    expect(offline.requirements.map(reqKey).sort()).toEqual(final.requirements.map(reqKey).sort());
    expect(offline.capture.files[0].interfaces[0]).toMatchObject({ name: IF_SENSOR, stats: { droppedByInterface: 0, droppedByOs: 0, delivered: final.live.captured } });
  });

  it('--out is rewritten whole at every tick, and --duration ends with a final report', async () => {
    const out = join(dir, 'report.json');
    const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--report-every', '0.2s', '--duration', '2.5s', '--format', 'json', '--out', out]);
    const numbers = new Set<number>();
    let reads = 0;
    let done = false;
    void live.exit.then(() => (done = true));
    while (!done) {
      if (existsSync(out)) {
        const doc = checkReport('live', JSON.parse(readFileSync(out, 'utf8'))); // never half-written
        numbers.add(doc.live.report);
        reads++;
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(await live.exit).toBe(0);
    expect(reads).toBeGreaterThan(20);
    expect(numbers.size).toBeGreaterThanOrEqual(4);
    const final = checkReport('live', JSON.parse(readFileSync(out, 'utf8')));
    expect(final.live).toMatchObject({ final: true, stoppedBy: 'duration' });
    expect(final.live.elapsedSeconds).toBeGreaterThanOrEqual(2.5);
    expect(live.lines).toHaveLength(0); // nothing on standard output
  });

  it('SIGTERM gives the final text report, drops stated first', async () => {
    const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--report-every', '1h']);
    // The text report says nothing before the hour: wait until live's capture is open, and with it its
    // SIGTERM handler (a fixed second was too short on a loaded host: setup took up to 2.1 s).
    await capturing(live.proc.pid!);
    connect([1610]);
    live.proc.kill('SIGTERM');
    expect(await live.exit).toBe(0);
    expect(live.stderr()).toBe('');
    const text = live.stdout();
    expect(text).toMatch(new RegExp(`^flowaudit live — ${IF_SENSOR}, final report \\(SIGTERM\\) at `));
    expect(text).toContain(`the interface counted`);
    expect(text).not.toContain('DROPS');
    expect(text).toMatch(/Flows: 1 — 1 expected/);
  });

  it('counts the packets a full kernel buffer lost, says so loudly, and calls absence inconclusive', async () => {
    const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--roles', join(dir, 'roles.yaml'), '--buffer-size', '64k', '--report-every', '0.5s', '--format', 'json']);
    await live.waitFor((r) => r.live.report === 1);
    // While flowaudit is stopped, a burst overflows its 64 kB buffer.
    live.proc.kill('SIGSTOP');
    nodeIn(NS_SITE, `const s = require('dgram').createSocket('udp4'); let n = 0; const p = Buffer.alloc(200);
      (function burst() { for (let i = 0; i < 500; i++) s.send(p, 9, '${CLIENT}'); if ((n += 500) < 20000) setImmediate(burst); else setTimeout(() => process.exit(0), 200); })();`);
    live.proc.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 1500));
    live.proc.kill('SIGINT');
    expect(await live.exit).toBe(0);
    const final = live.lines.at(-1)!;
    expect(final.live.final).toBe(true);
    expect(final.live.interfaceCounters.rxPackets).toBeGreaterThanOrEqual(20000);
    expect(final.live.notDelivered).toBeGreaterThan(10000);
    expect(final.live.captured + final.live.notDelivered).toBeGreaterThanOrEqual(20000);
    expect(final.capture.quality.loss).toMatch(/dropped \d+ packets/);
    // The client sent nothing to its parent (the one master the map gives), but a lossy capture cannot prove that.
    expect(final.requirements.map(reqKey)).toEqual([`bmc-cm:client-reaches-parent ${CLIENT}→${PARENT} inconclusive`]);
  });

  it('a flood of new flows stays within --max-flows, and the evictions are counted', async () => {
    const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--max-flows', '1000', '--report-every', '1s', '--format', 'json']);
    await live.waitFor((r) => r.live.report === 1);
    nodeIn(NS_SITE, `const s = require('dgram').createSocket('udp4'); let port = 20000;
      (function next() { if (port >= 25000) return setTimeout(() => process.exit(0), 100); const c = require('dgram').createSocket('udp4');
        c.bind(port++, () => c.send('x', 5000, '${CLIENT}', () => { c.close(); setImmediate(next); })); })();`);
    live.proc.kill('SIGINT');
    expect(await live.exit).toBe(0);
    const t = live.lines.at(-1)!.live.flowTable;
    expect(t.active).toBeLessThanOrEqual(1250);
    expect(t.evicted).toBeGreaterThan(3000);
    expect(t.foldedRecords).toBeLessThanOrEqual(1000);
    // Every flow that left the table is in a record or counted as overflow. (Records can be fewer
    // than evicted flows: the ICMP unreachables between the two hosts are one conversation.)
    expect(t.folded + t.foldedOverflow).toBe(t.expired + t.evicted);
    expect(t.folded).toBeGreaterThanOrEqual(t.foldedRecords);
    // The client has no listener on 5000: its port-unreachables reject the UDP flows they quote, and a
    // folded record counts how many of its flows were rejected.
    const folded = live.lines.at(-1)!.flows.filter((f: any) => f.proto === 'udp' && f.serverPort === 5000 && 'flows' in f);
    expect(folded.length).toBeGreaterThan(0);
    expect(folded.some((f: any) => f.outcome === 'rejected' && f.outcomes.rejected > 0 && f.outcomes.rejected <= f.flows)).toBe(true);
  });

  it.skipIf(noNfcapd)('--export sends every flow to an IPFIX collector: nfcapd stores them and nfdump shows the final report\'s flows, packets and bytes per side', async () => {
    // The collector listens on the sensor namespace's own loopback.
    const port = 40000 + (process.pid % 20000);
    const store = mkdtempSync(join(dir, 'nfcapd-'));
    const collector = spawn('ip', ['netns', 'exec', NS_SENSOR, 'nfcapd', '-b', '127.0.0.1', '-p', String(port), '-w', store], { stdio: 'ignore' });
    const collected = new Promise((r) => collector.on('exit', r));
    try {
      await sleep(700);
      const live = startLive(['-i', IF_SENSOR, '--catalog', 'bmc-cm', '--report-every', '1s', '--idle-timeout', '1s', '--format', 'json', '--export', `ipfix://127.0.0.1:${port}`]);
      await live.waitFor((r) => r.live.report === 1);
      // A UDP datagram idle past --idle-timeout leaves the table at a chore and is exported then, mid-run.
      nodeIn(NS_SENSOR, `const s = require('dgram').createSocket('udp4'); s.send('ping', 9999, '${PARENT}', () => s.close());`);
      const early = await live.waitFor((r) => r.live.export.records >= 1);
      expect(early.live.final).toBe(false);
      expect(early.live.flowTable.expired).toBeGreaterThanOrEqual(1);
      // TCP flows still in the table at the end are exported as they stand.
      connect([1610, 3389, 1611]);
      await live.waitFor((r) => r.flows.filter((f: any) => f.proto === 'tcp').length >= 3);
      live.proc.kill('SIGINT');
      expect(await live.exit).toBe(0);
      const final = live.lines.at(-1)!;
      const t = final.live.flowTable;
      const inTable = final.flows.filter((f: any) => !('flows' in f)).length;
      expect(final.live.export).toMatchObject({ url: `ipfix://127.0.0.1:${port}`, target: `udp:127.0.0.1:${port}`, sendErrors: 0, lastError: null, unencodable: 0 });
      expect(final.live.export.records).toBe(t.expired + t.evicted + inTable);
      expect(final.live.export.messages).toBeGreaterThanOrEqual(2);

      collector.kill('SIGTERM');
      await collected;
      const lines: string[] = [];
      for (const n of readdirSync(store).filter((f) => f.startsWith('nfcapd.'))) {
        const r = await run('nfdump', ['-r', join(store, n), '-q', '-o', 'fmt:%sa,%da,%sp,%dp,%pr,%ipkt,%ibyt,%opkt,%obyt'], { timeout: 60_000 });
        expect(r.status, r.stderr).toBe(0);
        lines.push(...r.stdout.split('\n').map((l) => l.replace(/\s+/g, '')).filter((l) => l !== ''));
      }
      // Every flow of the final report, the folded UDP one too (one flow: its counts are the flow's).
      const ours = final.flows.map((f: any) => `${f.client},${f.server},${f.clientPort ?? 0},${f.serverPort ?? 0},${f.proto.toUpperCase()},${f.clientPackets},${f.clientBytes},${f.serverPackets},${f.serverBytes}`);
      expect(ours.filter((l: string) => /,(TCP|UDP),/.test(l))).toHaveLength(4);
      expect(lines.sort()).toEqual(ours.sort());
    } finally {
      collector.kill('SIGTERM');
      await collected;
    }
  });

  it('says in one line, exit 2, what is wrong: no such interface, a bad filter, no permission, no binding, a bad --export', () => {
    const run = (args: string[], prefix: string[] = []) => {
      const r = spawnSync('ip', ['netns', 'exec', NS_SENSOR, ...prefix, process.execPath, ...args], { encoding: 'utf8', timeout: 30_000 });
      return { code: r.status, err: r.stderr.trim() };
    };
    const base = [cli, 'live', '--catalog', 'bmc-cm', '--duration', '1s'];
    const noIf = run([...base, '-i', 'nosuch0']);
    expect(noIf.code).toBe(2);
    expect(noIf.err).toMatch(new RegExp(`^flowaudit: no such interface: nosuch0 \\(interfaces: .*${IF_SENSOR}`));
    const bpf = run([...base, '-i', IF_SENSOR, '--bpf', 'tcp port']);
    expect(bpf.code).toBe(2);
    expect(bpf.err).toMatch(/^flowaudit: --bpf "tcp port": libpcap cannot compile it: .*syntax error/);
    const perm = run([...base, '-i', IF_SENSOR], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(perm.code).toBe(2);
    expect(perm.err).toMatch(/^flowaudit: capturing on \S+ is not permitted: it needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN; .*setcap/);
    // As if cap could not be built: a preload makes require('cap') fail.
    const hide = join(dir, 'no-cap.cjs');
    writeFileSync(hide, `const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (req, ...a) { if (req === 'cap') throw new Error('not built'); return r.call(this, req, ...a); };`);
    const noCap = run(['--require', hide, ...base, '-i', IF_SENSOR]);
    expect(noCap.code).toBe(2);
    expect(noCap.err).toMatch(/^flowaudit: live capture needs the libpcap binding .*apt-get install libpcap-dev.*npm rebuild cap$/);
    const notUrl = run([...base, '-i', IF_SENSOR, '--export', 'udp://127.0.0.1:4739']);
    expect(notUrl.code).toBe(2);
    expect(notUrl.err).toBe('flowaudit: --export udp://127.0.0.1:4739: expected ipfix://HOST:PORT (IPFIX over UDP; PORT defaults to 4739)');
    const noHost = run([...base, '-i', IF_SENSOR, '--export', 'ipfix://nosuch.invalid:4739']);
    expect(noHost.code).toBe(2);
    expect(noHost.err).toMatch(/^flowaudit: --export ipfix:\/\/nosuch\.invalid:4739: cannot resolve nosuch\.invalid \(E[A-Z_]+\)$/);
    for (const r of [noIf, bpf, perm, noCap, notUrl, noHost]) expect(r.err.split('\n')).toHaveLength(1);
  });

  it('tcpdump -w - | flowaudit analyze - reports when the stream ends', async () => {
    const pipeline = spawn('ip', ['netns', 'exec', NS_SENSOR, 'sh', '-c',
      `timeout -s INT 3 tcpdump -i ${IF_SENSOR} -U -w - 2>/dev/null | "${process.execPath}" "${cli}" analyze - --catalog bmc-cm --format json`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    pipeline.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    pipeline.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => pipeline.on('exit', (c) => r(c)));
    await new Promise((r) => setTimeout(r, 1000));
    connect([1610, 3389]);
    expect(await exit).toBe(0);
    expect(err).toBe('');
    const report = checkReport('analyze', JSON.parse(out));
    expect(report.capture.files[0]).toMatchObject({ file: '<stdin>', format: 'pcap' });
    expect(report.flows.map(key).sort()).toEqual([`tcp ${CLIENT}→${PARENT}:1610 expected bmc-cm:agent-to-parent`, `tcp ${CLIENT}→${PARENT}:3389 undocumented null`]);
  });

  it('--list-interfaces names the interfaces with their addresses', () => {
    const r = spawnSync('ip', ['netns', 'exec', NS_SENSOR, process.execPath, cli, 'live', '--list-interfaces'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${IF_SENSOR}\\s+${CLIENT.replace(/\./g, '\\.')}`, 'm'));
  });
});
