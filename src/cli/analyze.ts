import { resolve } from 'node:path';
import { FailOn, loadRoleMap, loadWaivers, tripsFailOn } from '../audit/index.js';
import { AddressBlock, parseBlock } from '../audit/addresses.js';
import type { RoleMap } from '../audit/roles.js';
import type { Waiver } from '../audit/waivers.js';
import { BACKGROUND_ID, checkOverrides, loadBackground, loadCatalog, rulesDir } from '../catalog/index.js';
import type { Catalog } from '../catalog/types.js';
import { InputError } from '../core/errors.js';
import { checkOutputs, reportPaths, stopOnSignals, writeOutput, writeReport } from './output.js';
import { progressFor } from './progress.js';
import { tableWriter, writerFor } from '../report/formats.js';
import { MIN_SPAN_DEFAULT_TEXT, parseDuration, SENSOR_SLACK_DEFAULT_TEXT, parseMaxFlows, parseWorkers } from './workers.js';
import { reportOptions, type ReportCliOptions } from './report-options.js';
import { auditInput, inputKind, INPUT_DEFAULT } from './inputs.js';
import { analyzeSensors, parseSensors } from './sensors.js';

export const EXIT_FINDINGS = 1;
const FAIL_ON = ['missing', 'failing', 'undocumented', 'role-mismatch'] as const;

/** The options of every command that audits (analyze, live, collect, firewall): what loadAuditInputs reads. */
export interface AuditCliOptions {
  catalog: string[];
  roles?: string;
  site?: string[];
  /** false with --no-infer. */
  infer: boolean;
  /** --min-span: a duration (10m). */
  minSpan: string;
  /** `--background ID|FILE`; false with --no-background (true: the bundled one). */
  background?: string | boolean;
  waivers?: string;
  set?: string[];
  failOn?: string;
}

export interface AnalyzeOptions extends ReportCliOptions, AuditCliOptions {
  /** --input: a row of cli/inputs.ts INPUT_KINDS (default pcap). */
  input?: string;
  /** --sensor NAME=KIND:PATH, repeatable (cli/sensors.ts). */
  sensor?: string[];
  /** --sensor-slack: a duration (2s), how far the sensors' clocks may differ. */
  sensorSlack?: string;
  /** One of formatNames('analyze'). */
  format: string;
  /** --table: one table of a format of several (csv). */
  table?: string;
  out?: string;
  vlanKey: boolean;
  /** `--explain RULE|HOST`: the explain view (report/explain.ts) instead of the report. */
  explain?: string;
  workers: string;
  maxFlows: string;
}

/** `--set a=1 --set b=80,443` → { a: '1', b: '80,443' }. */
export function parseSets(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InputError(`--set ${item}: expected name=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

export function parseFailOn(text: string | undefined): FailOn[] {
  if (text === undefined) return [];
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!(FAIL_ON as readonly string[]).includes(i)) throw new InputError(`--fail-on ${i}: expected one or more of ${FAIL_ON.join(', ')}`);
  return items as FailOn[];
}

/** `--site 130.1.0.0/16,2001:db8::/32` (already split at the commas) → blocks. */
export function parseSite(items: string[]): AddressBlock[] {
  return items.map((item) => {
    const b = item === '' ? null : parseBlock(item);
    if (!b) throw new InputError(`--site ${item === '' ? '(empty)' : item}: expected IPv4/IPv6 prefixes such as 130.1.0.0/16,2001:db8::/32`);
    return b;
  });
}

/** What every audit command reads before it looks at packets: --fail-on, --site, catalogs with --set, roles, waivers. */
export function loadAuditInputs(opts: Pick<AuditCliOptions, 'catalog'> & Partial<AuditCliOptions>): {
  failOn: FailOn[];
  catalogs: Catalog[];
  background: Catalog | null;
  roleMap: RoleMap | null;
  waivers: Waiver[];
  site: AddressBlock[];
  infer: boolean;
  minSpan: number;
  overrides: Record<string, string>;
} {
  const failOn = parseFailOn(opts.failOn);
  const minSpan = parseDuration('--min-span', opts.minSpan ?? MIN_SPAN_DEFAULT_TEXT, true);
  const site = parseSite(opts.site ?? []);
  const set = parseSets(opts.set ?? []);
  for (const ref of opts.catalog) if (ref === BACKGROUND_ID) throw new InputError(`--catalog ${BACKGROUND_ID}: the background catalog is applied beside the product catalogs by default (--background FILE replaces it, --no-background turns it off)`);
  const plain: Catalog[] = opts.catalog.map((ref) => loadCatalog(ref));
  const background = opts.background === false ? null : loadBackground(typeof opts.background === 'string' ? opts.background : undefined);
  checkOverrides(plain, set);
  // Without --set the plain catalogs are the ones to use: loading them again costs 50 ms a catalog.
  const catalogs = Object.keys(set).length === 0 ? plain : opts.catalog.map((ref) => loadCatalog(ref, { set }));
  const roleMap = opts.roles ? loadRoleMap(opts.roles, catalogs) : null;
  const waivers = opts.waivers ? loadWaivers(opts.waivers, catalogs) : [];
  return { failOn, catalogs, background, roleMap, waivers, site, infer: opts.infer !== false, minSpan, overrides: set };
}

export { analyzeCaptures } from './capture-input.js';

/** Every file an audit command reads besides its captures: catalog files (bundled ones too), role map, waivers. */
export function auditInputFiles(opts: { catalog: string[]; roles?: string; waivers?: string; background?: string | boolean }): Array<string | undefined> {
  const background = typeof opts.background === 'string' ? opts.background : BACKGROUND_ID;
  return [...[...opts.catalog, background].flatMap((ref) => [ref, resolve(rulesDir(), `${ref}.yaml`)]), opts.roles, opts.waivers];
}

/** `flowaudit analyze`: read, audit, report; `setExit(1)` when --fail-on matched. */
export async function runAnalyze(captures: string[], opts: AnalyzeOptions, version: string, setExit: (code: number) => void): Promise<void> {
  const kind = inputKind(opts.input ?? INPUT_DEFAULT);
  const sensors = opts.sensor?.length ? parseSensors(opts.sensor, kind.name) : null;
  if (sensors && captures.length > 0) throw new InputError(`${captures[0]}: with --sensor every input is a sensor's: give it as --sensor NAME=${kind.name}:${captures[0]}`);
  if (!sensors && captures.length === 0) throw new InputError('analyze: nothing to read: give the captures (or other inputs, see --input), or name sensors with --sensor NAME=KIND:PATH');
  if (captures.filter((c) => c === '-').length > 1) throw new InputError('standard input (-) can be read only once');
  if (!kind.stdin && captures.includes('-')) throw new InputError(`--input ${kind.name} does not read standard input (-): it reads ${kind.paths}`);
  const paths = sensors ? sensors.flatMap((s) => s.paths) : captures;
  const writer = tableWriter(writerFor('analyze', opts.format), opts.format, opts.table);
  checkOutputs(reportPaths(writer, opts.out), [...paths, ...auditInputFiles(opts)]);
  stopOnSignals();
  const slack = parseDuration('--sensor-slack', opts.sensorSlack ?? SENSOR_SLACK_DEFAULT_TEXT, true);
  const { failOn, catalogs, background, roleMap, waivers, site, infer, minSpan, overrides } = loadAuditInputs(opts);
  const workers = parseWorkers(opts.workers);
  const maxFlows = parseMaxFlows(opts.maxFlows);
  const layout = reportOptions(opts);
  const progress = progressFor(sensors ? sensors.filter((s) => s.kind.name === 'pcap').flatMap((s) => s.paths) : kind.name === 'pcap' ? captures : []);
  const inputs = { catalogs, background, roleMap, waivers, version, site, infer, minSpan, overrides };
  const read = { workers, maxFlows, vlanInKey: opts.vlanKey, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) };
  const report = await (sensors
    ? analyzeSensors(sensors, slack, inputs, () => read)
    : auditInput(kind, captures, inputs, read)
  ).finally(progress.stop);
  if (opts.explain !== undefined) {
    const { writeExplain } = await import('../report/explain.js');
    const target = opts.explain;
    await writeOutput(opts.out, (out) => writeExplain(report, catalogs, target, out));
  } else await writeReport(writer, report, opts.out, layout);
  if (tripsFailOn(report, failOn)) setExit(EXIT_FINDINGS);
}
