import { writeSync } from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap.js';
import { BT_EPB, BT_IDB, BT_ISB, BT_SHB, BT_SPB } from './pcapng.js';

/** One packet to write. Times are absolute (what the reader yields), before any pcapng if_tsoffset. */
export interface WrittenPacket {
  /** Captured bytes; cut to the snaplen of the file or interface when longer. */
  data: Uint8Array;
  /** Length on the wire; defaults to data.length and must not be less than it. */
  origLen?: number;
  /** Whole seconds since 1970. */
  tsSec: number;
  /** Nanoseconds within the second, 0..999_999_999. */
  tsNs: number;
  /** pcapng: index into the section's `interfaces` (default 0). Ignored by classic pcap. */
  ifIndex?: number;
  /** pcapng EPB direction (epb_flags bits 0-1): 0 not given, 1 inbound, 2 outbound. Written when set. */
  direction?: 0 | 1 | 2;
}

export type ByteOrder = 'little' | 'big';

export interface PcapWriteOptions {
  linkType: number;
  /** Written in the file header and applied to the packets; 0 or absent means 262144. */
  snaplen?: number;
  /** Nanosecond magic (0xa1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  byteOrder?: ByteOrder;
}

export interface PcapngInterface {
  linkType: number;
  /** 0 or absent: no limit. */
  snaplen?: number;
  /** Raw if_tsresol byte: 6 for µs, 9 for ns, 0x80|20 for 2^-20 s. Absent means µs and no option. */
  tsresol?: number;
  /** if_tsoffset: seconds the reader adds to every timestamp of this interface. */
  tsOffset?: number;
  name?: string;
}

export interface PcapngWriteOptions {
  interfaces: PcapngInterface[];
  byteOrder?: ByteOrder;
  /**
   * Write simple packet blocks instead of enhanced ones. They hold no interface id, timestamp or
   * flags, so every packet must be on interface 0 and times and directions are dropped.
   */
  simple?: boolean;
}

/** Where a streaming writer puts its bytes: a file descriptor, or a function that uses the bytes before it returns. */
export type CaptureSink = number | ((bytes: Buffer) => void);

const DEFAULT_BUFFER = 1 << 20;
const NS_PER_SEC = 1_000_000_000n;
const U64_LIMIT = 1n << 64n;
const PCAP_DEFAULT_SNAPLEN = 262144;

/**
 * A reused output buffer with byte-order-aware writes. Records are encoded straight into it and the
 * buffer is handed to the sink when the next record would not fit.
 */
class BlockBuffer {
  private buf: Buffer;
  private pos = 0;
  private readonly le: boolean;

  constructor(
    private readonly sink: CaptureSink,
    byteOrder: ByteOrder,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(size);
    this.le = byteOrder === 'little';
  }

  /** Makes room for n more bytes and returns the offset to write them at. */
  reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u16(at: number, v: number): void {
    if (this.le) this.buf.writeUInt16LE(v, at);
    else this.buf.writeUInt16BE(v, at);
  }
  u32(at: number, v: number): void {
    if (this.le) this.buf.writeUInt32LE(v >>> 0, at);
    else this.buf.writeUInt32BE(v >>> 0, at);
  }
  /** A 64-bit value in pcapng's field order: low word first in little-endian sections. */
  u64(at: number, v: bigint): void {
    if (this.le) this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
    else this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), at);
  }
  bytes(at: number, src: Uint8Array, len: number): void {
    this.buf.set(len === src.length ? src : src.subarray(0, len), at);
  }
  zero(at: number, len: number): void {
    this.buf.fill(0, at, at + len);
  }

  flush(): void {
    if (this.pos === 0) return;
    const out = this.buf.subarray(0, this.pos);
    if (typeof this.sink === 'number') {
      for (let done = 0; done < out.length; ) done += writeSync(this.sink, out, done, out.length - done);
    } else {
      this.sink(out);
    }
    this.pos = 0;
  }
}

function checkPacket(pkt: WrittenPacket): number {
  if (!Number.isSafeInteger(pkt.tsSec)) throw new RangeError(`tsSec must be an integer, got ${pkt.tsSec}`);
  if (!Number.isInteger(pkt.tsNs) || pkt.tsNs < 0 || pkt.tsNs >= 1e9) throw new RangeError(`tsNs must be an integer in 0..999999999, got ${pkt.tsNs}`);
  const origLen = pkt.origLen ?? pkt.data.length;
  if (!Number.isInteger(origLen) || origLen < pkt.data.length || origLen > 0xffffffff) {
    throw new RangeError(`origLen ${origLen} must be an integer from data.length (${pkt.data.length}) to 2^32-1`);
  }
  return origLen;
}

/** Ticks per second of a raw if_tsresol byte: 10^r, or 2^(r & 0x7f) with the high bit set. */
export function ticksPerSecond(tsresol: number): bigint {
  if (!Number.isInteger(tsresol) || tsresol < 0 || tsresol > 255) throw new RangeError(`if_tsresol is one byte, got ${tsresol}`);
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

/**
 * The tick count for (sec, ns): the first tick at or after that time. The reader turns a tick count
 * into the latest nanosecond at or before it, so every time the reader yields maps back to its tick
 * count (at resolutions up to 1 ns), and decimal resolutions round-trip exactly.
 */
export function ticksAt(sec: number, ns: number, ticksPerSec: bigint): bigint {
  return BigInt(sec) * ticksPerSec + (BigInt(ns) * ticksPerSec + NS_PER_SEC - 1n) / NS_PER_SEC;
}

/**
 * Streaming classic-pcap writer: the file header goes out first, then one record per `write`. Call
 * `flush()` at the end; bytes are handed to the sink only when the buffer fills or on flush.
 */
export class PcapWriter {
  private readonly out: BlockBuffer;
  private readonly snaplen: number;
  private readonly ticksPerSec: bigint;

  constructor(sink: CaptureSink, opts: PcapWriteOptions, bufferSize = DEFAULT_BUFFER) {
    this.out = new BlockBuffer(sink, opts.byteOrder ?? 'little', bufferSize);
    this.snaplen = opts.snaplen || PCAP_DEFAULT_SNAPLEN;
    this.ticksPerSec = opts.nanosecond ? NS_PER_SEC : 1_000_000n;
    const out = this.out;
    const at = out.reserve(24);
    out.u32(at, opts.nanosecond ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
    out.u16(at + 4, 2);
    out.u16(at + 6, 4);
    out.u32(at + 8, 0); // thiszone
    out.u32(at + 12, 0); // sigfigs
    out.u32(at + 16, this.snaplen);
    out.u32(at + 20, opts.linkType);
  }

  write(pkt: WrittenPacket): void {
    const origLen = checkPacket(pkt);
    const capLen = Math.min(pkt.data.length, this.snaplen);
    const ticks = ticksAt(pkt.tsSec, pkt.tsNs, this.ticksPerSec);
    const sec = ticks / this.ticksPerSec;
    if (ticks < 0n || sec > 0xffffffffn) throw new RangeError(`pcap holds seconds 0..2^32-1, got ${pkt.tsSec}`);
    const out = this.out;
    const at = out.reserve(16 + capLen);
    out.u32(at, Number(sec));
    out.u32(at + 4, Number(ticks % this.ticksPerSec));
    out.u32(at + 8, capLen);
    out.u32(at + 12, origLen);
    out.bytes(at + 16, pkt.data, capLen);
  }

  flush(): void {
    this.out.flush();
  }
}

interface InterfaceTiming {
  ticksPerSec: bigint;
  tsOffset: number;
  snaplen: number;
}

/**
 * Streaming pcapng writer for one section: SHB and IDBs go out first, then one EPB (or SPB) per
 * `write`. More sections are made by concatenating the output of several writers.
 */
export class PcapngWriter {
  private readonly out: BlockBuffer;
  private readonly timing: InterfaceTiming[];
  private readonly simple: boolean;
  private readonly le: boolean;

  constructor(sink: CaptureSink, opts: PcapngWriteOptions, bufferSize = DEFAULT_BUFFER) {
    this.out = new BlockBuffer(sink, opts.byteOrder ?? 'little', bufferSize);
    this.le = (opts.byteOrder ?? 'little') === 'little';
    this.simple = opts.simple ?? false;
    this.timing = opts.interfaces.map((i) => ({
      ticksPerSec: ticksPerSecond(i.tsresol ?? 6),
      tsOffset: i.tsOffset ?? 0,
      snaplen: i.snaplen ?? 0,
    }));
    this.sectionHeader();
    for (const iface of opts.interfaces) this.interfaceDescription(iface);
  }

  private sectionHeader(): void {
    const out = this.out;
    const at = out.reserve(28);
    out.u32(at, BT_SHB);
    out.u32(at + 4, 28);
    out.u32(at + 8, 0x1a2b3c4d);
    out.u16(at + 12, 1);
    out.u16(at + 14, 0);
    out.u64(at + 16, -1n); // section length not given
    out.u32(at + 24, 28);
  }

  private interfaceDescription(iface: PcapngInterface): void {
    const name = iface.name === undefined ? undefined : Buffer.from(iface.name, 'utf8');
    const options: Array<{ code: number; value: Buffer }> = [];
    if (name !== undefined) options.push({ code: 2, value: name });
    if (iface.tsresol !== undefined) options.push({ code: 9, value: Buffer.from([iface.tsresol]) });
    if (iface.tsOffset !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(BigInt(iface.tsOffset));
      else v.writeBigInt64BE(BigInt(iface.tsOffset));
      options.push({ code: 14, value: v });
    }
    let optLen = 0;
    for (const o of options) optLen += 4 + pad4(o.value.length);
    if (options.length > 0) optLen += 4; // opt_endofopt
    const len = 20 + optLen;
    const out = this.out;
    const at = out.reserve(len);
    out.u32(at, BT_IDB);
    out.u32(at + 4, len);
    out.u16(at + 8, iface.linkType);
    out.u16(at + 10, 0);
    out.u32(at + 12, iface.snaplen ?? 0);
    let o = at + 16;
    for (const opt of options) {
      out.u16(o, opt.code);
      out.u16(o + 2, opt.value.length);
      out.zero(o + 4, pad4(opt.value.length));
      out.bytes(o + 4, opt.value, opt.value.length);
      o += 4 + pad4(opt.value.length);
    }
    if (options.length > 0) {
      out.u32(o, 0);
      o += 4;
    }
    out.u32(o, len);
  }

  write(pkt: WrittenPacket): void {
    const origLen = checkPacket(pkt);
    const ifIndex = pkt.ifIndex ?? 0;
    const timing = this.timing[ifIndex];
    if (timing === undefined) throw new RangeError(`packet on interface ${ifIndex}, but the section declares ${this.timing.length}`);
    const capLen = timing.snaplen > 0 ? Math.min(pkt.data.length, timing.snaplen) : pkt.data.length;
    if (this.simple) this.simplePacket(pkt, ifIndex, capLen, origLen);
    else this.enhancedPacket(pkt, ifIndex, timing, capLen, origLen);
  }

  private enhancedPacket(pkt: WrittenPacket, ifIndex: number, timing: InterfaceTiming, capLen: number, origLen: number): void {
    const ticks = ticksAt(pkt.tsSec - timing.tsOffset, pkt.tsNs, timing.ticksPerSec);
    if (ticks < 0n || ticks >= U64_LIMIT) {
      throw new RangeError(`time ${pkt.tsSec}.${pkt.tsNs} does not fit a 64-bit tick count on interface ${ifIndex}`);
    }
    const dataLen = pad4(capLen);
    const optLen = pkt.direction === undefined ? 0 : 12; // epb_flags + opt_endofopt
    const len = 32 + dataLen + optLen;
    const out = this.out;
    const at = out.reserve(len);
    out.u32(at, BT_EPB);
    out.u32(at + 4, len);
    out.u32(at + 8, ifIndex);
    out.u32(at + 12, Number(ticks >> 32n));
    out.u32(at + 16, Number(ticks & 0xffffffffn));
    out.u32(at + 20, capLen);
    out.u32(at + 24, origLen);
    out.zero(at + 28 + capLen, dataLen - capLen);
    out.bytes(at + 28, pkt.data, capLen);
    let o = at + 28 + dataLen;
    if (pkt.direction !== undefined) {
      out.u16(o, 2);
      out.u16(o + 2, 4);
      out.u32(o + 4, pkt.direction);
      out.u32(o + 8, 0);
      o += 12;
    }
    out.u32(o, len);
  }

  private simplePacket(pkt: WrittenPacket, ifIndex: number, capLen: number, origLen: number): void {
    if (ifIndex !== 0) throw new RangeError(`a simple packet block belongs to interface 0, not ${ifIndex}`);
    // The block has no captured-length field: a reader takes min(original length, snaplen).
    const snaplen = this.timing[0]!.snaplen;
    const implied = snaplen > 0 ? Math.min(origLen, snaplen) : origLen;
    if (capLen !== implied) {
      throw new RangeError(`a simple packet block cannot hold ${capLen} of ${origLen} bytes with snaplen ${snaplen}`);
    }
    const dataLen = pad4(capLen);
    const len = 16 + dataLen;
    const out = this.out;
    const at = out.reserve(len);
    out.u32(at, BT_SPB);
    out.u32(at + 4, len);
    out.u32(at + 8, origLen);
    out.zero(at + 12 + capLen, dataLen - capLen);
    out.bytes(at + 12, pkt.data, capLen);
    out.u32(at + 12 + dataLen, len);
  }

  /**
   * An interface statistics block: the interface's cumulative counters at a time (isb_ifrecv,
   * isb_ifdrop, isb_osdrop, isb_usrdeliv), as libpcap-based tools write at the end of a capture.
   */
  statistics(ifIndex: number, tsSec: number, tsNs: number, counters: { received?: number; droppedByInterface?: number; droppedByOs?: number; delivered?: number }): void {
    const timing = this.timing[ifIndex];
    if (timing === undefined) throw new RangeError(`statistics for interface ${ifIndex}, but the section declares ${this.timing.length}`);
    const ticks = ticksAt(tsSec - timing.tsOffset, tsNs, timing.ticksPerSec);
    const opts: Array<[number, number]> = [];
    if (counters.received !== undefined) opts.push([4, counters.received]);
    if (counters.droppedByInterface !== undefined) opts.push([5, counters.droppedByInterface]);
    if (counters.droppedByOs !== undefined) opts.push([7, counters.droppedByOs]);
    if (counters.delivered !== undefined) opts.push([8, counters.delivered]);
    const len = 24 + opts.length * 12 + (opts.length ? 4 : 0);
    const out = this.out;
    const at = out.reserve(len);
    out.u32(at, BT_ISB);
    out.u32(at + 4, len);
    out.u32(at + 8, ifIndex);
    out.u32(at + 12, Number((ticks >> 32n) & 0xffffffffn));
    out.u32(at + 16, Number(ticks & 0xffffffffn));
    let o = at + 20;
    for (const [code, v] of opts) {
      out.u16(o, code);
      out.u16(o + 2, 8);
      out.u64(o + 4, BigInt(Math.max(0, Math.floor(v))));
      o += 12;
    }
    if (opts.length) {
      out.u32(o, 0);
      o += 4;
    }
    out.u32(o, len);
  }

  flush(): void {
    this.out.flush();
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function collect(write: (sink: (bytes: Buffer) => void) => void): Buffer {
  const parts: Buffer[] = [];
  write((bytes) => parts.push(Buffer.from(bytes)));
  return Buffer.concat(parts);
}

/** A whole classic pcap file in memory. */
export function writePcap(packets: Iterable<WrittenPacket>, opts: PcapWriteOptions): Buffer {
  return collect((sink) => {
    const w = new PcapWriter(sink, opts);
    for (const p of packets) w.write(p);
    w.flush();
  });
}

/** A whole one-section pcapng file in memory. */
export function writePcapng(packets: Iterable<WrittenPacket>, opts: PcapngWriteOptions): Buffer {
  return collect((sink) => {
    const w = new PcapngWriter(sink, opts);
    for (const p of packets) w.write(p);
    w.flush();
  });
}
