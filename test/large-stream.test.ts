import { describe, expect, it } from 'vitest';
import { readFrom } from '../src/capture/reader.js';
import type { ByteSource } from '../src/capture/source.js';
import { writePcap } from '../src/capture/writer.js';
import { DamageTally } from '../src/core/errors.js';
import { frame } from '../src/synth/frames.js';

/**
 * A capture stream larger than 4 GiB, made on the fly: the pcap header, `count` copies of one record,
 * then a record header with an absurd length. Nothing is held but one record.
 */
class RepeatingCapture implements ByteSource {
  readonly gzip = false;
  private pos = 0;
  readonly total: number;
  constructor(
    private readonly header: Buffer,
    private readonly record: Buffer,
    private readonly count: number,
    private readonly tail: Buffer,
  ) {
    this.total = header.length + record.length * count + tail.length;
  }
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    let written = 0;
    while (written < length && this.pos < this.total) {
      const p = this.pos;
      const bodyEnd = this.header.length + this.record.length * this.count;
      let src: Buffer;
      let at: number;
      if (p < this.header.length) [src, at] = [this.header, p];
      else if (p < bodyEnd) [src, at] = [this.record, (p - this.header.length) % this.record.length];
      else [src, at] = [this.tail, p - bodyEnd];
      const n = Math.min(length - written, src.length - at);
      src.copy(target, offset + written, at, at + n);
      written += n;
      this.pos += n;
    }
    return written;
  }
  async close(): Promise<void> {}
}

describe('captures larger than 4 GiB', () => {
  it('are read to the end with exact byte offsets and memory that does not grow with the file', async () => {
    const data = frame({ proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 50000, dstPort: 514, payload: 4000 });
    const file = writePcap([{ data, tsSec: 1_700_000_000, tsNs: 0 }], { linkType: 1, snaplen: 65535 });
    const header = file.subarray(0, 24);
    const record = file.subarray(24);
    const count = Math.ceil(2 ** 32 / record.length) + 10;
    const tail = Buffer.alloc(16);
    tail.writeUInt32LE(0xfffffff0, 8); // caplen far beyond any snaplen
    const src = new RepeatingCapture(header, record, count, tail);
    expect(src.total).toBeGreaterThan(2 ** 32);

    const damage = new DamageTally();
    let packets = 0;
    let lastOffset = 0;
    const rssBefore = process.memoryUsage().rss;
    const facts = await readFrom(src, 'big.pcap', (rec) => {
      packets++;
      lastOffset = rec.fileOffset;
    }, { damage });
    const grown = process.memoryUsage().rss - rssBefore;

    expect(packets).toBe(count);
    expect(facts.packets).toBe(count);
    expect(facts.bytes).toBe(count * data.length);
    expect(lastOffset).toBe(24 + (count - 1) * record.length);
    expect(lastOffset).toBeGreaterThan(2 ** 32);
    const bad = damage.places.get('pcap-bad-record-length');
    expect(bad?.[0]).toEqual({ file: 'big.pcap', record: count + 1, offset: 24 + count * record.length });
    expect(grown).toBeLessThan(200 * 1024 * 1024);
  }, 300_000);
});
