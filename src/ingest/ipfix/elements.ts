/**
 * The information elements flowaudit reads and writes, declared once: IANA's number (RFC 7012 and
 * the IANA IPFIX registry; NetFlow v9's field types are the same numbers, RFC 3954 §8), an RFC 5103
 * reverse element (enterprise 29305, the same number) or one of flowaudit's own (FLOWAUDIT_PEN), and
 * where its value goes in the record view. Every other element is skipped by its length. A row is
 * one element; adding one is one row. The encoder (encode.ts) names the rows it writes, so whatever
 * flowaudit exports, its decoder reads.
 */
import type { DirectionEvidence, TcpOutcome } from '../../flow/record.js';
import type { ExportRecordView } from './view.js';

/** RFC 5103's private enterprise number for reverse information elements. */
export const REVERSE_PEN = 29305;

/**
 * The enterprise number of flowaudit's own elements: 32473, which RFC 5612 reserves for
 * documentation and examples. flowaudit has no number of its own from IANA; a collector that does
 * not know the elements skips them by their length (RFC 7011 §3.2), as flowaudit skips others'.
 */
export const FLOWAUDIT_PEN = 32473;

/**
 * flowaudit's direction evidence (FlowRecord.direction) as element flowauditDirectionEvidence
 * (FLOWAUDIT_PEN, id 1) carries it: the number is the index. Wire values: append only, never reorder.
 */
export const DIRECTION_CODES: readonly DirectionEvidence[] = ['first-packet', 'port-rank', 'epb-flags', 'icmp-type', 'syn-ack', 'syn', 'zeek-flipped', 'catalog-port'];
/** A flow's outcome as element flowauditOutcome (FLOWAUDIT_PEN, id 2) carries it: 0 none, then the index + 1. Append only. */
export const OUTCOME_CODES: readonly TcpOutcome[] = ['established', 'attempted', 'rejected', 'partial'];

/** Reads a value of `len` bytes at `off` into the view; the length was checked against the record. */
type ElementReader = (v: ExportRecordView, buf: Uint8Array, off: number, len: number) => void;

/** An unsigned integer of 1–8 bytes (RFC 7011 §6.2 reduced-size encoding), exact up to 2^53. */
export function uint(buf: Uint8Array, off: number, len: number): number {
  let n = 0;
  for (let i = 0; i < len; i++) n = n * 256 + buf[off + i]!;
  return n;
}

function words(out: Uint32Array, buf: Uint8Array, off: number, n: number): void {
  for (let w = 0; w < n; w++) out[w] = uint(buf, off + w * 4, 4);
}

/** NTP-format dateTimeMicroseconds/Nanoseconds (RFC 7011 §6.1.9–10): seconds since 1900 and a binary fraction. */
function ntpMs(buf: Uint8Array, off: number, len: number): number {
  if (len !== 8) return NaN;
  return (uint(buf, off, 4) - 2208988800) * 1000 + (uint(buf, off + 4, 4) / 4294967296) * 1000;
}

function v4(out: Uint32Array, v: ExportRecordView, buf: Uint8Array, off: number, len: number): void {
  if (len !== 4) return;
  v.ipVersion = 4;
  out[0] = uint(buf, off, 4);
}
function v6(out: Uint32Array, v: ExportRecordView, buf: Uint8Array, off: number, len: number): void {
  if (len !== 16) return;
  v.ipVersion = 6;
  words(out, buf, off, 4);
}

export interface ElementRow {
  id: number;
  /** 0 for IANA's elements, REVERSE_PEN for RFC 5103's reverse ones, FLOWAUDIT_PEN for flowaudit's. */
  enterprise: 0 | typeof REVERSE_PEN | typeof FLOWAUDIT_PEN;
  name: string;
  read: ElementReader;
}

export const ELEMENTS: ElementRow[] = [
  { id: 1, enterprise: 0, name: 'octetDeltaCount', read: (v, b, o, l) => { v.bytes = uint(b, o, l); } },
  { id: 2, enterprise: 0, name: 'packetDeltaCount', read: (v, b, o, l) => { v.packets = uint(b, o, l); } },
  { id: 85, enterprise: 0, name: 'octetTotalCount', read: (v, b, o, l) => { v.totalBytes = uint(b, o, l); } },
  { id: 86, enterprise: 0, name: 'packetTotalCount', read: (v, b, o, l) => { v.totalPackets = uint(b, o, l); } },
  { id: 4, enterprise: 0, name: 'protocolIdentifier', read: (v, b, o, l) => { v.proto = uint(b, o, l) & 0xff; } },
  // tcpControlBits is 2 bytes in RFC 7125 (with the header's NS bit), 1 in older exporters: the low byte is the flags.
  { id: 6, enterprise: 0, name: 'tcpControlBits', read: (v, b, o, l) => { v.tcpFlags = uint(b, o, l) & 0xff; } },
  { id: 7, enterprise: 0, name: 'sourceTransportPort', read: (v, b, o, l) => { v.srcPort = uint(b, o, l) & 0xffff; } },
  { id: 11, enterprise: 0, name: 'destinationTransportPort', read: (v, b, o, l) => { v.dstPort = uint(b, o, l) & 0xffff; } },
  { id: 8, enterprise: 0, name: 'sourceIPv4Address', read: (v, b, o, l) => v4(v.src, v, b, o, l) },
  { id: 12, enterprise: 0, name: 'destinationIPv4Address', read: (v, b, o, l) => v4(v.dst, v, b, o, l) },
  { id: 27, enterprise: 0, name: 'sourceIPv6Address', read: (v, b, o, l) => v6(v.src, v, b, o, l) },
  { id: 28, enterprise: 0, name: 'destinationIPv6Address', read: (v, b, o, l) => v6(v.dst, v, b, o, l) },
  { id: 32, enterprise: 0, name: 'icmpTypeCodeIPv4', read: (v, b, o, l) => { if (l === 2) { v.icmpType = b[o]!; v.icmpCode = b[o + 1]!; } } },
  { id: 139, enterprise: 0, name: 'icmpTypeCodeIPv6', read: (v, b, o, l) => { if (l === 2) { v.icmpType = b[o]!; v.icmpCode = b[o + 1]!; } } },
  { id: 176, enterprise: 0, name: 'icmpTypeIPv4', read: (v, b, o, l) => { v.icmpType = uint(b, o, l) & 0xff; } },
  { id: 177, enterprise: 0, name: 'icmpCodeIPv4', read: (v, b, o, l) => { v.icmpCode = uint(b, o, l) & 0xff; } },
  { id: 178, enterprise: 0, name: 'icmpTypeIPv6', read: (v, b, o, l) => { v.icmpType = uint(b, o, l) & 0xff; } },
  { id: 179, enterprise: 0, name: 'icmpCodeIPv6', read: (v, b, o, l) => { v.icmpCode = uint(b, o, l) & 0xff; } },
  { id: 58, enterprise: 0, name: 'vlanId', read: (v, b, o, l) => { v.vlan = uint(b, o, l) & 0xfff; } },
  { id: 243, enterprise: 0, name: 'dot1qVlanId', read: (v, b, o, l) => { v.vlan = uint(b, o, l) & 0xfff; } },
  { id: 61, enterprise: 0, name: 'flowDirection', read: (v, b, o, l) => { v.flowDirection = uint(b, o, l); } },
  { id: 239, enterprise: 0, name: 'biflowDirection', read: (v, b, o, l) => { v.biflowDirection = uint(b, o, l); } },
  // Times: absolute (seconds, milliseconds, NTP micro/nanoseconds), relative to the exporter's boot
  // (sysUpTime ms: v9's header, IPFIX's systemInitTimeMilliseconds option) or to the export time (µs).
  { id: 150, enterprise: 0, name: 'flowStartSeconds', read: (v, b, o, l) => { v.tStartMs = uint(b, o, l) * 1000; } },
  { id: 151, enterprise: 0, name: 'flowEndSeconds', read: (v, b, o, l) => { v.tEndMs = uint(b, o, l) * 1000; } },
  { id: 152, enterprise: 0, name: 'flowStartMilliseconds', read: (v, b, o, l) => { v.tStartMs = uint(b, o, l); } },
  { id: 153, enterprise: 0, name: 'flowEndMilliseconds', read: (v, b, o, l) => { v.tEndMs = uint(b, o, l); } },
  { id: 154, enterprise: 0, name: 'flowStartMicroseconds', read: (v, b, o, l) => { v.tStartMs = ntpMs(b, o, l); } },
  { id: 155, enterprise: 0, name: 'flowEndMicroseconds', read: (v, b, o, l) => { v.tEndMs = ntpMs(b, o, l); } },
  { id: 156, enterprise: 0, name: 'flowStartNanoseconds', read: (v, b, o, l) => { v.tStartMs = ntpMs(b, o, l); } },
  { id: 157, enterprise: 0, name: 'flowEndNanoseconds', read: (v, b, o, l) => { v.tEndMs = ntpMs(b, o, l); } },
  { id: 22, enterprise: 0, name: 'flowStartSysUpTime', read: (v, b, o, l) => { v.tStartUptime = uint(b, o, l); } },
  { id: 21, enterprise: 0, name: 'flowEndSysUpTime', read: (v, b, o, l) => { v.tEndUptime = uint(b, o, l); } },
  { id: 158, enterprise: 0, name: 'flowStartDeltaMicroseconds', read: (v, b, o, l) => { v.tStartDeltaUs = uint(b, o, l); } },
  { id: 159, enterprise: 0, name: 'flowEndDeltaMicroseconds', read: (v, b, o, l) => { v.tEndDeltaUs = uint(b, o, l); } },
  // Sampling, in data records (v9 SAMPLING_INTERVAL) or options records (RFC 7011's successors: RFC 5477).
  { id: 34, enterprise: 0, name: 'samplingInterval', read: (v, b, o, l) => { v.recordSampling = uint(b, o, l); } },
  { id: 50, enterprise: 0, name: 'samplerRandomInterval', read: (v, b, o, l) => { v.recordSampling = uint(b, o, l); } },
  { id: 305, enterprise: 0, name: 'samplingPacketInterval', read: (v, b, o, l) => { v.optPacketInterval = uint(b, o, l); } },
  { id: 306, enterprise: 0, name: 'samplingPacketSpace', read: (v, b, o, l) => { v.optPacketSpace = uint(b, o, l); } },
  { id: 160, enterprise: 0, name: 'systemInitTimeMilliseconds', read: (v, b, o, l) => { v.optSystemInitMs = uint(b, o, l); } },
  // RFC 5103 reverse elements: the reverse direction of a biflow.
  { id: 1, enterprise: REVERSE_PEN, name: 'reverseOctetDeltaCount', read: (v, b, o, l) => { v.biflow = true; v.reverseBytes = uint(b, o, l); } },
  { id: 2, enterprise: REVERSE_PEN, name: 'reversePacketDeltaCount', read: (v, b, o, l) => { v.biflow = true; v.reversePackets = uint(b, o, l); } },
  { id: 85, enterprise: REVERSE_PEN, name: 'reverseOctetTotalCount', read: (v, b, o, l) => { v.biflow = true; v.reverseTotalBytes = uint(b, o, l); } },
  { id: 86, enterprise: REVERSE_PEN, name: 'reversePacketTotalCount', read: (v, b, o, l) => { v.biflow = true; v.reverseTotalPackets = uint(b, o, l); } },
  { id: 6, enterprise: REVERSE_PEN, name: 'reverseTcpControlBits', read: (v, b, o, l) => { v.biflow = true; v.reverseTcpFlags = uint(b, o, l) & 0xff; } },
  // flowaudit's own: who is the client and on what evidence (the record's source is the client), and the outcome.
  { id: 1, enterprise: FLOWAUDIT_PEN, name: 'flowauditDirectionEvidence', read: (v, b, o, l) => { v.directionCode = uint(b, o, l); } },
  { id: 2, enterprise: FLOWAUDIT_PEN, name: 'flowauditOutcome', read: (v, b, o, l) => { v.outcomeCode = uint(b, o, l); } },
];

/** A row by its name: the encoder's templates are made of rows. */
export function element(name: string): ElementRow {
  const row = ELEMENTS.find((e) => e.name === name);
  if (row === undefined) throw new Error(`no information element ${name} in ELEMENTS`);
  return row;
}

/** The reader of an element by key (elementKey), or undefined: skip it. */
export const READERS = new Map<number, ElementReader>(ELEMENTS.map((e) => [elementKey(e.id, e.enterprise), e.read]));

/** One number for (enterprise, id): IANA's ids as they are, reverse elements above 2^16, flowaudit's above 2^17, other enterprises -1 (skipped). */
export function elementKey(id: number, enterprise: number): number {
  return enterprise === 0 ? id : enterprise === REVERSE_PEN ? 0x10000 | id : enterprise === FLOWAUDIT_PEN ? 0x20000 | id : -1;
}
