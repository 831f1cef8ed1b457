/**
 * The pcapng reader against hadrielk/pcapng-test-generator's suite (see MANIFEST.md in the captures
 * folder): every file yields the packets its .txt counts, the same in both byte orders, and the same
 * interface, link type, lengths, timestamp, direction and frame number as tshark.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCapture, readFrom } from '../src/capture/reader.js';
import { CaptureFacts, PacketRecord } from '../src/capture/record.js';
import { DamageTally, InputError } from '../src/core/errors.js';
import { capturesDir, listCaptures, skipWithoutCaptures, skipWithoutTshark, TsharkFields, tsharkFields } from './helpers/captures.js';
import { MemorySource } from './helpers/memory-source.js';

const SUITE = 'pcapng-test-suite';

interface PacketSeen {
  recordNo: number;
  ifIndex: number;
  linkType: number;
  capLen: number;
  origLen: number;
  hasTs: boolean;
  tsSec: number;
  tsNs: number;
  direction: number;
  fileOffset: number;
  data: Buffer;
}

interface ReadResult {
  packets: PacketSeen[];
  facts: CaptureFacts;
  damage: DamageTally;
}

function collector(packets: PacketSeen[]) {
  return (rec: PacketRecord) => {
    packets.push({
      recordNo: rec.recordNo,
      ifIndex: rec.ifIndex,
      linkType: rec.linkType,
      capLen: rec.capLen,
      origLen: rec.origLen,
      hasTs: rec.hasTs,
      tsSec: rec.tsSec,
      tsNs: rec.tsNs,
      direction: rec.direction,
      fileOffset: rec.fileOffset,
      data: Buffer.from(rec.buf.subarray(rec.off, rec.off + rec.capLen)),
    });
  };
}

async function readPackets(path: string): Promise<ReadResult> {
  const damage = new DamageTally();
  const packets: PacketSeen[] = [];
  const facts = await readCapture(path, collector(packets), { damage });
  return { packets, facts, damage };
}

async function readBytes(bytes: Buffer, label: string): Promise<ReadResult> {
  const damage = new DamageTally();
  const packets: PacketSeen[] = [];
  const facts = await readFrom(new MemorySource(bytes, Infinity), label, collector(packets), { damage });
  return { packets, facts, damage };
}

/** EPB + SPB + PB from the "Block counts:" list of a test's description. */
function packetBlocksDescribed(description: string): number {
  const listed = /^Block counts:\n((?:[ \t]+\w+:[ \t]*\d+\n?)*)/m.exec(description);
  if (listed === null) throw new Error('no "Block counts:" list in the description');
  let packets = 0;
  for (const [, block, count] of listed[1]!.matchAll(/(\w+):[ \t]*(\d+)/g)) {
    if (block === 'EPB' || block === 'SPB' || block === 'PB') packets += Number(count);
  }
  return packets;
}

/** Offsets at which blocks start, and the file's end, found by following block lengths per section. */
function blockBoundaries(file: Buffer): number[] {
  const starts: number[] = [];
  let le = true;
  for (let p = 0; p + 12 <= file.length; ) {
    starts.push(p);
    if (file.readUInt32LE(p) === 0x0a0d0d0a) le = file.readUInt32LE(p + 8) === 0x1a2b3c4d;
    p += le ? file.readUInt32LE(p + 4) : file.readUInt32BE(p + 4);
  }
  starts.push(file.length);
  return starts;
}

/**
 * tshark's encapsulation numbers (wiretap WTAP_ENCAP_*) for the link types in the suite; they are not
 * link-type numbers.
 */
const LINK_TYPE_OF_ENCAP: Record<string, number> = {
  '1': 1, // WTAP_ENCAP_ETHERNET = LINKTYPE_ETHERNET
  '15': 0, // WTAP_ENCAP_NULL = LINKTYPE_NULL
};

const TSHARK_FIELDS = [
  'frame.number',
  'frame.interface_id',
  'frame.encap_type',
  'frame.len',
  'frame.cap_len',
  'frame.time_epoch',
  'frame.packet_flags_direction',
] as const;

function sameNumbers(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const skipSuite = skipWithoutCaptures('pcapng conformance suite');
const compareWithTshark = !skipSuite && !skipWithoutTshark('pcapng conformance: comparison with tshark');

describe.skipIf(skipSuite)('pcapng conformance suite', () => {
  const root = capturesDir() ?? '';
  const littleDir = join(root, SUITE, 'output_le');
  const bigDir = join(root, SUITE, 'output_be');
  const tests = listCaptures(join(SUITE, 'output_le'), ['.pcapng']).map((little) => {
    const name = relative(littleDir, little);
    return { name, little, big: join(bigDir, name), description: little.replace(/\.pcapng$/, '.txt') };
  });

  const tshark = new Map<string, Promise<TsharkFields>>();
  const tsharkOf = (file: string): Promise<TsharkFields> => {
    let run = tshark.get(file);
    if (run === undefined) {
      run = tsharkFields(file, TSHARK_FIELDS);
      tshark.set(file, run);
    }
    return run;
  };
  beforeAll(() => {
    if (!compareWithTshark) return;
    // Run tshark on the files ahead of the tests, four at a time, so each test mostly finds its answer ready.
    const queue = tests.flatMap((t) => [t.little, t.big]);
    const next = (): void => {
      const file = queue.shift();
      if (file !== undefined) tsharkOf(file).then(next, next);
    };
    for (let i = 0; i < 4; i++) next();
  });

  it('holds the files MANIFEST.md describes', () => {
    expect(tests.length).toBeGreaterThanOrEqual(24);
    for (const t of tests) {
      expect(existsSync(t.big), `${t.big} (big-endian twin of ${t.name})`).toBe(true);
      expect(existsSync(t.description), `${t.description}`).toBe(true);
    }
  });

  for (const t of tests) {
    describe(t.name, () => {
      it('yields one packet per EPB, SPB and PB the description counts, the same in both byte orders', async () => {
        const expected = packetBlocksDescribed(readFileSync(t.description, 'utf8'));
        const little = await readPackets(t.little);
        const big = await readPackets(t.big);
        for (const got of [little, big]) {
          expect(got.damage.toJSON()).toEqual({});
          expect(got.packets).toHaveLength(expected);
          expect(got.facts.packets).toBe(expected);
        }
        expect(big.packets).toEqual(little.packets);
        expect(big.facts.interfaces).toEqual(little.facts.interfaces);
      });

      it.skipIf(!compareWithTshark)('agrees with tshark on every packet', async () => {
        for (const file of [t.little, t.big]) {
          const ours = await readPackets(file);
          const theirs = await tsharkOf(file);
          expect(theirs.status, theirs.stderr).toBe(0);
          // tshark also lists custom and systemd-journal blocks as frames; they have no encapsulation.
          const frames = theirs.rows.filter((row) => row[2] !== '');
          const interfaces = ours.facts.interfaces;
          const sectionStart = (ifIndex: number) => interfaces.find((i) => i.section === interfaces[ifIndex]!.section)!.index;

          expect(ours.packets.map((p) => p.recordNo), 'frame numbers').toEqual(frames.map((row) => Number(row[0])));
          expect(ours.packets.map((p) => p.origLen), 'frame.len').toEqual(frames.map((row) => Number(row[3])));
          expect(ours.packets.map((p) => p.capLen), 'frame.cap_len').toEqual(frames.map((row) => Number(row[4])));
          expect(
            ours.packets.map((p) => p.linkType),
            'link types',
          ).toEqual(
            frames.map((row) => {
              const linkType = LINK_TYPE_OF_ENCAP[row[2]!];
              if (linkType === undefined) throw new Error(`tshark encapsulation ${row[2]} has no link type in LINK_TYPE_OF_ENCAP`);
              return linkType;
            }),
          );
          // Simple packet blocks carry no timestamp: tshark prints none, we say hasTs=false with time 0.
          expect(
            ours.packets.map((p) => (p.hasTs ? `${p.tsSec}.${String(p.tsNs).padStart(9, '0')}` : `none ${p.tsSec}.${p.tsNs}`)),
            'frame.time_epoch',
          ).toEqual(frames.map((row) => (row[5] === '' ? 'none 0.0' : row[5])));
          expect(ours.packets.map((p) => p.direction), 'EPB direction').toEqual(frames.map((row) => (row[6] === '' ? 0 : Number(row[6]))));

          // We number interfaces across the whole file; tshark 4.0 numbers them per section (and then
          // names later sections' interfaces after the first section's), newer ones may do as we do.
          const tsharkIds = frames.map((row) => Number(row[1]));
          const acrossFile = ours.packets.map((p) => p.ifIndex);
          const perSection = ours.packets.map((p) => p.ifIndex - sectionStart(p.ifIndex));
          expect(tsharkIds, 'frame.interface_id').toEqual(sameNumbers(tsharkIds, acrossFile) ? acrossFile : perSection);
        }
      });
    });
  }

  describe('difficult/test202.pcapng: three sections of both byte orders and every kind of block', () => {
    const test202 = tests.find((t) => t.name === join('difficult', 'test202.pcapng'));

    it('yields its eight packets on the interfaces of their own sections', async () => {
      expect(test202).toBeDefined();
      for (const file of [test202!.little, test202!.big]) {
        const got = await readPackets(file);
        expect(got.damage.total).toBe(0);
        expect(got.facts.byteOrder).toBe('mixed');
        expect(got.facts.interfaces.map((i) => i.section)).toEqual([0, 0, 1, 2, 2]);
        expect(got.packets.map((p) => p.ifIndex)).toEqual([0, 0, 1, 2, 2, 2, 2, 4]);
        expect(got.packets.map((p) => p.hasTs)).toEqual([true, true, true, false, true, false, true, true]);
      }
    });

    it('cut anywhere, gives the packets of the whole blocks before the cut and counts the cut block, never throws', async () => {
      for (const file of [test202!.little, test202!.big]) {
        const whole = readFileSync(file);
        const full = await readBytes(whole, file);
        const boundaries = blockBoundaries(whole);
        expect(boundaries.at(-1)).toBe(whole.length);
        const blockEnd = (start: number) => boundaries.find((b) => b > start)!;
        // Every block boundary, the block header bytes after it and the byte before it, and a sweep between.
        const cuts = new Set<number>();
        for (const b of boundaries) for (let d = -1; d <= 12; d++) cuts.add(b + d);
        for (let c = 0; c < whole.length; c += 7) cuts.add(c);
        for (const cut of [...cuts].filter((c) => c >= 0 && c < whole.length).sort((a, b) => a - b)) {
          const label = `${file} cut at ${cut}`;
          const reading = readBytes(whole.subarray(0, cut), label);
          if (cut < 4) {
            // Too short to tell the format: the one case that is a clear input error rather than damage.
            await expect(reading, label).rejects.toThrow(InputError);
            continue;
          }
          const got = await reading;
          const intact = full.packets.filter((p) => blockEnd(p.fileOffset) <= cut);
          expect(got.packets, label).toEqual(intact);
          expect(got.damage.toJSON(), label).toEqual(
            boundaries.includes(cut) ? {} : { 'pcapng-truncated-block': { count: 1, first: [expect.objectContaining({ file: label })] } },
          );
        }
      }
    });
  });
});
