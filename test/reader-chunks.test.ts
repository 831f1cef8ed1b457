import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture, readCaptureHeader, readFrom, readRange } from '../src/capture/reader.js';
import type { PacketRecord } from '../src/capture/record.js';
import type { ByteSource } from '../src/capture/source.js';
import { writePcap, writePcapng, WrittenPacket } from '../src/capture/writer.js';
import { DamageTally } from '../src/core/errors.js';

/**
 * The reader parses chunk after chunk while the next chunk is read; a record cut by a chunk's end is
 * carried to the next one, and records longer than the room for that take a slower path. These tests
 * put records of every size class across chunk boundaries and check each record's bytes and place.
 */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

function fnv(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

// Sizes: mostly SPAN-like frames, then records longer than the carry room (256 KiB), than a chunk
// (4 MiB) and close to the largest record the reader accepts (16 MiB).
const rand = rng(42);
const sizes: number[] = [];
for (let i = 0; i < 30000; i++) sizes.push(60 + Math.floor(rand() * 1455));
sizes.splice(5000, 0, 300_000);
sizes.splice(9000, 0, 5_000_000);
sizes.splice(9001, 0, 700_000);
sizes.splice(20000, 0, 12_000_000);
sizes.splice(25000, 0, 4 * 1024 * 1024 - 7);
const packets: WrittenPacket[] = sizes.map((n, i) => {
  const data = Buffer.allocUnsafe(n);
  for (let j = 0; j < n; j += 4) data.writeUInt32LE((Math.imul(i + 1, 2654435761) + j) >>> 0, Math.min(j, n - 4));
  return { data, tsSec: 1_700_000_000 + Math.floor(i / 1000), tsNs: (i % 1000) * 1_000_000 };
});
const expected = packets.map((p) => ({ len: p.data.length, hash: fnv(p.data, 0, p.data.length) }));

const dir = mkdtempSync(join(tmpdir(), 'flowaudit-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const files = {
  pcap: writePcap(packets, { linkType: 1, snaplen: 16 * 1024 * 1024 }),
  pcapng: writePcapng(packets, { interfaces: [{ linkType: 1 }] }),
};

interface Seen {
  len: number;
  hash: number;
  recordNo: number;
  offset: number;
}
function collector(): { seen: Seen[]; sink: (r: PacketRecord) => void } {
  const seen: Seen[] = [];
  return { seen, sink: (r) => seen.push({ len: r.capLen, hash: fnv(r.buf, r.off, r.off + r.capLen), recordNo: r.recordNo, offset: r.fileOffset }) };
}

/** A stream that hands over a random few bytes to a few hundred kB per read, as a pipe does. */
class TricklingSource implements ByteSource {
  readonly gzip = false;
  private pos = 0;
  private readonly rand = rng(7);
  constructor(private readonly bytes: Buffer) {}
  async read(target: Buffer, offset: number, length: number): Promise<number> {
    const n = Math.min(length, this.bytes.length - this.pos, 1 + Math.floor(this.rand() * 300_000));
    this.bytes.copy(target, offset, this.pos, this.pos + n);
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {}
}

for (const [format, bytes] of Object.entries(files)) {
  describe(`reading ${format} in chunks`, () => {
    const path = join(dir, `chunks.${format}`);
    writeFileSync(path, bytes);

    function check(seen: Seen[], damage: DamageTally): void {
      expect(damage.total).toBe(0);
      expect(seen.length).toBe(expected.length);
      for (let i = 0; i < seen.length; i++) {
        if (seen[i]!.len !== expected[i]!.len || seen[i]!.hash !== expected[i]!.hash || seen[i]!.recordNo !== i + 1) {
          expect({ i, ...seen[i] }).toEqual({ i, ...expected[i], recordNo: i + 1, offset: seen[i]!.offset });
        }
      }
      // Offsets are the records' places in the file: strictly increasing, each past the one before.
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.offset).toBeGreaterThanOrEqual(seen[i - 1]!.offset + seen[i - 1]!.len);
    }

    it('from a file: every record whole, in order, at its offset', async () => {
      const c = collector();
      const damage = new DamageTally();
      await readCapture(path, c.sink, { damage });
      check(c.seen, damage);
    });

    it('from a stream that delivers a few bytes at a time', async () => {
      const c = collector();
      const damage = new DamageTally();
      await readFrom(new TricklingSource(bytes), 'trickle', c.sink, { damage });
      check(c.seen, damage);
    });

    it('in byte ranges that chain into the whole file', async () => {
      const header = (await readCaptureHeader(path))!;
      const c = collector();
      const damage = new DamageTally();
      // Cut points inside the long records and among the small ones.
      const cuts = [header.bytes.length, 3_000_000, 9_500_000, 9_600_000, 20_000_000, bytes.length];
      let known = true;
      let start = cuts[0]!;
      const seenOffsets: number[] = [];
      for (let i = 1; i < cuts.length; i++) {
        const part = collector();
        const r = await readRange(path, header, start, cuts[i]!, known, part.sink, { damage });
        if (r.first < 0) continue; // no record starts in this range
        expect(r.first).toBe(part.seen[0]?.offset ?? r.first);
        c.seen.push(...part.seen);
        seenOffsets.push(r.first);
        start = r.stop;
        known = true;
      }
      expect(start).toBe(bytes.length);
      // Record numbers restart in each range: compare by content and place only.
      expect(c.seen.map((s) => [s.len, s.hash])).toEqual(expected.map((e) => [e.len, e.hash]));
      expect(damage.total).toBe(0);
    });
  });
}
