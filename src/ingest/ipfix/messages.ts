/**
 * The message headers of each version (RFC 7011 §3.1, RFC 3954 §5.1, Cisco's v5) and the table that
 * picks one by the version word: a reader checks its header, finds the domain, hands the sets (or v5's
 * fixed records) to the decoder and counts the sequence number.
 */
import { u16be, u32be } from '../../core/bytes.js';
import type { DomainState } from './templates.js';

const V5_HEADER = 24;
const V5_RECORD = 48;
const V9_HEADER = 20;
const IPFIX_HEADER = 16;

/** Header facts a data set is decoded with (kept with a set that waits for its template). */
export interface MessageContext {
  version: number;
  message: number;
  /** Export time, Unix ms. */
  exportMs: number;
  /** v5/v9: the exporter's uptime at export, ms (NaN for IPFIX). */
  sysUptime: number;
}

/** What a message reader needs of the decoder (decoder.ts FlowExportDecoder). */
export interface MessageSink {
  readonly stats: { messages: number };
  bad(reason: string, message: number, offset: number): void;
  domain(exporter: string, version: number, id: number, message: number, offset: number): DomainState | undefined;
  sets(d: DomainState, buf: Uint8Array, off: number, end: number, ctx: MessageContext): void;
  startRecords(): void;
  readonly recordsInMessage: number;
  readonly flowsInMessage: number;
  sequence(d: DomainState, seq: number, all: number, flows: number): void;
  agePending(d: DomainState): void;
  v5Record(d: DomainState, buf: Uint8Array, o: number, ctx: MessageContext, place: number): void;
}

export type MessageReader = (d: MessageSink, buf: Uint8Array, off: number, end: number, exporter: string) => number;

/** RFC 7011 §3.1: version, length, export time (s), sequence number (data records), observation domain. */
function readIpfix(dec: MessageSink, buf: Uint8Array, off: number, end: number, exporter: string): number {
  const message = ++dec.stats.messages;
  if (end - off < IPFIX_HEADER) {
    dec.bad('message-truncated', message, off);
    return 0;
  }
  const length = u16be(buf, off + 2);
  if (length < IPFIX_HEADER) {
    dec.bad('message-bad-length', message, off);
    return 0;
  }
  let msgEnd = off + length;
  if (msgEnd > end) {
    dec.bad('message-truncated', message, off);
    msgEnd = end;
  }
  const exportMs = u32be(buf, off + 4) * 1000;
  const seq = u32be(buf, off + 8);
  const d = dec.domain(exporter, 10, u32be(buf, off + 12), message, off);
  if (d === undefined) return msgEnd - off;
  dec.startRecords();
  dec.sets(d, buf, off + IPFIX_HEADER, msgEnd, { version: 10, message, exportMs, sysUptime: NaN });
  dec.sequence(d, seq, dec.recordsInMessage, dec.flowsInMessage);
  dec.agePending(d);
  return msgEnd - off;
}

/** RFC 3954 §5.1: version, count, sysUptime (ms), Unix seconds, sequence number (export packets), source id. */
function readV9(dec: MessageSink, buf: Uint8Array, off: number, end: number, exporter: string): number {
  const message = ++dec.stats.messages;
  if (end - off < V9_HEADER) {
    dec.bad('message-truncated', message, off);
    return 0;
  }
  const sysUptime = u32be(buf, off + 4);
  const exportMs = u32be(buf, off + 8) * 1000;
  const seq = u32be(buf, off + 12);
  const d = dec.domain(exporter, 9, u32be(buf, off + 16), message, off);
  if (d === undefined) return end - off;
  dec.startRecords();
  dec.sets(d, buf, off + V9_HEADER, end, { version: 9, message, exportMs, sysUptime });
  dec.sequence(d, seq, 1, 1);
  dec.agePending(d);
  return end - off;
}

/**
 * Cisco's NetFlow v5: a 24-byte header (version, count, sysUptime, Unix seconds and nanoseconds,
 * flow sequence, engine type and id, sampling: 2 bits of mode and 14 of interval) and `count`
 * fixed 48-byte records. The engine type and id are the domain.
 */
function readV5(dec: MessageSink, buf: Uint8Array, off: number, end: number, exporter: string): number {
  const message = ++dec.stats.messages;
  if (end - off < V5_HEADER) {
    dec.bad('message-truncated', message, off);
    return 0;
  }
  let count = u16be(buf, off + 2);
  const sysUptime = u32be(buf, off + 4);
  const exportMs = u32be(buf, off + 8) * 1000 + u32be(buf, off + 12) / 1e6;
  const seq = u32be(buf, off + 16);
  const d = dec.domain(exporter, 5, u16be(buf, off + 20), message, off);
  if (d === undefined) return end - off;
  const sampling = u16be(buf, off + 22) & 0x3fff;
  if (sampling > 1) {
    d.sampling = sampling;
    d.samplingSource = 'v5-header';
  }
  if (V5_HEADER + count * V5_RECORD > end - off) {
    dec.bad('v5-records-truncated', message, off);
    count = Math.floor((end - off - V5_HEADER) / V5_RECORD);
  }
  const ctx = { version: 5, message, exportMs, sysUptime };
  for (let i = 0; i < count; i++) dec.v5Record(d, buf, off + V5_HEADER + i * V5_RECORD, ctx, V5_HEADER + i * V5_RECORD);
  dec.sequence(d, seq, count, count);
  return end - off;
}

/** The message reader of each version word. */
export const MESSAGE_READERS = new Map<number, MessageReader>([
  [5, readV5],
  [9, readV9],
  [10, readIpfix],
]);
