import { open, FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { InputError } from '../core/errors.js';
import { GzipDamage, gunzipChunks } from './gzip.js';

/** A byte stream the reader pulls from: fills target[offset, offset+length) and says how much it wrote. */
export interface ByteSource {
  read(target: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
  /** Set when the stream broke (for example a corrupt gzip member); the bytes before it were delivered. */
  failure?: string;
  /** The damage reason of the break, where the source knows it (`gzip-bad-crc` …). */
  failureReason?: string;
  readonly gzip: boolean;
}

class FileSource implements ByteSource {
  readonly gzip = false;
  constructor(private readonly fh: FileHandle) {}
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    const { bytesRead } = await this.fh.read(target, offset, length, null);
    return bytesRead;
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Adapts a Node stream (stdin, gunzip) to pull reads; copies each chunk once into the reader's buffer. */
class StreamSource implements ByteSource {
  private chunk: Buffer | null = null;
  private pos = 0;
  private done = false;
  failure?: string;
  failureReason?: string;
  private readonly it: AsyncIterator<Buffer>;
  constructor(
    stream: Readable,
    readonly gzip: boolean,
    private readonly onClose: () => void = () => {},
  ) {
    this.it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    let written = 0;
    while (written < length && !this.done) {
      if (this.chunk === null || this.pos >= this.chunk.length) {
        if (written > 0) break; // hand over what we have rather than wait
        try {
          const r = await this.it.next();
          if (r.done) {
            this.done = true;
            break;
          }
          this.chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
          this.pos = 0;
        } catch (e) {
          this.failure = (e as Error).message;
          if (e instanceof GzipDamage) this.failureReason = e.reason;
          this.done = true;
          break;
        }
      }
      const n = Math.min(length - written, this.chunk.length - this.pos);
      this.chunk.copy(target, offset + written, this.pos, this.pos + n);
      this.pos += n;
      written += n;
    }
    return written;
  }
  async close(): Promise<void> {
    this.onClose();
  }
}

async function* prepend(first: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Opens a capture path, or `-` for standard input. gzip is recognised by its magic, not its name. */
export async function openSource(path: string, stdin: Readable = process.stdin): Promise<ByteSource> {
  if (path === '-') {
    const it = stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const first = await it.next();
    if (first.done) return new StreamSource(Readable.from([]), false);
    const head = Buffer.isBuffer(first.value) ? first.value : Buffer.from(first.value);
    if (isGzip(head)) return new StreamSource(Readable.from(gunzipChunks(prepend(head, it))), true);
    return new StreamSource(Readable.from(prepend(head, it), { objectMode: false }), false);
  }
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new InputError(`${path}: cannot open: ${why}`);
  }
  const head = Buffer.alloc(2);
  const { bytesRead } = await fh.read(head, 0, 2, 0);
  if (bytesRead === 2 && isGzip(head)) {
    await fh.close();
    const raw = createReadStream(path);
    return new StreamSource(Readable.from(gunzipChunks(raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>)), true, () => raw.destroy());
  }
  return new FileSource(fh);
}
