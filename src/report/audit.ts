import { format as csvFormat } from 'fast-csv';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow } from '../audit/types.js';
import { FLOW_CSV_FIELDS, SENSOR_CSV_FIELDS } from '../flow/fields.js';
import { TEXT_SECTIONS } from './audit-text/sections.js';
import { DEFAULT_VIEW, TextView } from './audit-text/view.js';
import { csvText } from './escape.js';
import { FOLDED_CSV_COLUMNS, foldedCells, publicFlow, writeJsonWithFlows } from './flows.js';
import { judgedLineChunks } from './json-lines.js';
import { endLines, writePieces } from './write.js';

/** The JSON contract; `indent` 0 puts the whole report on one line (JSON Lines, for live streams). */
export function auditJson(r: AuditReport, indent = 2): string {
  return JSON.stringify({ ...r, flows: r.flows.map((f) => publicFlow(f)) }, null, indent || undefined) + '\n';
}


/**
 * The same document as auditJson, written in pieces with one flow a line, so that hundreds of
 * thousands of judged flows never become one giant string.
 */
export function writeAuditJson(r: AuditReport, out: Writable): Promise<void> {
  return writeJsonWithFlows(r, r.flows.jsonChunks(judgedLineChunks), out);
}

/** The terminal report, read top-down: counts, what is broken, what is unexplained, what is misplaced. */
export function auditText(r: AuditReport, view: TextView = DEFAULT_VIEW): string {
  return [...auditTextPieces(r, view)].join('');
}

/** The terminal report written to a stream, piece by piece with backpressure. */
export function writeAuditText(r: AuditReport, out: Writable, view: TextView = DEFAULT_VIEW): Promise<void> {
  return writePieces(auditTextPieces(r, view), out);
}

/** The terminal report as text pieces: each section of TEXT_SECTIONS (audit-text/sections.ts) in turn, its lines made as they are written. */
export function* auditTextPieces(r: AuditReport, view: TextView = DEFAULT_VIEW): Generator<string> {
  for (const section of TEXT_SECTIONS) yield* endLines(section.lines(r, view));
}

/** The judged flows CSV's own cells; the flow's fields take theirs from flow/fields.ts. */
const JUDGED_CSV: Record<string, (f: JudgedFlow) => string | number> = {
  verdict: (f) => f.verdict,
  rule: (f) => f.rule ?? '',
  clientRoles: (f) => f.clientRoles.join(' '),
  serverRoles: (f) => f.serverRoles.join(' '),
  clientRolesFrom: (f) => f.clientRolesFrom,
  serverRolesFrom: (f) => f.serverRolesFrom,
  grant: (f) => (f.grant ? csvText(`${f.grant.reason} ${f.grant.detail}`) : ''),
  waived: (f) => csvText(f.waived?.reason ?? ''),
  detail: (f) => csvText(f.detail),
  cite: (f) => csvText(f.cite?.text ?? ''),
};
const FLOW_CSV = new Map<string, (f: JudgedFlow) => string | number>(FLOW_CSV_FIELDS.map((c) => [c.name, c.csv!]));
const FLOW_COLUMNS = ['verdict', 'rule', 'proto', 'client', 'clientPort', 'server', 'serverPort', 'clientRoles', 'serverRoles', 'clientRolesFrom', 'serverRolesFrom', 'packets', 'bytes', 'outcome', 'icmpErrors', 'start', 'end', 'grant', 'waived', 'detail', 'cite'];
const FLOW_CELLS = FLOW_COLUMNS.map((c) => JUDGED_CSV[c] ?? FLOW_CSV.get(c)!);
const REQ_COLUMNS = ['rule', 'status', 'from', 'to', 'proto', 'ports', 'rolesFrom', 'detail', 'waived', 'cite', 'negotiation'];

/** Rows through fast-csv, one at a time with backpressure: a row is made when it is written. */
async function csvRows(columns: string[], rows: Iterable<Record<string, unknown>>, out: Writable): Promise<void> {
  const stream = csvFormat({ headers: columns });
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    out.on('error', reject);
    stream.on('end', () => resolve());
  });
  stream.pipe(out, { end: false });
  for (const row of rows) if (!stream.write(row)) await once(stream, 'drain');
  stream.end();
  await ended;
}

function* mapIter<T, U>(items: Iterable<T>, fn: (t: T) => U): Generator<U> {
  for (const t of items) yield fn(t);
}

/**
 * The judged flows as CSV; with records folded past --max-flows, the `flows` and `targets` columns
 * too; with named sensors (`analyze --sensor`), the columns of the sensors' fields (`sensors`).
 */
export function writeAuditFlowsCsv(r: AuditReport, out: Writable): Promise<void> {
  const folded = r.capture.flowTable !== undefined;
  const sensors = r.capture.sensors !== undefined ? SENSOR_CSV_FIELDS : [];
  return csvRows(
    [...FLOW_COLUMNS, ...sensors.map((c) => c.name), ...(folded ? FOLDED_CSV_COLUMNS : [])],
    mapIter(r.flows, (f) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < FLOW_COLUMNS.length; i++) row[FLOW_COLUMNS[i]!] = FLOW_CELLS[i]!(f);
      for (const c of sensors) row[c.name] = c.csv!(f);
      return folded ? { ...row, ...foldedCells(f) } : row;
    }),
    out,
  );
}

export function writeAuditRequirementsCsv(r: AuditReport, out: Writable): Promise<void> {
  return csvRows(
    REQ_COLUMNS,
    r.requirements.map((x) => ({ rule: x.rule, status: x.status, from: x.from, to: x.to ?? '', proto: x.proto, ports: x.ports.join(' '), rolesFrom: x.rolesFrom ?? '', detail: csvText(x.detail), waived: csvText(x.waived?.reason ?? ''), cite: csvText(x.cite?.text ?? ''), negotiation: x.followUp?.frame != null ? csvText(`${x.followUp.reason} ${x.followUp.file}#${x.followUp.frame}`) : '' })),
    out,
  );
}
