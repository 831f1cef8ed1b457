/**
 * ICMP errors a worker's shard could not place: the flow they quote may have begun in an earlier
 * shard. The shard keeps them (bounded) and the merge replays them through the merged table's `add`,
 * before the shard's own flows, as one pass would have counted them: on the quoted flow, or as an ICMP
 * flow when no table holds it.
 */
import { PacketRecord } from '../capture/record.js';
import { PacketView } from '../decode/view.js';

/** At most this many errors wait in one shard; past it they are ICMP flows there (as a shard sees them). */
export const MAX_DEFERRED_ERRORS = 65536;

export interface DeferredError {
  ipVersion: number;
  src: number[];
  dst: number[];
  proto: number;
  vlan: number;
  tunnel: number;
  icmpType: number;
  icmpCode: number;
  quotedProto: number;
  quotedSrc: number[];
  quotedDst: number[];
  quotedSrcPort: number;
  quotedDstPort: number;
  origLen: number;
  /** The record's number in its shard; the merge adds the records before the shard. */
  recordNo: number;
  tsSec: number;
  tsNs: number;
  hasTs: boolean;
  tsDigits: number;
  direction: number;
}

/** Keeps the error of view `v` for the merge; false when the bound is reached. */
export function deferError(list: DeferredError[], v: PacketView, rec: PacketRecord): boolean {
  if (list.length >= MAX_DEFERRED_ERRORS) return false;
  list.push({
    ipVersion: v.ipVersion, src: Array.from(v.src), dst: Array.from(v.dst), proto: v.proto, vlan: v.vlan, tunnel: v.tunnel, icmpType: v.icmpType, icmpCode: v.icmpCode,
    quotedProto: v.quotedProto, quotedSrc: Array.from(v.quotedSrc), quotedDst: Array.from(v.quotedDst), quotedSrcPort: v.quotedSrcPort, quotedDstPort: v.quotedDstPort,
    origLen: rec.origLen, recordNo: rec.recordNo, tsSec: rec.tsSec, tsNs: rec.tsNs, hasTs: rec.hasTs, tsDigits: rec.tsDigits, direction: rec.direction,
  });
  return true;
}

/** Hands each kept error to `add` as the packet it was, numbered after the `recordOffset` records before its shard. */
export function replayErrors(list: readonly DeferredError[], recordOffset: number, add: (v: PacketView, rec: PacketRecord) => void): void {
  if (list.length === 0) return;
  const v = new PacketView();
  const rec = new PacketRecord();
  for (const e of list) {
    v.reset();
    v.ipVersion = e.ipVersion;
    v.src.set(e.src);
    v.dst.set(e.dst);
    v.proto = e.proto;
    v.vlan = e.vlan;
    v.tunnel = e.tunnel;
    v.icmpType = e.icmpType;
    v.icmpCode = e.icmpCode;
    v.quoted = 1;
    v.quotedProto = e.quotedProto;
    v.quotedSrc.set(e.quotedSrc);
    v.quotedDst.set(e.quotedDst);
    v.quotedSrcPort = e.quotedSrcPort;
    v.quotedDstPort = e.quotedDstPort;
    rec.origLen = e.origLen;
    rec.recordNo = e.recordNo + recordOffset;
    rec.tsSec = e.tsSec;
    rec.tsNs = e.tsNs;
    rec.hasTs = e.hasTs;
    rec.tsDigits = e.tsDigits;
    rec.direction = e.direction;
    add(v, rec);
  }
}
