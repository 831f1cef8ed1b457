import { format as csvFormat } from 'fast-csv';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { MAX_PENDING_DATAGRAMS } from '../flow/fragments.js';
import type { CaptureSummary, FlowRecord } from '../flow/pipeline.js';
import { terminalSafe } from './escape.js';
import { endpoint } from './text.js';

export const FLOW_CSV_COLUMNS = [
  'proto', 'client', 'clientPort', 'server', 'serverPort', 'packets', 'bytes', 'clientPackets', 'clientBytes',
  'serverPackets', 'serverBytes', 'start', 'end', 'duration', 'outcome', 'direction', 'clientFlags', 'serverFlags',
  'icmpType', 'icmpCode', 'vlan', 'tunnel',
] as const;

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

/**
 * A pretty-printed JSON document whose `flows` array is written from chunks of flow lines (see
 * json-lines.ts) with backpressure: the rest of the document is stringified once.
 */
export async function writeJsonWithFlows(doc: object, chunks: Iterable<Buffer>, out: Writable): Promise<void> {
  const write = async (data: string | Buffer) => {
    if (!out.write(data)) await once(out, 'drain');
  };
  const text = JSON.stringify({ ...doc, flows: FLOWS_MARK }, null, 2);
  const mark = `"flows": ${JSON.stringify(FLOWS_MARK)}`;
  const at = text.indexOf(mark);
  await write(`${text.slice(0, at)}"flows": [`);
  let any = false;
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    await write(chunk);
    any = true;
  }
  await write(`${any ? '\n  ' : ''}]${text.slice(at + mark.length)}\n`);
}

/** One flow a row, through fast-csv (quoting, escaping), batch by batch with backpressure. */
export async function writeFlowsCsv(batches: Iterable<FlowRecord[]>, out: Writable): Promise<void> {
  const stream = csvFormat({ headers: [...FLOW_CSV_COLUMNS] });
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    out.on('error', reject);
    stream.on('end', () => resolve());
  });
  stream.pipe(out, { end: false });
  for (const batch of batches) {
    for (const f of batch) {
      const ok = stream.write({
        ...f,
        clientPort: f.clientPort ?? '',
        serverPort: f.serverPort ?? '',
        start: f.start ?? '',
        end: f.end ?? '',
        outcome: f.outcome ?? '',
        clientFlags: f.clientFlags ?? '',
        serverFlags: f.serverFlags ?? '',
        icmpType: f.icmpType ?? '',
        icmpCode: f.icmpCode ?? '',
        vlan: f.vlan ?? '',
        tunnel: f.tunnel?.join('+') ?? '',
      });
      // Waiting for drain also ends when the output fails, so `ended` never rejects unawaited.
      if (!ok) await Promise.race([once(stream, 'drain'), ended]);
    }
  }
  stream.end();
  await ended;
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

/** A table for a terminal, like a conversation list, followed by what went wrong in the capture. */
export function flowsText(capture: CaptureSummary, flows: FlowRecord[]): string {
  const lines: string[] = [];
  const files = capture.files.map((f) => terminalSafe(f.file)).join(', ');
  lines.push(`${files}: ${capture.packets} packets, ${humanBytes(capture.bytes)}, ${flows.length} flows`);
  if (capture.first !== null) lines.push(`time ${capture.first} … ${capture.last}`);
  lines.push('');
  const head = ['PROTO', 'CLIENT', 'SERVER', 'PKTS', 'BYTES', 'CLIENT→', '←SERVER', 'START', 'DURATION', 'OUTCOME', 'DIRECTION BY'];
  const rows = flows.map((f) => [
    f.proto + (f.icmpType !== undefined ? ` ${f.icmpType}/${f.icmpCode}` : ''),
    endpoint(f.client, f.clientPort),
    endpoint(f.server, f.serverPort),
    String(f.packets),
    humanBytes(f.bytes),
    `${f.clientPackets}/${humanBytes(f.clientBytes)}`,
    `${f.serverPackets}/${humanBytes(f.serverBytes)}`,
    f.start ?? '-',
    duration(f.duration),
    f.outcome ?? '-',
    f.direction + (f.vlan !== undefined ? `  vlan ${f.vlan}` : '') + (f.tunnel ? `  via ${f.tunnel.join('+')}` : ''),
  ]);
  // A loop, not Math.max(...column): a spread of 200 000 arguments overflows the stack.
  const widths = head.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < r.length; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
  const numeric = new Set([3, 4]);
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  lines.push(fmt(head));
  for (const r of rows) lines.push(fmt(r));
  if (flows.length === 0) lines.push('(no IP flows)');
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
    for (const i of file.interfaces) {
      const s = i.stats;
      if (s && ((s.droppedByInterface ?? 0) > 0 || (s.droppedByOs ?? 0) > 0)) {
        lines.push(`${terminalSafe(file.file)} interface ${i.index}${i.name ? ` (${terminalSafe(i.name)})` : ''}: dropped ${s.droppedByInterface ?? 0} by interface, ${s.droppedByOs ?? 0} by OS`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
