import type { ByteSource } from '../../src/capture/source.js';

/** A capture held in memory, handed to the reader in chunks of a chosen size (to cut records anywhere). */
export class MemorySource implements ByteSource {
  readonly gzip = false;
  private pos = 0;
  constructor(
    private readonly data: Buffer,
    private readonly chunk = 1 << 20,
  ) {}
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    const n = Math.min(length, this.chunk, this.data.length - this.pos);
    this.data.copy(target, offset, this.pos, this.pos + n);
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {}
}
