/**
 * Templates and options templates as the decoder keeps them, per exporter and observation domain
 * (IPFIX's Observation Domain ID, NetFlow v9's Source ID): RFC 7011 §8 and RFC 3954 §5. A template is
 * compiled once into the readers of its fields, so a data record costs a loop over its fields.
 */
import { elementKey, READERS } from './elements.js';
import type { ExportRecordView } from './view.js';

/** Later messages of its domain a data set waits for its template. */
export const PENDING_MESSAGES = 8;
/** Bytes of data sets waiting for templates, in all. */
export const PENDING_BYTES = 1 << 20;
/** Exporter/domain pairs kept; more are counted `domain-bound` and their messages skipped. */
export const MAX_DOMAINS = 4096;
/** Templates kept per domain (a hostile exporter could define all 65 280 ids). */
export const MAX_TEMPLATES = 4096;
/**
 * A template not sent again for this long (by the exporter's clock) expires (RFC 7011 §8.4: a
 * collector's template lifetime over UDP). Exporters refresh every few minutes (softflowd every
 * 16 packets, Cisco every 30 minutes by default): 30 minutes plus the refresh itself.
 */
export const TEMPLATE_LIFETIME_MS = 35 * 60 * 1000;


/** The variable-length marker of a field specifier (RFC 7011 §7). */
export const VARIABLE = 0xffff;

export interface Template {
  id: number;
  /** Options template: its records describe the exporter (sampling, boot time), not flows. */
  options: boolean;
  /** Field lengths (VARIABLE for a variable-length field). */
  lengths: Uint16Array;
  /** The reader of each field, or undefined: skipped. */
  readers: Array<((v: ExportRecordView, buf: Uint8Array, off: number, len: number) => void) | undefined>;
  /** Bytes of the shortest record (a variable-length field takes at least its length byte). */
  minLength: number;
  /** The fields as (enterprise, id, length) text: a template sent again with other fields changed mid-stream. */
  signature: string;
  /** Export time (ms) when the template was last sent: a template not refreshed for the lifetime expires. */
  refreshedMs: number;
}

/** A template from its field specifiers: ids, enterprise numbers (0: IANA) and lengths. */
export function compileTemplate(
  id: number, options: boolean, ids: number[], enterprises: number[], lengths: number[], refreshedMs: number,
): Template {
  const readers = ids.map((fid, i) => READERS.get(elementKey(fid, enterprises[i]!)));
  let minLength = 0;
  for (const l of lengths) minLength += l === VARIABLE ? 1 : l;
  const signature = ids.map((fid, i) => `${enterprises[i]}.${fid}/${lengths[i]}`).join(',');
  return { id, options, lengths: Uint16Array.from(lengths), readers, minLength, signature, refreshedMs };
}

/** What the decoder knows of one exporter's observation domain. */
export interface DomainState {
  exporter: string;
  version: number;
  domain: number;
  templates: Map<number, Template>;
  /** The last message's sequence number (NaN: none yet) and its data records, all and flow records only (-1: not counted). */
  lastSequence: number;
  lastAll: number;
  lastFlows: number;
  /** Which sequence conventions still fit (decoder.ts sequence): bits for before/through the message × all/flow records. */
  conventions: number;
  /** systemInitTimeMilliseconds from an options record (IPFIX's base for sysUpTime times), NaN until read. */
  systemInitMs: number;
  /** 1 in N packets sampled, as the exporter stated it (1: not stated). */
  sampling: number;
  /** Where the sampling rate came from: 'v5-header', 'options-record', 'data-record' or '' (not stated). */
  samplingSource: string;
  messages: number;
  records: number;
  /** Loss from sequence-number gaps, in the unit of the version: data records (IPFIX), packets (v9), flows (v5). */
  lost: number;
  /** Messages whose sequence number went backwards (reordered, or the exporter restarted). */
  sequenceBackwards: number;
}
