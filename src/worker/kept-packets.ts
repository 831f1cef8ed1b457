import { PacketRecord } from '../capture/record.js';
import { decodePacket, PacketView, Status } from '../decode/index.js';

const FIELDS = 11; // off, capLen, origLen, tsSec, tsNs, hasTs, tsDigits, linkType, ifIndex, recordNo, fileOffset/direction

/**
 * Bytes of packets one shard keeps for the inspectors. Past it the shard stops keeping and says where
 * (`resume`), and the main thread reads the rest of the range for the inspectors itself, in order: so
 * the workers hold at most this much each, whatever the file (without it, a capture of nothing but
 * TCP 135 would be held whole in every worker's copies).
 */
export const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/** Packets a shard keeps for the main thread (what the payload inspectors read), as two transferable arrays. */
export interface KeptPackets {
  count: number;
  bytes: Uint8Array;
  /** FIELDS doubles per packet: where its bytes are, and its record fields. */
  meta: Float64Array;
  /** The first packet past the bound, not kept: its record's byte offset and number in the range (1-based). */
  resume: { fileOffset: number; recordNo: number } | null;
}

/**
 * Collects copies of the packets a worker must hand over in record order: the inspectors follow TCP
 * streams across the whole file, so they run on the main thread, fed from every shard in turn. Only
 * the few packets they look at are copied (endpoint-mapper, SQL Browser and TFTP traffic).
 */
export class PacketKeeper {
  private bytes = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  private meta = new Float64Array(64 * FIELDS);
  count = 0;
  private resume: KeptPackets['resume'] = null;

  constructor(private readonly maxBytes = MAX_KEPT_BYTES) {}

  keep(rec: PacketRecord): void {
    if (this.resume !== null) return;
    if (this.used + rec.capLen > this.maxBytes) {
      this.resume = { fileOffset: rec.fileOffset, recordNo: rec.recordNo };
      return;
    }
    if (this.used + rec.capLen > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(this.bytes.length * 2, this.used + rec.capLen)));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    if ((this.count + 1) * FIELDS > this.meta.length) {
      const bigger = new Float64Array(this.meta.length * 2);
      bigger.set(this.meta);
      this.meta = bigger;
    }
    rec.buf.copy(this.bytes, this.used, rec.off, rec.off + rec.capLen);
    const m = this.meta;
    const b = this.count * FIELDS;
    m[b] = this.used;
    m[b + 1] = rec.capLen;
    m[b + 2] = rec.origLen;
    m[b + 3] = rec.tsSec;
    m[b + 4] = rec.tsNs;
    m[b + 5] = rec.hasTs ? 1 : 0;
    m[b + 6] = rec.tsDigits;
    m[b + 7] = rec.linkType;
    m[b + 8] = rec.ifIndex;
    m[b + 9] = rec.recordNo;
    // The offset is below 2^50 in any real file: room for the two direction bits beside it.
    m[b + 10] = rec.fileOffset * 4 + rec.direction;
    this.used += rec.capLen;
    this.count++;
  }

  result(): KeptPackets {
    return { count: this.count, bytes: this.bytes.subarray(0, this.used), meta: this.meta.subarray(0, this.count * FIELDS), resume: this.resume };
  }
}

/**
 * Decodes the kept packets again, in order, and hands each IP packet to `onIp` as the one-pass reader
 * would have: same record fields, record numbers shifted by the records of the shards before.
 */
export function replayKept(kept: KeptPackets, recordOffset: number, view: PacketView, onIp: (v: PacketView, rec: PacketRecord) => void): void {
  const rec = new PacketRecord();
  const bytes = Buffer.isBuffer(kept.bytes) ? kept.bytes : Buffer.from(kept.bytes.buffer, kept.bytes.byteOffset, kept.bytes.byteLength);
  rec.buf = bytes;
  const m = kept.meta;
  for (let i = 0; i < kept.count; i++) {
    const b = i * FIELDS;
    rec.off = m[b]!;
    rec.capLen = m[b + 1]!;
    rec.origLen = m[b + 2]!;
    rec.tsSec = m[b + 3]!;
    rec.tsNs = m[b + 4]!;
    rec.hasTs = m[b + 5] === 1;
    rec.tsDigits = m[b + 6]!;
    rec.linkType = m[b + 7]!;
    rec.ifIndex = m[b + 8]!;
    rec.recordNo = m[b + 9]! + recordOffset;
    rec.fileOffset = Math.floor(m[b + 10]! / 4);
    rec.direction = m[b + 10]! % 4;
    try {
      decodePacket(rec, view);
    } catch {
      continue; // counted as damage by the shard that read it
    }
    if (view.status === Status.Ip) onIp(view, rec);
  }
}
