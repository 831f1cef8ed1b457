import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Writes a report's text pieces to a stream in chunks of about 64 KB, waiting for `drain` when the
 * stream is full: a report of millions of rows never becomes one string, and a slow reader (a pipe,
 * a disk) holds back the writer instead of the process buffering everything.
 */
export async function writePieces(pieces: Iterable<string>, out: Writable, chunkChars = 1 << 16): Promise<void> {
  let buf: string[] = [];
  let size = 0;
  for (const piece of pieces) {
    buf.push(piece);
    size += piece.length;
    if (size >= chunkChars) {
      if (!out.write(buf.join(''))) await once(out, 'drain');
      buf = [];
      size = 0;
    }
  }
  if (size > 0 && !out.write(buf.join(''))) await once(out, 'drain');
}

/** Lines as text pieces, each ended by a newline (what a report made as `lines.join('\n') + '\n'` wrote). */
export function* endLines(lines: Iterable<string>): Generator<string> {
  for (const l of lines) yield `${l}\n`;
}
