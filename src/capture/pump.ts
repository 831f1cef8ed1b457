import type { FormatParser } from './record.js';

/** Reads up to `length` bytes into target[offset…] from wherever the source stands; 0 at the end. */
export type SequentialRead = (target: Buffer, offset: number, length: number) => Promise<number>;

/** The reader's working buffer: bytes [0, filled) of `buf` are the stream from offset `base` on. */
export interface Window {
  buf: Buffer;
  pos: number;
  filled: number;
  base: number;
  eof: boolean;
}

export const CHUNK = 4 * 1024 * 1024;
/** Room kept in front of each chunk for the record cut by the end of the previous one. */
const HEAD = 256 * 1024;

/**
 * Feeds `parser` chunk after chunk until the stream ends or the parser stops. When the stream ends
 * because it broke (`broken()`: a gzip error) the record it cut is not the capture's damage: the
 * parser takes the complete records and stops, and the caller reports the break. The next chunk is read
 * into a second buffer while the parser works on the current one (the read is a copy out of the page
 * cache on libuv's thread pool, which would otherwise leave the parsing thread idle); the record cut
 * by the end of a chunk is copied in front of the next one, the only copy. Records longer than the
 * room in front take a slower path through a larger buffer.
 */
export async function pumpRecords(w: Window, read: SequentialRead, parser: FormatParser, onProgress?: (bytes: number) => void, broken: () => boolean = () => false): Promise<void> {
  let spare: Buffer = Buffer.allocUnsafe(HEAD + CHUNK);
  for (;;) {
    // Stream sources hand over what they have: collect at least half a chunk before parsing on.
    const pending = w.eof ? null : readSome(read, spare, HEAD, spare.length, HEAD + CHUNK / 2);
    w.pos = parser.parse(w.buf, w.pos, w.filled, w.base, w.eof);
    onProgress?.(w.base + w.pos);
    if (w.eof || parser.stopped) {
      if (pending !== null) await pending; // never leave a read in flight into a buffer we drop
      return;
    }
    const n = await pending!;
    const rest = w.filled - w.pos;
    const streamAt = w.base + w.filled; // stream offset of spare[HEAD]
    if (rest <= HEAD) {
      w.buf.copy(spare, HEAD - rest, w.pos, w.filled);
      const old = w.buf;
      w.buf = spare;
      w.base = streamAt - HEAD;
      w.pos = HEAD - rest;
      w.filled = HEAD + n;
      // Keep the old buffer as the next spare when it is the standard size.
      spare = old.length === HEAD + CHUNK ? old : Buffer.allocUnsafe(HEAD + CHUNK);
    } else {
      // A long record: join its start and the new bytes in a buffer of their own.
      const big = Buffer.allocUnsafe(Math.max(2 * (rest + n), parser.need, HEAD + CHUNK));
      w.buf.copy(big, 0, w.pos, w.filled);
      spare.copy(big, rest, HEAD, HEAD + n);
      w.buf = big;
      w.base = streamAt - rest;
      w.pos = 0;
      w.filled = rest + n;
    }
    if (n === 0) {
      if (broken()) return stopAtBreak(w, parser);
      w.eof = true;
    }
    // The parser may need more than one chunk holds (a record of several MB): read on until it fits.
    while (!w.eof && w.filled - w.pos < parser.need) {
      if (w.pos + parser.need > w.buf.length) {
        const big = Buffer.allocUnsafe(Math.max(parser.need * 2, HEAD + CHUNK));
        w.buf.copy(big, 0, w.pos, w.filled);
        w.base += w.pos;
        w.filled -= w.pos;
        w.pos = 0;
        w.buf = big;
      }
      const m = await read(w.buf, w.filled, w.buf.length - w.filled);
      if (m === 0) {
        if (broken()) return stopAtBreak(w, parser);
        w.eof = true;
      }
      w.filled += m;
    }
  }
}

function stopAtBreak(w: Window, parser: FormatParser): void {
  w.pos = parser.parse(w.buf, w.pos, w.filled, w.base, false);
}

/** Reads into target[from, to) until at least `atLeast` is reached, the buffer is full, or the end. */
async function readSome(read: SequentialRead, target: Buffer, from: number, to: number, atLeast: number): Promise<number> {
  let at = from;
  while (at < to) {
    const m = await read(target, at, to - at);
    if (m === 0) break;
    at += m;
    if (at >= atLeast) break;
  }
  return at - from;
}
