/**
 * `flowaudit collect`: Debian's softflowd exports a shared capture to `collect --listen
 * udp:127.0.0.1:PORT`, and the conversations and verdicts of its final report are those of `analyze
 * --input ipfix` of the same export and of `analyze` of the pcap (within what flow export keeps: the
 * pcap's negotiation follow-ups read payload, see test/ipfix-input.test.ts for the differences of
 * the other captures). NetFlow v9 and v5 give the same; garbage datagrams are counted and located;
 * reports come every tick, one JSON line each, and --out is rewritten atomically; past --max-flows
 * the conversations fold and memory holds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeIpfixFile } from '../src/ingest/ipfix/index.js';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';
import { run } from './helpers/run.js';
import { skipWithout, softflowd, softflowdTo } from './helpers/softflowd.js';

const cli = join(repositoryRoot, 'dist/cli/main.js');
const noSoftflowd = skipWithout('softflowd', 'flowaudit collect') || skipWithoutCaptures('flowaudit collect');
const dir = mkdtempSync(join(tmpdir(), 'fa-collect-'));
const ZEROLOGON = join(capturesDir() ?? '', 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');

type Report = Record<string, any>;

interface Collector {
  proc: ChildProcess;
  /** The bound listener, udp:127.0.0.1:PORT. */
  listen: string;
  port: number;
  lines: Report[];
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `flowaudit collect --listen udp:127.0.0.1:0 …`; resolves once it says where it listens. */
function startCollect(args: string[]): Promise<Collector> {
  const proc = spawn(process.execPath, [cli, 'collect', '--listen', 'udp:127.0.0.1:0', '--catalog', 'bmc-cm', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Report[] = [];
  let out = '';
  let all = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    all += b.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Report);
    }
  });
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collect did not listen: ${err}`)), 30_000);
    proc.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /listening on (udp:127\.0\.0\.1:(\d+))\n/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, listen: m[1]!, port: Number(m[2]), lines, stdout: () => all, stderr: () => err, exit });
      }
    });
    void exit.then((code) => reject(new Error(`collect exited ${code}: ${err}`)));
  });
}

/** Datagrams sent from a socket of ours. */
function send(port: number, datagrams: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let left = datagrams.length;
    for (const d of datagrams) s.send(d, port, '127.0.0.1', () => {
      if (--left === 0) s.close(() => resolve());
    });
  });
}

async function analyze(paths: string[], extra: string[] = []): Promise<Report> {
  const r = await run(process.execPath, [cli, 'analyze', ...paths, '--catalog', 'bmc-cm', '--format', 'json', ...extra], { timeout: 120_000, maxBuffer: 1 << 28 });
  expect(r.status, r.stderr).toBe(0);
  return checkReport('analyze', JSON.parse(r.stdout) as Report);
}

/** Each conversation as the audit judged it, without where it was read. */
const judged = (r: Report) => (r.flows as Report[]).map((f) => `${f.proto} ${f.client}:${f.clientPort} → ${f.server}:${f.serverPort} ${f.outcome} ${f.verdict} ${f.rule} ${f.clientPackets}/${f.serverPackets}`).sort();
/** The same without packet counts (the pcap counts what softflowd does, but bytes differ by the link header). */
const verdicts = (r: Report) => (r.flows as Report[]).map((f) => `${f.proto} ${f.client}:${f.clientPort} → ${f.server}:${f.serverPort} ${f.outcome} ${f.verdict} ${f.rule}`).sort();

const GARBAGE = [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0x00]), Buffer.alloc(100, 0xff)];

describe.skipIf(noSoftflowd)('softflowd → flowaudit collect', () => {
  it('IPFIX: the final report at --duration has the conversations and verdicts of analyze --input ipfix of the same export and of analyze of the pcap; garbage is counted and located', async () => {
    const c = await startCollect(['--duration', '4s', '--report-every', '1s', '--format', 'json']);
    await softflowdTo(ZEROLOGON, c.port, '10', ['-a']);
    await send(c.port, GARBAGE);
    expect(await c.exit, c.stderr()).toBe(0);
    const final = c.lines.at(-1)!;
    for (const r of c.lines) checkReport('collect', r);
    // Reports every tick, numbered, the last one final.
    expect(c.lines.length).toBeGreaterThanOrEqual(3);
    expect(c.lines.map((r) => r.collect.report)).toEqual(c.lines.map((_, i) => i + 1));
    expect(final.collect).toMatchObject({ listen: c.listen, final: true, stoppedBy: 'duration', garbage: 3, exporters: 1, conversations: { open: 0, finished: 574, evicted: 0 } });
    expect(c.lines.slice(0, -1).every((r) => r.collect.final === false)).toBe(true);

    // The same export into a file, through analyze --input ipfix: the same conversations, judged alike.
    const file = join(dir, 'zerologon.ipfix');
    await writeIpfixFile(file, await softflowd(ZEROLOGON, '10', ['-a']));
    const [fromFile, pcap] = await Promise.all([analyze([file], ['--input', 'ipfix']), analyze([ZEROLOGON])]);
    expect(judged(final)).toEqual(judged(fromFile));
    expect(final.summary).toEqual(fromFile.summary);
    // And as the pcap judges them: this capture's conversations have no difference (its 286
    // endpoint-mapper follow-ups read payload, which flow export does not carry).
    expect(verdicts(final)).toEqual(verdicts(pcap));
    expect(pcap.requirements.filter((x: Report) => x.followUp === undefined)).toEqual([]);
    expect(final.requirements).toEqual([]);

    // Garbage: three datagrams, each counted and located at the listener, message and byte 0; no loss.
    const errors = final.capture.decodeErrors;
    expect(errors['unknown-version']).toMatchObject({ count: 2, first: [{ file: c.listen, offset: 0 }, { file: c.listen, offset: 0 }] });
    expect(errors['message-truncated']).toMatchObject({ count: 1, first: [{ file: c.listen, offset: 0 }] });
    expect(final.capture.files).toEqual([expect.objectContaining({ file: c.listen, format: 'udp', messages: 37, records: 1148, conversations: 574, unreadable: 0, garbage: 3 })]);
    expect(final.capture.quality.loss).toBeNull();
    expect(final.capture.quality.notes).toContain('3 datagrams were no NetFlow v5, v9 or IPFIX message (see decodeErrors: unknown-version): no exporter\'s, so no loss');
  }, 60_000);

  it('NetFlow v9 and v5 into collect: the conversations of the IPFIX export (v5: its IPv4 ones), with the exporter named by address and domain', async () => {
    const file = join(dir, 'zerologon-v10.ipfix');
    await writeIpfixFile(file, await softflowd(ZEROLOGON, '10', ['-a']));
    const want = verdicts(await analyze([file], ['--input', 'ipfix']));
    for (const version of ['9', '5']) {
      const c = await startCollect(['--duration', '3s', '--report-every', '10s', '--format', 'json']);
      await softflowdTo(ZEROLOGON, c.port, version, ['-a']);
      expect(await c.exit, c.stderr()).toBe(0);
      const final = checkReport('collect', c.lines.at(-1)!);
      expect(verdicts(final), `v${version}`).toEqual(want);
      expect(final.capture.files[0].domains).toEqual([expect.objectContaining({ exporter: '127.0.0.1', version: Number(version), lost: 0, lostUnit: version === '9' ? 'packets' : 'flows' })]);
      expect(final.capture.decodeErrorCount).toBe(0);
    }
    // The HTML report of a collector says so in its heading (csv and html go out at the end).
    const h = await startCollect(['--duration', '2s', '--report-every', '10s', '--format', 'html']);
    await softflowdTo(ZEROLOGON, h.port, '10', ['-a']);
    expect(await h.exit, h.stderr()).toBe(0);
    expect(h.stdout()).toContain('<h1>flowaudit collect</h1>');
  }, 90_000);

  it('text reports every tick and a final one on SIGINT; --out rewritten atomically (a reader only ever sees a whole report); SIGTERM ends too', async () => {
    const out = join(dir, 'report.json');
    const c = await startCollect(['--report-every', '0.3s', '--format', 'json', '--out', out]);
    const reads: string[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        if (existsSync(out)) reads.push(readFileSync(out, 'utf8'));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await softflowdTo(ZEROLOGON, c.port, '10', ['-a']);
    await new Promise((r) => setTimeout(r, 1000));
    c.proc.kill('SIGTERM');
    expect(await c.exit, c.stderr()).toBe(0);
    reading = false;
    await reader;
    expect(reads.length).toBeGreaterThan(20);
    // Every read parses whole; the reports grow as the export comes; the file ends as the final report.
    const docs = reads.map((t) => JSON.parse(t) as Report);
    expect(docs.every((d) => d.collect.listen === c.listen)).toBe(true);
    expect(docs.some((d) => d.summary.flows > 0 && d.summary.flows < 574 || d.collect.conversations.open > 0)).toBe(true);
    const last = checkReport('collect', JSON.parse(readFileSync(out, 'utf8')) as Report);
    expect(last.collect).toMatchObject({ final: true, stoppedBy: 'SIGTERM', conversations: { open: 0, finished: 574 } });
    // No temporary file is left beside it.
    expect(readdirSync(dir).filter((n) => n.startsWith('report.json') && n !== 'report.json')).toEqual([]);

    const t = await startCollect(['--report-every', '0.5s']);
    await softflowdTo(ZEROLOGON, t.port, '10', ['-a']);
    await new Promise((r) => setTimeout(r, 800));
    t.proc.kill('SIGINT');
    expect(await t.exit).toBe(0);
    const text = t.stdout();
    expect(text).toContain(`flowaudit collect — ${t.listen}, report 1 at `);
    expect(text).toMatch(/flowaudit collect — udp:127\.0\.0\.1:\d+, final report \(SIGINT\) at /);
    expect(text.slice(text.lastIndexOf('flowaudit collect —'))).toContain('Flows: 574 — 288 expected, 286 background, 0 undocumented, 0 role mismatch');
  }, 60_000);
});

// ---- hand-built IPFIX: bounded memory -----------------------------------------------------------

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
/** sourceIPv4, destinationIPv4, ports, protocol, tcpControlBits, packets, octets, flowStart/EndMilliseconds. */
const TEMPLATE = Buffer.concat([u16(2), u16(4 + 4 + 10 * 4), u16(256), u16(10), ...[[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [6, 1], [2, 8], [1, 8], [152, 8], [153, 8]].map(([f, l]) => Buffer.concat([u16(f!), u16(l!)]))]);

/** A SYN scan: `clients` hosts each trying `ports` client ports against 10.1.0.1:445, one unanswered SYN a record, 30 records a message, with sequence numbers. */
function scanMessages(clients: number, ports: number): Buffer[] {
  const records: Buffer[] = [];
  const t0 = 1_700_000_000_000;
  for (let c = 0; c < clients; c++) {
    for (let p = 0; p < ports; p++) {
      records.push(Buffer.concat([u32(0x0a000001 + c), u32(0x0a010001), u16(30000 + p), u16(445), Buffer.from([6, 0x02]), u64(1), u64(60), u64(t0 + c * ports + p), u64(t0 + c * ports + p)]));
    }
  }
  const out: Buffer[] = [];
  for (let i = 0; i < records.length; i += 30) {
    const data = Buffer.concat(records.slice(i, i + 30));
    const body = Buffer.concat([TEMPLATE, u16(256), u16(4 + data.length), data]);
    out.push(Buffer.concat([u16(10), u16(16 + body.length), u32(t0 / 1000), u32(i), u32(1), body]));
  }
  return out;
}

describe('collect holds conversations, not records', () => {
  it('past --max-flows the stitcher finishes the idle longest early and the run folds them per scanner and port: every record counted, the bound said', async () => {
    const c = await startCollect(['--max-flows', '1000', '--duration', '4s', '--report-every', '10s', '--format', 'json']);
    const messages = scanMessages(5, 1200);
    // In small batches: a loopback burst bigger than the socket's buffer would be lost (and counted so).
    for (let i = 0; i < messages.length; i += 10) {
      await send(c.port, messages.slice(i, i + 10));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await c.exit, c.stderr()).toBe(0);
    const final = checkReport('collect', c.lines.at(-1)!);
    expect(final.capture.files[0].domains[0]).toMatchObject({ records: 6000, lost: 0 });
    expect(final.collect.conversations.finished).toBe(6000);
    expect(final.collect.conversations.evicted).toBeGreaterThan(0);
    expect(final.capture.packets).toBe(6000);
    // Folded: one record per scanner and port, the bound in the capture section.
    expect(final.capture.flowTable).toMatchObject({ limit: 1000, scanFlows: 6000, scanRecords: 5, dropped: 0 });
    expect(final.flows).toHaveLength(5);
    expect(final.flows.map((f: Report) => f.flows)).toEqual([1200, 1200, 1200, 1200, 1200]);
  }, 60_000);

  it('a burst while the collector is stopped: every datagram is read or counted as dropped by the socket, and drops make absence unproven', async () => {
    const c = await startCollect(['--max-flows', '1000', '--duration', '5s', '--report-every', '10s', '--format', 'json']);
    // 180 000 records in 6 000 datagrams of 30, sent while the collector cannot read (SIGSTOP): more
    // than its socket's receive buffer holds, so the kernel drops the rest, and /proc/net/udp counts them.
    const messages = scanMessages(20, 9000);
    expect(messages).toHaveLength(6000);
    c.proc.kill('SIGSTOP');
    try {
      await send(c.port, messages.slice(0, -1));
    } finally {
      c.proc.kill('SIGCONT');
    }
    // The last message, once the collector reads again: its sequence number shows the gap before it.
    await new Promise((r) => setTimeout(r, 1000));
    await send(c.port, messages.slice(-1));
    expect(await c.exit, c.stderr()).toBe(0);
    const final = checkReport('collect', c.lines.at(-1)!);
    const source = final.capture.files[0];
    expect(source.socketDrops).toBeGreaterThan(0);
    expect(final.collect.datagrams + source.socketDrops).toBe(messages.length);
    expect(source.records).toBe(180_000 - 30 * source.socketDrops);
    expect(final.capture.quality.loss).toBe(`the collector's socket dropped ${source.socketDrops} datagrams of flow export, so absence is not proof`);
    expect(final.capture.quality.notes.filter((n: string) => n.startsWith('!!! DROPS: '))).toEqual([`!!! DROPS: ${source.socketDrops} datagrams were dropped by this host before flowaudit read them (the socket's receive buffer was full)`]);
    // The exporter's sequence numbers show the same loss, once a later message came (a tail lost for
    // good would show in the socket's count only).
    expect(source.domains[0].lost).toBe(30 * source.socketDrops);
  }, 60_000);

  it('errors are one line: a listener that is no udp:[HOST:]PORT, a port in use', async () => {
    const bad = await run(process.execPath, [cli, 'collect', '--listen', 'tcp:9995', '--catalog', 'bmc-cm']);
    expect({ status: bad.status, stderr: bad.stderr }).toEqual({ status: 2, stderr: 'flowaudit: --listen tcp:9995: expected udp:[HOST:]PORT, e.g. udp:9995, udp:127.0.0.1:2055 or udp:[::1]:4739\n' });
    const c = await startCollect(['--duration', '10s']);
    const busy = await run(process.execPath, [cli, 'collect', '--listen', c.listen, '--catalog', 'bmc-cm']);
    expect({ status: busy.status, stderr: busy.stderr }).toEqual({ status: 2, stderr: `flowaudit: --listen ${c.listen}: cannot listen: the port is in use (another collector?)\n` });
    c.proc.kill('SIGTERM');
    await c.exit;
  }, 30_000);
});
