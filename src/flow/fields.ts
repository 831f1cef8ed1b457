/**
 * A flow's fields, declared once: the JSON key and kind of each (in the order of the JSON lines) and
 * its CSV cell. The record encoder (report/json-lines.ts) writes the lines from this list, the flows
 * CSV takes its columns and cells from it, and the table's own writer (json.ts), which reads the
 * words instead of a record for speed, takes its keys from it.
 *
 * To add a field: its row here (and its word in layout.ts with what `add` counts into it, when the
 * table measures it); the record type is FlowRecord in record.ts.
 */
import { ascii } from '../core/json-bytes.js';
import type { FlowRecord } from './record.js';

/** How a field's value is written in JSON; `undefined` values (optional fields) are left out. */
export type JsonKind = 'number' | 'string' | 'json' | 'none';

export interface FlowField {
  name: keyof FlowRecord;
  /** 'none': kept in the record for later stages, never written. */
  json: JsonKind;
  /** The CSV cell (a CSV column when present). */
  csv?: (f: FlowRecord) => string | number;
  /**
   * A CSV column only in reports that name their sensors (`analyze --sensor`): the flows CSV and the
   * judged CSV of one sensor, as every report without --sensor, leave it out.
   */
  sensorsOnly?: true;
}

const orEmpty = (name: keyof FlowRecord) => (f: FlowRecord) => (f[name] as string | number | null | undefined) ?? '';
const plain = (name: keyof FlowRecord) => (f: FlowRecord) => f[name] as string | number;

export const FLOW_FIELDS: readonly FlowField[] = [
  { name: 'proto', json: 'string', csv: plain('proto') },
  { name: 'protoNumber', json: 'none' },
  { name: 'ipVersion', json: 'number' },
  { name: 'client', json: 'string', csv: plain('client') },
  { name: 'clientPort', json: 'number', csv: orEmpty('clientPort') },
  { name: 'server', json: 'string', csv: plain('server') },
  { name: 'serverPort', json: 'number', csv: orEmpty('serverPort') },
  { name: 'packets', json: 'number', csv: plain('packets') },
  { name: 'bytes', json: 'number', csv: plain('bytes') },
  { name: 'clientPackets', json: 'number', csv: plain('clientPackets') },
  { name: 'clientBytes', json: 'number', csv: plain('clientBytes') },
  { name: 'serverPackets', json: 'number', csv: plain('serverPackets') },
  { name: 'serverBytes', json: 'number', csv: plain('serverBytes') },
  { name: 'start', json: 'string', csv: orEmpty('start') },
  { name: 'end', json: 'string', csv: orEmpty('end') },
  { name: 'duration', json: 'number', csv: plain('duration') },
  { name: 'outcome', json: 'string', csv: orEmpty('outcome') },
  { name: 'direction', json: 'string', csv: plain('direction') },
  { name: 'firstFile', json: 'number', csv: plain('firstFile') },
  { name: 'firstFrame', json: 'number', csv: plain('firstFrame') },
  { name: 'lastFile', json: 'number', csv: plain('lastFile') },
  { name: 'lastFrame', json: 'number', csv: plain('lastFrame') },
  { name: 'startSec', json: 'none' },
  { name: 'startNs', json: 'none' },
  { name: 'clientFlags', json: 'string', csv: orEmpty('clientFlags') },
  { name: 'serverFlags', json: 'string', csv: orEmpty('serverFlags') },
  { name: 'icmpType', json: 'number', csv: orEmpty('icmpType') },
  { name: 'icmpCode', json: 'number', csv: orEmpty('icmpCode') },
  { name: 'icmpErrors', json: 'number', csv: orEmpty('icmpErrors') },
  { name: 'icmpErrorType', json: 'number', csv: orEmpty('icmpErrorType') },
  { name: 'icmpErrorCode', json: 'number', csv: orEmpty('icmpErrorCode') },
  { name: 'vlan', json: 'number', csv: orEmpty('vlan') },
  { name: 'vlanAsymmetric', json: 'json' },
  { name: 'tunnel', json: 'json', csv: (f) => f.tunnel?.join('+') ?? '' },
  { name: 'outerClient', json: 'string', csv: orEmpty('outerClient') },
  { name: 'outerServer', json: 'string', csv: orEmpty('outerServer') },
  { name: 'outerClientPort', json: 'number', csv: orEmpty('outerClientPort') },
  { name: 'outerServerPort', json: 'number', csv: orEmpty('outerServerPort') },
  { name: 'filter', json: 'string', csv: orEmpty('filter') },
  { name: 'sensors', json: 'json', csv: (f) => f.sensors?.join(' ') ?? '', sensorsOnly: true },
  // Flows read from Zeek's logs only: no CSV column, as no packet capture has them.
  { name: 'uid', json: 'string' },
  { name: 'tunnelParents', json: 'json' },
  { name: 'dceRpc', json: 'json' },
];

/** The fields in the JSON lines, in order. */
export const JSON_FIELDS = FLOW_FIELDS.filter((f) => f.json !== 'none');
/** The flows CSV's columns. */
export const FLOW_CSV_FIELDS = FLOW_FIELDS.filter((f) => f.csv !== undefined && !f.sensorsOnly);
/** The CSV columns a report that names its sensors adds. */
export const SENSOR_CSV_FIELDS = FLOW_FIELDS.filter((f) => f.csv !== undefined && f.sensorsOnly);
export const FLOW_CSV_COLUMNS = FLOW_CSV_FIELDS.map((f) => f.name);

/** A field's key as it follows the field before it: `,"name":` (the first, `\n    {"name":`). */
export function jsonKey(name: keyof FlowRecord): Uint8Array {
  return ascii(name === JSON_FIELDS[0]!.name ? `\n    {"${name}":` : `,"${name}":`);
}
