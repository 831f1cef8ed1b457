import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { Catalog } from '../catalog/types.js';
import type { CatalogListRow } from './catalog.js';
export type { CatalogListRow } from './catalog.js';
import type { CaptureSummary, FlowRecord } from '../flow/pipeline.js';
import type { ReportOptions } from './options.js';
import type { AllowList } from '../firewall/types.js';
import { writeFlowsCsv, writeFlowsJson, writeFlowsText } from './flows.js';
import { writePieces } from './write.js';
import { InputError } from '../core/errors.js';

// The audit's, the catalog's, HTML's and Zeek's writers load when a report of theirs is written, so
// `flows` does not load them at start-up.
const audit = () => import('./audit.js');
const catalog = () => import('./catalog.js');
const html = () => import('./html.js');
const zeek = () => import('./zeek.js');
const firewall = { text: () => import('./firewall-text.js'), csv: () => import('./firewall-csv.js'), nft: () => import('./firewall-nft.js') };

/*
 * The report formats: one row per format, with a writer for each command that offers it. The
 * commands' --format choices are the rows that have a writer for them, in this order; cli/output.ts
 * writes every report through a row's writer (the file opened, written, flushed and renamed there).
 * A new format is its writer's file plus one row here.
 */

/** What `flows` reports: the capture and its flow table (read in batches; the JSON lines straight from the table). */
export interface FlowsReport {
  capture: CaptureSummary;
  flows: { count: number; batches: () => Iterable<FlowRecord[]> };
  jsonChunks: () => Iterable<Buffer>;
}

/** How one command's report is written in a format. */
export interface Writer<R> {
  /** The whole report into one stream: standard output, or the file of --out; laid out by `opts` (text: width and rows). */
  write(r: R, out: Writable, opts?: ReportOptions): Promise<void>;
  /** With --out FILE: FILE gets `main` instead, and each table in `beside` a file of its own next to it (csv's requirements). */
  split?: { main(r: R, out: Writable, opts?: ReportOptions): Promise<void>; beside: Array<{ path(file: string): string; write(r: R, out: Writable): Promise<void> }> };
  /** A format of several tables (csv): `--table NAME` writes that one alone, to standard output or --out; the first is the default. */
  tables?: Record<string, (r: R, out: Writable) => Promise<void>>;
}

/** `live`'s report in a format: to standard output, `tick` is written at every tick (none: only the final report is written). */
export interface LiveWriter extends Writer<AuditReport> {
  tick?: {
    write(r: AuditReport, out: Writable, opts?: ReportOptions): Promise<void>;
    /** On a terminal the screen is cleared before each tick's report. */
    clears: boolean;
    /** The final report is written like a tick (one JSON line like the others) instead of by `write`. */
    final: boolean;
  };
}

export interface ReportFormat {
  name: string;
  flows?: Writer<FlowsReport>;
  analyze?: Writer<AuditReport>;
  live?: LiveWriter;
  catalogList?: Writer<CatalogListRow[]>;
  catalogShow?: Writer<Catalog>;
  /** `flowaudit firewall`: the allow-list (src/firewall/). */
  firewall?: Writer<AllowList>;
}

export type FormatCommand = Exclude<keyof ReportFormat, 'name'>;

/** Where `--format csv --out FILE` puts the requirements table: FILE.requirements.csv. */
export function requirementsCsvPath(file: string): string {
  return file.replace(/(\.csv)?$/i, '.requirements.csv');
}

const text = (s: string, out: Writable) => writePieces([s], out);

// One table a stream: standard output gets the flows (or the --table asked for); --out FILE gets the
// flows and FILE.requirements.csv the requirements.
const auditFlowsCsv = async (r: AuditReport, out: Writable) => (await audit()).writeAuditFlowsCsv(r, out);
const auditRequirementsCsv = async (r: AuditReport, out: Writable) => (await audit()).writeAuditRequirementsCsv(r, out);
const auditCsv: Writer<AuditReport> = {
  write: auditFlowsCsv,
  split: { main: auditFlowsCsv, beside: [{ path: requirementsCsvPath, write: auditRequirementsCsv }] },
  tables: { flows: auditFlowsCsv, requirements: auditRequirementsCsv },
};

const auditText: Writer<AuditReport>['write'] = async (r, out, opts) => (await audit()).writeAuditText(r, out, opts);
const auditJson: Writer<AuditReport>['write'] = async (r, out) => (await audit()).writeAuditJson(r, out);
const auditHtml: Writer<AuditReport>['write'] = async (r, out) => (await html()).writeAuditHtml(r, out);

export const FORMATS: readonly ReportFormat[] = [
  {
    name: 'text',
    flows: { write: (r, out) => writeFlowsText(r.capture, r.flows, out) },
    analyze: { write: auditText },
    live: { write: auditText, tick: { write: async (r, out, opts) => writePieces([(await audit()).auditText(r, opts), '\n'], out), clears: true, final: false } },
    catalogList: { write: async (rows, out) => text((await catalog()).catalogListText(rows), out) },
    catalogShow: { write: async (c, out) => text((await catalog()).catalogText(c), out) },
    firewall: { write: async (l, out, opts) => (await firewall.text()).writeFirewallText(l, out, opts) },
  },
  {
    name: 'json',
    flows: { write: (r, out) => writeFlowsJson(r.capture, r.jsonChunks(), out) },
    analyze: { write: auditJson },
    live: { write: auditJson, tick: { write: async (r, out) => text((await audit()).auditJson(r, 0), out), clears: false, final: true } },
    catalogList: { write: (rows, out) => text(JSON.stringify(rows, null, 2) + '\n', out) },
    catalogShow: { write: async (c, out) => text((await catalog()).catalogJson(c), out) },
    firewall: { write: (l, out) => text(JSON.stringify(l, null, 2) + '\n', out) },
  },
  {
    name: 'csv',
    flows: { write: (r, out) => writeFlowsCsv(r.flows.batches(), out, r.capture.flowTable !== undefined) },
    analyze: auditCsv,
    live: auditCsv,
    catalogList: { write: async (rows, out) => (await catalog()).writeCatalogListCsv(rows, out) },
    catalogShow: { write: async (c, out) => (await catalog()).writeCatalogCsv(c, out) },
    firewall: { write: async (l, out) => (await firewall.csv()).writeFirewallCsv(l, out) },
  },
  {
    name: 'html',
    analyze: { write: auditHtml },
    live: { write: auditHtml },
  },
  {
    name: 'zeek',
    flows: { write: async (r, out) => (await zeek()).writeZeekConn(r.capture, r.flows.batches(), out) },
    analyze: { write: async (r, out) => (await zeek()).writeZeekJudgedConn(r, out) },
  },
  {
    name: 'nft',
    firewall: { write: async (l, out) => (await firewall.nft()).writeFirewallNft(l, out) },
  },
];

/** The --format choices of a command, in the registry's order. */
export function formatNames(command: FormatCommand): string[] {
  return FORMATS.filter((f) => f[command] !== undefined).map((f) => f.name);
}

/** A command's writer for a format (one of its choices: commander has checked the name). */
export function writerFor<C extends FormatCommand>(command: C, name: string): NonNullable<ReportFormat[C]> {
  const writer = FORMATS.find((f) => f.name === name)?.[command];
  if (writer === undefined) throw new Error(`no ${command} writer for format ${name}`);
  return writer as NonNullable<ReportFormat[C]>;
}

/** The table names of `--table` (every format that has tables), for the option's help. */
export function tableNames(command: FormatCommand): string[] {
  return [...new Set(FORMATS.flatMap((f) => Object.keys((f[command] as Writer<unknown> | undefined)?.tables ?? {})))];
}

/**
 * The writer of one table with `--table NAME`: that table alone, to standard output or --out (no file
 * beside it). Without `table`, the format's own writer.
 */
export function tableWriter<R>(writer: Writer<R>, format: string, table: string | undefined): Writer<R> {
  if (table === undefined) return writer;
  const tables = writer.tables;
  if (tables === undefined) throw new InputError(`--table ${table}: only --format csv has tables (--format ${format} is one document)`);
  const write = tables[table];
  if (write === undefined) throw new InputError(`--table ${table}: expected one of ${Object.keys(tables).join(', ')}`);
  return { write };
}
