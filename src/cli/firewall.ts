/**
 * `flowaudit firewall`: the audit of `analyze`, then the allow-list derived from it
 * (src/firewall/allow-list.ts), its diff against the catalog and, with --baseline, against an
 * earlier allow-list of the same site; written as text, JSON, CSV or an nftables rule set.
 */
import { InputError } from '../core/errors.js';
import { allowList } from '../firewall/allow-list.js';
import { diffBaseline, readBaseline } from '../firewall/baseline.js';
import { loadZones } from '../firewall/zones.js';
import { writerFor } from '../report/formats.js';
import { auditInputFiles, loadAuditInputs, type AuditCliOptions } from './analyze.js';
import { auditInput, inputKind, INPUT_DEFAULT } from './inputs.js';
import { checkOutputs, reportPaths, stopOnSignals, writeReport } from './output.js';
import { progressFor } from './progress.js';
import { reportOptions, type ReportCliOptions } from './report-options.js';
import { parseMaxFlows, parseWorkers } from './workers.js';

export interface FirewallOptions extends ReportCliOptions, AuditCliOptions {
  input?: string;
  zones?: string;
  baseline?: string;
  dynamic: 'granted' | 'range';
  format: string;
  out?: string;
  vlanKey: boolean;
  workers: string;
  maxFlows: string;
}

export async function runFirewall(captures: string[], opts: FirewallOptions, version: string): Promise<void> {
  const kind = inputKind(opts.input ?? INPUT_DEFAULT);
  if (captures.filter((c) => c === '-').length > 1) throw new InputError('standard input (-) can be read only once');
  if (!kind.stdin && captures.includes('-')) throw new InputError(`--input ${kind.name} does not read standard input (-): it reads ${kind.paths}`);
  const writer = writerFor('firewall', opts.format);
  checkOutputs(reportPaths(writer, opts.out), [...captures, ...auditInputFiles(opts), opts.zones, opts.baseline]);
  stopOnSignals();
  const { catalogs, background, roleMap, waivers, site, infer, minSpan, overrides } = loadAuditInputs(opts);
  const zones = opts.zones ? loadZones(opts.zones, catalogs) : null;
  const baseline = opts.baseline ? readBaseline(opts.baseline) : null;
  const layout = reportOptions(opts);
  const progress = progressFor(kind.name === 'pcap' ? captures : []);
  const report = await auditInput(kind, captures, { catalogs, background, roleMap, waivers, version, site, infer, minSpan, overrides }, { workers: parseWorkers(opts.workers), maxFlows: parseMaxFlows(opts.maxFlows), vlanInKey: opts.vlanKey, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) })
    .finally(progress.stop);
  const list = allowList(report, { catalogs, background, zones, dynamic: opts.dynamic });
  if (baseline) list.baseline = diffBaseline(baseline, list);
  await writeReport(writer, list, opts.out, layout);
}
