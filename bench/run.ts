/**
 * The benchmark: `npm run bench` (or `npx tsx bench/run.ts --packets 20000000 --runs 3`).
 * Generates the captures if they are not there yet (bench/out/, not committed), then measures wall
 * time, throughput and peak RSS of flowaudit (1 and 2 workers, pcap and pcapng) and of the peers that
 * are installed (cat as the floor, pcap-parser, tcpdump, tshark on a slice), each as a separate
 * process, median of --runs. Prints a table and writes bench/out/results-<time>.json.
 * `--memory` instead measures peak RSS on a 5 GB file and on a table of 2 M flows; `--ratio` runs flows
 * and analyze (json, text) back to back in rounds and prints the median of the rounds' ratios.
 * `--scan [--scan-flows 1000000,5000000,10000000]` measures a SYN scan (bench/scan.ts: one packet a
 * flow, distinct targets and ports) through flows (text, json, csv) and analyze (text, json, csv,
 * html) at the default --max-flows: time and peak RSS per size and format.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generate } from './generate.js';
import { generateIpfix } from './generate-ipfix.js';
import { generateScan } from './scan.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const out = join(here, 'out');
mkdirSync(out, { recursive: true });

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '20000000' },
    flows: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    'tshark-slice': { type: 'string', default: '200000' },
    active: { type: 'string', default: '2000' },
    memory: { type: 'boolean', default: false },
    ratio: { type: 'boolean', default: false },
    scan: { type: 'boolean', default: false },
    'scan-flows': { type: 'string', default: '1000000,5000000,10000000' },
    ipfix: { type: 'boolean', default: false },
    'ipfix-records': { type: 'string', default: '5000000,50000000' },
  },
});
const packets = Number(values.packets);
const flows = Number(values.flows);
const runs = Number(values.runs);
const slice = Math.min(Number(values['tshark-slice']), packets);
const active = Number(values.active);

function captureFile(format: 'pcap' | 'pcapng', n: number, nFlows = flows, snaplen = 0, ports: 'web' | 'catalog' = 'web'): string {
  const file = join(out, `bench-${n}-${nFlows}-${active}${snaplen ? `-snap${snaplen}` : ''}${ports === 'catalog' ? '-catalog' : ''}.${format}`);
  if (!existsSync(file)) {
    const t = performance.now();
    generate({ out: file, packets: n, flows: nFlows, format, vlanShare: 0.1, ipv6Share: 0.1, snaplen, active, ports });
    console.log(`generated ${file} (${(statSync(file).size / 1e9).toFixed(2)} GB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return file;
}

interface Measure {
  tool: string;
  file: string;
  wallSeconds: number;
  peakRssMB: number;
  packets: number;
  mpps: number;
  mbps: number;
  scaledFrom?: number;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Median wall time and peak RSS of a command over `runs` runs, via GNU time. */
function measure(tool: string, file: string, cmd: string[], n: number, scale = 1): Measure | null {
  const samples: Array<{ wall: number; rss: number }> = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...cmd], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const last = r.stderr.trim().split('\n').pop() ?? '';
    const m = /^([\d.]+) (\d+)$/.exec(last);
    if (r.status !== 0 || !m) {
      console.log(`  ${tool}: failed (${r.stderr.trim().split('\n').slice(-2).join(' ')})`);
      return null;
    }
    samples.push({ wall: Number(m[1]), rss: Number(m[2]) / 1024 });
  }
  samples.sort((a, b) => a.wall - b.wall);
  const med = samples[Math.floor(samples.length / 2)]!;
  const wall = med.wall * scale;
  const size = statSync(file).size * scale;
  return { tool, file, wallSeconds: Number(wall.toFixed(3)), peakRssMB: Math.round(med.rss), packets: n * scale, mpps: Number((n * scale / wall / 1e6).toFixed(2)), mbps: Math.round(size / wall / 1e6), ...(scale !== 1 ? { scaledFrom: n } : {}) };
}

/** Wall seconds of one run of a command (which must succeed). */
function measureOnce(cmd: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  return (performance.now() - t) / 1000;
}

if (!existsSync(join(root, 'dist/cli/main.js'))) spawnSync('npx', ['tsc', '-p', root], { stdio: 'inherit' });
const cliPath = join(root, 'dist/cli/main.js');

if (values.memory) {
  // Issue 6's memory targets: peak RSS independent of file size, and a table of 2 M flows.
  const big = captureFile('pcap', 40_000_000);
  const huge = captureFile('pcap', 20_000_000, 2_000_000);
  console.log(`\nmemory (median of ${runs}); files of ${(statSync(big).size / 1e9).toFixed(2)} GB / 200 000 flows and ${(statSync(huge).size / 1e9).toFixed(2)} GB / 2 000 000 flows`);
  const rows: Array<Measure | null> = [];
  const show = (m: Measure | null) => {
    rows.push(m);
    if (m) console.log(`  ${m.tool.padEnd(52)} ${m.wallSeconds.toFixed(2).padStart(8)} s ${String(m.peakRssMB).padStart(6)} MB peak RSS`);
  };
  const small = captureFile('pcap', packets);
  for (const [label, file, n] of [['2.5 GB, 200 k flows', small, packets], ['5 GB, 200 k flows', big, 40_000_000], ['2.5 GB, 2 M flows', huge, 20_000_000]] as const) {
    for (const w of [1, 2]) show(measure(`flows ${label}, ${w} worker${w > 1 ? 's' : ''}`, file, [process.execPath, cliPath, 'flows', file, '--workers', String(w), '--format', 'json', '--out', '/dev/null'], n));
    for (const w of [1, 2]) show(measure(`analyze ${label} (bmc-cm, json), ${w} worker${w > 1 ? 's' : ''}`, file, [process.execPath, cliPath, 'analyze', file, '--catalog', 'bmc-cm', '--format', 'json', '--workers', String(w), '--out', '/dev/null'], n));
  }
  const file = join(out, `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), runs, machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version }, results: rows.filter(Boolean) }, null, 2));
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

if (values.ipfix) {
  // Issue 19: a day of a busy site's flow records audited in memory bounded by conversations, not
  // records: the same site mix (bench/generate-ipfix.ts) at each size, read by analyze --input ipfix.
  // No peer reads IPFIX files (nfdump reads only its own nfcapd files), so there is no ratio here.
  const sizes = values['ipfix-records']!.split(',').map(Number);
  const rows: Array<Measure & { records: number; recordsPerSecond: number }> = [];
  console.log(`\nIPFIX records, analyze --input ipfix --catalog bmc-cm --format json (median of ${runs}); ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}`);
  for (const n of sizes) {
    const file = join(out, `site-${n}.ipfix`);
    if (!existsSync(file)) {
      const t = performance.now();
      generateIpfix({ out: file, records: n });
      console.log(`generated ${file} (${(statSync(file).size / 1e9).toFixed(2)} GB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const m = measure(`analyze --input ipfix, ${n} records`, file, [process.execPath, cliPath, 'analyze', '--input', 'ipfix', file, '--catalog', 'bmc-cm', '--format', 'json', '--out', '/dev/null'], n);
    if (!m) continue;
    const recordsPerSecond = Math.round(n / m.wallSeconds);
    rows.push({ ...m, records: n, recordsPerSecond });
    console.log(`  ${m.tool.padEnd(44)} ${m.wallSeconds.toFixed(1).padStart(8)} s ${(recordsPerSecond / 1e6).toFixed(2).padStart(6)} M records/s ${String(m.peakRssMB).padStart(6)} MB peak RSS`);
  }
  const file = join(out, `ipfix-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), runs, machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version }, results: rows }, null, 2));
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

if (values.scan) {
  // Issue 16: a port scan on the SPAN port never aborts the run, in every format, at 1, 5 and 10 M flows.
  const sizes = values['scan-flows']!.split(',').map(Number);
  const rows: Array<Measure & { flows: number; format: string; command: string }> = [];
  console.log(`\nSYN scan, one packet a flow (median of ${runs}); ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}`);
  for (const n of sizes) {
    const file = join(out, `scan-${n}.pcap`);
    if (!existsSync(file)) generateScan({ out: file, flows: n });
    for (const [command, formats] of [['flows', ['text', 'json', 'csv']], ['analyze', ['text', 'json', 'csv', 'html']]] as const) {
      for (const format of formats) {
        const target = format === 'csv' ? join(out, 'scan-report.csv') : '/dev/null';
        const args = command === 'flows' ? ['flows', file] : ['analyze', file, '--catalog', 'bmc-cm'];
        const m = measure(`${command} ${format}, ${n} flows`, file, [process.execPath, cliPath, ...args, '--format', format, '--out', target], n);
        if (!m) continue;
        rows.push({ ...m, flows: n, format, command });
        console.log(`  ${m.tool.padEnd(36)} ${m.wallSeconds.toFixed(1).padStart(8)} s ${String(m.peakRssMB).padStart(6)} MB peak RSS`);
      }
    }
  }
  const file = join(out, `scan-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), runs, machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version }, results: rows }, null, 2));
  console.log(`\nresults: ${file}`);
  process.exit(0);
}

if (values.ratio) {
  // Issue 6's "analyze within 1.2x of flows", measured in pairs: on a shared host whose speed drifts
  // from minute to minute, each round runs flows and analyze back to back on the same warm file, and
  // the ratio is the median of the rounds' ratios (--runs rounds).
  const file = captureFile('pcap', packets);
  const cli = join(root, 'dist/cli/main.js');
  const wall = (args: string[]) => measureOnce([process.execPath, cli, ...args, '--workers', '2', '--out', '/dev/null']);
  const rows: Array<{ flows: number; json: number; text: number }> = [];
  for (let i = 0; i < runs; i++) {
    const flowsS = wall(['flows', file, '--format', 'json']);
    const json = wall(['analyze', file, '--catalog', 'bmc-cm', '--format', 'json']);
    const text = wall(['analyze', file, '--catalog', 'bmc-cm', '--format', 'text']);
    rows.push({ flows: flowsS, json, text });
    console.log(`  round ${i + 1}: flows ${flowsS.toFixed(2)} s, analyze json ${json.toFixed(2)} s (${(json / flowsS).toFixed(2)}×), text ${text.toFixed(2)} s (${(text / flowsS).toFixed(2)}×)`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nmedian of ${runs} rounds, 2 workers: flows ${median(rows.map((r) => r.flows)).toFixed(2)} s; analyze json ${median(rows.map((r) => r.json / r.flows)).toFixed(2)}×, text ${median(rows.map((r) => r.text / r.flows)).toFixed(2)}× flows`);
  const out = join(here, 'out', `ratio-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), packets, flows, runs, machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version }, rounds: rows }, null, 2));
  console.log(`results: ${out}`);
  process.exit(0);
}

const pcap = captureFile('pcap', packets);
const pcapng = captureFile('pcapng', packets);
const cli = join(root, 'dist/cli/main.js');
const results: Measure[] = [];
const add = (m: Measure | null) => {
  if (m) {
    results.push(m);
    console.log(`  ${m.tool.padEnd(42)} ${m.wallSeconds.toFixed(2).padStart(8)} s ${m.mpps.toFixed(2).padStart(7)} Mpkt/s ${String(m.mbps).padStart(6)} MB/s ${String(m.peakRssMB).padStart(6)} MB${m.scaledFrom ? `  (×${packets / m.scaledFrom} from a ${m.scaledFrom}-packet slice)` : ''}`);
  }
};

console.log(`\n${packets} packets, ${flows} flows (${active ? `${active} active at a time` : 'random order'}); ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; median of ${runs}`);
add(measure('cat (page-cache floor)', pcap, ['sh', '-c', `cat '${pcap}' > /dev/null`], packets));
for (const [file, fmt] of [[pcap, 'pcap'], [pcapng, 'pcapng']] as const) {
  for (const w of [1, 2]) add(measure(`flowaudit flows ${fmt}, ${w} worker${w > 1 ? 's' : ''}`, file, [process.execPath, cli, 'flows', file, '--workers', String(w), '--format', 'json', '--out', '/dev/null'], packets));
  for (const w of [1, 2]) {
    for (const format of ['json', 'text']) {
      add(measure(`flowaudit analyze ${fmt} ${format}, ${w} worker${w > 1 ? 's' : ''}`, file, [process.execPath, cli, 'analyze', file, '--catalog', 'bmc-cm', '--format', format, '--workers', String(w), '--out', '/dev/null'], packets));
    }
  }
}
// A client-management site's port mix (bmc-cm's agent, tunnel, SMB, RDP, SQL … ports): the audit
// judges many rules and roles instead of two ports.
const site = captureFile('pcap', packets, flows, 0, 'catalog');
add(measure('flowaudit flows pcap site mix, 2 workers', site, [process.execPath, cli, 'flows', site, '--workers', '2', '--format', 'json', '--out', '/dev/null'], packets));
for (const format of ['json', 'text', 'csv', 'html']) {
  // csv writes FILE and FILE.requirements.csv: a scratch file, not /dev/null.
  const target = format === 'csv' ? join(out, 'site-mix-report.csv') : '/dev/null';
  add(measure(`flowaudit analyze pcap site mix ${format}, 2 workers`, site, [process.execPath, cli, 'analyze', site, '--catalog', 'bmc-cm', '--format', format, '--workers', '2', '--out', target], packets));
}
// Every output format of flows at this size (a table of 200 000 rows once crashed the text format).
for (const format of ['text', 'csv']) {
  add(measure(`flowaudit flows pcap ${format}, 2 workers`, pcap, [process.execPath, cli, 'flows', pcap, '--workers', '2', '--format', format, '--out', '/dev/null'], packets));
}
// Headers only (snaplen 96): as fast per packet as full frames, or faster (fewer bytes to read).
const snap = captureFile('pcap', packets, flows, 96);
for (const w of [1, 2]) add(measure(`flowaudit flows pcap snaplen 96, ${w} worker${w > 1 ? 's' : ''}`, snap, [process.execPath, cli, 'flows', snap, '--workers', String(w), '--format', 'json', '--out', '/dev/null'], packets));
// The machine's own ceiling for two threads: two independent one-worker runs at once, against one alone.
const pair = measure('two flows runs at once, 1 worker each', pcap, ['sh', '-c', `'${process.execPath}' '${cli}' flows '${pcap}' --workers 1 --format json --out /dev/null & '${process.execPath}' '${cli}' flows '${pcap}' --workers 1 --format json --out /dev/null; wait`], packets * 2);
if (pair) add(pair);
if (has('tcpdump')) add(measure('tcpdump -r -w /dev/null', pcap, ['tcpdump', '-r', pcap, '-w', '/dev/null'], packets));
add(measure('pcap-parser (packet events only)', pcap, [process.execPath, join(here, 'peer-pcap-parser.cjs'), pcap], packets));
if (has('tshark')) {
  const sliceFile = captureFile('pcap', slice);
  add(measure('tshark -q -z conv,tcp -z conv,udp', sliceFile, ['tshark', '-r', sliceFile, '-q', '-z', 'conv,tcp', '-z', 'conv,udp'], slice, packets / slice));
}
const lone = results.find((r) => r.tool === 'flowaudit flows pcap, 1 worker');
const two = results.find((r) => r.tool === 'flowaudit flows pcap, 2 workers');
if (lone && two) {
  console.log(`\nscaling: 2 workers ${(lone.wallSeconds / two.wallSeconds).toFixed(2)}× one worker` + (pair ? `; the machine's ceiling (two independent runs at once) ${((2 * lone.wallSeconds) / pair.wallSeconds).toFixed(2)}×` : ''));
}
const base = results.find((r) => r.tool === 'flowaudit flows pcap, 2 workers') ?? results.find((r) => r.tool.startsWith('flowaudit'));
if (base) {
  console.log(`\nratio (tool wall time / flowaudit flows pcap, 2 workers):`);
  for (const r of results) console.log(`  ${r.tool.padEnd(42)} ${(r.wallSeconds / base.wallSeconds).toFixed(2)}×`);
}
const file = join(out, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), packets, flows, active, runs, machine: { cores: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, results }, null, 2));
console.log(`\nresults: ${file}`);
