/**
 * Captures made to hurt: more interfaces than a report can hold, floods of fragments, gzip streams
 * that break, names with terminal escapes, timestamps past year 9999. Each is written here with the
 * project's own writer and read through the CLI: it ends in bounded time and memory with exit 0 and
 * the damage counted in the report, never fatal.
 */
import { flowaudit, run } from './helpers/run.js';
import fc from 'fast-check';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readFrom } from '../src/capture/reader.js';
import { MAX_INTERFACE_NAME, MAX_INTERFACES } from '../src/capture/pcapng.js';
import { PcapngWriter, PcapWriter, writePcap, writePcapng } from '../src/capture/writer.js';
import { DamageTally, InputError } from '../src/core/errors.js';
import { FRAGMENT_TIMEOUT_SEC, MAX_PENDING_DATAGRAMS } from '../src/flow/fragments.js';
import { csvText, escapeHtml, terminalSafe } from '../src/report/escape.js';
import { tftpReadRequest } from '../src/synth/dcerpc.js';
import { frame } from '../src/synth/frames.js';
import { buildFlows, summarise } from '../src/flow/pipeline.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { skipWithoutTcpdump } from './helpers/captures.js';
import { scratch } from './helpers/scratch.js';
import { MemorySource } from './helpers/memory-source.js';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const tmp = scratch('fa-hostile-');


interface Capture {
  packets: number;
  files: Array<{ interfaces: Array<{ name?: string }> }>;
  decodeErrors: Record<string, { count: number; first: Array<{ file: string; record: number; offset: number }> }>;
  orphanFragments: number;
  fragmentOverflow: number;
}
interface Flow {
  clientPort: number | null;
  packets: number;
  start: string;
  end: string;
}

async function flowsJson(path: string, extra: string[] = []): Promise<{ capture: Capture; flows: Flow[] }> {
  const r = await flowaudit(['flows', path, '--format', 'json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return checkReport('flows', JSON.parse(r.stdout));
}

const udp = (srcPort: number, payload = 30) => frame({ proto: 'udp', src: '10.0.0.1', dst: '10.0.0.2', srcPort, dstPort: 53, payload });

/** The offsets of the enhanced packet blocks of a little-endian pcapng file, in order. */
function packetBlocks(file: Buffer): number[] {
  const at: number[] = [];
  for (let p = 0; p < file.length; p += file.readUInt32LE(p + 4)) if (file.readUInt32LE(p) === 6) at.push(p);
  return at;
}

describe('interface blocks past the cap', () => {
  it(`keeps ${MAX_INTERFACES} interfaces, counts the blocks past them, and packets on those are on an unknown interface`, async () => {
    const n = MAX_INTERFACES + 4464;
    const long = 'x'.repeat(MAX_INTERFACE_NAME + 100);
    const interfaces = Array.from({ length: n }, (_, i) => ({ linkType: 1, ...(i === 1 ? { name: long } : {}) }));
    const file = writePcapng(
      [{ data: udp(1000), tsSec: 1e9, tsNs: 0 }, { data: udp(1001), tsSec: 1e9, tsNs: 0, ifIndex: n - 1 }, { data: udp(1002), tsSec: 1e9, tsNs: 0, ifIndex: MAX_INTERFACES - 1 }],
      { interfaces },
    );
    const { capture, flows } = await flowsJson(tmp.write('interfaces.pcapng', file));
    expect(capture.files[0]!.interfaces).toHaveLength(MAX_INTERFACES);
    expect(capture.decodeErrors['pcapng-too-many-interfaces']!.count).toBe(n - MAX_INTERFACES);
    expect(capture.decodeErrors['pcapng-unknown-interface']!.count).toBe(1);
    expect(capture.decodeErrors['pcapng-interface-name-too-long']!.count).toBe(1);
    expect(capture.files[0]!.interfaces[1]!.name).toBe(long.slice(0, MAX_INTERFACE_NAME));
    expect(flows.map((f) => f.clientPort).sort()).toEqual([1000, 1002]);
  });
});

/** A pcap of `n` later IPv4 fragments (offset 1480, no first fragment anywhere), 100 000 a second. */
function orphanFragments(path: string, n: number): void {
  const base = Buffer.from(udp(1, 20));
  base.writeUInt16BE(185, 14 + 6); // fragment offset 185 × 8, more-fragments clear
  const fd = openSync(path, 'w');
  const w = new PcapWriter(fd, { linkType: 1 });
  for (let i = 0; i < n; i++) {
    base.writeUInt16BE(i & 0xffff, 14 + 4);
    base[14 + 15] = (i >>> 16) & 0xff;
    w.write({ data: base, tsSec: 1.7e9 + Math.floor(i / 100_000), tsNs: (i % 100_000) * 10_000 });
  }
  w.flush();
  closeSync(fd);
}

describe('IP fragments', () => {
  it('600 000 orphan fragments through two workers stay within a 128 MB heap (each was kept for the merge before: out of memory)', async () => {
    const path = join(tmp.dir, 'orphans.pcap');
    orphanFragments(path, 600_000);
    const script = `import { buildFlowsSharded } from ${JSON.stringify(join(root, 'dist/worker/sharded.js'))};
      import { summarise } from ${JSON.stringify(join(root, 'dist/flow/pipeline.js'))};
      const s = summarise(await buildFlowsSharded([${JSON.stringify(path)}], { workers: 2, minShardBytes: 1 << 20 }));
      console.log(JSON.stringify({ packets: s.packets, orphans: s.orphanFragments }));`;
    const r = await run(process.execPath, ['--max-old-space-size=128', tmp.write('orphans.mjs', script)], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ packets: 600_000, orphans: 600_000 });
  }, 120_000);

  it(`a later fragment joins its datagram within ${FRAGMENT_TIMEOUT_SEC} s of its last fragment, not after; ${MAX_PENDING_DATAGRAMS} datagrams wait at most`, async () => {
    // Fragments of 10.0.0.1 → 10.0.0.<host> with IP identification `id` (16 bits: a flood needs two hosts).
    const bases = new Map<string, Buffer>();
    const fragment = (host: number, id: number, sport: number, later: boolean) => {
      const k = `${host}/${sport}/${later}`;
      let base = bases.get(k);
      if (base === undefined) {
        bases.set(k, (base = Buffer.from(frame({ proto: 'udp', src: '10.0.0.1', dst: `10.0.0.${host}`, srcPort: sport, dstPort: 53, payload: 20 }))));
        base.writeUInt16BE(later ? 185 : 0x2000, 14 + 6); // a later fragment, or the first with more to come
      }
      const b = Buffer.from(base);
      b.writeUInt16BE(id, 14 + 4);
      return b;
    };
    const first = (id: number, sport: number, host = 2) => fragment(host, id, sport, false);
    const later = (id: number, host = 2) => fragment(host, id, 1, true);
    const T = 1.7e9;
    const packets = [
      { data: first(1, 4001), tsSec: T, tsNs: 0 },
      { data: later(1), tsSec: T + FRAGMENT_TIMEOUT_SEC, tsNs: 0 }, // in time: the flow of port 4001
      { data: later(1), tsSec: T + 2 * FRAGMENT_TIMEOUT_SEC - 1, tsNs: 0 }, // in time of the last one: the wait restarts
      { data: first(2, 4002), tsSec: T, tsNs: 0 },
      { data: later(2), tsSec: T + FRAGMENT_TIMEOUT_SEC + 1, tsNs: 0 }, // too late: an orphan
    ];
    // Then one datagram more than may wait: the oldest is forgotten, the newest is not.
    const flood = MAX_PENDING_DATAGRAMS + 1;
    const datagram = (i: number): [number, number] => [i % 60_000, i < 60_000 ? 3 : 4];
    for (let i = 0; i < flood; i++) packets.push({ data: first(datagram(i)[0], 5000, datagram(i)[1]), tsSec: T + 100, tsNs: i });
    packets.push({ data: later(...datagram(0)), tsSec: T + 101, tsNs: 0 }, { data: later(...datagram(flood - 1)), tsSec: T + 101, tsNs: 0 });
    const { capture, flows } = await flowsJson(tmp.write('fragments.pcap', writePcap(packets, { linkType: 1 })));
    const port = (p: number | null) => flows.filter((f) => f.clientPort === p).reduce((s, f) => s + f.packets, 0);
    expect(port(4001)).toBe(3);
    expect(port(4002)).toBe(1);
    expect(port(5000)).toBe(flood + 1);
    expect(capture.orphanFragments).toBe(2);
    expect(capture.fragmentOverflow).toBe(1);
  }, 60_000);
});

describe('fragments across shard boundaries', () => {
  it('one pass and 2 or 3 workers agree: joined, timed out and orphan fragments alike', async () => {
    // 3 000 datagrams, each first fragment followed 40 packets later by a later one (so shards cut
    // between them), every 7th later fragment past the timeout, every 11th first fragment missing.
    const packets: Array<{ data: Buffer; tsSec: number; tsNs: number }> = [];
    const T = 1.7e9;
    const frag = (i: number, later: boolean) => {
      const b = Buffer.from(frame({ proto: 'udp', src: `10.0.${i % 5}.1`, dst: '10.9.0.2', srcPort: 2000 + (i % 300), dstPort: 53, payload: 40 }, { ipId: i & 0xffff }));
      b.writeUInt16BE(later ? 185 : 0x2000, 14 + 6);
      return b;
    };
    const events: Array<[number, Buffer]> = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 11 !== 0) events.push([i * 10, frag(i, false)]);
      events.push([(i + 40) * 10 + (i % 7 === 0 ? 40_000 : 1), frag(i, true)]);
    }
    events.sort((a, b) => a[0] - b[0]);
    for (const [ms, data] of events) packets.push({ data, tsSec: T + Math.floor(ms / 1000), tsNs: (ms % 1000) * 1e6 });
    const path = tmp.write('fragments-sharded.pcap', writePcap(packets, { linkType: 1 }));
    const outcome = async (workers: number) => {
      const run = workers === 1 ? await buildFlows([path]) : await buildFlowsSharded([path], { workers, minShardBytes: 16_384 });
      const { files: _f, ...capture } = summarise(run);
      return { capture, flows: run.table.export() };
    };
    const one = await outcome(1);
    expect(one.capture.orphanFragments).toBe(273 + 429 - 39); // missing firsts + timed out, counted once
    for (const workers of [2, 3]) expect(await outcome(workers), `${workers} workers`).toEqual(one);
  });
});

describe.skipIf(skipWithoutTcpdump('gzip streams against zcat | tcpdump'))('a gzip stream that breaks keeps every packet decompressed before the break', () => {
  const packets = Array.from({ length: 5000 }, (_, i) => ({ data: udp(1000 + (i % 50), 60 + ((i * 7) % 200)), tsSec: 1.7e9 + i, tsNs: 0 }));
  const raw = writePcap(packets, { linkType: 1 });
  const gz = gzipSync(raw);
  const half = raw.length >> 1;
  const secondMember = gzipSync(raw.subarray(half));
  const badCrc = Buffer.from(gz);
  badCrc[gz.length - 8]! ^= 0xff;
  const badLength = Buffer.from(gz);
  badLength[gz.length - 1]! ^= 0x01;
  const cases: Array<[string, Buffer, string]> = [
    ['a bad CRC', badCrc, 'gzip-bad-crc'],
    ['a bad length', badLength, 'gzip-bad-length'],
    ['trailing garbage', Buffer.concat([gz, Buffer.from('not another member')]), 'gzip-trailing-garbage'],
    ['a stream cut short', gz.subarray(0, Math.floor(gz.length * 0.7)), 'gzip-unexpected-end'],
    ['a second member cut short', Buffer.concat([gzipSync(raw.subarray(0, half)), secondMember.subarray(0, secondMember.length >> 1)]), 'gzip-unexpected-end'],
  ];
  const zcatTcpdump = async (path: string): Promise<number> => {
    const r = await run('sh', ['-c', `zcat < '${path}' 2>/dev/null | tcpdump -r - 2>/dev/null | wc -l`], { encoding: 'utf8' });
    return Number(r.stdout.trim());
  };

  for (const [what, bytes, reason] of cases) {
    it(`${what}: as many packets as zcat | tcpdump -r -, the break counted as ${reason}`, async () => {
      const path = tmp.write(`${reason}-${bytes.length}.pcap.gz`, bytes);
      const { capture } = await flowsJson(path);
      expect(capture.packets).toBe(await zcatTcpdump(path));
      expect(capture.packets).toBeGreaterThan(0);
      expect(Object.keys(capture.decodeErrors)).toEqual([reason]);
      expect(capture.decodeErrors[reason]!.first[0]!.record).toBe(capture.packets + 1);
      if (reason === 'gzip-bad-crc') {
        // From standard input the same.
        const r = await flowaudit(['flows', '-', '--format', 'json'], { input: bytes });
        expect(r.code).toBe(0);
        expect(checkReport('flows', JSON.parse(r.stdout)).capture.packets).toBe(capture.packets);
      }
    });
  }

  it('corrupt deflate data is counted as gzip-corrupt-data, not as truncated records, and the packets before it are kept', async () => {
    // The first corruption zlib itself rejects (not only the CRC at the end).
    let bytes: Buffer | null = null;
    for (let at = gz.length >> 1; at < gz.length - 100 && bytes === null; at += 97) {
      const b = Buffer.from(gz);
      b[at]! ^= 0xff;
      b[at + 1]! ^= 0x5a;
      try {
        gunzipSync(b);
      } catch (e) {
        if (!(e as Error).message.includes('incorrect data check')) bytes = b;
      }
    }
    expect(bytes).not.toBeNull();
    const { capture } = await flowsJson(tmp.write('corrupt.pcap.gz', bytes!));
    expect(Object.keys(capture.decodeErrors)).toEqual(['gzip-corrupt-data']);
    expect(capture.packets).toBeGreaterThan(1000);
  });

  it('a gzip stream broken before its first byte is refused in one line naming the break', async () => {
    const b = Buffer.from(gz);
    b.fill(0xff, 10, 40);
    const r = await flowaudit(['flows', tmp.write('dead.pcap.gz', b)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^flowaudit: .*dead\.pcap\.gz: corrupt gzip data: .*, before any byte of a capture\n$/);
  });
});

describe('capture strings never carry control characters to a terminal', () => {
  const hostile = 'eth\x1b[2J\x070\u202e';
  const file = (() => {
    const parts: Buffer[] = [];
    const w = new PcapngWriter((b) => parts.push(Buffer.from(b)), { interfaces: [{ linkType: 1, name: hostile }] });
    w.write({ data: udp(1000), tsSec: 1e9, tsNs: 0 });
    w.statistics(0, 1e9, 0, { received: 10, droppedByInterface: 3, droppedByOs: 1 });
    w.flush();
    return Buffer.concat(parts);
  })();

  it('flows text shows the interface name escaped; JSON keeps the real string', async () => {
    const path = tmp.write('hostile.pcapng', file);
    const text = await flowaudit(['flows', path]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('interface 0 (eth\\x1b[2J\\x070\\u202e): dropped 3 by interface, 1 by OS');
    expect(text.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
    const json = await flowaudit(['flows', path, '--format', 'json']);
    expect(json.stdout).toContain('"name": "eth\\u001b[2J\\u00070\u202e"');
    expect(checkReport('flows', JSON.parse(json.stdout)).capture.files[0].interfaces[0].name).toBe(hostile);
  });

  it('file names in the text report and in an error message on stderr are escaped too', async () => {
    const path = tmp.write('bell\x07\x1b]0;title\x07.pcapng', file);
    const text = await flowaudit(['flows', path]);
    expect(text.stdout.split('\n')[0]).toContain('bell\\x07\\x1b]0;title\\x07.pcapng: 1 packets');
    expect(text.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    const missing = await flowaudit(['flows', join(tmp.dir, 'no\x1b[31mfile.pcap')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^flowaudit: .*no\\x1b\[31mfile\.pcap: cannot open: no such file\n$/);
  });

  it('a TFTP file name an inspector read is escaped in the analyze text report and CSV-guarded where it starts a cell', async () => {
    const name = '=cmd|\x1b]0;pwned\x07|\u202eexe.sdi';
    const rrq = frame({ proto: 'udp', src: '10.3.0.50', dst: '10.1.0.30', srcPort: 50001, dstPort: 69, payload: tftpReadRequest(name) });
    const path = tmp.write('tftp.pcap', writePcap([{ data: rrq, tsSec: 1.7e9, tsNs: 0 }, { data: udp(9), tsSec: 1.7e9 + 60, tsNs: 0 }], { linkType: 1 }));
    const text = await flowaudit(['analyze', path, '--catalog', 'sccm2007']);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain('TFTP RRQ =cmd|\\x1b]0;pwned\\x07|'); // the inspector keeps the controls, the report escapes them
    expect(text.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
    const csv = (await flowaudit(['analyze', path, '--catalog', 'sccm2007', '--format', 'csv'])).stdout;
    expect(csv).toContain(name.slice(0, 10)); // CSV keeps the string (quoted by fast-csv), guarded only at a cell's start
    // Number columns stay numbers: the packets and bytes of every flow row are bare integers.
    for (const row of csv.split('\n').slice(1).filter((l) => /^(expected|undocumented|role-mismatch),/.test(l))) expect(row).toMatch(/,\d+,\d+,/);
  });

  it('the escapes: every control, bidi and invisible code point, and nothing else', async () => {
    expect(terminalSafe('plain text, ünïcode, 漢字, emoji 🙂, tab-free')).toBe('plain text, ünïcode, 漢字, emoji 🙂, tab-free');
    expect(terminalSafe('a\tb\nc\rd\x00\x7f\x9b')).toBe('a\\x09b\\x0ac\\x0dd\\x00\\x7f\\x9b');
    expect(terminalSafe('\u200b\u200e\u2066\u2028\ufeff\ud800x\u{e0001}')).toBe('\\u200b\\u200e\\u2066\\u2028\\ufeff\\ud800x\\u{e0001}');
    fc.assert(
      // Any code points, lone surrogates included (fast-check's own binary strings are slow to make).
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 0x2ff }), fc.integer({ min: 0, max: 0x10ffff })), { maxLength: 20 }).map((cps) => String.fromCodePoint(...cps)), (s) => {
        expect(terminalSafe(s)).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u);
      }),
      { numRuns: 1000, seed: 16 },
    );
  });

  it('HTML: markup as entities, bidi overrides and controls as visible escapes; text, tabs and line ends kept', async () => {
    expect(escapeHtml('<b>"x" & \'y\'</b>')).toBe('&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;');
    expect(escapeHtml('ünïcode 漢字 🙂\tline\nnext')).toBe('ünïcode 漢字 🙂\tline\nnext');
    expect(escapeHtml('10.0.0.1\u202e2.0.0.01\x1b[31m\u200b')).toBe('10.0.0.1\\u202e2.0.0.01\\x1b[31m\\u200b');
  });

  it('CSV text cells that would start a formula get a leading quote; others are unchanged', async () => {
    for (const s of ['=HYPERLINK("http://x")', '+1+2', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(csvText(s)).toBe(`'${s}`);
    for (const s of ['', 'TFTP RRQ =x', 'a-b', '10.0.0.1', "'quoted"]) expect(csvText(s)).toBe(s);
  });
});

describe('timestamps past year 9999 and at the ends of 64-bit tick counts', () => {
  const MAX = 0xffffffff;
  // One flow per interface (port 1000 + interface), so each time shows as a flow's start and end.
  const interfaces = [
    { linkType: 1, tsresol: 6 }, // 0: years 9999 and 10000
    { linkType: 1, tsresol: 9 }, // 1: the largest tick count in nanoseconds: year 2554
    { linkType: 1, tsresol: 0 }, // 2: the largest tick count in seconds: clamped
    { linkType: 1, tsresol: 6 }, // 3: the largest tick count in microseconds: clamped
    { linkType: 1, tsresol: 6, tsOffset: -2_000_000_000 }, // 4: before 1970
    { linkType: 1, tsresol: 6 }, // 5: zero
  ];
  const file = (() => {
    const at = (ifIndex: number, tsSec: number, tsNs = 0) => ({ data: udp(1000 + ifIndex), tsSec, tsNs, ifIndex });
    const b = writePcapng([at(0, 253_402_300_799, 999_999_000), at(0, 253_402_300_800), at(1, 0), at(2, 0), at(3, 0), at(4, -2_000_000_000), at(5, 0)], { interfaces });
    const blocks = packetBlocks(b);
    for (const k of [2, 3, 4]) {
      b.writeUInt32LE(MAX, blocks[k]! + 12);
      b.writeUInt32LE(MAX, blocks[k]! + 16);
    }
    return b;
  })();

  it('are written in full (expanded years) or clamped and counted, the same in JSON, CSV and text', async () => {
    const path = tmp.write('times.pcapng', file);
    const { capture, flows } = await flowsJson(path);
    const byPort = (p: number) => flows.find((f) => f.clientPort === p)!;
    expect([byPort(1000).start, byPort(1000).end]).toEqual(['9999-12-31T23:59:59.999999Z', '+010000-01-01T00:00:00.000000Z']);
    expect(byPort(1001).start).toBe('2554-07-21T23:34:33.709551615Z'); // (2^64 - 1) ns
    expect(byPort(1002).start).toBe('+275760-09-13T00:00:00Z');
    expect(byPort(1003).start).toBe('+275760-09-13T00:00:00.000000Z');
    expect(byPort(1004).start).toBe(`${new Date(-2_000_000_000_000).toISOString().slice(0, 19)}.000000Z`);
    expect(byPort(1005).start).toBe('1970-01-01T00:00:00.000000Z');
    expect(capture.decodeErrors['timestamp-out-of-range']!.count).toBe(2);
    // Every one parses back as the same instant (to the millisecond).
    for (const f of flows) expect(new Date(f.start).toISOString().slice(0, -5)).toBe(f.start.replace(/(\.\d+)?Z$/, ''));

    const csv = (await flowaudit(['flows', path, '--format', 'csv'])).stdout;
    const text = (await flowaudit(['flows', path])).stdout;
    for (const f of flows) {
      expect(csv).toContain(`,${f.start},${f.end},`);
      expect(text).toContain(f.start);
    }
  });
});

describe('fuzzing the readers with captures built from hostile parts', () => {
  // Blocks a hostile writer would choose: absurd lengths and counts, options that overrun, unknown
  // types, interface ids past the list, every if_tsresol, huge if_tsoffset, timestamps at the ends.
  const u32 = fc.oneof(fc.constantFrom(0, 1, 4, 12, 0x7fffffff, 0xffffffff, 0x80000000, 65535, 65536), fc.nat());
  const option = fc.record({ code: fc.constantFrom(0, 1, 2, 3, 9, 14, 2988, 65535), len: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(65535, 300)), fill: fc.integer({ min: 0, max: 255 }) });
  const block = fc.oneof(
    fc.record({ kind: fc.constant('idb' as const), linkType: fc.constantFrom(1, 101, 113, 276, 0, 147, 65535), snaplen: u32, options: fc.array(option, { maxLength: 4 }) }),
    fc.record({ kind: fc.constant('epb' as const), ifId: fc.oneof(fc.integer({ min: 0, max: 3 }), u32), hi: u32, lo: u32, cap: fc.oneof(fc.integer({ min: 0, max: 80 }), u32), orig: u32, options: fc.array(option, { maxLength: 2 }) }),
    fc.record({ kind: fc.constant('raw' as const), type: fc.oneof(fc.constantFrom(0x0a0d0d0a, 2, 3, 4, 5, 9, 10, 0xbad, 0x40000bad), u32), body: fc.uint8Array({ maxLength: 64 }), len: fc.option(u32) }),
  );
  const body = Buffer.from(udp(7));

  type Block = typeof block extends fc.Arbitrary<infer T> ? T : never;
  function pcapngOf(blocks: Block[]): Buffer {
    const parts: Buffer[] = [];
    const shb = Buffer.alloc(28);
    shb.writeUInt32LE(0x0a0d0d0a, 0);
    shb.writeUInt32LE(28, 4);
    shb.writeUInt32LE(0x1a2b3c4d, 8);
    shb.writeUInt16LE(1, 12);
    shb.writeBigInt64LE(-1n, 16);
    shb.writeUInt32LE(28, 24);
    parts.push(shb);
    const opts = (list: Array<{ code: number; len: number; fill: number }>) =>
      Buffer.concat(list.map((o) => {
        const v = Buffer.alloc(4 + ((Math.min(o.len, 64) + 3) & ~3), o.fill);
        v.writeUInt16LE(o.code, 0);
        v.writeUInt16LE(o.len, 2);
        return v;
      }));
    for (const b of blocks) {
      let type: number;
      let content: Buffer;
      let len: number | null = null;
      if (b.kind === 'idb') {
        type = 1;
        const head = Buffer.alloc(8);
        head.writeUInt16LE(b.linkType, 0);
        head.writeUInt32LE(b.snaplen, 4);
        content = Buffer.concat([head, opts(b.options)]);
      } else if (b.kind === 'epb') {
        type = 6;
        const head = Buffer.alloc(20);
        head.writeUInt32LE(b.ifId, 0);
        head.writeUInt32LE(b.hi, 4);
        head.writeUInt32LE(b.lo, 8);
        head.writeUInt32LE(b.cap, 12);
        head.writeUInt32LE(b.orig, 16);
        const data = Buffer.alloc((Math.min(b.cap, 80) + 3) & ~3);
        body.copy(data, 0, 0, Math.min(data.length, body.length));
        content = Buffer.concat([head, data, opts(b.options)]);
      } else {
        type = b.type;
        content = Buffer.from(b.body);
        len = b.len;
      }
      const total = 12 + ((content.length + 3) & ~3);
      const out = Buffer.alloc(total);
      out.writeUInt32LE(type, 0);
      out.writeUInt32LE(len ?? total, 4);
      content.copy(out, 8);
      out.writeUInt32LE(len ?? total, total - 4);
      parts.push(out);
    }
    return Buffer.concat(parts);
  }

  it('random block sequences (pcapng) and record headers (pcap) never throw, hang or keep more than the input holds', async () => {
    const pcapRecord = fc.record({ sec: u32, frac: u32, cap: fc.oneof(fc.integer({ min: 0, max: 80 }), u32), orig: u32 });
    const pcapHeader = fc.record({ magic: fc.constantFrom(0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34, 0xd4c3b2a1, 0x4d3cb2a1), snaplen: u32, linkType: fc.oneof(fc.constantFrom(1, 101, 0, 147), u32) });
    let runs = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(block, { maxLength: 12 }).map(pcapngOf),
          fc.tuple(pcapHeader, fc.array(pcapRecord, { maxLength: 12 })).map(([h, rs]) => {
            const head = Buffer.alloc(24);
            head.writeUInt32LE(h.magic, 0);
            head.writeUInt16LE(2, 4);
            head.writeUInt16LE(4, 6);
            head.writeUInt32LE(h.snaplen, 16);
            head.writeUInt32LE(h.linkType, 20);
            return Buffer.concat([head, ...rs.map((r) => {
              const rec = Buffer.alloc(16 + Math.min(r.cap, 80));
              rec.writeUInt32LE(r.sec, 0);
              rec.writeUInt32LE(r.frac, 4);
              rec.writeUInt32LE(r.cap, 8);
              rec.writeUInt32LE(r.orig, 12);
              body.copy(rec, 16, 0, Math.min(r.cap, 80, body.length));
              return rec;
            })]);
          }),
        ),
        fc.integer({ min: 1, max: 512 }),
        async (data, chunk) => {
          if (++runs % 100 === 0) await new Promise((r) => setImmediate(r));
          const damage = new DamageTally();
          let packets = 0;
          let badTime = 0;
          try {
            await readFrom(new MemorySource(data, chunk), 'fuzz', (rec) => {
              packets++;
              if (!(rec.capLen <= rec.buf.length - rec.off) || !(Math.abs(rec.tsSec) <= 8.64e12) || !(rec.tsNs >= 0 && rec.tsNs < 1e9)) badTime++;
            }, { damage });
          } catch (e) {
            expect(e).toBeInstanceOf(InputError);
            return;
          }
          expect(packets).toBeLessThanOrEqual(data.length / 12);
          expect(badTime).toBe(0);
        },
      ),
      { numRuns: 300, seed: 20261203 },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);
});
