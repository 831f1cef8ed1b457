import { DamageTally, InputError } from '../core/errors.js';
import { isPcapMagic, PcapParser } from './pcap.js';
import { BT_SHB, PcapngParser } from './pcapng.js';
import { CaptureFacts, FormatParser, MAX_RECORD, PacketRecord, PacketSink } from './record.js';
import { ByteSource, openSource } from './source.js';

const CHUNK = 4 * 1024 * 1024;

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

async function fill(src: ByteSource, buf: Buffer, from: number): Promise<number> {
  return src.read(buf, from, buf.length - from);
}

export async function readFrom(src: ByteSource, label: string, sink: PacketSink, opts: ReadOptions): Promise<CaptureFacts> {
  const damage = opts.damage;
  let buf = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  // Read until we have enough bytes to tell the format (or the stream ends).
  while (filled < 12) {
    const n = await fill(src, buf, filled);
    if (n === 0) break;
    filled += n;
  }
  if (filled === 0) throw new InputError(`${label}: empty file, not a capture`);
  if (filled < 4) throw new InputError(`${label}: too short to be a capture (${filled} bytes)`);
  const rec = new PacketRecord();
  let parser: FormatParser;
  if (isPcapMagic(buf, 0)) parser = new PcapParser(rec, sink, damage, label);
  else if (buf.readUInt32LE(0) === BT_SHB) parser = new PcapngParser(rec, sink, damage, label);
  else {
    const magic = buf.subarray(0, 4).toString('hex');
    throw new InputError(`${label}: not a pcap or pcapng capture (starts with 0x${magic})`);
  }
  let pos = 0;
  let base = 0; // stream offset of buf[0]
  let eof = false;
  for (;;) {
    pos = parser.parse(buf, pos, filled, base, eof);
    opts.onProgress?.(base + pos);
    if (eof) break;
    // Move the unconsumed tail to the front, growing the buffer if one record needs more room.
    const rest = filled - pos;
    const want = Math.max(parser.need, rest + 1);
    if (want > buf.length) {
      const size = Math.min(Math.max(buf.length * 2, want), MAX_RECORD * 2);
      const bigger = Buffer.allocUnsafe(size);
      buf.copy(bigger, 0, pos, filled);
      buf = bigger;
    } else if (pos > 0) {
      buf.copyWithin(0, pos, filled);
    }
    base += pos;
    filled = rest;
    pos = 0;
    // Fill the buffer (several reads for streams) before parsing again.
    while (filled < buf.length) {
      const n = await fill(src, buf, filled);
      if (n === 0) {
        eof = true;
        break;
      }
      filled += n;
      if (filled - pos >= parser.need && filled >= buf.length / 2) break;
    }
  }
  if (src.failure !== undefined) damage.add(src.gzip ? 'gzip-stream-damaged' : 'read-error', label, 0, base + filled);
  return { file: label, gzip: src.gzip, ...parser.facts() };
}
