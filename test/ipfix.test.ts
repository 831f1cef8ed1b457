/**
 * IPFIX, NetFlow v9 and v5 as flowaudit reads them. The real peer first: Debian's softflowd exports
 * shared captures to a UDP socket on 127.0.0.1, and the conversations stitched from its records are
 * the ones flowaudit's packet path (`flowaudit flows`) finds in the same capture, packets and bytes per
 * side (softflowd counts the bytes after the link header, the packet path the frames). Then
 * nfdump reads the same export (nfcapd) and counts the same, the datagrams go through an IPFIX file
 * and back, and damaged messages are counted, never thrown.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExportRecordView, FlowExportDecoder, FlowStitcher, plainRecord, readIpfixFile, readIpfixFlows, writeIpfixFile, type ExportRecord } from '../src/ingest/ipfix/index.js';
import type { FlowRecord } from '../src/flow/record.js';
import { PROTO_NAMES } from '../src/flow/columns.js';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';
import { run } from './helpers/run.js';
import { freeUdpPort, skipWithout, softflowd, softflowdTo } from './helpers/softflowd.js';

const noSoftflowd = skipWithout('softflowd', 'softflowd export') || skipWithoutCaptures('softflowd export');

interface Decoded {
  decoder: FlowExportDecoder;
  records: ExportRecord[];
  flows: FlowRecord[];
}

function decodeAll(datagrams: Buffer[]): Decoded {
  const records: ExportRecord[] = [];
  const flows: FlowRecord[] = [];
  const stitcher = new FlowStitcher({ onFlow: (f) => flows.push(f) });
  const decoder = new FlowExportDecoder({ source: 'udp', onRecord: (v) => { records.push(plainRecord(v)); stitcher.add(v); } });
  for (const d of datagrams) decoder.decodeMessage(d, '127.0.0.1');
  decoder.flush();
  stitcher.flush();
  return { decoder, records, flows };
}

/** A conversation's key with its ends in a fixed order, and the counts of each end. */
function tuple(proto: string, a: string, ap: number | null, b: string, bp: number | null): { key: string; aFirst: boolean } {
  const ea = `${a}:${ap ?? ''}`;
  const eb = `${b}:${bp ?? ''}`;
  return ea <= eb ? { key: `${proto} ${ea} ${eb}`, aFirst: true } : { key: `${proto} ${eb} ${ea}`, aFirst: false };
}

interface Sides {
  packets: [number, number];
  bytes: [number, number];
  flows: number;
  outcomes: string[];
  clients: string[];
  directions: string[];
}

function bySides(flows: FlowRecord[]): Map<string, Sides> {
  const out = new Map<string, Sides>();
  for (const f of flows) {
    const { key, aFirst } = tuple(f.proto, f.client, f.clientPort, f.server, f.serverPort);
    const s = out.get(key) ?? { packets: [0, 0], bytes: [0, 0], flows: 0, outcomes: [], clients: [], directions: [] };
    const [i, j] = aFirst ? [0, 1] : [1, 0];
    s.packets[i] += f.clientPackets;
    s.packets[j] += f.serverPackets;
    s.bytes[i] += f.clientBytes;
    s.bytes[j] += f.serverBytes;
    s.flows++;
    s.outcomes.push(String(f.outcome));
    s.clients.push(`${f.client}:${f.clientPort ?? ''}`);
    s.directions.push(f.direction);
    out.set(key, s);
  }
  return out;
}

async function packetPath(file: string): Promise<{ flows: FlowRecord[]; linkTypes: Record<string, number> }> {
  const r = await run(process.execPath, [join(repositoryRoot, 'dist/cli/main.js'), 'flows', file, '--format', 'json'], { timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { flows: FlowRecord[]; capture: { linkTypes: Record<string, number> } };
  return { flows: out.flows, linkTypes: out.capture.linkTypes };
}

/** Ethernet's header: softflowd counts what follows it, padding included, where the packet path counts the frame. */
const ETHERNET_HEADER = 14;

/** Captures exported: Windows domain traffic (TCP/135, 445, RPC, Kerberos), UDP TFTP, and an IRC session. */
const CAPTURES = [
  'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap',
  'windows/security-datasets/metasploit_logonpasswords_lsass_memory_dump.pcapng',
  'windows/ndpi/tftp.pcap',
  'zeek/irc-basic.pcap',
  'zeek/dce-rpc/cs_window7-join_stream092.pcap',
  'zeek/icmp/5-pings.pcap',
  'zeek/icmp/icmp6-neighbor-solicit.pcap',
  'zeek/ipv6-hbh-routing0.pcap',
];

/**
 * Where the export cannot equal the packet path, by what flow export keeps:
 * - NetFlow v5 has no IPv6 records (RFC-less fixed format: 32-bit addresses);
 * - softflowd's `full` tracking keys ICMP by addresses alone, the packet path by addresses too, so
 *   ICMP matches; non-TCP/UDP/ICMP protocols have no ports either way.
 */
function expectedMissing(version: string, key: string): string | null {
  if (version === '5' && key.split(' ')[1]!.split(':').length > 2) return 'NetFlow v5 carries IPv4 only';
  return null;
}

describe.skipIf(noSoftflowd)('softflowd → decoder → stitcher equals the packet path', () => {
  for (const name of CAPTURES) {
    describe(name, () => {
      const file = join(capturesDir() ?? '', name);
      for (const [version, extra] of [['10', []], ['10', ['-b']], ['9', []], ['5', []]] as Array<[string, string[]]>) {
        const label = `${version === '10' ? 'IPFIX' : `NetFlow v${version}`}${extra.length ? ' biflows (-b)' : ''}`;
        it(`${label}: same conversations, packets and bytes per side, outcomes, no damage, no loss`, async () => {
          const datagrams = await softflowd(file, version, extra);
          const { decoder, records, flows } = decodeAll(datagrams);
          expect(decoder.damage.toJSON()).toEqual({});
          expect(decoder.stats.lostRecords + decoder.stats.lostPackets + decoder.stats.lostFlows).toBe(0);
          expect(records.length).toBe(decoder.stats.records);
          // With -b a conversation seen both ways comes with reverse elements (RFC 5103); softflowd uses
          // its unidirectional template for a one-sided one, and keys ICMP echo request and reply apart
          // (two biflow records, each one-sided, stitched into one conversation).
          if (extra.includes('-b')) {
            const withReverse = new Set(records.filter((r) => r.reversePackets > 0).map((r) => tuple(PROTO_NAMES[r.proto]!, r.src, r.srcPort, r.dst, r.dstPort).key));
            for (const f of flows) if (f.clientPackets > 0 && f.serverPackets > 0) expect(withReverse.has(tuple(f.proto, f.client, f.clientPort, f.server, f.serverPort).key), f.client).toBe(true);
          }
          const ours = bySides(flows);
          const path = await packetPath(file);
          // These captures are untagged Ethernet: the bytes softflowd counts are the frame's less 14.
          expect(Object.keys(path.linkTypes)).toEqual(['1 (ethernet)']);
          expect(path.flows.filter((f) => f.vlan !== undefined || f.tunnel !== undefined)).toEqual([]);
          const packetPathSides = bySides(path.flows);
          const exceptions: string[] = [];
          const guessed: string[] = [];
          for (const [key, want] of packetPathSides) {
            const got = ours.get(key);
            const why = expectedMissing(version, key);
            if (why !== null) {
              if (got === undefined) continue;
              exceptions.push(`${key}: expected missing (${why}) but exported`);
              continue;
            }
            if (got === undefined) {
              exceptions.push(`${key}: not exported`);
              continue;
            }
            expect(got.packets, key).toEqual(want.packets);
            expect(got.bytes, key).toEqual([want.bytes[0] - ETHERNET_HEADER * want.packets[0], want.bytes[1] - ETHERNET_HEADER * want.packets[1]]);
            // One packet-path flow per 5-tuple (no port reuse): the outcome and the client agree too.
            if (want.flows === 1) {
              expect(got.outcomes, key).toEqual(want.outcomes);
              // The one exception: a flow that only its first packet orients (UDP between ports of
              // one rank; the packet path may also have pcapng's capture direction, 'epb-flags').
              // softflowd gives both halves of a conversation the same start time, so export does
              // not keep who sent first, and the stitcher's guess may be the other side.
              if (got.directions[0] === 'first-packet') guessed.push(key);
              else expect(got.clients, key).toEqual(want.clients);
            }
          }
          for (const key of ours.keys()) if (!packetPathSides.has(key)) exceptions.push(`${key}: exported, not in the packet path`);
          expect(exceptions).toEqual([]);
          // Nothing vacuous: every conversation the packet path found was exported, or is a listed exception.
          expect(ours.size + [...packetPathSides.keys()].filter((k) => expectedMissing(version, k) !== null).length).toBe(packetPathSides.size);
          expect(packetPathSides.size).toBeGreaterThan(0);
          // Guesses are never TCP's (its flags decide): UDP between ports of one rank, and ICMPv6 whose
          // type softflowd's biflow records leave 0 (a neighbor solicitation exported as type 0).
          expect(guessed.filter((k) => k.startsWith('tcp '))).toEqual([]);
        });
      }
    });
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const noNfdump = noSoftflowd || skipWithout('nfcapd', 'nfdump cross-check') || skipWithout('nfdump', 'nfdump cross-check');

describe.skipIf(noNfdump)('nfcapd/nfdump, receiving the same softflowd export, count the same records', () => {
  const file = join(capturesDir() ?? '', 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
  for (const version of ['10', '9', '5']) {
    it(`v${version}: every record's addresses, ports, protocol, packets and bytes as nfdump prints them`, async () => {
      const port = await freeUdpPort();
      const dir = mkdtempSync(join(tmpdir(), 'nfcapd-'));
      const collector = spawn('nfcapd', ['-b', '127.0.0.1', '-p', String(port), '-w', dir], { stdio: 'ignore' });
      try {
        await sleep(700);
        await softflowdTo(file, port, version);
        await sleep(500);
      } finally {
        collector.kill('SIGTERM');
        await new Promise((r) => collector.on('exit', r));
      }
      const captured = readdirSync(dir).filter((n) => n.startsWith('nfcapd.'));
      expect(captured.length).toBeGreaterThan(0);
      const lines: string[] = [];
      for (const n of captured) {
        const r = await run('nfdump', ['-r', join(dir, n), '-q', '-o', 'fmt:%sa,%da,%sp,%dp,%pr,%ipkt,%ibyt'], { timeout: 60_000 });
        expect(r.status, r.stderr).toBe(0);
        lines.push(...r.stdout.split('\n').map((l) => l.replace(/\s+/g, '')).filter((l) => l !== ''));
      }
      const { records } = decodeAll(await softflowd(file, version));
      const ours = records.map((r) => `${r.src},${r.dst},${r.srcPort ?? 0},${r.dstPort ?? 0},${(PROTO_NAMES[r.proto] ?? String(r.proto)).toUpperCase()},${r.packets},${r.bytes}`);
      expect(ours.length).toBeGreaterThan(100);
      expect(lines.sort()).toEqual(ours.sort());
    });
  }
});

describe.skipIf(noSoftflowd)('times: softflowd -a (capture time) in each form', () => {
  const file = join(capturesDir() ?? '', 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
  // IPFIX in milliseconds and in sysUpTime with systemInitTimeMilliseconds; v5's header has
  // nanoseconds; v9's header only whole seconds, so its times may be up to a second early.
  for (const [label, version, extra, toleranceMs] of [
    ['IPFIX flowStart/EndMilliseconds', '10', ['-A', 'milli'], 1],
    ['IPFIX flowStart/EndSysUpTime + systemInitTimeMilliseconds', '10', [], 1],
    ['NetFlow v9 sysUpTime + the header Unix seconds', '9', [], 1000],
    ['NetFlow v5 sysUpTime + the header Unix seconds and nanoseconds', '5', [], 1],
  ] as Array<[string, string, string[], number]>) {
    it(`${label}: each conversation starts and ends when the packet path says (within ${toleranceMs} ms)`, async () => {
      const { flows } = decodeAll(await softflowd(file, version, ['-a', ...extra]));
      const path = await packetPath(file);
      const want = new Map(path.flows.map((f) => [tuple(f.proto, f.client, f.clientPort, f.server, f.serverPort).key, f]));
      expect(flows.length).toBe(want.size);
      for (const f of flows) {
        const w = want.get(tuple(f.proto, f.client, f.clientPort, f.server, f.serverPort).key)!;
        expect(Math.abs(Date.parse(f.start!) - Date.parse(w.start!)), f.start!).toBeLessThanOrEqual(toleranceMs);
        expect(Math.abs(Date.parse(f.end!) - Date.parse(w.end!)), f.end!).toBeLessThanOrEqual(toleranceMs);
      }
    });
  }
});

describe.skipIf(noSoftflowd)('IPFIX files (RFC 5655)', () => {
  it('softflowd datagrams written into a file read back as the same records, with garbage between messages skipped and counted', async () => {
    const file = join(capturesDir() ?? '', 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
    const datagrams = await softflowd(file, '10', ['-b']);
    const direct = decodeAll(datagrams).records;
    const dir = mkdtempSync(join(tmpdir(), 'ipfix-file-'));
    const path = join(dir, 'export.ipfix');
    expect(await writeIpfixFile(path, datagrams)).toBe(datagrams.length);
    const reader = readIpfixFile(path);
    const back: ExportRecord[] = [];
    for await (const r of reader) back.push(r);
    expect(reader.decoder.damage.toJSON()).toEqual({});
    const strip = (r: ExportRecord) => ({ ...r, exporter: '', offset: 0 });
    expect(back.map(strip)).toEqual(direct.map(strip));
    expect(back[1]!.offset).toBeGreaterThan(0);
    // Stitched while read: the same conversations as from the datagrams.
    const flows: FlowRecord[] = [];
    const flowReader = readIpfixFlows(path);
    for await (const f of flowReader) flows.push(f);
    expect(flows).toEqual(decodeAll(datagrams).flows);
    expect(flowReader.stitcher.stats.biflows).toBeGreaterThan(0);

    // The same messages with 7 garbage bytes after the third: every record still read, the skip located.
    const damaged = join(dir, 'damaged.ipfix');
    const third = datagrams.slice(0, 3).reduce((n, d) => n + d.length, 0);
    writeFileSync(damaged, Buffer.concat([...datagrams.slice(0, 3), Buffer.from('garbage'), ...datagrams.slice(3)]));
    const again = readIpfixFile(damaged);
    let n = 0;
    for await (const _ of again) n++;
    expect(n).toBe(direct.length);
    expect(again.decoder.damage.toJSON()['file-resync']).toEqual({ count: 1, first: [{ file: damaged, record: 4, offset: third }] });
  });
});

// ---- messages built by hand: damage, templates, loss -------------------------------------------

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };

function ipfix(seq: number, sets: Buffer[], domain = 1, exportTime = 1_800_000_000): Buffer {
  const body = Buffer.concat(sets);
  return Buffer.concat([u16(10), u16(16 + body.length), u32(exportTime), u32(seq), u32(domain), body]);
}
function set(id: number, body: Buffer): Buffer {
  return Buffer.concat([u16(id), u16(4 + body.length), body]);
}
/** A template record: [id, length, enterprise?] per field. */
function template(id: number, fields: Array<[number, number, number?]>): Buffer {
  return Buffer.concat([u16(id), u16(fields.length), ...fields.map(([f, l, pen]) => (pen ? Buffer.concat([u16(f | 0x8000), u16(l), u32(pen)]) : Buffer.concat([u16(f), u16(l)])))]);
}

/** sourceIPv4, destinationIPv4, ports, protocol, tcpControlBits, packets, octets, start/end ms, and an enterprise element of variable length. */
const FLOW_FIELDS: Array<[number, number, number?]> = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [6, 1], [2, 8], [1, 8], [152, 8], [153, 8], [77, 0xffff, 9999]];
function flowData(src: number, sport: number, dst: number, dport: number, flags: number, packets: number, bytes: number, start: number, vendor = 'x'): Buffer {
  const v = Buffer.from(vendor);
  return Buffer.concat([u32(src), u32(dst), u16(sport), u16(dport), Buffer.from([6, flags]), u64(packets), u64(bytes), u64(start), u64(start + 500), Buffer.from([v.length]), v]);
}
const A = 0x0a000001; // 10.0.0.1
const B = 0x0a000002; // 10.0.0.2

function decodeMessages(messages: Buffer[]): Decoded {
  return decodeAll(messages);
}

describe('IPFIX messages: templates, biflows, damage and loss (built by hand)', () => {
  it('a SYN-opened conversation in two unidirectional records is one established flow with its client; the enterprise element is skipped by its length', () => {
    const m = ipfix(0, [
      set(2, template(256, FLOW_FIELDS)),
      set(256, Buffer.concat([flowData(A, 50000, B, 445, 0x1b, 10, 1000, 1_800_000_000_000, 'a longer vendor value'), flowData(B, 445, A, 50000, 0x1b, 8, 4000, 1_800_000_000_001)])),
    ]);
    const { decoder, records, flows } = decodeMessages([m]);
    expect(decoder.damage.toJSON()).toEqual({});
    expect(records.map((r) => [r.src, r.srcPort, r.packets, r.bytes])).toEqual([['10.0.0.1', 50000, 10, 1000], ['10.0.0.2', 445, 8, 4000]]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ client: '10.0.0.1', clientPort: 50000, server: '10.0.0.2', serverPort: 445, clientPackets: 10, serverBytes: 4000, outcome: 'established', direction: 'syn', clientFlags: 'SAFP' });
  });

  it('a SYN never answered is attempted; a SYN answered only by RST-ACK is rejected', () => {
    const m = ipfix(0, [
      set(2, template(256, FLOW_FIELDS)),
      set(256, Buffer.concat([flowData(A, 50001, B, 139, 0x02, 3, 180, 1_800_000_000_000), flowData(A, 50002, B, 3389, 0x02, 1, 60, 1_800_000_000_000), flowData(B, 3389, A, 50002, 0x14, 1, 40, 1_800_000_000_001)])),
    ]);
    const { flows } = decodeMessages([m]);
    expect(flows.map((f) => [f.serverPort, f.outcome, f.client])).toEqual([[139, 'attempted', '10.0.0.1'], [3389, 'rejected', '10.0.0.1']]);
  });

  it('an RFC 5103 biflow (reverse elements, enterprise 29305) gives both sides in one record', () => {
    const fields: Array<[number, number, number?]> = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [6, 1], [2, 4], [1, 4], [2, 4, 29305], [1, 4, 29305], [6, 1, 29305], [150, 4], [151, 4]];
    const data = Buffer.concat([u32(A), u32(B), u16(50000), u16(135), Buffer.from([6, 0x1b]), u32(5), u32(500), u32(4), u32(900), Buffer.from([0x1b]), u32(1_800_000_000), u32(1_800_000_002)]);
    const { records, flows } = decodeMessages([ipfix(0, [set(2, template(300, fields)), set(300, data)])]);
    expect(records[0]).toMatchObject({ biflow: true, reversePackets: 4, reverseBytes: 900, startMs: 1_800_000_000_000, endMs: 1_800_000_002_000 });
    expect(flows[0]).toMatchObject({ client: '10.0.0.1', serverPort: 135, clientPackets: 5, serverPackets: 4, serverBytes: 900, outcome: 'established', duration: 2 });
  });

  it('a template that changes mid-stream is counted and the new fields are used from then on', () => {
    const first = ipfix(0, [set(2, template(256, FLOW_FIELDS)), set(256, flowData(A, 1, B, 2, 0, 1, 100, 1_800_000_000_000))]);
    // Same id, now the destination first and 4-byte counters.
    const changed: Array<[number, number, number?]> = [[12, 4], [8, 4], [7, 2], [11, 2], [4, 1], [2, 4], [1, 4]];
    const second = ipfix(1, [set(2, template(256, changed)), set(256, Buffer.concat([u32(B), u32(A), u16(3), u16(4), Buffer.from([17]), u32(2), u32(200)]))]);
    const { decoder, records } = decodeMessages([first, second]);
    expect(decoder.stats.templateChanges).toBe(1);
    expect(records.map((r) => [r.src, r.dst, r.proto, r.packets, r.bytes])).toEqual([['10.0.0.1', '10.0.0.2', 6, 1, 100], ['10.0.0.1', '10.0.0.2', 17, 2, 200]]);
    expect(decoder.damage.toJSON()).toEqual({});
  });

  it('data before its template waits and is decoded when the template comes; a template that never comes is counted unknown-template where the data was', () => {
    const early = ipfix(0, [set(256, flowData(A, 1, B, 2, 0, 7, 700, 1_800_000_000_000)), set(257, flowData(A, 5, B, 6, 0, 1, 1, 1_800_000_000_000))]);
    const late = ipfix(2, [set(2, template(256, FLOW_FIELDS))]);
    const { decoder, records } = decodeMessages([early, late]);
    expect(records.map((r) => r.packets)).toEqual([7]);
    expect(decoder.stats.pendingDecoded).toBe(1);
    // Set 257 of message 1, at byte 16 + the first set's length.
    expect(decoder.damage.toJSON()).toEqual({ 'unknown-template': { count: 1, first: [{ file: 'udp', record: 1, offset: 16 + 4 + flowData(A, 1, B, 2, 0, 7, 700, 0).length + 4 }] } });
  });

  it('a withdrawn template (field count 0) decodes nothing more; withdrawing all (id 2) too', () => {
    const t = ipfix(0, [set(2, template(256, FLOW_FIELDS)), set(2, template(257, FLOW_FIELDS))]);
    const withdraw = ipfix(0, [set(2, Buffer.concat([u16(256), u16(0)]))]);
    const data = ipfix(0, [set(256, flowData(A, 1, B, 2, 0, 1, 1, 0)), set(257, flowData(A, 1, B, 2, 0, 1, 1, 0))]);
    const all = ipfix(1, [set(2, Buffer.concat([u16(2), u16(0)]))]);
    const data2 = ipfix(1, [set(257, flowData(A, 1, B, 2, 0, 1, 1, 0))]);
    const { decoder, records } = decodeMessages([t, withdraw, data, all, data2]);
    expect(records).toHaveLength(1);
    expect(decoder.stats.withdrawals).toBe(2);
    expect(decoder.damage.counts.get('unknown-template')).toBe(2);
  });

  it('sequence-number gaps are lost records (IPFIX), lost packets (v9) and lost flows (v5)', () => {
    const data = (seq: number) => ipfix(seq, [set(2, template(256, FLOW_FIELDS)), set(256, Buffer.concat([flowData(A, 1, B, 2, 0, 1, 1, 0), flowData(A, 1, B, 2, 0, 1, 1, 0)]))]);
    // RFC 7011: seq counts the records before the message; 0, 2, 4, then 10 where 6 was due: 4 records lost.
    const ipfixRun = decodeMessages([data(0), data(2), data(4), data(10)]);
    expect(ipfixRun.decoder.stats.lostRecords).toBe(4);
    const v9 = (seq: number) => Buffer.concat([u16(9), u16(0), u32(1000), u32(1_800_000_000), u32(seq), u32(7)]);
    expect(decodeMessages([v9(1), v9(2), v9(5), v9(6)]).decoder.stats.lostPackets).toBe(2);
    const v5 = (seq: number, count: number) => {
      const header = Buffer.concat([u16(5), u16(count), u32(1000), u32(1_800_000_000), u32(0), u32(seq), Buffer.from([0, 0]), u16(0x4000 | 100)]);
      const rec = Buffer.concat([u32(A), u32(B), u32(0), u16(0), u16(0), u32(3), u32(300), u32(900), u32(1000), u16(1234), u16(53), Buffer.from([0, 0, 17, 0]), Buffer.alloc(8)]);
      return Buffer.concat([header, ...Array.from({ length: count }, () => rec)]);
    };
    const run5 = decodeMessages([v5(0, 2), v5(2, 1), v5(10, 1)]);
    expect(run5.decoder.stats.lostFlows).toBe(7);
    const [domain] = run5.decoder.domainStates();
    expect(domain).toMatchObject({ version: 5, sampling: 100, samplingSource: 'v5-header', lost: 7 });
    expect(run5.records[0]).toMatchObject({ samplingInterval: 100, startMs: 1_800_000_000_000 - 100, endMs: 1_800_000_000_000 });
  });

  it('sampling stated in an options record (samplingPacketInterval/Space) is the domain\'s and every record\'s', () => {
    const options = Buffer.concat([u16(258), u16(3), u16(1), u16(149), u16(4), u16(305), u16(4), u16(306), u16(4)]);
    const m = ipfix(0, [set(3, options), set(258, Buffer.concat([u32(1), u32(1), u32(99)])), set(2, template(256, FLOW_FIELDS)), set(256, flowData(A, 1, B, 2, 0, 1, 1, 0))]);
    const { decoder, records } = decodeMessages([m]);
    expect(decoder.stats.optionsRecords).toBe(1);
    expect(decoder.domainStates()[0]).toMatchObject({ sampling: 100, samplingSource: 'options-record' });
    expect(records[0]!.samplingInterval).toBe(100);
  });

  it('a truncated set keeps its complete records; garbage datagrams and a short header are counted', () => {
    const whole = ipfix(0, [set(2, template(256, FLOW_FIELDS)), set(256, Buffer.concat([flowData(A, 1, B, 2, 0, 1, 1, 0), flowData(A, 3, B, 4, 0, 1, 1, 0)]))]);
    const cut = whole.subarray(0, whole.length - 5);
    const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { decoder, records } = decodeMessages([cut, garbage, Buffer.from([0, 10, 0])]);
    expect(records.map((r) => r.srcPort)).toEqual([1]);
    // The cut record is part of the set-truncated count (what is left of it is shorter than a record).
    expect([...decoder.damage.counts.keys()].sort()).toEqual(['message-truncated', 'set-truncated', 'unknown-version']);
  });
});

describe('fuzz: damaged messages are counted, never thrown, in bounded time', () => {
  const good = [
    ipfix(0, [set(2, template(256, FLOW_FIELDS)), set(3, Buffer.concat([u16(258), u16(2), u16(1), u16(149), u16(4), u16(160), u16(8)])), set(258, Buffer.concat([u32(1), u64(1_700_000_000_000)])), set(256, Buffer.concat([flowData(A, 1, B, 2, 0x12, 1, 1, 0), flowData(B, 2, A, 1, 0x12, 1, 1, 0)]))]),
    Buffer.concat([u16(9), u16(2), u32(1000), u32(1_800_000_000), u32(1), u32(7), set(0, Buffer.concat([u16(256), u16(3), u16(8), u16(4), u16(12), u16(4), u16(2), u16(4)])), set(256, Buffer.concat([u32(A), u32(B), u32(9)]))]),
    Buffer.concat([u16(5), u16(1), u32(1000), u32(1_800_000_000), u32(0), u32(0), u32(0), Buffer.alloc(48, 7)]),
  ];
  const mutated = fc.tuple(fc.constantFrom(...good), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.option(fc.nat()))
    .map(([m, flips, cut]) => {
      const b = Buffer.from(m);
      for (const [at, value] of flips) b[at % b.length] = value;
      return cut === null ? b : b.subarray(0, cut % (b.length + 1));
    });

  it('mutated and truncated IPFIX, v9 and v5 messages', () => {
    fc.assert(fc.property(fc.array(mutated, { minLength: 1, maxLength: 8 }), (messages) => {
      const t0 = performance.now();
      const { decoder } = decodeAll(messages);
      expect(performance.now() - t0).toBeLessThan(500);
      expect(decoder.stats.messages).toBeLessThanOrEqual(messages.length);
    }), { numRuns: 2000 });
  });

  it('random bytes, and an IPFIX file of random bytes and mutated messages', async () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      decodeAll([Buffer.from(bytes)]);
    }), { numRuns: 2000 });
    const dir = mkdtempSync(join(tmpdir(), 'ipfix-fuzz-'));
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))), { maxLength: 10 }), async (parts) => {
      const path = join(dir, 'f.ipfix');
      writeFileSync(path, Buffer.concat(parts));
      const reader = readIpfixFile(path);
      for await (const _ of reader) { /* counted, never thrown */ }
      expect(reader.decoder.stats.messages).toBeLessThanOrEqual(parts.length * 64);
    }), { numRuns: 200 });
  });
});

describe('the stitcher holds conversations, not records', () => {
  function record(sport: number, startMs: number, packets = 1): ExportRecordView {
    const v = new ExportRecordView();
    v.reset();
    v.ipVersion = 4;
    v.src[0] = A;
    v.dst[0] = B;
    v.srcPort = sport;
    v.dstPort = 53;
    v.proto = 17;
    v.packets = packets;
    v.bytes = packets * 100;
    v.startMs = startMs;
    v.endMs = startMs + 10;
    return v;
  }

  it('past its bound the longest idle conversations are finished first, and counted', () => {
    const flows: FlowRecord[] = [];
    const s = new FlowStitcher({ onFlow: (f) => flows.push(f), maxConversations: 2 });
    s.add(record(1001, 0));
    s.add(record(1002, 1));
    s.add(record(1001, 2));
    s.add(record(1003, 3));
    // Of two, the eighth idle longest is the one: 1002 (1001 was active again at 2).
    expect(s.size).toBe(2);
    expect(s.stats.evicted).toBe(1);
    expect(flows.map((f) => [f.clientPort, f.packets])).toEqual([[1002, 1]]);
    s.flush();
    expect(flows.map((f) => [f.clientPort, f.packets])).toEqual([[1002, 1], [1001, 2], [1003, 1]]);
  });

  it('a 5-tuple seen again after the idle timeout is a new conversation; expire() finishes idle ones by the records\' clock', () => {
    const flows: FlowRecord[] = [];
    const s = new FlowStitcher({ onFlow: (f) => flows.push(f), idleMs: 1000 });
    s.add(record(1001, 0, 3));
    s.add(record(1001, 5000, 4));
    expect(flows.map((f) => f.packets)).toEqual([3]);
    s.add(record(1002, 5100));
    s.add(record(1003, 9000));
    s.expire();
    expect(flows.map((f) => f.packets)).toEqual([3, 4, 1]);
    expect(s.size).toBe(1);
    expect(s.stats).toMatchObject({ records: 4, conversations: 4 });
  });

  it('a template not refreshed for the template lifetime expires (counted) and its data waits like unknown data', () => {
    const t = ipfix(0, [set(2, template(256, FLOW_FIELDS))], 1, 1_800_000_000);
    const late = ipfix(0, [set(256, flowData(A, 1, B, 2, 0, 1, 1, 0))], 1, 1_800_000_000 + 36 * 60);
    const { decoder, records } = decodeAll([t, late]);
    expect(records).toHaveLength(0);
    expect(decoder.stats.expiredTemplates).toBe(1);
    expect([...decoder.damage.counts.keys()].sort()).toEqual(['template-expired', 'unknown-template']);
  });
});
