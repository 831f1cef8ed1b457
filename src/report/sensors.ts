/**
 * The sensors of a site (`analyze --sensor`) as the capture-quality section lists them, in the text
 * and the HTML report alike: one line a sensor (kind, files, what it read, its span, its flows),
 * then its own notes and its loss under it.
 */
import type { SensorSummary } from '../audit/site.js';
import { humanDuration, plural } from '../core/human.js';
import { terminalSafe } from './escape.js';
import { humanBytes } from './flows.js';

/** What a sensor read: packets, or records with the packets they count. */
function readText(s: SensorSummary): string {
  if (s.records === null) return `${plural(s.packets, 'packet')}, ${humanBytes(s.bytes)}`;
  return `${plural(s.records, 'record')} (${plural(s.packets, 'packet')}, ${humanBytes(s.bytes)} as the records count them)`;
}

/** A sensor's line and, indented, its notes and loss: [line, sub-lines…]. */
export function sensorLines(s: SensorSummary): { line: string; under: string[] } {
  const files = s.files.length === 1 ? terminalSafe(s.files[0]!) : `${s.files.length} files`;
  const span = s.first === null ? 'no time' : `${s.first} … ${s.last ?? '-'} (${humanDuration(s.durationSeconds)})`;
  const drops = s.droppedByInterface + s.droppedByOs;
  return {
    line: `sensor ${terminalSafe(s.name)} (${s.kind}, ${files}): ${readText(s)}, ${span}; ${plural(s.flows, 'flow')}, ${s.alone} seen by it alone${drops ? `; ${drops} dropped` : ''}`,
    under: [...s.notes, ...(s.loss ? [`! ${s.loss}`] : [])],
  };
}

/** The site's first line: how many sensors, and what they read in all. */
export function siteLine(sensors: readonly SensorSummary[], packets: number, bytes: number, first: string | null, last: string | null): string {
  return `${plural(sensors.length, 'sensor')}: ${plural(packets, 'packet')}, ${humanBytes(bytes)} read in all (each sensor's own count), ${first ?? '-'} … ${last ?? '-'}`;
}
