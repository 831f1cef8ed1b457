/**
 * The one byte encoder of the JSON reports' flow lines: lines from a cursor, comma-separated, into
 * byte chunks of about `chunkBytes` (big enough that writing them costs little, small enough to
 * stream). The flow table (json.ts) and the audit's judged lists (audit/judged.ts) are its cursors.
 */

export interface LineCursor {
  /** How many lines. */
  readonly lines: number;
  /** The most bytes line i takes; asked right before `write(…, i)`. */
  room(i: number): number;
  /** Writes line i at p (room has been made); returns the new position. */
  write(b: Buffer, p: number, i: number): number;
}

const SLACK = 64 * 1024;

export function* lineChunks(c: LineCursor, chunkBytes: number): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(chunkBytes + SLACK);
  let p = 0;
  for (let i = 0; i < c.lines; i++) {
    const need = c.room(i) + 1;
    if (p + need > buf.length) {
      yield buf.subarray(0, p);
      buf = Buffer.allocUnsafe(Math.max(chunkBytes, need) + SLACK);
      p = 0;
    }
    if (i > 0) buf[p++] = 0x2c; // ,
    p = c.write(buf, p, i);
    if (p >= chunkBytes) {
      yield buf.subarray(0, p);
      buf = Buffer.allocUnsafe(chunkBytes + SLACK);
      p = 0;
    }
  }
  yield buf.subarray(0, p);
}
