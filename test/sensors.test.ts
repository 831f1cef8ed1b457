import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturesDir, repositoryRoot, skipWithoutCaptures, skipWithoutTshark } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';
import { CLI, flowaudit, run } from './helpers/run.js';

/*
 * `analyze --sensor NAME=KIND:PATH`: several sensors of any kind judged as one site. Real captures cut
 * into sensors that overlap (by packet, by time, by direction, as two SPAN ports or two taps of an
 * asymmetric route would see them), and a trace's pcap beside Zeek's own conn.log of it: every
 * conversation counted once, each flow naming the sensors that saw it, the verdicts those of the
 * whole capture audited alone.
 */

const base = capturesDir();
const zerologon = base === null ? '' : join(base, 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
const schtask = base === null ? '' : join(base, 'windows/security-datasets/schtask_create_2020-12-1907003032.pcapng');

async function tool(command: string, args: string[]): Promise<void> {
  const r = await run(command, args, { timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

interface Flow {
  proto: string;
  client: string;
  clientPort: number | null;
  server: string;
  serverPort: number | null;
  packets: number;
  clientPackets: number;
  serverPackets: number;
  start: string | null;
  end: string | null;
  outcome: string | null;
  direction: string;
  verdict: string;
  rule: string | null;
  firstFrame: number;
  lastFrame: number;
  sensors?: string[];
}
interface Sensor { name: string; kind: string; files: string[]; packets: number; records: number | null; flows: number; alone: number; loss: string | null; notes: string[] }
interface Report {
  capture: { packets: number; sensors?: Sensor[]; quality: { notes: string[]; loss: string | null; inspectors: unknown[] } };
  flows: Flow[];
  grants: unknown[];
  requirements: Array<{ rule: string; status: string; from: string; to: string | null }>;
  summary: Record<string, number>;
}

async function analyze(args: string[], catalog = 'bmc-cm'): Promise<Report> {
  const r = await flowaudit(['analyze', ...args, '--catalog', catalog, '--format', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return checkReport('analyze', JSON.parse(r.stdout) as Report);
}

/** A conversation whatever its orientation: protocol and both endpoints. */
function key(f: Flow): string {
  const a = f.clientPort === null ? f.client : `${f.client}:${f.clientPort}`;
  const b = f.serverPort === null ? f.server : `${f.server}:${f.serverPort}`;
  return `${f.proto} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
}

/** What a verdict rests on, per conversation. */
function judged(r: Report, counts = false): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of r.flows) {
    const k = key(f);
    expect(out.has(k), `${k} twice`).toBe(false);
    out.set(k, `${f.client}:${f.clientPort} ${f.outcome} ${f.verdict} ${f.rule}${counts ? ` ${f.clientPackets}/${f.serverPackets}` : ''}`);
  }
  return out;
}

function requirementsOf(r: Report): string[] {
  return r.requirements.map((x) => `${x.rule} ${x.status} ${x.from} ${x.to}`).sort();
}

describe.skipIf(skipWithoutCaptures('many sensors') || skipWithoutTshark('many sensors (editcap)'))('several sensors judged as one site', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowaudit-sensors-'));
  const part = (name: string) => join(dir, name);
  let whole: Report;

  beforeAll(async () => {
    // Two SPAN ports whose captures overlap in frames 3000-5000; two taps of an asymmetric route
    // (each sees one direction); two sensors overlapping in time (seconds 12-20 of a 33 s trace).
    await Promise.all([
      tool('editcap', ['-r', zerologon, part('span-a.pcap'), '1-5000']),
      tool('editcap', ['-r', zerologon, part('span-b.pcap'), '3000-8178']),
      tool('tshark', ['-r', zerologon, '-Y', 'ip.src==172.16.0.10', '-w', part('out.pcap')]),
      tool('tshark', ['-r', zerologon, '-Y', '!(ip.src==172.16.0.10)', '-w', part('in.pcap')]),
    ]);
    const { stdout } = await run('capinfos', ['-a', '-T', '-r', '-S', schtask]);
    const t0 = Number(stdout.trim().split('\t')[1]);
    await Promise.all([
      tool('editcap', ['-B', new Date((t0 + 20) * 1000).toISOString().replace('T', ' ').replace('Z', ''), schtask, part('early.pcapng')]),
      tool('editcap', ['-A', new Date((t0 + 12) * 1000).toISOString().replace('T', ' ').replace('Z', ''), schtask, part('late.pcapng')]),
    ]);
    whole = await analyze([zerologon]);
  }, 120_000);

  it('two overlapping SPAN captures: each conversation once, both sensors named where both saw it, the verdicts of the whole capture', async () => {
    const site = await analyze(['--sensor', 'span-a=pcap:' + part('span-a.pcap'), '--sensor', 'span-b=' + part('span-b.pcap')]);
    expect(site.summary).toEqual(whole.summary);
    expect(site.flows.length).toBe(574);
    expect([...judged(site)].sort()).toEqual([...judged(whole)].sort());
    expect(requirementsOf(site)).toEqual(requirementsOf(whole));
    // The 286 endpoint-mapper answers: those both captures hold are read twice and counted once.
    expect(site.grants.length).toBe(whole.grants.length);
    expect(site.capture.quality.notes).toContain('70 negotiations read by more than one sensor are counted once (in the grants and in what the inspectors read)');
    expect(site.capture.quality.inspectors).toEqual(whole.capture.quality.inspectors);
    // Which sensors saw a flow follows from where its frames lie in the whole capture.
    const byKey = new Map(whole.flows.map((f) => [key(f), f]));
    let both = 0;
    for (const f of site.flows) {
      const w = byKey.get(key(f))!;
      const expected = w.lastFrame < 3000 ? ['span-a'] : w.firstFrame > 5000 ? ['span-b'] : w.firstFrame >= 3000 && w.lastFrame <= 5000 ? ['span-a', 'span-b'] : null;
      if (expected !== null) expect(f.sensors, key(f)).toEqual(expected);
      if (f.sensors!.length === 2) {
        both++;
        // Counts are not summed: a side never has more packets than the whole capture saw.
        expect(f.clientPackets).toBeLessThanOrEqual(w.clientPackets);
        expect(f.serverPackets).toBeLessThanOrEqual(w.serverPackets);
      }
    }
    expect(both).toBe(149);
    const [a, b] = site.capture.sensors!;
    expect([a!.name, a!.kind, a!.packets, a!.records, a!.flows, b!.name, b!.packets, b!.flows]).toEqual(['span-a', 'pcap', 5000, null, 356, 'span-b', 5179, 367]);
    expect(a!.alone + b!.alone + both).toBe(574);
    expect(site.capture.quality.loss).toBeNull();
  });

  it('one capture seen by two sensors is every flow once with the counts of one, never summed (one of them read from standard input)', async () => {
    const sample = join(repositoryRoot, 'samples/bmc-cm-site.pcapng');
    const roles = join(repositoryRoot, 'samples/bmc-cm-roles.yaml');
    const [alone, r] = await Promise.all([
      analyze([sample, '--roles', roles]),
      run(process.execPath, [CLI, 'analyze', '--sensor', `a=${sample}`, '--sensor', 'b=pcap:-', '--roles', roles, '--catalog', 'bmc-cm', '--format', 'json'], { input: readFileSync(sample), timeout: 60_000 }),
    ]);
    expect(r.status, r.stderr).toBe(0);
    const site = checkReport('analyze', JSON.parse(r.stdout) as Report);
    const strip = ({ sensors, ...f }: Flow) => f;
    expect(site.flows.map((f) => f.sensors)).toEqual(alone.flows.map(() => ['a', 'b']));
    expect(site.flows.map(strip)).toEqual(alone.flows);
    expect(site.summary).toEqual(alone.summary);
    expect(requirementsOf(site)).toEqual(requirementsOf(alone));
  });

  it('the text report lists every sensor in its capture-quality section; CSV has a sensors column', async () => {
    const args = ['analyze', '--sensor', `span-a=${part('span-a.pcap')}`, '--sensor', `span-b=${part('span-b.pcap')}`, '--catalog', 'bmc-cm'];
    const [text, csv, explain] = await Promise.all([flowaudit(args), flowaudit([...args, '--format', 'csv', '--table', 'flows']), flowaudit([...args, '--explain', '172.16.5.59'])]);
    expect(explain.stdout.split('\n').filter((l) => l === '      seen by span-a, span-b').length).toBe(149);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}2 sensors: 10179 packets, 1\.02 MB read in all/m);
    expect(text.stdout).toMatch(/^ {2}sensor span-a \(pcap, .*span-a\.pcap\): 5000 packets, 501 kB,/m);
    expect(text.stdout).toMatch(/^ {2}sensor span-b \(pcap, .*span-b\.pcap\): 5179 packets, 521 kB,/m);
    expect(text.stdout).toMatch(/^ {2}149 conversations seen by more than one sensor are counted once/m);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]!.split(',').at(-1)).toBe('sensors');
    expect(lines.filter((l) => l.endsWith(',span-a span-b')).length).toBe(149);
  });

  it('two taps of an asymmetric route, each seeing one direction: one flow per conversation with both sides counted', async () => {
    const site = await analyze(['--sensor', `fw-out=${part('out.pcap')}`, '--sensor', `fw-in=${part('in.pcap')}`]);
    expect(site.flows.length).toBe(whole.flows.length);
    const wholeFlows = new Map(whole.flows.map((f) => [key(f), f]));
    for (const f of site.flows) {
      const w = wholeFlows.get(key(f))!;
      expect(f.sensors).toEqual(['fw-out', 'fw-in']);
      // The client's SYN from one tap, the server's SYN-ACK from the other: established, as the whole capture says.
      expect(`${f.client} ${f.outcome} ${f.direction} ${f.clientPackets}/${f.serverPackets}`).toBe(`${w.client} ${w.outcome} ${w.direction} ${w.clientPackets}/${w.serverPackets}`);
    }
    // Each tap is one-sided, the site is not: no loss from one-sidedness.
    expect(site.capture.sensors![1]!.notes).toContain('574 of 574 TCP flows (100%) show one direction only');
    expect(site.capture.quality.loss).toBeNull();
    // A negotiation is read where one sensor holds both its request and its answer: here none does, so
    // the dynamic-port connections are undocumented, not granted (a limit the README states).
    expect(site.grants.length).toBe(0);
    expect(site.summary.undocumented).toBe(286);
  });

  it('two sensors overlapping in time: a conversation with packets in the overlap is one flow; the verdicts and requirements of the whole capture', async () => {
    const [alone, site] = await Promise.all([
      analyze([schtask]),
      analyze(['--sensor', `early=${part('early.pcapng')}`, '--sensor', `late=${part('late.pcapng')}`]),
    ]);
    const wholeFlows = new Map(alone.flows.map((f) => [key(f), f]));
    const pieces = new Map<string, Flow[]>();
    for (const f of site.flows) pieces.set(key(f), [...(pieces.get(key(f)) ?? []), f]);
    expect([...pieces.keys()].sort()).toEqual([...wholeFlows.keys()].sort());
    for (const [k, list] of pieces) {
      const w = wholeFlows.get(k)!;
      for (const f of list) expect(`${f.client} ${f.outcome} ${f.verdict} ${f.rule}`, k).toBe(`${w.client} ${w.outcome} ${w.verdict} ${w.rule}`);
      if (list.length === 1) continue;
      // Idle all through the eight seconds both sensors watched: each sensor saw a piece, and no
      // time shows them to be one (two sensors' records are one conversation only when they overlap).
      const [early, late] = list;
      expect([early!.sensors, late!.sensors]).toEqual([['early'], ['late']]);
      expect(Date.parse(late!.start!) - Date.parse(early!.end!)).toBeGreaterThan(10_000);
    }
    expect(site.flows.filter((f) => f.sensors!.length === 2).length).toBe(6);
    expect([alone.flows.length, site.flows.length]).toEqual([13, 16]);
    expect(requirementsOf(site)).toEqual(requirementsOf(alone));
  });

  // Traces whose pcap and Zeek's conn.log agree conversation by conversation (test/zeek-input.test.ts
  // lists the ones that do not, with their reasons).
  const AGREEING = [
    'core.cisco-fabric-path', 'core.mpls-in-vlan', 'core.q-in-q', 'core.vlan-mpls', 'core.tunnels.gre-in-gre', 'core.history-flip',
    'core.tcp.missing-syn', 'scripts.base.protocols.ftp.gridftp', 'scripts.policy.protocols.conn.vlan-logging',
  ];

  it("a trace's pcap and Zeek's conn.log of it as two sensors: each conversation once, matched on the 5-tuple alone (Zeek's test logs mask the time), the pcap's verdicts", async () => {
    const index = (await import(join(base!, 'zeek-conn-logs/index.json'), { with: { type: 'json' } })).default as Array<{ test: string; trace: string }>;
    const audits = async (test: string) => {
      const trace = join(base!, index.find((t) => t.test === test)!.trace);
      const log = join(base!, 'zeek-conn-logs', test, 'conn.log');
      return Promise.all([analyze([trace]), analyze(['--sensor', `span=pcap:${trace}`, '--sensor', `zeek=zeek:${log}`])]);
    };
    const results: Array<[Report, Report]> = [];
    for (let i = 0; i < AGREEING.length; i += 3) results.push(...(await Promise.all(AGREEING.slice(i, i + 3).map(audits))));
    let conversations = 0;
    for (const [i, test] of AGREEING.entries()) {
      const [pcap, site] = results[i]!;
      expect(site.flows.length, test).toBe(pcap.flows.length);
      expect([...judged(site, true)].sort(), test).toEqual([...judged(pcap, true)].sort());
      for (const f of site.flows) expect(f.sensors, `${test}: ${key(f)}`).toEqual(['span', 'zeek']);
      expect(site.capture.quality.notes, test).toContain(`${site.flows.length} of them matched on protocol and endpoints alone: a sensor's records have no time (masked or unset ts)`);
      const zeek = site.capture.sensors![1]!;
      expect([zeek.kind, zeek.records, zeek.alone, zeek.loss], test).toEqual(['zeek', site.flows.length, 0, null]);
      conversations += site.flows.length;
    }
    expect(conversations).toBe(81);
  });

  it('a lossy sensor makes absence unproven site-wide: missing required flows become inconclusive', async () => {
    const sample = join(repositoryRoot, 'samples/bmc-cm-site.pcapng');
    const roles = join(repositoryRoot, 'samples/bmc-cm-roles.yaml');
    // A conn.log cut by zeek-cut (a line it could not read): that sensor cannot say what it missed.
    const lossy = join(base!, 'zeek-conn-logs/scripts.base.protocols.dns.max-compression-depth/conn.log');
    const [alone, site] = await Promise.all([
      analyze([sample, '--roles', roles]),
      analyze(['--sensor', `span=${sample}`, '--sensor', `dns-zeek=zeek:${lossy}`, '--roles', roles]),
    ]);
    expect(alone.summary.missing).toBe(2);
    expect(alone.capture.quality.loss).toBeNull();
    expect(site.summary.missing).toBe(0);
    expect(site.summary.inconclusive).toBe(alone.summary.inconclusive + 2);
    expect(site.capture.quality.loss).toMatch(/^sensor dns-zeek: 1 line of the flow records could not be read, so absence is not proof \(site-wide/);
    expect(site.capture.sensors!.map((s) => s.loss === null)).toEqual([true, false]);
  });

  it('without --sensor nothing changes: no sensors in the flows or the capture section', async () => {
    expect(whole.capture.sensors).toBeUndefined();
    expect(whole.flows.every((f) => f.sensors === undefined)).toBe(true);
    const csv = await flowaudit(['analyze', zerologon, '--catalog', 'bmc-cm', '--format', 'csv', '--table', 'flows']);
    expect(csv.stdout.split('\n')[0]).not.toMatch(/sensors/);
  });

  it('bad sensor arguments are one line each, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--sensor', 'no-equals-sign'], /^flowaudit: --sensor no-equals-sign: expected NAME=KIND:PATH or NAME=PATH/],
      [['--sensor', 'a=pcap:'], /^flowaudit: --sensor a=pcap:: no path/],
      [['--sensor', `a=pcap:${zerologon}`, '--sensor', 'a=zeek:x.log'], /^flowaudit: --sensor a: given as pcap and as zeek: a sensor is one kind/],
      [['--sensor', 'z=zeek:-'], /^flowaudit: --sensor z: zeek reads files and folders, not standard input/],
      [[zerologon, '--sensor', `b=${zerologon}`], /^flowaudit: .*: with --sensor every input is a sensor's: give it as --sensor NAME=pcap:/],
      [[], /^flowaudit: analyze: nothing to read/],
      [['--sensor', 'a=/no/such/file.pcap'], /^flowaudit: \/no\/such\/file\.pcap: cannot open/],
      [['--sensor', `a=${zerologon}`, '--sensor-slack', 'soon'], /^flowaudit: --sensor-slack soon: expected a duration/],
    ];
    const results = await Promise.all(cases.map(([args]) => flowaudit(['analyze', ...args, '--catalog', 'bmc-cm'])));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });
});
