import { DamageTally, InputError } from '../core/errors.js';
import { isPcapMagic, PcapParser } from './pcap.js';
import { BT_SHB, PcapngParser } from './pcapng.js';
import { CaptureFacts, FormatParser, MAX_RECORD, PacketRecord, PacketSink } from './record.js';
import { ByteSource, openSource } from './source.js';
import { CHUNK, pumpRecords, Window } from './pump.js';

export interface ReadOptions {
  damage: DamageTally;
  /** Name used in damage places (defaults to the path). */
  label?: string;
  /** Called after every chunk with the bytes consumed so far (for progress bars). */
  onProgress?: (bytes: number) => void;
}

/**
 * Reads one capture (path or `-`) and calls `sink` once per packet with a reused record. Records are
 * views into one working buffer: a record cut by the end of a read is moved to the front of the buffer
 * (the only copy, once per chunk) and completed by the next read.
 */
export async function readCapture(path: string, sink: PacketSink, opts: ReadOptions): Promise<CaptureFacts> {
  const label = opts.label ?? path;
  const src = await openSource(path);
  try {
    return await readFrom(src, label, sink, opts);
  } finally {
    await src.close();
  }
}

function fill(src: ByteSource, buf: Buffer, from: number): Promise<number> {
  return src.read(buf, from, buf.length - from);
}

export async function readFrom(src: ByteSource, label: string, sink: PacketSink, opts: ReadOptions): Promise<CaptureFacts> {
  const damage = opts.damage;
  const buf = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  // Read until we have enough bytes to tell the format (or the stream ends).
  while (filled < 12) {
    const n = await fill(src, buf, filled);
    if (n === 0) break;
    filled += n;
  }
  if (filled === 0) throw new InputError(src.failure !== undefined ? `${label}: ${src.failure}, before any byte of a capture` : `${label}: empty file, not a capture`);
  if (filled < 4) throw new InputError(`${label}: too short to be a capture (${filled} bytes)`);
  const rec = new PacketRecord();
  let parser: FormatParser;
  if (isPcapMagic(buf, 0)) parser = new PcapParser(rec, sink, damage, label);
  else if (buf.readUInt32LE(0) === BT_SHB) parser = new PcapngParser(rec, sink, damage, label);
  else {
    const magic = buf.subarray(0, 4).toString('hex');
    throw new InputError(`${label}: not a pcap or pcapng capture (starts with 0x${magic})`);
  }
  const w: Window = { buf, pos: 0, filled, base: 0, eof: false };
  await pumpRecords(w, (t, o, l) => src.read(t, o, l), parser, opts.onProgress, () => src.failure !== undefined);
  // Placed at the end of what the stream delivered, numbered as the record it cut.
  if (src.failure !== undefined) damage.add(src.failureReason ?? (src.gzip ? 'gzip-stream-damaged' : 'read-error'), label, parser.records() + 1, w.base + w.filled);
  return { file: label, gzip: src.gzip, ...parser.facts() };
}

/** What a reader needs to start in the middle of a file: the file's header bytes and its format. */
export interface CaptureHeader {
  format: 'pcap' | 'pcapng';
  /** pcap: the 24-byte file header; pcapng: every byte before the first packet block (SHB, IDBs …). */
  bytes: Buffer;
  fileSize: number;
}

/**
 * Reads the header of a plain (not compressed) capture file for sharding, or null when the file cannot
 * be sharded (gzip, unknown format, or a pcapng file whose header blocks are not all at its start).
 */
export async function readCaptureHeader(path: string): Promise<CaptureHeader | null> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 24) return null;
    if (isPcapMagic(head, 0)) return { format: 'pcap', bytes: Buffer.from(head.subarray(0, 24)), fileSize: size };
    if (head.readUInt32LE(0) !== BT_SHB) return null;
    // Walk the blocks up to the first one that is not a section header or interface description.
    const le = head.readUInt32LE(8) === 0x1a2b3c4d;
    let p = 0;
    while (p + 12 <= bytesRead) {
      const type = le ? head.readUInt32LE(p) : head.readUInt32BE(p);
      const len = le ? head.readUInt32LE(p + 4) : head.readUInt32BE(p + 4);
      if (len < 12 || len % 4 !== 0 || p + len > bytesRead) return null;
      if (type !== BT_SHB && type !== 1) break;
      p += len;
    }
    return { format: 'pcapng', bytes: Buffer.from(head.subarray(0, p)), fileSize: size };
  } finally {
    await fh.close();
  }
}

/** What a range of a file tells about the capture (the file's name and compression are the caller's). */
export type RangeFacts = Omit<CaptureFacts, 'file' | 'gzip'>;

export interface RangeResult {
  /** Offset of the first record read (the shard's boundary), or -1 when the range holds none. */
  first: number;
  /** Offset just after the last record read: the next shard must start exactly here. */
  stop: number;
  records: number;
  facts: RangeFacts;
  /** pcapng: a section header or interface description inside the range (it cannot stand alone). */
  structural: boolean;
}

/** The facts of range `a` and of range `b` read right after it, as one range's. */
export function joinedFacts(a: RangeFacts, b: RangeFacts): RangeFacts {
  // Statistics blocks are cumulative: the last range that saw one holds the interface's totals.
  const interfaces = a.interfaces.map((i, k) => (b.interfaces[k]?.stats ? { ...i, stats: b.interfaces[k]!.stats } : i));
  return { ...a, interfaces, packets: a.packets + b.packets, bytes: a.bytes + b.bytes, capturedBytes: a.capturedBytes + b.capturedBytes };
}

/**
 * Reads the records of a plain capture file that start in [start, end): primes the parser with the
 * file's header, finds the first record boundary at or after `start` (unless `knownBoundary`), then
 * parses until the first record starting at or after `end`.
 */
export async function readRange(path: string, header: CaptureHeader, start: number, end: number, knownBoundary: boolean, sink: PacketSink, opts: ReadOptions): Promise<RangeResult> {
  const { open } = await import('node:fs/promises');
  const label = opts.label ?? path;
  const rec = new PacketRecord();
  const parser: FormatParser = header.format === 'pcap' ? new PcapParser(rec, sink, opts.damage, label) : new PcapngParser(rec, sink, opts.damage, label);
  parser.parse(header.bytes, 0, header.bytes.length, 0, false);
  const structuralBefore = parser instanceof PcapngParser ? parser.structuralBlocks : 0;
  parser.stopAt = end;
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let base = start;
    let filled = 0;
    let eof = false;
    let at = start;
    const read = async (target: Buffer, offset: number, length: number): Promise<number> => {
      const { bytesRead } = await fh.read(target, offset, length, at);
      at += bytesRead;
      return bytesRead;
    };
    const fillFrom = async () => {
      while (filled < buf.length && !eof) {
        const n = await read(buf, filled, buf.length - filled);
        if (n === 0) eof = true;
        filled += n;
      }
    };
    await fillFrom();
    let pos = 0;
    if (!knownBoundary) {
      // Look for the boundary, sliding the window until one is found or the range is passed.
      for (;;) {
        const b = parser.findBoundary(buf, pos, filled, base, eof);
        if (b >= 0 && base + b < end) {
          pos = b;
          break;
        }
        if (b >= 0 || eof || base + filled >= end + MAX_RECORD) {
          return { first: -1, stop: -1, records: 0, facts: parser.facts(), structural: false };
        }
        // Keep the last stretch (a candidate may start there) and read on.
        const keep = Math.min(filled, 64 * 1024);
        buf.copyWithin(0, filled - keep, filled);
        base += filled - keep;
        filled = keep;
        pos = 0;
        await fillFrom();
      }
    }
    const first = base + pos;
    const w: Window = { buf, pos, filled, base, eof };
    await pumpRecords(w, read, parser);
    const structural = parser instanceof PcapngParser && parser.structuralBlocks > structuralBefore;
    return { first, stop: w.base + w.pos, records: parser.records(), facts: parser.facts(), structural };
  } finally {
    await fh.close();
  }
}
