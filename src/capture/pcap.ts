import { u32be, u32le } from '../core/bytes.js';
import { DamageTally } from '../core/errors.js';
import { digitsForTicks } from '../core/time.js';
import { FormatParser, InterfaceInfo, MAX_RECORD, PacketRecord, PacketSink } from './record.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Kuznetzov's "modified" libpcap format: 8 more bytes per record header. */
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

export function isPcapMagic(buf: Buffer, off: number): boolean {
  const be = buf.readUInt32BE(off);
  const le = buf.readUInt32LE(off);
  for (const m of [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED]) if (be === m || le === m) return true;
  return false;
}

/**
 * Classic libpcap files. The record header is 16 bytes (24 in the modified format): seconds,
 * fraction (µs or ns by magic), captured length, original length, in the file's byte order.
 */
export class PcapParser implements FormatParser {
  need = 24;
  stopAt = Infinity;
  stopped = false;
  private headerDone = false;
  private le = true;
  private ticksPerSec = 1_000_000;
  private hdrLen = 16;
  private snaplen = 0;
  private linkType = 0;
  private maxCap = 262144;
  private recordNo = 0;
  private packets = 0;
  private bytes = 0;
  private capturedBytes = 0;
  private resyncing = false;
  private lastSec = -1;

  constructor(
    private readonly rec: PacketRecord,
    private readonly sink: PacketSink,
    private readonly damage: DamageTally,
    private readonly file: string,
  ) {}

  facts() {
    const iface: InterfaceInfo = {
      index: 0,
      section: 0,
      linkType: this.linkType,
      snaplen: this.snaplen,
      ticksPerSec: this.ticksPerSec,
      tsDigits: digitsForTicks(this.ticksPerSec),
      tsOffset: 0,
    };
    return {
      format: 'pcap' as const,
      byteOrder: this.le ? ('little' as const) : ('big' as const),
      interfaces: this.headerDone ? [iface] : [],
      packets: this.packets,
      bytes: this.bytes,
      capturedBytes: this.capturedBytes,
    };
  }

  records(): number {
    return this.recordNo;
  }

  findBoundary(buf: Buffer, from: number, end: number, _bufBase: number, eof: boolean): number {
    const hdr = this.hdrLen;
    for (let q = from; q + hdr <= end; q++) {
      let p = q;
      let chained = 0;
      for (;;) {
        if (p === end && eof) break; // the chain ends exactly at the end of the file
        if (p + hdr > end) break;
        if (!this.plausibleHeader(buf, p)) {
          chained = -1;
          break;
        }
        chained++;
        if (chained >= 8) break;
        p += hdr + this.u32(buf, p + 8);
      }
      if (chained >= 8 || (chained >= 2 && p >= end) || (chained >= 1 && p === end && eof)) return q;
    }
    return -1;
  }

  private u32(buf: Buffer, off: number): number {
    return this.le ? u32le(buf, off) : u32be(buf, off);
  }

  /** A record header that a real writer could have produced (used to resync after damage). */
  private plausibleHeader(buf: Buffer, p: number): boolean {
    const frac = this.u32(buf, p + 4);
    const cap = this.u32(buf, p + 8);
    const orig = this.u32(buf, p + 12);
    if (frac >= this.ticksPerSec || cap > this.maxCap || orig < cap || orig > MAX_RECORD) return false;
    if (this.lastSec >= 0) {
      const sec = this.u32(buf, p);
      if (Math.abs(sec - this.lastSec) > 86400 * 30) return false;
    }
    return true;
  }

  parse(buf: Buffer, start: number, end: number, bufBase: number, eof: boolean): number {
    let p = start;
    if (!this.headerDone) {
      if (end - p < 24) {
        if (eof) {
          this.damage.add('pcap-truncated-file-header', this.file, 0, bufBase + p);
          return end;
        }
        this.need = 24;
        return p;
      }
      const magicLE = buf.readUInt32LE(p);
      this.le = magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS || magicLE === PCAP_MAGIC_MODIFIED;
      const magic = this.u32(buf, p);
      this.ticksPerSec = magic === PCAP_MAGIC_NS ? 1_000_000_000 : 1_000_000;
      this.hdrLen = magic === PCAP_MAGIC_MODIFIED ? 24 : 16;
      this.snaplen = this.u32(buf, p + 16);
      // The upper bits of the link-type field carry FCS information (pcap spec); the type is the low 16.
      this.linkType = this.u32(buf, p + 20) & 0xffff;
      this.maxCap = Math.min(MAX_RECORD, Math.max(this.snaplen, 262144));
      this.headerDone = true;
      p += 24;
    }
    const rec = this.rec;
    const hdrLen = this.hdrLen;
    const tps = this.ticksPerSec;
    const nsPerTick = 1_000_000_000 / tps;
    const digits = tps === 1_000_000 ? 6 : 9;
    for (;;) {
      if (bufBase + p >= this.stopAt && !this.resyncing) {
        this.stopped = true;
        return p;
      }
      if (end - p < hdrLen) {
        if (eof && end > p) {
          this.damage.add('pcap-truncated-record-header', this.file, this.recordNo + 1, bufBase + p);
          return end;
        }
        this.need = hdrLen;
        return p;
      }
      if (this.resyncing) {
        // Look for a header whose successor is also plausible (or that ends exactly at EOF).
        let found = -1;
        for (let q = p; q + hdrLen <= end; q++) {
          if (!this.plausibleHeader(buf, q)) continue;
          const next = q + hdrLen + this.u32(buf, q + 8);
          if (next + hdrLen <= end) {
            if (this.plausibleHeader(buf, next)) {
              found = q;
              break;
            }
          } else if (next === end && eof) {
            found = q;
            break;
          } else if (!eof) {
            // Cannot check the successor yet: wait for more bytes from q on.
            found = -2;
            p = q;
            break;
          }
        }
        if (found === -2) {
          this.need = Math.max(hdrLen * 2 + this.u32(buf, p + 8), end - p + 1);
          return p;
        }
        if (found < 0) {
          if (eof) return end;
          const keep = Math.max(p, end - hdrLen + 1);
          this.need = hdrLen * 2;
          return keep;
        }
        this.resyncing = false;
        this.damage.add('pcap-resynchronised', this.file, this.recordNo + 1, bufBase + found);
        p = found;
      }
      const cap = this.u32(buf, p + 8);
      const orig = this.u32(buf, p + 12);
      if (cap > this.maxCap) {
        this.damage.add('pcap-bad-record-length', this.file, this.recordNo + 1, bufBase + p);
        this.resyncing = true;
        p += 1;
        continue;
      }
      if (end - p < hdrLen + cap) {
        if (eof) {
          this.damage.add('pcap-truncated-record', this.file, this.recordNo + 1, bufBase + p);
          return end;
        }
        this.need = hdrLen + cap;
        return p;
      }
      const sec = this.u32(buf, p);
      const frac = this.u32(buf, p + 4);
      this.recordNo++;
      this.packets++;
      this.bytes += orig;
      this.capturedBytes += cap;
      this.lastSec = sec;
      rec.buf = buf;
      rec.off = p + hdrLen;
      rec.capLen = cap;
      rec.origLen = orig;
      // A fraction at or above one second is out of spec; carry it rather than print nonsense.
      if (frac < tps) {
        rec.tsSec = sec;
        rec.tsNs = frac * nsPerTick;
      } else {
        rec.tsSec = sec + Math.floor(frac / tps);
        rec.tsNs = (frac % tps) * nsPerTick;
      }
      rec.hasTs = true;
      rec.tsDigits = digits;
      rec.linkType = this.linkType;
      rec.ifIndex = 0;
      rec.recordNo = this.recordNo;
      rec.fileOffset = bufBase + p;
      rec.direction = 0;
      this.sink(rec);
      p += hdrLen + cap;
    }
  }
}
