/**
 * IPFIX, NetFlow v9 and v5 as flowaudit reads them. The real peer first: Debian's softflowd exports
 * shared captures to a UDP socket on 127.0.0.1, and the conversations stitched from its records are
 * the ones flowaudit's packet path (`flowaudit flows`) finds in the same capture, packets and bytes per
 * side (softflowd counts the bytes after the link header, the packet path the frames). Then
 * nfdump reads the same export (nfcapd) and counts the same, the datagrams go through an IPFIX file
 * and back, and damaged messages are counted, never thrown.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowExportDecoder, FlowStitcher, plainRecord, readIpfixFile, writeIpfixFile, type ExportRecord } from '../src/ingest/ipfix/index.js';
import type { FlowRecord } from '../src/flow/record.js';
import { PROTO_NAMES } from '../src/flow/columns.js';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';
import { run } from './helpers/run.js';

function has(command: string, arg: string): boolean {
  const r = spawnSync(command, [arg], { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined;
}

function skipWithout(command: string, what: string): boolean {
  if (has(command, '-h')) return false;
  if (process.env.CI === 'true') throw new Error(`${what}: ${command} not found on PATH (apt-get install ${command}); CI=true requires it`);
  console.warn(`[flowaudit tests] ${what} skipped: ${command} not found`);
  return true;
}

const noSoftflowd = skipWithout('softflowd', 'softflowd export') || skipWithoutCaptures('softflowd export');

/**
 * softflowd reading `file` and exporting to a UDP socket of ours on 127.0.0.1; resolves with the
 * datagrams. `-c none`: with a control socket, softflowd 1.1.0 reading a file blocks in accept().
 */
function softflowd(file: string, version: string, extra: string[] = []): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const got: Buffer[] = [];
    socket.on('message', (m) => got.push(m));
    socket.bind(0, '127.0.0.1', () => {
      const port = socket.address().port;
      const pid = join(mkdtempSync(join(tmpdir(), 'softflowd-')), 'pid');
      const child = spawn('softflowd', ['-r', file, '-n', `127.0.0.1:${port}`, '-v', version, '-d', '-c', 'none', '-p', pid, ...extra], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        // The last datagrams may still be on their way through the loopback.
        setTimeout(() => {
          socket.close();
          if (code !== 0) reject(new Error(`softflowd -r ${file} -v ${version} exited ${code}`));
          else resolve(got);
        }, 300);
      });
    });
  });
}

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
          expect(datagrams.length).toBeGreaterThan(0);
          const { decoder, records, flows } = decodeAll(datagrams);
          expect(decoder.damage.toJSON()).toEqual({});
          expect(decoder.stats.lostRecords + decoder.stats.lostPackets + decoder.stats.lostFlows).toBe(0);
          expect(records.length).toBe(decoder.stats.records);
          if (extra.includes('-b')) expect(records.every((r) => r.biflow)).toBe(true);
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
          // Guesses stay rare: at most the UDP conversations between ports of one rank.
          expect(guessed.every((k) => k.startsWith('udp '))).toBe(true);
        });
      }
    });
  }
});

/** Free UDP port on 127.0.0.1 for a peer that binds its own socket (nfcapd). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const noNfdump = noSoftflowd || skipWithout('nfcapd', 'nfdump cross-check') || skipWithout('nfdump', 'nfdump cross-check');

describe.skipIf(noNfdump)('nfcapd/nfdump, receiving the same softflowd export, count the same records', () => {
  const file = join(capturesDir() ?? '', 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
  for (const version of ['10', '9', '5']) {
    it(`v${version}: every record's addresses, ports, protocol, packets and bytes as nfdump prints them`, async () => {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'nfcapd-'));
      const collector = spawn('nfcapd', ['-b', '127.0.0.1', '-p', String(port), '-w', dir], { stdio: 'ignore' });
      try {
        await sleep(700);
        await new Promise<void>((resolve, reject) => {
          const pid = join(dir, 'softflowd.pid');
          const child = spawn('softflowd', ['-r', file, '-n', `127.0.0.1:${port}`, '-v', version, '-d', '-c', 'none', '-p', pid], { stdio: 'ignore' });
          child.on('error', reject);
          child.on('exit', () => resolve());
        });
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
