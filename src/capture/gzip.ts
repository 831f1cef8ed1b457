import { constants, crc32, createInflateRaw, type InflateRaw } from 'node:zlib';

/**
 * Why a gzip stream stopped early: a reason of the damage tally (kebab-case) and zlib's or our words.
 * Everything decompressed before it has been delivered.
 */
export class GzipDamage extends Error {
  constructor(
    readonly reason: 'gzip-bad-header' | 'gzip-corrupt-data' | 'gzip-bad-crc' | 'gzip-bad-length' | 'gzip-trailing-garbage' | 'gzip-unexpected-end',
    message: string,
  ) {
    super(message);
    this.name = 'GzipDamage';
  }
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
/** A member header longer than this (its name or comment never ends) is not one. */
const MAX_HEADER = 1 << 20;

/** Length of the gzip member header at the start of `b`; 0 when more bytes are needed; throws when it is not one. */
function headerLength(b: Buffer): number {
  if (b.length < 10) return 0;
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw new GzipDamage('gzip-bad-header', 'not a gzip member header (deflate) where one should start');
  const flags = b[3]!;
  let p = 10;
  if (flags & FEXTRA) {
    if (b.length < p + 2) return 0;
    p += 2 + b.readUInt16LE(p);
  }
  for (const bit of [FNAME, FCOMMENT]) {
    if (!(flags & bit)) continue;
    const z = b.indexOf(0, p);
    if (z < 0) return 0;
    p = z + 1;
  }
  if (flags & FHCRC) p += 2;
  return b.length >= p ? p : 0;
}

/**
 * gzip (RFC 1952), member after member, from compressed chunks to decompressed ones. The members'
 * framing and checks are read here and only the deflate data goes to zlib, so that a bad CRC or length,
 * garbage after the last member or a stream that ends early is found after every byte before it was
 * delivered: zlib's gunzip reports such an error instead of the output of the step that found it (the
 * last ~16 KB). Corrupt deflate data still loses what zlib decoded in its last step before the error.
 */
export async function* gunzipChunks(input: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await input.next();
    if (r.done) {
      ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    return true;
  };
  for (let member = 0; ; member++) {
    while (pending.length === 0 && (await more()));
    if (pending.length === 0) return; // every member ended with its trailer
    let h: number;
    try {
      while ((h = headerLength(pending)) === 0) {
        if (pending.length > MAX_HEADER) throw new GzipDamage('gzip-bad-header', `a gzip member header longer than ${MAX_HEADER} bytes`);
        if (!(await more())) throw new GzipDamage('gzip-unexpected-end', 'the gzip stream ends inside a member header');
      }
    } catch (e) {
      // Bytes after a complete member that do not start another: what gzip -d calls trailing garbage.
      if (member > 0 && e instanceof GzipDamage && e.reason === 'gzip-bad-header') throw new GzipDamage('gzip-trailing-garbage', `${pending.length}${ended ? '' : ' or more'} bytes after the last gzip member are not a gzip member`);
      throw e;
    }
    pending = pending.subarray(h);
    const inflater = new MemberInflater();
    let crc = 0;
    let size = 0;
    // Deflate data: fed chunk by chunk until zlib stops taking bytes (the member's last block).
    for (;;) {
      if (pending.length === 0 && !(await more())) {
        const out = await inflater.finish();
        for (const o of out) yield o;
        throw new GzipDamage('gzip-unexpected-end', 'the gzip stream ends before its last member does (cut short)');
      }
      const piece = pending;
      pending = Buffer.alloc(0);
      const { out, consumed } = await inflater.write(piece);
      for (const o of out) {
        crc = crc32(o, crc);
        size = (size + o.length) % 4294967296;
        yield o;
      }
      if (inflater.error !== null) throw new GzipDamage('gzip-corrupt-data', `corrupt gzip data: ${inflater.error.message}`);
      if (consumed < piece.length) {
        pending = piece.subarray(consumed);
        break;
      }
    }
    inflater.close();
    while (pending.length < 8 && (await more()));
    if (pending.length < 8) throw new GzipDamage('gzip-unexpected-end', 'the gzip stream ends inside a member trailer');
    if (pending.readUInt32LE(0) !== crc >>> 0) throw new GzipDamage('gzip-bad-crc', 'a gzip member fails its CRC-32 check (its data is corrupt)');
    if (pending.readUInt32LE(4) !== size) throw new GzipDamage('gzip-bad-length', 'a gzip member is not the length its trailer gives');
    pending = pending.subarray(8);
  }
}

/**
 * One member's deflate data through zlib's raw inflater. `write` resolves once zlib has taken what it
 * will of a piece (everything, or up to the end of the deflate data) with the output it made.
 */
class MemberInflater {
  private readonly z: InflateRaw = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH });
  private out: Buffer[] = [];
  error: Error | null = null;
  private onError: (() => void) | null = null;

  constructor() {
    this.z.on('data', (d: Buffer) => this.out.push(d));
    this.z.on('error', (e: Error) => {
      this.error = e;
      this.onError?.();
    });
  }

  async write(piece: Buffer): Promise<{ out: Buffer[]; consumed: number }> {
    const before = this.z.bytesWritten;
    await new Promise<void>((resolve) => {
      this.onError = resolve;
      if (this.error !== null || this.z.destroyed) resolve();
      else this.z.write(piece, () => resolve());
    });
    // Output pushed while the piece was processed may still be on its way to 'data': let it arrive.
    await new Promise((r) => setImmediate(r));
    const out = this.out;
    this.out = [];
    return { out, consumed: this.error !== null ? piece.length : this.z.bytesWritten - before };
  }

  /** The stream ended: whatever zlib still holds. */
  async finish(): Promise<Buffer[]> {
    await new Promise<void>((resolve) => {
      this.onError = resolve;
      if (this.error !== null || this.z.destroyed) resolve();
      else this.z.end(() => resolve());
    });
    await new Promise((r) => setImmediate(r));
    this.close();
    return this.out;
  }

  close(): void {
    this.z.destroy();
  }
}
