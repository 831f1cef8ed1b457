import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/reader.js';
import { CaptureFacts } from '../src/capture/record.js';
import {
  ByteOrder,
  PcapngInterface,
  PcapngWriteOptions,
  PcapngWriter,
  PcapWriteOptions,
  PcapWriter,
  ticksPerSecond,
  WrittenPacket,
  writePcap,
  writePcapng,
} from '../src/capture/writer.js';
import { DamageTally } from '../src/core/errors.js';

/** What a consumer of the reader can see of one packet, copied out of the reused record. */
interface PacketSeen {
  data: Buffer;
  capLen: number;
  origLen: number;
  tsSec: number;
  tsNs: number;
  hasTs: boolean;
  linkType: number;
  ifIndex: number;
  direction: number;
  recordNo: number;
}

interface ReadBack {
  packets: PacketSeen[];
  facts: CaptureFacts;
  damage: DamageTally;
}

let workDir = '';
let fileNo = 0;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'flowaudit-roundtrip-'));
});
afterAll(() => {
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

function tempFile(name: string): string {
  fileNo++;
  return join(workDir, `${fileNo}-${name}`);
}

async function readFile(path: string): Promise<ReadBack> {
  const damage = new DamageTally();
  const packets: PacketSeen[] = [];
  const facts = await readCapture(
    path,
    (rec) => {
      packets.push({
        data: Buffer.from(rec.buf.subarray(rec.off, rec.off + rec.capLen)),
        capLen: rec.capLen,
        origLen: rec.origLen,
        tsSec: rec.tsSec,
        tsNs: rec.tsNs,
        hasTs: rec.hasTs,
        linkType: rec.linkType,
        ifIndex: rec.ifIndex,
        direction: rec.direction,
        recordNo: rec.recordNo,
      });
    },
    { damage },
  );
  return { packets, facts, damage };
}

async function readBack(bytes: Buffer, name: string): Promise<ReadBack> {
  const path = tempFile(name);
  writeFileSync(path, bytes);
  try {
    return await readFile(path);
  } finally {
    rmSync(path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Generators. Times are drawn as tick counts and shown as the nanosecond the reader must give for
// them (the latest nanosecond at or before the tick), so they are exactly the times a resolution holds.

const NS_PER_SEC = 1_000_000_000n;
const U64_MAX = (1n << 64n) - 1n;

const byteOrderArb = fc.constantFrom<ByteOrder>('little', 'big');

interface TimeAt {
  tsSec: number;
  tsNs: number;
}

/** Times whose tick count (since 1970 minus `offset`) fits 64 bits, at 1/ticksPerSec resolution. */
function timeArb(ticksPerSec: bigint, maxRawSec: number, offset: number): fc.Arbitrary<TimeAt> {
  const maxSec = Math.min(maxRawSec, Number(U64_MAX / ticksPerSec) - 1);
  return fc
    .record({ rawSec: fc.integer({ min: 0, max: maxSec }), tick: fc.bigInt({ min: 0n, max: ticksPerSec - 1n }) })
    .map(({ rawSec, tick }) => ({ tsSec: rawSec + offset, tsNs: Number((tick * NS_PER_SEC) / ticksPerSec) }));
}

const payloadArb = fc.uint8Array({ maxLength: 2000 });
/** Bytes the capture did not keep: origLen = data.length + this. */
const uncapturedArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70_000 }), fc.constant(0xffffffff - 2000));

function packetArb(time: fc.Arbitrary<TimeAt>, ifIndex?: number): fc.Arbitrary<WrittenPacket> {
  return fc
    .record({ data: payloadArb, uncaptured: uncapturedArb, time, direction: fc.constantFrom(undefined, 0, 1, 2) })
    .map(({ data, uncaptured, time, direction }) => {
      const pkt: WrittenPacket = { data, tsSec: time.tsSec, tsNs: time.tsNs };
      if (uncaptured > 0) pkt.origLen = data.length + uncaptured;
      if (ifIndex !== undefined) pkt.ifIndex = ifIndex;
      if (direction !== undefined) pkt.direction = direction as 0 | 1 | 2;
      return pkt;
    });
}

const pcapOptionsArb: fc.Arbitrary<PcapWriteOptions> = fc.record({
  linkType: fc.integer({ min: 0, max: 0xffff }),
  snaplen: fc.option(fc.integer({ min: 1, max: 2500 }), { nil: undefined }),
  nanosecond: fc.boolean(),
  byteOrder: byteOrderArb,
});

const pcapCaseArb = pcapOptionsArb.chain((opts) =>
  fc.tuple(fc.constant(opts), fc.array(packetArb(timeArb(opts.nanosecond ? NS_PER_SEC : 1_000_000n, 0xffffffff, 0)), { maxLength: 12 })),
);

/** Decimal and power-of-two resolutions, coarser and finer than the nanosecond. */
const tsresolArb = fc.constantFrom(undefined, 0, 3, 6, 9, 12, 0x80 | 10, 0x80 | 20, 0x80 | 30);

const interfaceArb: fc.Arbitrary<PcapngInterface> = fc
  .record({
    linkType: fc.integer({ min: 0, max: 0xffff }),
    snaplen: fc.option(fc.integer({ min: 1, max: 2500 }), { nil: undefined }),
    tsresol: tsresolArb,
    tsOffset: fc.option(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), { nil: undefined }),
    name: fc.option(fc.string({ maxLength: 24, unit: 'grapheme' }), { nil: undefined }),
  })
  .map((r) => {
    const iface: PcapngInterface = { linkType: r.linkType };
    if (r.snaplen !== undefined) iface.snaplen = r.snaplen;
    if (r.tsresol !== undefined) iface.tsresol = r.tsresol;
    if (r.tsOffset !== undefined) iface.tsOffset = r.tsOffset;
    if (r.name !== undefined) iface.name = r.name;
    return iface;
  });

/** 2^34 s is beyond what 64 bits of nanoseconds hold, so the ns interfaces reach their limit. */
const PCAPNG_MAX_RAW_SEC = 2 ** 34;

function interfaceTimeArb(iface: PcapngInterface): fc.Arbitrary<TimeAt> {
  return timeArb(ticksPerSecond(iface.tsresol ?? 6), PCAPNG_MAX_RAW_SEC, iface.tsOffset ?? 0);
}

const sectionArb: fc.Arbitrary<[PcapngWriteOptions, WrittenPacket[]]> = fc
  .record({ interfaces: fc.array(interfaceArb, { minLength: 1, maxLength: 4 }), byteOrder: byteOrderArb })
  .chain((opts) => {
    const onInterface = opts.interfaces.map((iface, i) => packetArb(interfaceTimeArb(iface), i));
    return fc.tuple(fc.constant<PcapngWriteOptions>(opts), fc.array(fc.oneof(...onInterface), { maxLength: 12 }));
  });

/** Simple packet blocks imply the captured length (min of original length and snaplen), so only such packets. */
const simpleSectionArb: fc.Arbitrary<[PcapngWriteOptions, WrittenPacket[]]> = fc
  .record({ interfaces: fc.array(interfaceArb, { minLength: 1, maxLength: 2 }), byteOrder: byteOrderArb })
  .chain((opts) => {
    const snaplen = opts.interfaces[0]!.snaplen;
    const pkt = fc.record({ data: payloadArb, uncaptured: uncapturedArb }).map(({ data, uncaptured }) => {
      const p: WrittenPacket = { data, tsSec: 0, tsNs: 0 };
      if (snaplen !== undefined && data.length >= snaplen) p.origLen = data.length + uncaptured;
      return p;
    });
    return fc.tuple(fc.constant<PcapngWriteOptions>({ ...opts, simple: true }), fc.array(pkt, { maxLength: 12 }));
  });

// ---------------------------------------------------------------------------------------------------
// What the reader must give back.

function capturedPart(pkt: WrittenPacket, snaplen: number): Buffer {
  const data = Buffer.from(pkt.data);
  return snaplen > 0 && data.length > snaplen ? data.subarray(0, snaplen) : data;
}

function expectedPcap(packets: WrittenPacket[], opts: PcapWriteOptions): PacketSeen[] {
  return packets.map((p, i) => {
    const data = capturedPart(p, opts.snaplen || 262144);
    return {
      data,
      capLen: data.length,
      origLen: p.origLen ?? p.data.length,
      tsSec: p.tsSec,
      tsNs: p.tsNs,
      hasTs: true,
      linkType: opts.linkType,
      ifIndex: 0,
      direction: 0,
      recordNo: i + 1,
    };
  });
}

function expectedPcapng(packets: WrittenPacket[], opts: PcapngWriteOptions, firstIf = 0, firstRecord = 1): PacketSeen[] {
  return packets.map((p, i) => {
    const ifIndex = p.ifIndex ?? 0;
    const iface = opts.interfaces[ifIndex]!;
    const data = capturedPart(p, iface.snaplen ?? 0);
    const simple = opts.simple === true;
    return {
      data,
      capLen: data.length,
      origLen: p.origLen ?? p.data.length,
      // Simple packet blocks carry no timestamp and no flags.
      tsSec: simple ? 0 : p.tsSec,
      tsNs: simple ? 0 : p.tsNs,
      hasTs: !simple,
      linkType: iface.linkType,
      ifIndex: firstIf + ifIndex,
      direction: simple ? 0 : (p.direction ?? 0),
      recordNo: firstRecord + i,
    };
  });
}

function expectedInterfaces(opts: PcapngWriteOptions, section = 0, firstIf = 0) {
  return opts.interfaces.map((iface, i) => ({
    index: firstIf + i,
    section,
    linkType: iface.linkType,
    snaplen: iface.snaplen ?? 0,
    ticksPerSec: Number(ticksPerSecond(iface.tsresol ?? 6)),
    tsOffset: iface.tsOffset ?? 0,
    // An empty if_name carries nothing, so the reader reports no name.
    name: iface.name === undefined || iface.name === '' ? undefined : iface.name,
  }));
}

function interfaceFacts(facts: CaptureFacts) {
  return facts.interfaces.map(({ index, section, linkType, snaplen, ticksPerSec, tsOffset, name }) => ({
    index,
    section,
    linkType,
    snaplen,
    ticksPerSec,
    tsOffset,
    name,
  }));
}

function sumOf(packets: PacketSeen[], key: 'capLen' | 'origLen'): number {
  return packets.reduce((n, p) => n + p[key], 0);
}

// ---------------------------------------------------------------------------------------------------

describe('a capture the writer made reads back as the same packets', () => {
  it('classic pcap: both byte orders, µs and ns, any snaplen and original length', async () => {
    await fc.assert(
      fc.asyncProperty(pcapCaseArb, async ([opts, packets]) => {
        const got = await readBack(writePcap(packets, opts), 'case.pcap');
        const want = expectedPcap(packets, opts);
        expect(got.damage.total).toBe(0);
        expect(got.packets).toEqual(want);
        expect(got.facts).toMatchObject({
          format: 'pcap',
          gzip: false,
          byteOrder: opts.byteOrder,
          packets: want.length,
          bytes: sumOf(want, 'origLen'),
          capturedBytes: sumOf(want, 'capLen'),
        });
        expect(got.facts.interfaces[0]).toMatchObject({ linkType: opts.linkType, ticksPerSec: opts.nanosecond ? 1e9 : 1e6 });
      }),
      { numRuns: 150 },
    );
  });

  it('pcapng: several interfaces with their own link type, snaplen, if_tsresol, if_tsoffset and name; EPB directions', async () => {
    await fc.assert(
      fc.asyncProperty(sectionArb, async ([opts, packets]) => {
        const got = await readBack(writePcapng(packets, opts), 'case.pcapng');
        const want = expectedPcapng(packets, opts);
        expect(got.damage.total).toBe(0);
        expect(got.packets).toEqual(want);
        expect(interfaceFacts(got.facts)).toEqual(expectedInterfaces(opts));
        expect(got.facts).toMatchObject({
          format: 'pcapng',
          byteOrder: opts.byteOrder,
          packets: want.length,
          bytes: sumOf(want, 'origLen'),
          capturedBytes: sumOf(want, 'capLen'),
        });
      }),
      { numRuns: 150 },
    );
  });

  it('pcapng simple packet blocks: captured length implied by snaplen, no timestamp', async () => {
    await fc.assert(
      fc.asyncProperty(simpleSectionArb, async ([opts, packets]) => {
        const got = await readBack(writePcapng(packets, opts), 'simple.pcapng');
        expect(got.damage.total).toBe(0);
        expect(got.packets).toEqual(expectedPcapng(packets, opts));
      }),
      { numRuns: 100 },
    );
  });

  it('pcapng with several sections of either byte order: interface ids restart per section, ifIndex counts across the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sectionArb, { minLength: 2, maxLength: 3 }), async (sections) => {
        const file = Buffer.concat(sections.map(([opts, packets]) => writePcapng(packets, opts)));
        const got = await readBack(file, 'sections.pcapng');
        const want: PacketSeen[] = [];
        const interfaces: ReturnType<typeof expectedInterfaces> = [];
        sections.forEach(([opts, packets], section) => {
          want.push(...expectedPcapng(packets, opts, interfaces.length, want.length + 1));
          interfaces.push(...expectedInterfaces(opts, section, interfaces.length));
        });
        const orders = new Set(sections.map(([opts]) => opts.byteOrder));
        expect(got.damage.total).toBe(0);
        expect(got.packets).toEqual(want);
        expect(interfaceFacts(got.facts)).toEqual(interfaces);
        expect(got.facts.byteOrder).toBe(orders.size > 1 ? 'mixed' : [...orders][0]);
      }),
      { numRuns: 60 },
    );
  });

  it('gzip-compressed pcap and pcapng read the same as the plain files', async () => {
    const anyCapture = fc.oneof(
      pcapCaseArb.map(([opts, packets]) => ({ bytes: writePcap(packets, opts), name: 'case.pcap.gz' })),
      sectionArb.map(([opts, packets]) => ({ bytes: writePcapng(packets, opts), name: 'case.pcapng.gz' })),
    );
    await fc.assert(
      fc.asyncProperty(anyCapture, async ({ bytes, name }) => {
        const plain = await readBack(bytes, name.replace('.gz', ''));
        const gzipped = await readBack(gzipSync(bytes), name);
        expect(gzipped.damage.total).toBe(0);
        expect(gzipped.packets).toEqual(plain.packets);
        expect(gzipped.facts).toEqual({ ...plain.facts, file: gzipped.facts.file, gzip: true });
      }),
      { numRuns: 40 },
    );
  });

  it('the extreme times each format holds', async () => {
    const pcapEnds: WrittenPacket[] = [
      { data: new Uint8Array(1), tsSec: 0, tsNs: 0 },
      { data: new Uint8Array(1), tsSec: 0xffffffff, tsNs: 999_999_999 },
    ];
    const pcapNs = await readBack(writePcap(pcapEnds, { linkType: 1, nanosecond: true, byteOrder: 'big' }), 'ends.pcap');
    expect(pcapNs.packets.map((p) => [p.tsSec, p.tsNs])).toEqual([
      [0, 0],
      [0xffffffff, 999_999_999],
    ]);
    // The largest 64-bit nanosecond count: hi and lo words both all ones.
    const lastNs = { tsSec: Number(U64_MAX / NS_PER_SEC), tsNs: Number(U64_MAX % NS_PER_SEC) };
    const ng = await readBack(
      writePcapng([{ data: new Uint8Array(3), ...lastNs }], { interfaces: [{ linkType: 1, tsresol: 9 }], byteOrder: 'little' }),
      'ends.pcapng',
    );
    expect(ng.packets.map((p) => [p.tsSec, p.tsNs])).toEqual([[lastNs.tsSec, lastNs.tsNs]]);
  });
});

describe('records cut by the reader’s 4 MiB chunks', () => {
  const CHUNK = 4 * 1024 * 1024;
  const COUNT = 6000;

  /** Packet i: 1400..1599 bytes (so boundaries fall at varied offsets), its number in the first 4 bytes. */
  function bulkPacket(i: number): WrittenPacket {
    const data = Buffer.alloc(1400 + ((i * 37) % 200));
    for (let j = 0; j < data.length; j++) data[j] = (i * 7 + j * 13) & 0xff;
    data.writeUInt32BE(i, 0);
    return { data, origLen: data.length + (i % 3), tsSec: 1_700_000_000 + Math.floor(i / 100), tsNs: (i % 100) * 10_000_000, ifIndex: i % 2 };
  }

  function* bulkPackets(): Generator<WrittenPacket> {
    for (let i = 0; i < COUNT; i++) yield bulkPacket(i);
  }

  async function checkBulk(path: string, fileSize: number, recordSize: (capLen: number) => number): Promise<void> {
    const damage = new DamageTally();
    let seen = 0;
    let straddlesFirstRead = false;
    let mismatch = '';
    const facts = await readCapture(
      path,
      (rec) => {
        const want = bulkPacket(seen);
        const got = rec.buf.subarray(rec.off, rec.off + rec.capLen);
        if (mismatch === '' && (!got.equals(want.data) || rec.origLen !== want.origLen || rec.tsSec !== want.tsSec || rec.tsNs !== want.tsNs)) {
          mismatch = `packet ${seen + 1} at offset ${rec.fileOffset} differs`;
        }
        if (rec.fileOffset < CHUNK && rec.fileOffset + recordSize(rec.capLen) > CHUNK) straddlesFirstRead = true;
        seen++;
      },
      { damage },
    );
    expect(fileSize).toBeGreaterThan(2 * CHUNK);
    // The first read of a plain file ends at 4 MiB: the test only means something if a record spans it.
    expect(straddlesFirstRead).toBe(true);
    expect(mismatch).toBe('');
    expect(seen).toBe(COUNT);
    expect(damage.total).toBe(0);
    let bytes = 0;
    for (const p of bulkPackets()) bytes += p.data.length;
    expect(facts.capturedBytes).toBe(bytes);
  }

  it('classic pcap over 8 MiB, plain and gzip', async () => {
    const file = writePcap(bulkPackets(), { linkType: 1, byteOrder: 'big' });
    const path = tempFile('bulk.pcap');
    writeFileSync(path, file);
    await checkBulk(path, file.length, (cap) => 16 + cap);
    writeFileSync(path, gzipSync(file, { level: 1 }));
    await checkBulk(path, file.length, (cap) => 16 + cap);
    rmSync(path);
  });

  it('pcapng over 8 MiB with two interfaces, plain and gzip', async () => {
    const opts: PcapngWriteOptions = { interfaces: [{ linkType: 1, tsresol: 9 }, { linkType: 113 }], byteOrder: 'little' };
    const file = writePcapng(bulkPackets(), opts);
    const path = tempFile('bulk.pcapng');
    writeFileSync(path, file);
    await checkBulk(path, file.length, (cap) => 32 + ((cap + 3) & ~3));
    writeFileSync(path, gzipSync(file, { level: 1 }));
    await checkBulk(path, file.length, (cap) => 32 + ((cap + 3) & ~3));
    rmSync(path);
  });

  it('a single record larger than a chunk', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024 + 3);
    for (let j = 0; j < big.length; j += 4096) big[j] = (j >>> 12) & 0xff;
    const packets: WrittenPacket[] = [
      { data: Buffer.from('before'), tsSec: 1, tsNs: 0 },
      { data: big, tsSec: 2, tsNs: 0 },
      { data: Buffer.from('after'), tsSec: 3, tsNs: 0 },
    ];
    const asPcap = await readBack(writePcap(packets, { linkType: 1, snaplen: 8 * 1024 * 1024 }), 'big.pcap');
    const asPcapng = await readBack(writePcapng(packets, { interfaces: [{ linkType: 1 }] }), 'big.pcapng');
    for (const got of [asPcap, asPcapng]) {
      expect(got.damage.total).toBe(0);
      expect(got.packets.map((p) => p.capLen)).toEqual([6, big.length, 5]);
      expect(got.packets[1]!.data.equals(big)).toBe(true);
      expect(got.packets[2]!.data.toString()).toBe('after');
    }
  });
});

describe('the streaming writers', () => {
  const packets: WrittenPacket[] = [0, 1, 2, 3, 4, 5].map((i) => ({
    data: Buffer.alloc(i * 300 + 1, i),
    tsSec: 1_600_000_000 + i,
    tsNs: i * 111_111_111,
    ifIndex: i % 2,
    direction: (i % 3) as 0 | 1 | 2,
  }));

  it('write through a small reused buffer to a file descriptor the same bytes as the in-memory writers', () => {
    const pcapOpts: PcapWriteOptions = { linkType: 1, nanosecond: true, byteOrder: 'big' };
    const ngOpts: PcapngWriteOptions = { interfaces: [{ linkType: 1, name: 'eth0' }, { linkType: 101, tsresol: 9, tsOffset: -5 }] };
    const pcapPath = tempFile('stream.pcap');
    const ngPath = tempFile('stream.pcapng');
    const pcapFd = openSync(pcapPath, 'w');
    const ngFd = openSync(ngPath, 'w');
    // 64 bytes: most records do not fit, so the buffer is flushed before them and grown for them.
    const pcapWriter = new PcapWriter(pcapFd, pcapOpts, 64);
    const ngWriter = new PcapngWriter(ngFd, ngOpts, 64);
    for (const p of packets) {
      pcapWriter.write(p);
      ngWriter.write(p);
    }
    pcapWriter.flush();
    ngWriter.flush();
    closeSync(pcapFd);
    closeSync(ngFd);
    expect(readFileSync(pcapPath).equals(writePcap(packets, pcapOpts))).toBe(true);
    expect(readFileSync(ngPath).equals(writePcapng(packets, ngOpts))).toBe(true);
  });

  it('refuse what the format cannot say', () => {
    const one = (p: Partial<WrittenPacket>): WrittenPacket[] => [{ data: new Uint8Array(4), tsSec: 0, tsNs: 0, ...p }];
    expect(() => writePcapng(one({ ifIndex: 1 }), { interfaces: [{ linkType: 1 }] })).toThrow(RangeError);
    expect(() => writePcapng(one({ ifIndex: 1 }), { interfaces: [{ linkType: 1 }, { linkType: 1 }], simple: true })).toThrow(RangeError);
    expect(() => writePcapng(one({ origLen: 9 }), { interfaces: [{ linkType: 1 }], simple: true })).toThrow(RangeError);
    expect(() => writePcapng(one({ tsSec: 10 }), { interfaces: [{ linkType: 1, tsOffset: 11 }] })).toThrow(RangeError);
    expect(() => writePcap(one({ tsSec: 2 ** 32 }), { linkType: 1 })).toThrow(RangeError);
    expect(() => writePcap(one({ tsSec: -1 }), { linkType: 1 })).toThrow(RangeError);
    expect(() => writePcap(one({ origLen: 3 }), { linkType: 1 })).toThrow(RangeError);
    expect(() => writePcap(one({ tsNs: 1e9 }), { linkType: 1 })).toThrow(RangeError);
  });
});
