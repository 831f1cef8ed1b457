/**
 * flowaudit's flows as IPFIX (src/ingest/ipfix/encode.ts), read back by flowaudit's own decoder and
 * stitcher: the flows of real captures and of the samples come back as the same conversations (ends,
 * ports, packets and bytes per side, flags, outcome, direction evidence, ICMP type and code, VLAN,
 * times to the millisecond); random flows too (fast-check), for any message bound. Messages keep the
 * bound, number their data records, and carry their templates again after a refresh, so a collector
 * that starts late still reads everything.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIPv4, formatIPv6 } from '../src/core/addr.js';
import { u16be, u32be } from '../src/core/bytes.js';
import { formatIso } from '../src/core/time.js';
import { PROTO_NAMES } from '../src/flow/columns.js';
import { buildFlows } from '../src/flow/pipeline.js';
import { FLAG_TEXT, type FlowRecord } from '../src/flow/record.js';
import { DIRECTION_CODES, encodeFlows, FlowExportDecoder, FlowStitcher, IpfixEncoder, OUTCOME_CODES, type EncoderOptions } from '../src/ingest/ipfix/index.js';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';

/** Messages through the decoder and the stitcher, as a collector of flowaudit's export would read them. */
function readBack(messages: Uint8Array[]): { flows: FlowRecord[]; decoder: FlowExportDecoder } {
  const flows: FlowRecord[] = [];
  const stitcher = new FlowStitcher({ onFlow: (f) => flows.push(f) });
  const decoder = new FlowExportDecoder({ source: 'export', onRecord: (v) => stitcher.add(v) });
  for (const m of messages) decoder.decodeMessage(m, '127.0.0.1');
  decoder.flush();
  stitcher.flush();
  return { flows, decoder };
}

const msOf = (t: string | null) => (t === null ? null : Math.floor(Date.parse(t)));

/** What export keeps of a flow: everything a conversation is judged by; times to the millisecond. */
function kept(f: FlowRecord): Record<string, unknown> {
  return {
    proto: f.proto, protoNumber: f.protoNumber, ipVersion: f.ipVersion, client: f.client, clientPort: f.clientPort, server: f.server, serverPort: f.serverPort,
    packets: f.packets, bytes: f.bytes, clientPackets: f.clientPackets, clientBytes: f.clientBytes, serverPackets: f.serverPackets, serverBytes: f.serverBytes,
    outcome: f.outcome, direction: f.direction, clientFlags: f.clientFlags, serverFlags: f.serverFlags, icmpType: f.icmpType, icmpCode: f.icmpCode, vlan: f.vlan,
    // The original's end is its start plus the duration (its text may carry nanoseconds Date.parse drops).
    start: msOf(f.start), end: f.start === null ? null : f.startSec * 1000 + Math.floor((f.startNs + Math.round(f.duration * 1e9)) / 1e6),
  };
}
/** The stitched side: its times are already milliseconds. */
function back(f: FlowRecord): Record<string, unknown> {
  return { ...kept(f), end: msOf(f.end) };
}

/** A conversation's 5-tuple with its ends in a fixed order (the stitcher keys ICMP by addresses). */
function tupleKey(f: FlowRecord): string {
  const a = `${f.client}|${f.clientPort ?? ''}`;
  const b = `${f.server}|${f.serverPort ?? ''}`;
  return `${f.protoNumber} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
}

/** The flows whose 5-tuple is theirs alone: two flows on one 5-tuple (a port reused) are one conversation to a collector. */
function alone(flows: FlowRecord[]): FlowRecord[] {
  const n = new Map<string, number>();
  for (const f of flows) n.set(tupleKey(f), (n.get(tupleKey(f)) ?? 0) + 1);
  return flows.filter((f) => n.get(tupleKey(f)) === 1);
}

function expectSameConversations(original: FlowRecord[], stitched: FlowRecord[]): void {
  const want = new Map(original.map((f) => [tupleKey(f), kept(f)]));
  const got = new Map(stitched.map((f) => [tupleKey(f), back(f)]));
  expect(got.size).toBe(stitched.length);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) expect(got.get(k), k).toEqual(w);
}

const skip = skipWithoutCaptures('IPFIX export round trip');

/** The samples (VLANs, GRE/ERSPAN tunnels, refused and unanswered TCP, UDP, ICMP) and shared captures (IPv6, ICMPv6, RPC, TFTP). */
const CAPTURES = [
  join(repositoryRoot, 'samples/bmc-cm-site.pcapng'),
  join(repositoryRoot, 'samples/mirror-port.pcapng'),
  join(repositoryRoot, 'samples/sccm2007-site.pcapng'),
  join(repositoryRoot, 'samples/itms8-site.pcapng'),
  join(repositoryRoot, 'samples/cam-site.pcapng'),
  ...['windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap', 'windows/ndpi/tftp.pcap', 'zeek/icmp/5-pings.pcap', 'zeek/icmp/icmp6-neighbor-solicit.pcap', 'zeek/ipv6-hbh-routing0.pcap', 'zeek/irc-basic.pcap'].map((n) => join(capturesDir() ?? '', n)),
];

describe.skipIf(skip)("a capture's flows, exported and read back, are the same conversations", () => {
  it.each(CAPTURES)('%s', async (file) => {
    const flows = (await buildFlows([file])).table.export();
    const single = alone(flows);
    // Port reuse is rare: nearly every flow is compared.
    expect(single.length).toBeGreaterThanOrEqual(Math.ceil(flows.length * 0.9));
    const messages = encodeFlows(single, { clock: () => 1_800_000_000_000 });
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(1400);
    const { flows: stitched, decoder } = readBack(messages);
    expect(decoder.damage.toJSON()).toEqual({});
    expect(decoder.stats.lostRecords).toBe(0);
    expect(decoder.stats.records).toBe(single.length);
    expectSameConversations(single, stitched);
  });
});

// ---- random flows ----------------------------------------------------------------------------

const word = fc.integer({ min: 0, max: 0xffffffff });
const v4Address = word.map((w) => formatIPv4(w >>> 0));
const v6Address = fc.tuple(word, word, word, word).map(([a, b, c, d]) => formatIPv6(a, b, c, d));
const count = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 48 }));
const time = fc.option(fc.record({ sec: fc.integer({ min: 946_684_800, max: 4_000_000_000 }), ns: fc.integer({ min: 0, max: 999_999_999 }), durationUs: fc.integer({ min: 0, max: 86_400_000_000 }) }), { nil: null, freq: 8 });

const flowArb = fc
  .record({
    six: fc.boolean(),
    a: fc.tuple(v4Address, v6Address),
    b: fc.tuple(v4Address, v6Address),
    kind: fc.constantFrom('tcp', 'udp', 'icmp', 'other'),
    clientPort: fc.integer({ min: 0, max: 65535 }),
    serverPort: fc.integer({ min: 0, max: 65535 }),
    icmpType: fc.integer({ min: 0, max: 255 }),
    icmpCode: fc.integer({ min: 0, max: 255 }),
    otherProto: fc.constantFrom(47, 50, 51, 132, 2, 89),
    counts: fc.tuple(count, count, count, count),
    flags: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })),
    outcome: fc.integer({ min: 0, max: OUTCOME_CODES.length }),
    direction: fc.constantFrom(...DIRECTION_CODES),
    vlan: fc.option(fc.integer({ min: 0, max: 4095 }), { nil: undefined }),
    time,
  })
  .map((g): FlowRecord => {
    const protoNumber = g.kind === 'tcp' ? 6 : g.kind === 'udp' ? 17 : g.kind === 'icmp' ? (g.six ? 58 : 1) : g.otherProto;
    const withPorts = g.kind === 'tcp' || g.kind === 'udp' || protoNumber === 132;
    // A side that sent no packet sent no bytes, and a flow has a packet.
    const [cp, cb, sp, sb] = g.counts;
    const clientPackets = cp;
    const serverPackets = cp === 0 && sp === 0 ? 1 : sp;
    const clientBytes = clientPackets === 0 ? 0 : cb;
    const serverBytes = serverPackets === 0 ? 0 : sb;
    const t = g.time;
    const start = t === null ? null : formatIso(t.sec, t.ns, 9);
    const end = t === null ? null : formatIso(t.sec + Math.floor((t.ns + t.durationUs * 1000) / 1e9), (t.ns + t.durationUs * 1000) % 1e9, 9);
    const r: FlowRecord = {
      proto: PROTO_NAMES[protoNumber]!, protoNumber, ipVersion: g.six ? 6 : 4, client: g.six ? g.a[1] : g.a[0], server: g.six ? g.b[1] : g.b[0],
      clientPort: withPorts ? g.clientPort : null, serverPort: withPorts ? g.serverPort : null,
      packets: clientPackets + serverPackets, bytes: clientBytes + serverBytes, clientPackets, clientBytes, serverPackets, serverBytes,
      start, end, duration: t === null ? 0 : t.durationUs / 1e6,
      // UDP's one outcome is a refusal; TCP has all four; others none.
      outcome: g.kind === 'tcp' ? (OUTCOME_CODES[g.outcome % OUTCOME_CODES.length] ?? null) : g.kind === 'udp' && g.outcome === 3 ? 'rejected' : null,
      direction: g.direction, firstFile: 0, firstFrame: 0, lastFile: 0, lastFrame: 0, startSec: t?.sec ?? 0, startNs: t?.ns ?? 0,
    };
    if (g.kind === 'tcp') {
      // A side that sent nothing showed no flags.
      r.clientFlags = FLAG_TEXT[clientPackets === 0 ? 0 : g.flags[0]]!;
      r.serverFlags = FLAG_TEXT[serverPackets === 0 ? 0 : g.flags[1]]!;
    }
    if (g.kind === 'icmp') {
      r.icmpType = g.icmpType;
      r.icmpCode = g.icmpCode;
    }
    if (g.vlan !== undefined) r.vlan = g.vlan;
    return r;
  });

describe('random flows, exported and read back', () => {
  it('are the same conversations for any message bound, within the bound, numbered by their data records', () => {
    fc.assert(
      fc.property(fc.uniqueArray(flowArb, { selector: tupleKey, maxLength: 120 }), fc.integer({ min: 256, max: 9000 }), (flows, max) => {
        // A client and server on one address and port are one end to a 5-tuple.
        const distinct = flows.filter((f) => `${f.client}|${f.clientPort}` !== `${f.server}|${f.serverPort}`);
        const messages = encodeFlows(distinct, { maxMessageBytes: max, clock: () => 1_800_000_000_000 });
        let seq = 0;
        const { flows: stitched, decoder } = readBack(messages);
        for (const m of messages) {
          expect(m.length).toBeLessThanOrEqual(max);
          expect(u16be(m, 0)).toBe(10);
          expect(u16be(m, 2)).toBe(m.length);
          expect(u32be(m, 8)).toBe(seq);
          seq += records(m);
        }
        expect(seq).toBe(distinct.length);
        expect(decoder.damage.toJSON()).toEqual({});
        expect(decoder.stats.lostRecords).toBe(0);
        expectSameConversations(distinct, stitched);
      }),
      { numRuns: 300 },
    );
  });
});

/** The data records of a message by walking its sets (their templates' lengths from the message's own template sets, or earlier ones). */
const recordLengths = new Map<number, number>();
function records(m: Uint8Array): number {
  let n = 0;
  for (let p = 16; p < m.length; ) {
    const id = u16be(m, p);
    const len = u16be(m, p + 2);
    if (id === 2) {
      for (let q = p + 4; q < p + len; ) {
        const tid = u16be(m, q);
        const fields = u16be(m, q + 2);
        let size = 0;
        q += 4;
        for (let i = 0; i < fields; i++) {
          size += u16be(m, q + 2);
          q += u16be(m, q) & 0x8000 ? 8 : 4;
        }
        recordLengths.set(tid, size);
      }
    } else n += (len - 4) / recordLengths.get(id)!;
    p += len;
  }
  return n;
}

/** Template ids in a message's template sets. */
function templatesIn(m: Uint8Array): number[] {
  const ids: number[] = [];
  for (let p = 16; p < m.length; p += u16be(m, p + 2)) {
    if (u16be(m, p) !== 2) continue;
    for (let q = p + 4; q < p + u16be(m, p + 2); ) {
      ids.push(u16be(m, q));
      const fields = u16be(m, q + 2);
      q += 4;
      for (let i = 0; i < fields; i++) q += u16be(m, q) & 0x8000 ? 8 : 4;
    }
  }
  return ids;
}

const tcpFlow = (i: number): FlowRecord => ({
  proto: 'tcp', protoNumber: 6, ipVersion: 4, client: formatIPv4(0x0a000000 + i), clientPort: 50000, server: '10.1.0.1', serverPort: 443,
  packets: 10, bytes: 1000, clientPackets: 6, clientBytes: 400, serverPackets: 4, serverBytes: 600, start: '2027-01-15T08:00:00.000Z', end: '2027-01-15T08:00:01.000Z',
  duration: 1, outcome: 'established', direction: 'syn', firstFile: 0, firstFrame: 0, lastFile: 0, lastFrame: 0, startSec: 1_800_000_000, startNs: 0, clientFlags: 'SAFP', serverFlags: 'SAFP',
});

describe('templates over UDP (RFC 7011 §8.4)', () => {
  it('are sent in the first message that needs them and again after N messages, so a collector that starts late reads every record from the refresh on', () => {
    const flows = Array.from({ length: 400 }, (_, i) => tcpFlow(i));
    const messages = encodeFlows(flows, { templateRefreshMessages: 4, clock: () => 1_800_000_000_000 });
    expect(messages.length).toBeGreaterThan(12);
    const withTemplates = messages.map((m, i) => (templatesIn(m).length > 0 ? i : -1)).filter((i) => i >= 0);
    expect(withTemplates).toEqual(messages.map((_, i) => i).filter((i) => i % 4 === 0));
    // A collector that hears from message 6 on: what waited for the template at message 8 is decoded then, nothing lost but what it never heard.
    const late = readBack(messages.slice(6));
    expect(late.decoder.damage.toJSON()).toEqual({});
    expect(late.flows.length).toBe(flows.length - records6(messages));
  });

  it('are sent again once the refresh interval has passed on the exporter\'s clock', () => {
    let now = 1_800_000_000_000;
    const out: Uint8Array[] = [];
    const enc = new IpfixEncoder({ onMessage: (m) => out.push(m), clock: () => now, templateRefreshMs: 30_000 } satisfies EncoderOptions);
    for (let i = 0; i < 3; i++) {
      enc.add(tcpFlow(i));
      enc.flush();
      now += 20_000;
    }
    expect(out.map((m) => templatesIn(m).length > 0)).toEqual([true, false, true]);
    expect(out.map((m) => u32be(m, 4))).toEqual([1_800_000_000, 1_800_000_020, 1_800_000_040]);
    expect(enc.stats).toMatchObject({ messages: 3, records: 3, templates: 2, unencodable: 0 });
  });

  it('a flow whose address is no address is counted and left out; the others are sent', () => {
    const out: Uint8Array[] = [];
    const enc = new IpfixEncoder({ onMessage: (m) => out.push(m) });
    expect(enc.add({ ...tcpFlow(1), client: 'not-an-address' })).toBe(false);
    expect(enc.add({ ...tcpFlow(2), server: '2001:db8::1' })).toBe(false);
    expect(enc.add(tcpFlow(3))).toBe(true);
    enc.flush();
    expect(enc.stats).toMatchObject({ records: 1, unencodable: 2, messages: 1 });
    expect(readBack(out).flows.map((f) => f.client)).toEqual(['10.0.0.3']);
  });
});

/** Records in the messages before index 6. */
function records6(messages: Uint8Array[]): number {
  recordLengths.clear();
  return messages.slice(0, 6).reduce((n, m) => n + records(m), 0);
}
