import { u16be, u16le, u32be, u32le } from '../core/bytes.js';
import { DamageTally } from '../core/errors.js';
import { clampSec, digitsForTicks, outOfTimeRange, SplitTime, splitTicks } from '../core/time.js';
import { FormatParser, InterfaceInfo, MAX_RECORD, PacketRecord, PacketSink } from './record.js';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_PB = 0x00000002; // obsolete packet block
export const BT_SPB = 0x00000003;
export const BT_NRB = 0x00000004;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
export const BT_DSB = 0x0000000a;
export const BT_CB = 0x00000bad;
export const BT_CB_NOCOPY = 0x40000bad;
export const BT_SYSTEMD_JOURNAL = 0x00000009;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Block types we recognise when looking for the next good block after damage. */
const KNOWN_BLOCKS = new Set([BT_SHB, BT_IDB, BT_PB, BT_SPB, BT_NRB, BT_ISB, BT_EPB, BT_DSB, BT_CB, BT_CB_NOCOPY, 7, 8, 9]);

type SectionInterface = InterfaceInfo;

/**
 * Interfaces a file may describe, over all its sections. Every one is kept for the report, so a file of
 * millions of interface blocks (each 20 bytes) would make a report nobody can write: the blocks past
 * the cap are counted (`pcapng-too-many-interfaces`) and packets on them are on an unknown interface.
 */
export const MAX_INTERFACES = 65536;
/** Bytes of an interface name kept (if_name may be 64 KiB; a name is for a person to read). */
export const MAX_INTERFACE_NAME = 256;

/**
 * pcapng (draft-ietf-opsawg-pcapng). Every section may have its own byte order and its own interface
 * list; interfaces may differ in link type, snaplen and timestamp resolution. Blocks we do not use are
 * skipped by their length. Damage (bad lengths, trailer mismatch) is counted and the parser resyncs on
 * the next 4-byte-aligned block whose leading and trailing lengths agree.
 */
export class PcapngParser implements FormatParser {
  need = 12;
  stopAt = Infinity;
  stopped = false;
  /** Section headers and interface descriptions parsed (a shard that meets one cannot stand alone). */
  structuralBlocks = 0;
  private le = true;
  private orders = new Set<'little' | 'big'>();
  private sectionNo = -1;
  private section: SectionInterface[] = [];
  private all: SectionInterface[] = [];
  private recordNo = 0;
  private packets = 0;
  private bytes = 0;
  private capturedBytes = 0;
  private resyncing = false;
  private readonly split: SplitTime = { sec: 0, ns: 0 };
  /** The second of the last timestamp split, for interfaces whose tick divides a nanosecond count. */
  private cachedTps = 0;
  private cachedSec = 0;
  private cachedSecTicks = 0;
  private cachedNsPerTick = 0;

  constructor(
    private readonly rec: PacketRecord,
    private readonly sink: PacketSink,
    private readonly damage: DamageTally,
    private readonly file: string,
  ) {}

  facts() {
    const byteOrder = this.orders.size > 1 ? 'mixed' : this.orders.has('big') ? 'big' : 'little';
    return {
      format: 'pcapng' as const,
      byteOrder: byteOrder as 'little' | 'big' | 'mixed',
      interfaces: this.all.map((info) => ({ ...info })),
      packets: this.packets,
      bytes: this.bytes,
      capturedBytes: this.capturedBytes,
    };
  }

  private u32(buf: Buffer, off: number): number {
    return this.le ? u32le(buf, off) : u32be(buf, off);
  }
  private u16(buf: Buffer, off: number): number {
    return this.le ? u16le(buf, off) : u16be(buf, off);
  }
  private u64(buf: Buffer, off: number): number {
    const a = this.u32(buf, off);
    const b = this.u32(buf, off + 4);
    return this.le ? b * 4294967296 + a : a * 4294967296 + b;
  }

  /**
   * Length of the block at p if it looks sound (type known, lengths agree); -1 if not; -2 if its header
   * is plausible but the block runs past `end` (wait for more bytes before deciding).
   */
  private soundBlockAt(buf: Buffer, p: number, end: number): number {
    if (end - p < 12) return -1;
    const type = this.u32(buf, p);
    let le = this.le;
    if (type === BT_SHB || buf.readUInt32LE(p) === BT_SHB) {
      const bom = buf.readUInt32LE(p + 8);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else return -1;
    } else if (!KNOWN_BLOCKS.has(type)) return -1;
    const len = le ? buf.readUInt32LE(p + 4) : buf.readUInt32BE(p + 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) return -1;
    if (p + len > end) return -2;
    const trailer = le ? buf.readUInt32LE(p + len - 4) : buf.readUInt32BE(p + len - 4);
    return trailer === len ? len : -1;
  }

  records(): number {
    return this.recordNo;
  }

  findBoundary(buf: Buffer, from: number, end: number, bufBase: number, eof: boolean): number {
    // Blocks start on 4-byte boundaries of the file.
    let q = from + ((4 - ((bufBase + from) % 4)) % 4);
    for (; q + 12 <= end; q += 4) {
      let p = q;
      let chained = 0;
      for (;;) {
        if (p === end && eof) break;
        const len = this.soundBlockAt(buf, p, end);
        if (len === -2) break; // runs past the window: judged by what chained so far
        if (len < 0) {
          chained = -1;
          break;
        }
        chained++;
        p += len;
        if (chained >= 4) break;
      }
      if (chained >= 4 || (chained >= 1 && (p >= end || this.soundBlockAt(buf, p, end) === -2))) return q;
    }
    return -1;
  }

  /** The length field at `off` of the block at `blockAt`, in the byte order that block would use. */
  private u32orLE(buf: Buffer, off: number, blockAt: number): number {
    if (buf.readUInt32LE(blockAt) === BT_SHB) {
      return buf.readUInt32LE(blockAt + 8) === BYTE_ORDER_MAGIC ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
    }
    return this.u32(buf, off);
  }

  parse(buf: Buffer, start: number, end: number, bufBase: number, eof: boolean): number {
    let p = start;
    for (;;) {
      if (bufBase + p >= this.stopAt && !this.resyncing) {
        this.stopped = true;
        return p;
      }
      const avail = end - p;
      if (avail < 12) {
        if (eof && avail > 0) {
          this.damage.add('pcapng-truncated-block', this.file, this.recordNo + 1, bufBase + p);
          return end;
        }
        this.need = 12;
        return p;
      }
      if (this.resyncing) {
        let q = p;
        let found = -1;
        while (q + 12 <= end) {
          const r = this.soundBlockAt(buf, q, end);
          if (r > 0) {
            found = q;
            break;
          }
          if (r === -2 && !eof) {
            // A plausible block that we cannot check until the rest of it is read.
            this.need = this.u32orLE(buf, q + 4, q);
            return q;
          }
          q += 4;
        }
        if (found < 0) {
          if (eof) return end;
          this.need = 12;
          return q;
        }
        this.resyncing = false;
        this.damage.add('pcapng-resynchronised', this.file, this.recordNo + 1, bufBase + found);
        p = found;
        continue;
      }
      let type = this.u32(buf, p);
      // BT_SHB reads the same in both byte orders (0x0a0d0d0a).
      if (u32le(buf, p) === BT_SHB) {
        const bom = buf.readUInt32LE(p + 8);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else {
          this.damage.add('pcapng-bad-byte-order-magic', this.file, this.recordNo + 1, bufBase + p);
          this.resyncing = true;
          p += 4;
          continue;
        }
        type = BT_SHB;
      } else if (this.sectionNo < 0) {
        this.damage.add('pcapng-block-before-section-header', this.file, 0, bufBase + p);
        this.resyncing = true;
        p += 4;
        continue;
      }
      const len = this.u32(buf, p + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
        this.damage.add('pcapng-bad-block-length', this.file, this.recordNo + 1, bufBase + p);
        this.resyncing = true;
        p += 4;
        continue;
      }
      if (avail < len) {
        if (eof) {
          this.damage.add('pcapng-truncated-block', this.file, this.recordNo + 1, bufBase + p);
          return end;
        }
        this.need = len;
        return p;
      }
      if (this.u32(buf, p + len - 4) !== len) {
        this.damage.add('pcapng-block-trailer-mismatch', this.file, this.recordNo + 1, bufBase + p);
        this.resyncing = true;
        p += 4;
        continue;
      }
      switch (type) {
        case BT_SHB:
          this.structuralBlocks++;
          this.sectionNo++;
          this.section = [];
          this.orders.add(this.le ? 'little' : 'big');
          break;
        case BT_IDB:
          this.structuralBlocks++;
          this.interfaceBlock(buf, p, len, bufBase);
          break;
        case BT_EPB:
          this.packetBlock(buf, p, len, bufBase, true);
          break;
        case BT_PB:
          this.packetBlock(buf, p, len, bufBase, false);
          break;
        case BT_SPB:
          this.simplePacketBlock(buf, p, len, bufBase);
          break;
        case BT_ISB:
          this.statisticsBlock(buf, p, len, bufBase);
          break;
        case BT_CB:
        case BT_CB_NOCOPY:
        case BT_SYSTEMD_JOURNAL:
          // Not packets, but Wireshark lists them as frames: count them so record numbers stay tshark's.
          this.recordNo++;
          break;
        default:
          // NRB, DSB and unknown blocks: skipped by length.
          break;
      }
      p += len;
    }
  }

  private interfaceBlock(buf: Buffer, p: number, len: number, bufBase: number): void {
    if (len < 20) {
      this.damage.add('pcapng-short-interface-block', this.file, this.recordNo + 1, bufBase + p);
      return;
    }
    if (this.all.length >= MAX_INTERFACES) {
      this.damage.add('pcapng-too-many-interfaces', this.file, this.recordNo + 1, bufBase + p);
      return;
    }
    const iface: SectionInterface = {
      index: this.all.length,
      section: this.sectionNo,
      linkType: this.u16(buf, p + 8),
      snaplen: this.u32(buf, p + 12),
      ticksPerSec: 1_000_000,
      tsDigits: 6,
      tsOffset: 0,
    };
    const optEnd = p + len - 4;
    for (let o = p + 16; o + 4 <= optEnd; ) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === 0 || o + 4 + olen > optEnd) break;
      const v = o + 4;
      if (code === 9 && olen >= 1) {
        const r = buf[v]!;
        iface.ticksPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === 14 && olen >= 8) {
        // if_tsoffset: signed 64-bit seconds added to every timestamp of the interface.
        const hi = this.le ? buf.readInt32LE(v + 4) : buf.readInt32BE(v);
        const lo = this.le ? buf.readUInt32LE(v) : buf.readUInt32BE(v + 4);
        iface.tsOffset = hi * 4294967296 + lo;
      } else if (code === 2 && olen > 0) {
        if (olen > MAX_INTERFACE_NAME) this.damage.add('pcapng-interface-name-too-long', this.file, this.recordNo + 1, bufBase + p);
        iface.name = buf.toString('utf8', v, v + Math.min(olen, MAX_INTERFACE_NAME)).replace(/\0+$/, '');
      }
      o += 4 + ((olen + 3) & ~3);
    }
    iface.tsDigits = digitsForTicks(iface.ticksPerSec);
    this.section.push(iface);
    this.all.push(iface);
  }

  private emit(buf: Buffer, data: number, cap: number, orig: number, iface: SectionInterface, blockAt: number, bufBase: number): void {
    const rec = this.rec;
    this.recordNo++;
    this.packets++;
    this.bytes += orig;
    this.capturedBytes += cap;
    rec.buf = buf;
    rec.off = data;
    rec.capLen = cap;
    rec.origLen = orig;
    rec.linkType = iface.linkType;
    rec.ifIndex = iface.index;
    rec.tsDigits = iface.tsDigits;
    rec.recordNo = this.recordNo;
    rec.fileOffset = bufBase + blockAt;
    this.sink(rec);
  }

  private packetBlock(buf: Buffer, p: number, len: number, bufBase: number, enhanced: boolean): void {
    if (len < 32) {
      this.damage.add('pcapng-short-packet-block', this.file, this.recordNo + 1, bufBase + p);
      return;
    }
    const ifId = enhanced ? this.u32(buf, p + 8) : this.u16(buf, p + 8);
    const iface = this.section[ifId];
    if (iface === undefined) {
      this.recordNo++;
      this.damage.add('pcapng-unknown-interface', this.file, this.recordNo, bufBase + p);
      return;
    }
    const cap = this.u32(buf, p + 20);
    const orig = this.u32(buf, p + 24);
    const dataEnd = p + 28 + cap;
    if (cap > len - 32) {
      this.recordNo++;
      this.damage.add('pcapng-captured-length-exceeds-block', this.file, this.recordNo, bufBase + p);
      return;
    }
    const rec = this.rec;
    const hi = this.u32(buf, p + 12);
    const lo = this.u32(buf, p + 16);
    const tps = iface.ticksPerSec;
    const ticks = hi * 4294967296 + lo;
    if (tps === this.cachedTps && hi < 0x200000 && ticks >= this.cachedSecTicks && ticks < this.cachedSecTicks + tps) {
      // Same second as the last packet (the usual case): no division. Exact below 2^53 ticks.
      rec.tsSec = this.cachedSec + iface.tsOffset;
      rec.tsNs = (ticks - this.cachedSecTicks) * this.cachedNsPerTick;
    } else {
      splitTicks(hi, lo, tps, this.split);
      rec.tsSec = this.split.sec + iface.tsOffset;
      rec.tsNs = this.split.ns;
      if (hi < 0x200000 && 1_000_000_000 % tps === 0) {
        this.cachedTps = tps;
        this.cachedSec = this.split.sec;
        this.cachedSecTicks = this.split.sec * tps;
        this.cachedNsPerTick = 1_000_000_000 / tps;
      }
    }
    if (outOfTimeRange(rec.tsSec)) {
      this.damage.add('timestamp-out-of-range', this.file, this.recordNo + 1, bufBase + p);
      rec.tsSec = clampSec(rec.tsSec);
      rec.tsNs = 0;
    }
    rec.hasTs = true;
    rec.direction = 0;
    // epb_flags (code 2) / pack_flags (code 2): the low two bits are the direction.
    const optEnd = p + len - 4;
    for (let o = (dataEnd + 3) & ~3; o + 4 <= optEnd; ) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === 0 || o + 4 + olen > optEnd) break;
      if (code === 2 && olen >= 4) rec.direction = this.u32(buf, o + 4) & 3;
      o += 4 + ((olen + 3) & ~3);
    }
    if (rec.direction === 3) rec.direction = 0;
    this.emit(buf, p + 28, cap, orig, iface, p, bufBase);
  }

  private simplePacketBlock(buf: Buffer, p: number, len: number, bufBase: number): void {
    const iface = this.section[0];
    if (iface === undefined || len < 16) {
      this.recordNo++;
      this.damage.add('pcapng-simple-packet-without-interface', this.file, this.recordNo, bufBase + p);
      return;
    }
    const orig = this.u32(buf, p + 8);
    let cap = Math.min(orig, len - 16);
    if (iface.snaplen > 0) cap = Math.min(cap, iface.snaplen);
    const rec = this.rec;
    rec.tsSec = 0;
    rec.tsNs = 0;
    rec.hasTs = false;
    rec.direction = 0;
    this.emit(buf, p + 12, cap, orig, iface, p, bufBase);
  }

  private statisticsBlock(buf: Buffer, p: number, len: number, bufBase: number): void {
    if (len < 24) {
      this.damage.add('pcapng-short-statistics-block', this.file, this.recordNo + 1, bufBase + p);
      return;
    }
    const iface = this.section[this.u32(buf, p + 8)];
    if (iface === undefined) return;
    const stats: NonNullable<InterfaceInfo['stats']> = {};
    const optEnd = p + len - 4;
    for (let o = p + 20; o + 4 <= optEnd; ) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === 0 || o + 4 + olen > optEnd) break;
      if (olen >= 8) {
        const v = this.u64(buf, o + 4);
        if (code === 4) stats.received = v;
        else if (code === 5) stats.droppedByInterface = v;
        else if (code === 6) stats.filterAccepted = v;
        else if (code === 7) stats.droppedByOs = v;
        else if (code === 8) stats.delivered = v;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    // Counters are cumulative: the last block of an interface holds its totals.
    iface.stats = { ...iface.stats, ...stats };
  }
}
