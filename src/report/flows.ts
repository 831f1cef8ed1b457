import { format as csvFormat } from 'fast-csv';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { FLOW_CSV_COLUMNS, FLOW_CSV_FIELDS } from '../flow/fields.js';
import { MAX_PENDING_DATAGRAMS } from '../flow/fragments.js';
import type { CaptureSummary, FlowRecord } from '../flow/pipeline.js';
import { boundText } from '../flow/bound.js';
import { terminalSafe } from './escape.js';
import { endpoint, tunnelText } from './text.js';
import { endLines, writePieces } from './write.js';

export { FLOW_CSV_COLUMNS };

/** The public shape of a flow in JSON: the internal sort keys are left out. */
export function publicFlow(f: FlowRecord): Omit<FlowRecord, 'startSec' | 'startNs' | 'protoNumber'> {
  const { startSec: _s, startNs: _n, protoNumber: _p, ...rest } = f;
  return rest;
}

export function flowsJson(capture: CaptureSummary, flows: FlowRecord[]): string {
  return JSON.stringify({ capture, flows: flows.map(publicFlow) }, null, 2) + '\n';
}

/**
 * The same document as flowsJson, written in pieces: one flow a line, chunk by chunk, so a table of
 * millions of flows never becomes one giant string or millions of objects at once. The chunks come
 * from `FlowTable.jsonChunks()`, straight from the table.
 */
export function writeFlowsJson(capture: CaptureSummary, chunks: Iterable<Buffer>, out: Writable): Promise<void> {
  return writeJsonWithFlows({ capture, flows: [] }, chunks, out);
}

const FLOWS_MARK = '\u0000flows\u0000';
const arrayMark = (key: string) => `\u0000array:${key}\u0000`;

/**
 * A pretty-printed JSON document whose `flows` array is written from chunks of flow lines (see
 * json-lines.ts) with backpressure. The document's other top-level arrays (requirements, grants: a
 * million hosts with a requirement each are a million findings) are written an element at a time, so
 * no part of the report becomes one string longer than V8 allows; the bytes are JSON.stringify's.
 */
export async function writeJsonWithFlows(doc: object, chunks: Iterable<Buffer>, out: Writable): Promise<void> {
  const write = async (data: string | Buffer) => {
    if (!out.write(data)) await once(out, 'drain');
  };
  const arrays = Object.entries(doc).filter(([k, v]) => k !== 'flows' && Array.isArray(v) && v.length > 0) as Array<[string, unknown[]]>;
  const skeleton: Record<string, unknown> = { ...doc, flows: FLOWS_MARK };
  for (const [k] of arrays) skeleton[k] = arrayMark(k);
  const text = JSON.stringify(skeleton, null, 2);
  // The marks in document order: each is replaced by its array, written element by element.
  const marks = [['flows', `"flows": ${JSON.stringify(FLOWS_MARK)}`] as const, ...arrays.map(([k]) => [k, `${JSON.stringify(k)}: ${JSON.stringify(arrayMark(k))}`] as const)]
    .map(([key, mark]) => ({ key, mark, at: text.indexOf(mark) }))
    .sort((a, b) => a.at - b.at);
  let from = 0;
  for (const { key, mark, at } of marks) {
    await write(text.slice(from, at));
    from = at + mark.length;
    if (key === 'flows') {
      await write('"flows": [');
      let any = false;
      for (const chunk of chunks) {
        if (chunk.length === 0) continue;
        await write(chunk);
        any = true;
      }
      await write(`${any ? '\n  ' : ''}]`);
      continue;
    }
    const items = (doc as Record<string, unknown[]>)[key]!;
    await write(`${JSON.stringify(key)}: [`);
    for (let i = 0; i < items.length; i++) {
      // An element of a top-level array sits four spaces in: its own lines move with it.
      const el = JSON.stringify(items[i], null, 2) ?? 'null';
      await write(`${i === 0 ? '' : ','}\n    ${el.replace(/\n/g, '\n    ')}`);
    }
    await write('\n  ]');
  }
  await write(`${text.slice(from)}\n`);
}

/**
 * One flow a row, through fast-csv (quoting, escaping), batch by batch with backpressure. With
 * `folded` (the --max-flows bound was reached) two more columns say what a folded record stands for:
 * `flows` (how many flows; empty for a flow of its own) and `targets` (a scan record's targets).
 */
export async function writeFlowsCsv(batches: Iterable<FlowRecord[]>, out: Writable, folded = false): Promise<void> {
  const stream = csvFormat({ headers: folded ? [...FLOW_CSV_COLUMNS, ...FOLDED_CSV_COLUMNS] : [...FLOW_CSV_COLUMNS] });
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    out.on('error', reject);
    stream.on('end', () => resolve());
  });
  stream.pipe(out, { end: false });
  for (const batch of batches) {
    for (const f of batch) {
      const row: Record<string, string | number> = {};
      for (const field of FLOW_CSV_FIELDS) row[field.name] = field.csv!(f);
      const ok = stream.write(folded ? { ...row, ...foldedCells(f) } : row);
      // Waiting for drain also ends when the output fails, so `ended` never rejects unawaited.
      if (!ok) await Promise.race([once(stream, 'drain'), ended]);
    }
  }
  stream.end();
  await ended;
}

export const FOLDED_CSV_COLUMNS = ['flows', 'targets'] as const;

/** The `flows` and `targets` cells of a record folded past --max-flows (empty for a flow of its own). */
export function foldedCells(f: FlowRecord): { flows: number | string; targets: string } {
  const r = f as FlowRecord & { flows?: number; targets?: number; targetsAtLeast?: boolean };
  return { flows: r.flows ?? '', targets: r.targets === undefined ? '' : `${r.targetsAtLeast ? '>=' : ''}${r.targets}` };
}

export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

function duration(sec: number): string {
  if (sec < 1) return `${(sec * 1000).toFixed(1)}ms`;
  if (sec < 120) return `${sec.toFixed(2)}s`;
  if (sec < 7200) return `${(sec / 60).toFixed(1)}min`;
  return `${(sec / 3600).toFixed(1)}h`;
}

/** The text table's columns, in the order of the fields (flow/fields.ts) they show; numeric ones align right. */
const FLOWS_TEXT_COLUMNS: ReadonlyArray<{ head: string; numeric?: boolean; cell: (f: FlowRecord) => string }> = [
  { head: 'PROTO', cell: (f) => f.proto + (f.icmpType !== undefined ? ` ${f.icmpType}/${f.icmpCode}` : '') },
  { head: 'CLIENT', cell: (f) => endpoint(f.client, f.clientPort) },
  { head: 'SERVER', cell: (f) => endpoint(f.server, f.serverPort) },
  { head: 'PKTS', numeric: true, cell: (f) => String(f.packets) },
  { head: 'BYTES', numeric: true, cell: (f) => humanBytes(f.bytes) },
  { head: 'CLIENT→', cell: (f) => `${f.clientPackets}/${humanBytes(f.clientBytes)}` },
  { head: '←SERVER', cell: (f) => `${f.serverPackets}/${humanBytes(f.serverBytes)}` },
  { head: 'START', cell: (f) => f.start ?? '-' },
  { head: 'DURATION', cell: (f) => duration(f.duration) },
  { head: 'OUTCOME', cell: (f) => f.outcome ?? '-' },
  { head: 'DIRECTION BY', cell: (f) => f.direction + (f.vlan !== undefined ? `  vlan ${f.vlan}` : '') + (f.tunnel ? `  ${tunnelText(f)}` : '') + foldedNote(f) },
];

function flowTextCells(f: FlowRecord): string[] {
  return FLOWS_TEXT_COLUMNS.map((c) => c.cell(f));
}

/** What a record folded past --max-flows stands for ('' for a flow of its own). */
export function foldedNote(f: FlowRecord): string {
  const r = f as FlowRecord & { flows?: number; targets?: number; targetsAtLeast?: boolean };
  if (r.flows === undefined) return '';
  return r.targets !== undefined ? `  scan: ${r.flows} attempts, ${r.targetsAtLeast ? 'at least ' : ''}${r.targets} targets` : `  folded: ${r.flows} flows`;
}

/** A table for a terminal, like a conversation list, followed by what went wrong in the capture. */
export function flowsText(capture: CaptureSummary, flows: FlowRecord[]): string {
  return [...flowsTextPieces(capture, flows.length, () => [flows])].join('');
}

/** The same text written to a stream: see flowsTextPieces. */
export function writeFlowsText(capture: CaptureSummary, flows: { count: number; batches: () => Iterable<FlowRecord[]> }, out: Writable): Promise<void> {
  return writePieces(flowsTextPieces(capture, flows.count, flows.batches), out);
}

/**
 * The text report in pieces. Columns are as wide as their widest cell, so the flows are read twice:
 * once for the widths (cells made and dropped), once to write the rows; no row is held.
 */
export function* flowsTextPieces(capture: CaptureSummary, count: number, batches: () => Iterable<FlowRecord[]>): Generator<string> {
  const lines: string[] = [];
  const files = capture.files.map((f) => terminalSafe(f.file)).join(', ');
  yield `${files}: ${capture.packets} packets, ${humanBytes(capture.bytes)}, ${count} flows\n`;
  if (capture.first !== null) yield `time ${capture.first} … ${capture.last}\n`;
  if (capture.flowTable) yield* endLines(boundText(capture.flowTable));
  yield '\n';
  const head = FLOWS_TEXT_COLUMNS.map((c) => c.head);
  const widths = head.map((h) => h.length);
  for (const batch of batches()) {
    for (const f of batch) {
      const r = flowTextCells(f);
      for (let i = 0; i < r.length; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
    }
  }
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : FLOWS_TEXT_COLUMNS[i]!.numeric ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  yield `${fmt(head)}\n`;
  for (const batch of batches()) for (const f of batch) yield `${fmt(flowTextCells(f))}\n`;
  if (count === 0) lines.push('(no IP flows)');
  lines.push('');
  const notIp = Object.entries(capture.notIp);
  if (notIp.length > 0) lines.push(`not IP: ${notIp.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (capture.orphanFragments > 0) lines.push(`IP fragments whose first fragment was not captured: ${capture.orphanFragments}`);
  if (capture.fragmentOverflow > 0) lines.push(`fragmented datagrams forgotten at the bound of ${MAX_PENDING_DATAGRAMS} waiting: ${capture.fragmentOverflow}`);
  const errors = Object.entries(capture.decodeErrors);
  if (errors.length === 0) lines.push('decode errors: none');
  else {
    lines.push(`decode errors: ${capture.decodeErrorCount}`);
    for (const [reason, { count, first }] of errors) {
      const where = first.map((p) => `${terminalSafe(p.file)} #${p.record} @${p.offset}`).join('; ');
      lines.push(`  ${reason}: ${count} (first at ${where})`);
    }
  }
  for (const file of capture.files) {
    for (const i of 'interfaces' in file ? file.interfaces : []) {
      const s = i.stats;
      if (s && ((s.droppedByInterface ?? 0) > 0 || (s.droppedByOs ?? 0) > 0)) {
        lines.push(`${terminalSafe(file.file)} interface ${i.index}${i.name ? ` (${terminalSafe(i.name)})` : ''}: dropped ${s.droppedByInterface ?? 0} by interface, ${s.droppedByOs ?? 0} by OS`);
      }
    }
  }
  yield* endLines(lines);
}
