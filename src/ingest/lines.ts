/**
 * The lines of a text log (plain or gzip, by magic), read in chunks and handed over one at a time: a
 * log of any length is read in the memory of one chunk and its longest line. A line longer than
 * MAX_LINE is not kept: it is reported by number and skipped up to its end. A stream that breaks (a
 * truncated or corrupt gzip member) ends after the last complete line before the break, which is
 * reported as the failure: no line before it is lost.
 */
import type { ByteSource } from '../capture/source.js';

/** A log line longer than this is damage, not a record (Zeek's longest conn.log lines are a few KB). */
export const MAX_LINE = 1 << 20;
const CHUNK = 1 << 16;

export interface LineSink {
  /** A line without its end (\n or \r\n), 1-based number, byte offset of its start in the (decompressed) stream. */
  line(text: string, no: number, offset: number): void;
  /** A line longer than MAX_LINE: skipped. */
  tooLong(no: number, offset: number): void;
}

/** What the read came to: lines seen, bytes, and why the stream ended early (null: it did not). */
export interface LinesRead {
  lines: number;
  bytes: number;
  failure: { reason: string; message: string; line: number; offset: number } | null;
}

export async function readLines(source: ByteSource, sink: LineSink): Promise<LinesRead> {
  let buf = Buffer.alloc(CHUNK * 2);
  let start = 0; // first byte of the line being gathered, in buf
  let end = 0; // bytes held in buf
  let base = 0; // stream offset of buf[0]
  let no = 0;
  let skipping = false; // inside a line past MAX_LINE: drop bytes up to its end
  const emit = (from: number, to: number) => {
    no++;
    // Its end arrived in the chunk that took it past the bound: too long all the same.
    if (to - from > MAX_LINE) return sink.tooLong(no, base + from);
    let e = to;
    if (e > from && buf[e - 1] === 0x0d) e--;
    sink.line(buf.toString('utf8', from, e), no, base + from);
  };
  for (;;) {
    if (end + CHUNK > buf.length) {
      // Make room: drop what was handed over, and grow only for a line longer than the buffer.
      if (start > 0) {
        buf.copy(buf, 0, start, end);
        base += start;
        end -= start;
        start = 0;
      }
      if (end + CHUNK > buf.length) {
        const bigger = Buffer.alloc(buf.length * 2);
        buf.copy(bigger, 0, 0, end);
        buf = bigger;
      }
    }
    const n = await source.read(buf, end, CHUNK);
    if (n === 0) break;
    let scan = end;
    end += n;
    for (;;) {
      const nl = buf.indexOf(0x0a, scan);
      if (nl < 0 || nl >= end) break;
      if (skipping) {
        skipping = false;
      } else emit(start, nl);
      start = nl + 1;
      scan = start;
    }
    if (!skipping && end - start > MAX_LINE) {
      no++;
      sink.tooLong(no, base + start);
      skipping = true;
    }
    if (skipping) {
      base += end;
      start = end = 0;
    }
  }
  const bytes = base + end;
  if (source.failure !== undefined) {
    // The bytes after the last line end are a line cut by the break: not a record.
    return { lines: no, bytes, failure: { reason: source.failureReason ?? 'stream-broken', message: source.failure, line: no + 1, offset: base + start } };
  }
  if (!skipping && end > start) emit(start, end);
  return { lines: no, bytes, failure: null };
}
