import type { AuditReport } from '../../audit/index.js';
import { boundText } from '../../flow/bound.js';
import { plural } from '../../core/human.js';
import { terminalSafe } from '../escape.js';
import { humanBytes } from '../flows.js';
import { sensorLines, siteLine } from '../sensors.js';
import { negotiationsRead } from '../text.js';
import { fit, hanging } from './layout.js';
import type { TextView } from './view.js';

/** What a live capture says of itself: drops first and loudly, then what it keeps. */
function liveLines(l: NonNullable<AuditReport['live']>): string[] {
  const out: string[] = [];
  const lost = l.droppedByInterface + (l.notDelivered ?? 0);
  if (lost > 0) {
    out.push(`  !!! DROPS: ${lost} packets lost while capturing (${l.droppedByInterface} by the interface, ${l.notDelivered ?? 'unknown'} not delivered to the capture): this report cannot prove absence`);
  }
  const c = l.interfaceCounters;
  out.push(`  captured ${l.captured} packets (${humanBytes(l.capturedBytes)}) on ${terminalSafe(l.interface)}${l.cut ? `, ${l.cut} cut to the snaplen ${l.snaplen}` : ''}; ` +
    (c ? `the interface counted ${c.rxPackets} in, ${c.txPackets} out, ${l.droppedByInterface} dropped` : 'the interface has no counters here') +
    (l.notDelivered === null ? (c ? ' (with a BPF filter, undelivered packets cannot be told from filtered ones)' : '') : `, ${l.notDelivered} not delivered`));
  const t = l.flowTable;
  out.push(`  flow table: ${t.active} active (limit ${t.limit}); ${t.expired} flows ended and ${t.evicted} evicted at the limit, folded into ${t.foldedRecords} conversation records${t.foldedOverflow ? ` (${t.foldedOverflow} flows counted only: the fold store is full)` : ''}`);
  if (l.write) out.push(`  writing the packets to ${terminalSafe(l.write)}`);
  const x = l.export;
  if (x) {
    out.push(`  exporting to ${terminalSafe(x.url)} (${x.target}): ${plural(x.records, 'flow record')} in ${plural(x.messages, 'IPFIX message')} (${humanBytes(x.bytes)})` +
      (x.sendErrors ? `; ${plural(x.sendErrors, 'message')} not sent (${terminalSafe(x.lastError ?? '')})` : '') + (x.unencodable ? `; ${plural(x.unencodable, 'flow')} with no address family not sent` : ''));
  }
  return out;
}

/** What a collector says of itself: what it received, and the conversations the stitcher holds. */
function collectLines(c: NonNullable<AuditReport['collect']>): string[] {
  const k = c.conversations;
  return [
    `received ${plural(c.datagrams, 'datagram')} (${humanBytes(c.bytes)}) on ${terminalSafe(c.listen)} from ${plural(c.exporters, 'exporter')}`,
    `conversations: ${k.open} open, ${k.finished} finished${k.evicted ? ` (${k.evicted} early, at the bound of ${k.limit} open)` : ''}`,
  ];
}

/** How much the report can be trusted: what was captured, what was lost, what the inspectors read. */
export function* captureSection(r: AuditReport, view: TextView): Generator<string> {
  const q = r.capture.quality;
  const sensors = r.capture.sensors;
  // Flow records count their packets and IP bytes themselves: say that it is their count.
  const records = r.capture.files.some((f) => 'records' in f) ? ' (as the flow records count them)' : '';
  const lines: string[] = [sensors ? siteLine(sensors, r.capture.packets, r.capture.bytes, r.capture.first, r.capture.last) : `${r.capture.packets} packets, ${humanBytes(r.capture.bytes)}${records}, ${r.capture.first ?? '-'} … ${r.capture.last ?? '-'}`];
  // A site's sensors, each with its own notes under it.
  const under: string[][] = [];
  for (const s of sensors ?? []) {
    const { line, under: notes } = sensorLines(s);
    lines.push(line);
    under[lines.length - 1] = notes;
  }
  if (r.live) lines.push(...liveLines(r.live).map((l) => l.slice(2)));
  if (r.collect) lines.push(...collectLines(r.collect));
  if (r.capture.flowTable) lines.push(...boundText(r.capture.flowTable));
  lines.push(...q.notes);
  const read = negotiationsRead(q.inspectors);
  if (read) lines.push(read);
  if (q.loss) lines.push(`! ${q.loss}`);
  yield '';
  yield fit('Capture quality', view.width);
  // Each line wrapped under a hanging indent: a note can name many things (files, inspectors).
  for (let i = 0; i < lines.length; i++) {
    yield* hanging(lines[i]!, view.width, '  ');
    for (const n of under[i] ?? []) yield* hanging(n, view.width, '      ');
  }
}
