import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { Catalog } from '../catalog/types.js';
import type { CaptureSummary, FlowRecord } from '../flow/pipeline.js';
import { auditJson, auditText, writeAuditFlowsCsv, writeAuditJson, writeAuditRequirementsCsv, writeAuditText } from './audit.js';
import { catalogJson, catalogListText, catalogText, writeCatalogCsv } from './catalog.js';
import { writeFlowsCsv, writeFlowsJson, writeFlowsText } from './flows.js';
import { writeAuditHtml } from './html.js';
import { writePieces } from './write.js';
import { writeZeekConn, writeZeekJudgedConn } from './zeek.js';

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

/** A row of `catalog list`. */
export interface CatalogListRow {
  id: string;
  name: string;
  rules: number;
  requirements: number;
  documents: number;
}

/** How one command's report is written in a format. */
export interface Writer<R> {
  /** The whole report into one stream: standard output, or the file of --out. */
  write(r: R, out: Writable): Promise<void>;
  /** With --out FILE: FILE gets `main` instead, and each table in `beside` a file of its own next to it (csv's requirements). */
  split?: { main(r: R, out: Writable): Promise<void>; beside: Array<{ path(file: string): string; write(r: R, out: Writable): Promise<void> }> };
}

/** `live`'s report in a format: to standard output, `tick` is written at every tick (none: only the final report is written). */
export interface LiveWriter extends Writer<AuditReport> {
  tick?: {
    write(r: AuditReport, out: Writable): Promise<void>;
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
}

export type FormatCommand = Exclude<keyof ReportFormat, 'name'>;

/** Where `--format csv --out FILE` puts the requirements table: FILE.requirements.csv. */
export function requirementsCsvPath(file: string): string {
  return file.replace(/(\.csv)?$/i, '.requirements.csv');
}

const text = (s: string, out: Writable) => writePieces([s], out);

const auditCsv: Writer<AuditReport> = {
  async write(r, out) {
    await writeAuditFlowsCsv(r, out);
    await text('\n', out);
    await writeAuditRequirementsCsv(r, out);
  },
  split: { main: writeAuditFlowsCsv, beside: [{ path: requirementsCsvPath, write: writeAuditRequirementsCsv }] },
};

export const FORMATS: readonly ReportFormat[] = [
  {
    name: 'text',
    flows: { write: (r, out) => writeFlowsText(r.capture, r.flows, out) },
    analyze: { write: writeAuditText },
    live: { write: writeAuditText, tick: { write: (r, out) => writePieces([auditText(r), '\n'], out), clears: true, final: false } },
    catalogList: { write: (rows, out) => text(catalogListText(rows), out) },
    catalogShow: { write: (c, out) => text(catalogText(c), out) },
  },
  {
    name: 'json',
    flows: { write: (r, out) => writeFlowsJson(r.capture, r.jsonChunks(), out) },
    analyze: { write: writeAuditJson },
    live: { write: writeAuditJson, tick: { write: (r, out) => text(auditJson(r, 0), out), clears: false, final: true } },
    catalogList: { write: (rows, out) => text(JSON.stringify(rows, null, 2) + '\n', out) },
    catalogShow: { write: (c, out) => text(catalogJson(c), out) },
  },
  {
    name: 'csv',
    flows: { write: (r, out) => writeFlowsCsv(r.flows.batches(), out, r.capture.flowTable !== undefined) },
    analyze: auditCsv,
    live: auditCsv,
    catalogShow: { write: writeCatalogCsv },
  },
  {
    name: 'html',
    analyze: { write: writeAuditHtml },
    live: { write: writeAuditHtml },
  },
  {
    name: 'zeek',
    flows: { write: (r, out) => writeZeekConn(r.capture, r.flows.batches(), out) },
    analyze: { write: writeZeekJudgedConn },
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
