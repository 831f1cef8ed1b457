/**
 * Runs the command line (dist/cli/program.js, in this one process) over every report the golden test
 * pins: the bundled samples in every format, every capture of the shared corpus, and a bench capture
 * made by bench/generate.ts. Prints one JSON object, case → digest, where a digest is
 * `exit <code> <sha256 of the report files and stderr, 16 hex digits>`. Every JSON report is also held
 * to its schema (schema/, test/helpers/report-schema.ts): a report that does not fit gives a line
 * `schema: <case>: <problem>` on stderr for each of its first problems, and every run is held to what
 * any run must be (runProblems: exit code, a one-line reason, no stack trace, bounded time, every
 * packet accounted for), a line `check: <case>: <problem>` each; with any such line the exit code is 1.
 *
 *   npx tsx test/support/golden-run.ts <captures dir | -> <scratch dir> [keep dir]
 *
 * With a keep dir every report is also left there under its case name, so two builds can be compared
 * with `diff -r`. Paths are given relative to the folder each set is read from, so the reports do not
 * depend on where the repository or the corpus sit.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../../bench/generate.js';
import { reportProblems } from '../helpers/report-schema.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { main } = (await import(join(root, 'dist/cli/program.js'))) as { main(argv: string[]): Promise<number> };

const [capturesArg, scratchArg, keepArg] = process.argv.slice(2);
if (capturesArg === undefined || scratchArg === undefined) throw new Error('usage: golden-run.ts <captures dir | -> <scratch dir> [keep dir]');

// The text report follows $COLUMNS when it is not written to a terminal: the pins are made at the default width.
delete process.env.COLUMNS;

const scratch = resolve(scratchArg);
const keep = keepArg === undefined ? undefined : resolve(keepArg);
if (keep !== undefined) mkdirSync(keep, { recursive: true });

const SAMPLES = ['bmc-cm', 'cam', 'itms8', 'sccm2007'] as const;
const ALL_CATALOGS = ['--catalog', ...SAMPLES];
const FLOW_FORMATS = ['text', 'json', 'csv'];
const AUDIT_FORMATS = ['text', 'json', 'csv', 'html'];

interface Case {
  name: string;
  cwd: string;
  argv: string[];
}

const cases: Case[] = [];
function flows(name: string, cwd: string, inputs: string[], formats: string[]): void {
  for (const f of formats) cases.push({ name: `${name} flows ${f}`, cwd, argv: ['flows', ...inputs, '--format', f] });
}
function analyze(name: string, cwd: string, inputs: string[], options: string[], formats: string[]): void {
  for (const f of formats) cases.push({ name: `${name} analyze ${f}`, cwd, argv: ['analyze', ...inputs, ...options, '--format', f] });
}

for (const s of SAMPLES) {
  const capture = `samples/${s}-site.pcapng`;
  flows(capture, root, [capture], FLOW_FORMATS);
  flows(capture, root, [capture], ['zeek']);
  analyze(`${capture} roles`, root, [capture], ['--catalog', s, '--roles', `samples/${s}-roles.yaml`], AUDIT_FORMATS);
  analyze(`${capture} roles`, root, [capture], ['--catalog', s, '--roles', `samples/${s}-roles.yaml`], ['zeek']);
  analyze(`${capture} inferred`, root, [capture], ['--catalog', s], ['json']);
}
flows('samples/mirror-port.pcapng', root, ['samples/mirror-port.pcapng'], FLOW_FORMATS);
flows('samples/mirror-port.pcapng', root, ['samples/mirror-port.pcapng'], ['zeek']);
analyze('samples/mirror-port.pcapng', root, ['samples/mirror-port.pcapng'], ALL_CATALOGS, AUDIT_FORMATS);
analyze('samples/mirror-port.pcapng', root, ['samples/mirror-port.pcapng'], ALL_CATALOGS, ['zeek']);

if (capturesArg !== '-') {
  const captures = resolve(capturesArg);
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(pcap|pcapng|cap)(\.gz)?$/.test(entry)) found.push(relative(captures, path));
    }
  };
  walk(captures);
  // Every capture's flow table on its own; the audit per file for the Windows traces (where the audit
  // has most to say) and per folder elsewhere (one judged site of a few hundred traces: loading the four
  // catalogs is most of a small run's time).
  const folders = new Map<string, string[]>();
  for (const file of found) {
    const windows = file.startsWith('windows/');
    flows(file, captures, [file], windows ? FLOW_FORMATS : ['json']);
    flows(file, captures, [file], ['zeek']);
    if (windows) analyze(file, captures, [file], ALL_CATALOGS, [...AUDIT_FORMATS, 'zeek']);
    else {
      const folder = file.split('/')[0]!;
      folders.set(folder, [...(folders.get(folder) ?? []), file]);
    }
  }
  for (const [folder, files] of folders) analyze(`${folder}/`, captures, files, ALL_CATALOGS, ['json', 'text']);
}

// A bench capture: large enough to be split across shard workers and to judge many bmc-cm rules.
mkdirSync(scratch, { recursive: true });
const bench = join(scratch, 'bench.pcap');
generate({ out: bench, packets: 400_000, flows: 20_000, format: 'pcap', vlanShare: 0.1, ipv6Share: 0.1, snaplen: 0, active: 2000, ports: 'catalog' });
flows('bench.pcap', scratch, ['bench.pcap'], FLOW_FORMATS);
flows('bench.pcap', scratch, ['bench.pcap'], ['zeek']);
// zeek first: its pin goes before the file's last line, which stays as it is.
analyze('bench.pcap', scratch, ['bench.pcap'], ['--catalog', 'bmc-cm'], ['zeek']);
analyze('bench.pcap', scratch, ['bench.pcap'], ['--catalog', 'bmc-cm'], AUDIT_FORMATS);

/**
 * What every run must be, whatever its input (the corpus holds many fuzz-found crashers): exit 0, or 2
 * with a one-line reason and no stack trace (1 only for analyze's --fail-on, which these cases do not
 * use), in bounded time; a flows JSON report accounts for every IP packet it decoded, in a flow or as
 * an ICMP error counted on the flow it quotes.
 */
function runProblems(c: Case, code: number, stderr: string, seconds: number, report: Buffer | undefined): string[] {
  const problems: string[] = [];
  if (code !== 0 && code !== 2) problems.push(`exit ${code}: ${stderr.slice(0, 200)}`);
  if (/\n\s+at /.test(stderr)) problems.push('stack trace on stderr');
  if (code === 2 && stderr.trim().split('\n').length !== 1) problems.push('exit 2 without a one-line reason');
  if (seconds > 30) problems.push(`took ${seconds.toFixed(1)} s`);
  if (code === 0 && c.argv[0] === 'flows' && report !== undefined && c.argv.includes('json')) {
    const out = JSON.parse(report.toString('utf8')) as { capture: { packets: number; ipPackets: number }; flows: Array<{ packets: number; icmpErrors?: number }> };
    const inFlows = out.flows.reduce((sum, f) => sum + f.packets + (f.icmpErrors ?? 0), 0);
    if (inFlows !== out.capture.ipPackets) problems.push(`flows hold ${inFlows} packets, ${out.capture.ipPackets} IP packets were decoded`);
    if (out.capture.ipPackets > out.capture.packets) problems.push('more IP packets than packets');
  }
  return problems;
}

/** A JSON report's problems against its schema ([] when it fits); other formats have none. */
function schemaProblems(c: Case, bytes: Buffer): string[] {
  const format = c.argv[c.argv.indexOf('--format') + 1];
  if (format !== 'json') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return [`not JSON: ${(e as Error).message}`];
  }
  return reportProblems(c.argv[0] as 'flows' | 'analyze', doc, 5);
}

const digests: Record<string, string> = {};
const broken: string[] = [];
const write = process.stderr.write.bind(process.stderr);
for (const c of cases) {
  const out = join(scratch, 'report');
  const produced = [out, `${out}.requirements.csv`];
  for (const p of produced) rmSync(p, { force: true });
  let stderr = '';
  process.chdir(c.cwd);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  const started = performance.now();
  try {
    code = await main(['node', 'flowaudit', ...c.argv, '--out', out]);
  } finally {
    process.stderr.write = write;
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
  }
  const hash = createHash('sha256');
  const kept: [string, Buffer][] = [];
  for (const p of produced) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(p);
    } catch {
      continue;
    }
    hash.update(`${p === out ? 'report' : 'requirements'} ${bytes.length}\n`).update(bytes);
    if (p === out) for (const problem of schemaProblems(c, bytes)) broken.push(`schema: ${c.name}: ${problem}`);
    kept.push([p === out ? '' : '.requirements.csv', bytes]);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const problem of runProblems(c, code, stderr, seconds, kept.find(([suffix]) => suffix === '')?.[1])) broken.push(`check: ${c.name}: ${problem}`);
  hash.update(`stderr\n${stderr}`);
  digests[c.name] = `exit ${code} ${hash.digest('hex').slice(0, 16)}`;
  if (keep !== undefined) {
    const base = join(keep, c.name.replace(/[/ ]/g, '_'));
    for (const [suffix, bytes] of kept) writeFileSync(base + suffix, bytes);
    if (stderr !== '') writeFileSync(`${base}.stderr`, stderr);
  }
}
process.stdout.write(JSON.stringify(digests, null, 1) + '\n');
if (broken.length > 0) {
  process.stderr.write(`${broken.join('\n')}\n`);
  process.exitCode = 1;
}
