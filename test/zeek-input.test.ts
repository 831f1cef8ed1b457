import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundText } from '../src/flow/bound.js';
import { readZeekLogs } from '../src/ingest/zeek/index.js';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';
import { checkReport } from './helpers/report-schema.js';
import { flowaudit } from './helpers/run.js';

/*
 * `analyze --input zeek`: Zeek's own conn.logs of the shared corpus (zeek-conn-logs/, from Zeek's test
 * baselines, timestamps masked) read with no error, and judged as flowaudit judges the pcap of the
 * same trace, conversation by conversation, except for the differences listed with their reasons.
 */

interface Flow {
  proto: string;
  client: string;
  clientPort: number | null;
  server: string;
  serverPort: number | null;
  outcome: string | null;
  verdict: string;
  rule: string | null;
  direction: string;
  clientPackets: number;
  serverPackets: number;
  firstFrame: number;
  detail: string;
}
interface Report {
  capture: { files: Array<Record<string, unknown>>; decodeErrors: Record<string, { count: number; first: Array<{ file: string; record: number }> }>; decodeErrorCount: number; quality: { notes: string[] } };
  flows: Flow[];
  grants: Array<{ host: string; port: number | null }>;
  requirements: Array<{ status: string }>;
}

async function analyze(paths: string[], extra: string[] = []): Promise<Report> {
  const r = await flowaudit(['analyze', ...paths, '--catalog', 'bmc-cm', '--format', 'json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return checkReport('analyze', JSON.parse(r.stdout) as Report);
}

/** A conversation's key without its orientation: protocol and both endpoints (ICMP: both hosts). */
function key(f: Flow): string {
  const proto = f.proto === 'icmpv6' ? 'icmp' : f.proto;
  const a = f.clientPort === null ? f.client : `${f.client}:${f.clientPort}`;
  const b = f.serverPort === null ? f.server : `${f.server}:${f.serverPort}`;
  return `${proto} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
}

const base = capturesDir();
const logsDir = base === null ? '' : join(base, 'zeek-conn-logs');
const index = base === null ? [] : (JSON.parse(readFileSync(join(logsDir, 'index.json'), 'utf8')) as Array<{ test: string; trace: string }>);
const logOf = (test: string) => join(logsDir, test, 'conn.log');
const hasEndpoints = (test: string) => readFileSync(logOf(test), 'utf8').includes('\tid.orig_h\t');
/** Line `no` of a test's conn.log as fields by name. */
function zeekRow(test: string, no: number): Record<string, string> {
  const lines = readFileSync(logOf(test), 'utf8').split('\n');
  const fields = lines.find((l) => l.startsWith('#fields\t'))!.split('\t').slice(1);
  const cells = lines[no - 1]!.split('\t');
  return Object.fromEntries(fields.map((f, i) => [f, cells[i]!]));
}

/** The records of a log: its lines that are neither headers nor btest's. */
const dataLines = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe.skipIf(skipWithoutCaptures('zeek conn.log input'))('analyze --input zeek on the conn.logs Zeek wrote', () => {
  it('reads all 38 logs: every record of the 31 with endpoints, and says of the 7 zeek-cut baselines that they have no endpoint columns', async () => {
    expect(index).toHaveLength(38);
    const withEndpoints = index.filter((e) => hasEndpoints(e.test));
    expect(withEndpoints).toHaveLength(31);
    const run = await readZeekLogs(withEndpoints.map((e) => logOf(e.test)));
    expect(run.damage.toJSON()).toEqual({});
    for (const [i, e] of withEndpoints.entries()) {
      const f = run.files[i]!;
      const lines = dataLines(readFileSync(logOf(e.test), 'utf8'));
      expect({ test: e.test, records: f.records, unreadable: f.unreadable }).toEqual({ test: e.test, records: lines.length, unreadable: 0 });
      // Zeek's test tooling masks the timestamps: records without time, counted, not errors.
      expect(f.untimed).toBe(lines.filter((l) => l.startsWith('XXXXXXXXXX.XXXXXX\t')).length);
    }
    const cut = index.filter((e) => !hasEndpoints(e.test));
    const cutRun = await readZeekLogs(cut.map((e) => logOf(e.test)));
    const cutLines = cut.reduce((s, e) => s + dataLines(readFileSync(logOf(e.test), 'utf8')).length - 1, 0);
    expect(cutRun.files.reduce((s, f) => s + f.records, 0)).toBe(0);
    expect(cutRun.damage.toJSON()['zeek-missing-column']?.count).toBe(cutLines);
    // The whole folder of logs through the CLI, in every format, fits the report schema.
    const report = await analyze(withEndpoints.map((e) => logOf(e.test)), ['--input', 'zeek']);
    expect(report.flows).toHaveLength(run.records().length);
    expect(report.capture.decodeErrorCount).toBe(0);
    expect(report.capture.quality.notes.some((n) => n.startsWith('no packet-level quality: flow records'))).toBe(true);
  }, 120_000);

  it('finds the same conversations, outcomes and verdicts as the pcap of each trace, but for the listed differences', async () => {
    const differences: string[] = [];
    // Each conn_state (with whether the history shows the originator's SYN) and the outcome it became.
    const mappings = new Set<string>();
    let compared = 0;
    for (const { test, trace } of index) {
      if (!hasEndpoints(test) || NOT_AN_ORACLE[test] !== undefined) continue;
      const [zeek, pcap] = await Promise.all([analyze([logOf(test)], ['--input', 'zeek']), analyze([join(base!, trace)])]);
      const ours = new Map<string, Flow[]>();
      for (const f of pcap.flows) ours.set(key(f), [...(ours.get(key(f)) ?? []), f]);
      for (const z of zeek.flows) {
        const k = key(z);
        const list = ours.get(k);
        if (!list?.length) {
          differences.push(`${test}: only Zeek: ${k}`);
          continue;
        }
        const o = list.shift()!;
        compared++;
        if (z.verdict !== o.verdict || z.rule !== o.rule) differences.push(`${test}: verdict: ${k}: Zeek ${z.verdict} ${z.rule}, pcap ${o.verdict} ${o.rule}`);
        if (z.outcome !== o.outcome) differences.push(`${test}: outcome: ${k}: Zeek ${z.outcome}, pcap ${o.outcome}`);
        if (z.proto === 'tcp') {
          const row = zeekRow(test, z.firstFrame);
          mappings.add(`${row.conn_state} ${row.history.startsWith('^') ? '^' : ''}${row.history.includes('S') ? 'S' : 'no S'} → ${z.outcome} (pcap ${o.outcome})`);
        }
      }
      for (const [k, rest] of ours) if (rest.length) differences.push(`${test}: only pcap: ${k}`);
    }
    expect([...differences].sort()).toEqual([...KNOWN].sort());
    expect(compared).toBe(111);
    // Every mapping the logs hold, each agreeing with the pcap's outcome of the same connection.
    expect([...mappings].sort()).toEqual(MAPPINGS_SEEN);
  }, 300_000);
});

/** Baselines whose test script changes what Zeek logs, so they are no oracle for a whole trace. */
const NOT_AN_ORACLE: Record<string, string> = {
  // NetControl's packet filter drops the connections' packets after the first: Zeek saw 1/1.
  'scripts.base.frameworks.netcontrol.packetfilter': 'packets filtered by the test script',
  // The GridFTP script logs the data connection when it recognises it, before the connection ends.
  'scripts.base.protocols.ftp.gridftp': 'connection logged before its end',
};

/**
 * The TCP conn_states of the compared logs (S1, REJ, RSTO… are not among them: see the round trip
 * through flowaudit's own Zeek writer below), each with the history's flip and SYN: an SF whose
 * originator never sent a SYN (Zeek picked the connection up from its SYN-ACK) is partial, as the pcap says.
 */
const MAPPINGS_SEEN = [
  'OTH ^no S → partial (pcap partial)',
  'OTH no S → partial (pcap partial)',
  'S0 S → attempted (pcap attempted)',
  'SF S → established (pcap established)',
  'SF ^no S → partial (pcap partial)',
  'SH S → attempted (pcap attempted)',
];

/** Every difference between the Zeek-log audit and the pcap audit of the same trace, with its reason. */
const KNOWN = [
  // Link types flowaudit does not decode (PPP in core.ppp's trace, radiotap, 802.11 monitor): the pcap
  // has no flows, Zeek's log has them.
  'core.ppp: only Zeek: icmp :: ff02::1:ff00:3',
  'core.ppp: only Zeek: icmp :: ff02::1:ff00:4',
  'core.ppp: only Zeek: udp 193.167.0.100:42834 193.167.100.100:443',
  'core.radiotap: only Zeek: udp 172.17.156.76:61738 208.67.220.220:53',
  'core.radiotap: only Zeek: udp fe80::a667:6ff:fef7:ec54:5353 ff02::fb:5353',
  'core.wlanmon: only Zeek: udp 172.17.156.76:61738 208.67.220.220:53',
  'core.wlanmon: only Zeek: udp fe80::a667:6ff:fef7:ec54:5353 ff02::fb:5353',
  // Zeek logs an ICMP error (destination unreachable) as a connection of its own; flowaudit counts it
  // on the UDP flow it quotes, which it then calls rejected.
  'core.skip_analyzer: only Zeek: icmp 172.28.2.3 66.59.111.190',
  'core.skip_analyzer: outcome: udp 172.28.2.3:53 66.59.111.190:37675: Zeek null, pcap rejected',
  'core.tunnels.gre: only Zeek: icmp 172.28.2.3 66.59.111.190',
  'core.tunnels.gre: outcome: udp 172.28.2.3:53 66.59.111.190:37675: Zeek null, pcap rejected',
  // A tunnel's outer connection (AYIYA, Geneve, VXLAN, Teredo's UDP) is a connection of its own in
  // Zeek's log; flowaudit reads through it and keeps only the inner flow.
  'core.tunnels.ayiya-large-identity: only Zeek: udp fd00::1:40000 fd00::2:40001',
  'core.tunnels.geneve-ipv6: only Zeek: udp 10.0.0.1:12345 10.0.0.2:6081',
  'core.tunnels.geneve-many-options: only Zeek: udp 192.168.179.33:6081 192.168.33.179:6667',
  'core.tunnels.geneve-vxlan-truncated: only Zeek: udp 127.0.0.1:11803 127.0.0.1:6081',
  'core.tunnels.geneve-vxlan-truncated: only Zeek: udp 127.0.0.1:26383 127.0.0.1:4789',
  'core.tunnels.geneve: only Zeek: udp 20.0.0.1:50901 20.0.0.2:6081',
  'core.tunnels.geneve: only Zeek: udp 20.0.0.1:6081 20.0.0.2:0',
  'core.tunnels.teredo_bubble_with_payload: only Zeek: udp 192.168.2.16:3797 65.55.158.80:3544',
  'core.tunnels.teredo_bubble_with_payload: only Zeek: udp 192.168.2.16:3797 65.55.158.81:3544',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:36030 172.30.0.2:4789',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:45303 172.30.0.2:4789',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:48036 172.30.0.2:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:39924 192.168.56.12:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:4789 192.168.56.12:38071',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:4789 192.168.56.12:40908',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:48134 192.168.56.12:4789',
  // Aruba's GRE carries 802.11 A-MSDU frames, which flowaudit does not decode.
  'core.tunnels.gre-aruba-amsdu: only Zeek: tcp 149.159.130.184:49392 157.240.18.16:443',
  // Teredo: flowaudit reads it on UDP 3544 only, Zeek wherever its analyzer found it, so the HTTP
  // connection inside is Zeek's alone; Zeek makes no connection of an IPv6 packet with no next header (59).
  'core.tunnels.teredo_bubble_with_payload: only Zeek: tcp 2001:0:4137:9e50:8000:f12a:b9c8:2815:1286 2001:4860:0:2001::68:80',
  'core.tunnels.teredo_bubble_with_payload: only pcap: 59 2001:0:4137:9e50:8000:f12a:b9c8:2815 fe80::708d:fe83:4114:a512',
  // IGMP inside VXLAN: Zeek does not read that packet and logs only the outer UDP.
  'core.tunnels.vxlan-unknown-internal-packet: only pcap: igmp 192.168.9.123 224.0.0.251',
  'core.tunnels.vxlan-unknown-internal-packet: only pcap: igmp 192.168.9.80 224.0.0.251',
  // DHCP between ports 67 and 68: Zeek flips the server's first packet by its likely server ports and
  // makes the listener the client, flowaudit keeps the first packet's sender: the same flow is
  // expected by the two sides' rules of the same exchange.
  'scripts.base.protocols.dhcp.dhcp-all-msg-types: verdict: udp 128.2.6.152:67 128.2.6.189:68: Zeek expected bmc-cm:osd-dhcp-server-to-listener, pcap expected bmc-cm:osd-dhcp-target-to-listener',
  'scripts.base.protocols.dhcp.dhcp-all-msg-types: verdict: udp 128.2.6.152:67 128.2.6.97:68: Zeek expected bmc-cm:osd-dhcp-server-to-listener, pcap expected bmc-cm:osd-dhcp-target-to-listener',
];

describe.skipIf(skipWithoutCaptures('zeek conn.log round trip'))('the conn_states Zeek\'s logs above lack, through flowaudit\'s own Zeek writer', () => {
  // REJ (an OpenFlow capture's refused connections), S1 (DCE/RPC calls cut before their close), RSTO and
  // RSTR (Suricata's bug-5162), SF and S0 (the sample site): `flows --format zeek` writes Zeek's
  // conn_state() of what the pcap shows, and the conn.log read back gives the pcap's outcome and verdict.
  const traces = ['tcpdump/of10_pf5240.pcap', 'windows/scapy/dcerpc_privacy_krb.pcapng', 'windows/suricata-verify/bug-5162/input.pcap'];
  it('maps REJ, S1, RSTO, RSTR, SF and S0 to the outcome the pcap has, with the same verdicts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fa-zeekin-'));
    const states = new Map<string, Set<string>>();
    let granted = 0;
    let ungranted = 0;
    const paths = [...traces.map((t) => join(base!, t)), join(repositoryRoot, 'samples/mirror-port.pcapng')];
    for (const [i, pcap] of paths.entries()) {
      const log = join(dir, `conn${i}.log`);
      expect((await flowaudit(['flows', '--format', 'zeek', pcap, '--out', log])).code).toBe(0);
      const [zeek, ours] = await Promise.all([analyze([log], ['--input', 'zeek']), analyze([pcap])]);
      const text = readFileSync(log, 'utf8').split('\n');
      const fields = text.find((l) => l.startsWith('#fields\t'))!.split('\t').slice(1);
      const byKey = new Map(ours.flows.map((f) => [`${key(f)} ${f.outcome}`, f]));
      expect(zeek.flows).toHaveLength(ours.flows.length);
      for (const z of zeek.flows) {
        const state = text[z.firstFrame - 1]!.split('\t')[fields.indexOf('conn_state')]!;
        const o = byKey.get(`${key(z)} ${z.outcome}`);
        expect(o, `${pcap}: ${key(z)} ${state} → ${z.outcome}`).toBeDefined();
        // Flow records carry no payload: a dynamic RPC port is judged by its documented range, and says
        // so. Where the pcap's endpoint-mapper answer granted the port, the rule is the same; a port no
        // answer in the pcap granted is undocumented there.
        if (z.detail.includes('grant not observable in flow records')) {
          const grantedInPcap = ours.grants.some((g) => g.host === o!.server && g.port === o!.serverPort);
          if (grantedInPcap) {
            expect({ verdict: z.verdict, rule: z.rule }).toEqual({ verdict: o!.verdict, rule: o!.rule });
            granted++;
          } else {
            expect(o!.verdict).toBe('undocumented');
            ungranted++;
          }
        } else expect({ verdict: z.verdict, rule: z.rule }).toEqual({ verdict: o!.verdict, rule: o!.rule });
        if (z.proto === 'tcp') {
          if (!states.has(state)) states.set(state, new Set());
          states.get(state)!.add(z.outcome!);
        }
      }
    }
    expect({ granted, ungranted }).toEqual(BY_RPC_RANGE);
    expect(Object.fromEntries([...states].map(([s, o]) => [s, [...o]]))).toMatchObject({
      REJ: ['rejected'], S1: ['established'], RSTO: ['established'], RSTR: ['established'], SF: ['established'], S0: ['attempted'],
    });
  }, 120_000);
});

/** Flows of the round trip judged by RPC's documented range: granted in the pcap, and not granted there. */
const BY_RPC_RANGE = { granted: 3, ungranted: 3 };

/** A small conn.log of the ASCII writer, from a real log's header, with records made here. */
const HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-01-01-00-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tvlan',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tint',
];
const ROWS = [
  '1700000000.000001\tC1\t10.0.0.1\t50000\t10.0.0.2\t1610\ttcp\t-\t1.5\t10\t20\tSF\tT\tT\t0\tShADadFf\t5\t300\t4\t260\t(empty)\t-',
  '1700000001.250000\tC2\t10.0.0.1\t50001\t10.0.0.2\t1611\ttcp\t-\t3.0\t0\t0\tS0\tT\tT\t0\tS\t3\t180\t0\t0\t(empty)\t10',
  '1700000002.000000\tC3\t10.0.0.3\t40000\t10.0.0.2\t1610\ttcp\t-\t0.1\t0\t0\tREJ\tT\tT\t0\tSr\t1\t60\t1\t40\t(empty)\t-',
  '1700000003.000000\tC4\t10.0.0.4\t8\t10.0.0.2\t0\ticmp\t-\t0.01\t56\t56\tOTH\tT\tT\t0\t-\t1\t84\t1\t84\tCabc,Cdef\t-',
  '1700000004.000000\tC5\t10.0.0.2\t80\t10.0.0.5\t51000\ttcp\t-\t0.5\t0\t100\tSF\tT\tT\t0\t^hADdFaf\t3\t200\t4\t400\t(empty)\t-',
  '1700000005.000000\tC6\t10.0.0.6\t5353\t224.0.0.251\t5353\tudp\tdns\t-\t-\t-\tS0\tT\tF\t0\tD\t1\t80\t0\t0\t(empty)\t-',
];
const FIELDS = HEADER[6]!.split('\t').slice(1);
const TYPES = HEADER[7]!.split('\t').slice(1);

/** The JSON writer's line of a TSV record: unset fields left out, sets as arrays, numbers as numbers. */
function jsonLine(row: string): string {
  const o: Record<string, unknown> = {};
  row.split('\t').forEach((cell, i) => {
    if (cell === '-') return;
    const t = TYPES[i]!;
    o[FIELDS[i]!] = t.startsWith('set[') ? (cell === '(empty)' ? [] : cell.split(',')) : ['time', 'interval', 'count', 'port', 'int'].includes(t) ? Number(cell) : t === 'bool' ? cell === 'T' : cell;
  });
  return JSON.stringify(o);
}

function scratch(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'fa-zeekin-'));
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('conn.log formats and bad lines', () => {
  const tsv = [...HEADER, ...ROWS, '#close\t2024-01-01-00-00-10', ''].join('\n');

  it('maps the fields: client and server, ports, ICMP type and code, packets and IP bytes, times, VLAN, tunnel parents, outcome and direction', async () => {
    const run = await readZeekLogs([scratch('conn.log', tsv)]);
    expect(run.damage.toJSON()).toEqual({});
    const r = run.records();
    expect(r.map((f) => [f.client, f.clientPort, f.server, f.serverPort, f.proto, f.outcome, f.direction])).toEqual([
      ['10.0.0.1', 50000, '10.0.0.2', 1610, 'tcp', 'established', 'syn'],
      ['10.0.0.1', 50001, '10.0.0.2', 1611, 'tcp', 'attempted', 'syn'],
      ['10.0.0.3', 40000, '10.0.0.2', 1610, 'tcp', 'rejected', 'syn'],
      ['10.0.0.4', null, '10.0.0.2', null, 'icmp', null, 'first-packet'],
      // Flipped over a lone SYN-ACK: Zeek's originator is the client, and no SYN makes the outcome partial.
      ['10.0.0.2', 80, '10.0.0.5', 51000, 'tcp', 'partial', 'syn-ack'],
      ['10.0.0.6', 5353, '224.0.0.251', 5353, 'udp', null, 'first-packet'],
    ]);
    expect(r[0]).toMatchObject({ clientPackets: 5, clientBytes: 300, serverPackets: 4, serverBytes: 260, packets: 9, bytes: 560, start: '2023-11-14T22:13:20.000001Z', end: '2023-11-14T22:13:21.500001Z', duration: 1.5, clientFlags: 'SAF', serverFlags: 'SAF', firstFrame: 9 });
    expect(r[1]).toMatchObject({ vlan: 10, clientFlags: 'S', serverFlags: '' });
    expect(r[2]).toMatchObject({ clientFlags: 'S', serverFlags: 'R' });
    expect(r[3]).toMatchObject({ icmpType: 8, icmpCode: 0 });
    expect(run.files[0]).toMatchObject({ format: 'zeek-tsv', records: 6, unreadable: 0, untimed: 0, tunnelled: 1 });
    expect(run.summary()).toMatchObject({ first: '2023-11-14T22:13:20.000001Z', last: '2023-11-14T22:13:25.000000Z', packets: 24 });
  });

  it('reads the JSON writer\'s lines made from the same records, and gzip, to the same flows', async () => {
    const json = [...ROWS.map(jsonLine), ''].join('\n');
    const a = await readZeekLogs([scratch('conn.log', tsv)]);
    const b = await readZeekLogs([scratch('conn.json.log', json)]);
    const c = await readZeekLogs([scratch('conn.log.gz', gzipSync(tsv))]);
    expect(b.damage.toJSON()).toEqual({});
    expect(b.files[0]).toMatchObject({ format: 'zeek-json', records: 6 });
    expect(c.files[0]).toMatchObject({ gzip: true, records: 6 });
    // The JSON lines have no header lines before them: each record's line number is 8 less.
    const unplaced = (f: { firstFrame: number; lastFrame: number }) => ({ ...f, firstFrame: 0, lastFrame: 0 });
    expect(b.records().map(unplaced)).toEqual(a.records().map(unplaced));
    expect(c.records()).toEqual(a.records());
  });

  it('a folder of rotated logs is every conn*.log[.gz] in it, and the CLI audits it in every format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fa-zeekin-'));
    writeFileSync(join(dir, 'conn.00:00:00-01:00:00.log.gz'), gzipSync([...HEADER, ...ROWS.slice(0, 3), ''].join('\n')));
    writeFileSync(join(dir, 'conn.01:00:00-02:00:00.log'), [...HEADER, ...ROWS.slice(3), ''].join('\n'));
    writeFileSync(join(dir, 'dns.01:00:00-02:00:00.log'), 'not read\n');
    const report = await analyze([dir], ['--input', 'zeek']);
    expect(report.capture.files.map((f) => [f.file, f.records])).toEqual([[join(dir, 'conn.00:00:00-01:00:00.log.gz'), 3], [join(dir, 'conn.01:00:00-02:00:00.log'), 3]]);
    expect(report.flows).toHaveLength(6);
    for (const format of ['text', 'csv', 'html', 'zeek']) {
      const r = await flowaudit(['analyze', '--input', 'zeek', dir, '--catalog', 'bmc-cm', '--format', format]);
      expect(r.code, `${format}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('10.0.0.2');
    }
    const text = (await flowaudit(['analyze', '--input', 'zeek', dir, '--catalog', 'bmc-cm'])).stdout;
    expect(text).toContain('no packet-level quality: flow records');
    expect((await flowaudit(['analyze', '--input', 'zeek', join(dir, 'missing.log'), '--catalog', 'bmc-cm'])).code).toBe(2);
    expect((await flowaudit(['analyze', '--input', 'zeek', '-', '--catalog', 'bmc-cm'])).code).toBe(2);
  }, 120_000);

  it('counts and locates bad lines (a missing column, a wrong type, a header that changes, a truncated gzip) and keeps every good one', async () => {
    const lines = [
      ...HEADER,
      ROWS[0]!,
      ROWS[1]!.split('\t').slice(0, -1).join('\t'), // line 10: a column short
      ROWS[2]!.replace('40000', 'port'), // line 11: not a port
      ROWS[3]!.replace('10.0.0.4', '10.0.0'), // line 12: not an address
      ROWS[4]!.replace('1700000004.000000', 'yesterday'), // line 13: not a time
      '#fields\tts\tuid\tid.orig_h\tid.resp_h\tproto', // line 14: a new header without the ports
      '1700000006.000000\tC9\t10.0.0.7\t10.0.0.8\ttcp', // line 15: under it, no conversation
      HEADER[6]!, // line 16: the first header again
      ROWS[5]!, // line 17
      '{"id.orig_h": "10.0.0.9", "id.resp_h": "10.0.0.2", "proto": "tcp", "id.orig_p": "80", "id.resp_p": 1}', // line 18: a port as text
      '{"ts": 1', // line 19: not JSON
      ROWS[0]!.replace('C1', 'C10'), // line 20
      `${'9'.repeat(1_100_000)}\tC11`, // line 21: past the longest line a record may be (1 MiB)
    ];
    const text = [...lines, ''].join('\n');
    const run = await readZeekLogs([scratch('conn.log', text)]);
    const places = Object.fromEntries(Object.entries(run.damage.toJSON()).map(([reason, d]) => [reason, d.first.map((p) => p.record)]));
    expect(places).toEqual({
      'zeek-column-count': [10],
      'zeek-bad-port': [11],
      'zeek-bad-address': [12],
      'zeek-bad-time': [13],
      'zeek-header-changed': [14, 16],
      'zeek-missing-column': [15],
      'zeek-bad-type': [18],
      'zeek-bad-json': [19],
      'zeek-line-too-long': [21],
    });
    // By start: line 20 repeats line 9's time.
    expect(run.records().map((r) => r.firstFrame)).toEqual([9, 20, 17]);
    // Eight lines unreadable; the two header changes are counted but are no record.
    expect(run.files[0]).toMatchObject({ records: 3, unreadable: 8, lines: 21 });
    // A line of 3 MiB is skipped to its end without being held, and the next line is read.
    const long = await readZeekLogs([scratch('conn.log', [...HEADER, 'x'.repeat(3 << 20), ROWS[0]!, ''].join('\n'))]);
    expect(long.damage.toJSON()['zeek-line-too-long']?.first.map((p) => p.record)).toEqual([9]);
    expect(long.records().map((r) => r.firstFrame)).toEqual([10]);
    // A gzip cut short: the lines before the cut are read, the cut is one located failure.
    const gz = gzipSync(text);
    const cut = await readZeekLogs([scratch('conn.log.gz', gz.subarray(0, gz.length - 8))]);
    expect(cut.records().map((r) => r.firstFrame)).toEqual([9, 20, 17]);
    expect(Object.keys(cut.damage.toJSON()).filter((r) => r.startsWith('gzip-'))).toEqual(['gzip-unexpected-end']);
    // Cut inside the data: the records before the cut, the line it broke counted once.
    const deeper = await readZeekLogs([scratch('conn.log.gz', gz.subarray(0, Math.floor(gz.length / 2)))]);
    expect(deeper.damage.toJSON()['gzip-unexpected-end']?.count).toBe(1);
    expect(deeper.files[0]!.lines).toBeLessThan(lines.length);
  });

  it('holds conversations, not records: past --max-flows the records are folded per conversation, and the report says so', async () => {
    // 3000 connections of 30 clients to one server port, in a gzip log: 30 conversations.
    const rows: string[] = [];
    for (let i = 0; i < 3000; i++) rows.push(`${1700000000 + i}.000000\tC${i}\t10.1.0.${i % 30}\t${20000 + i}\t10.0.0.2\t1610\ttcp\t-\t0.2\t0\t0\tSF\tT\tT\t0\tShADadFf\t5\t300\t4\t260\t(empty)\t-`);
    const log = scratch('conn.log.gz', gzipSync([...HEADER, ...rows, ''].join('\n')));
    const run = await readZeekLogs([log], { maxFlows: 1000 });
    const folded = run.records() as Array<{ flows?: number; client: string }>;
    expect(folded).toHaveLength(30);
    expect(folded.reduce((s, f) => s + (f.flows ?? 1), 0)).toBe(3000);
    expect(run.summary().flowTable).toMatchObject({ limit: 1000, foldedFlows: 3000, foldedRecords: 30, records: true });
    expect(boundText(run.summary().flowTable!)[0]).toMatch(/^flow record bound reached \(--max-flows 1000\): all 3000 records were folded as read; 0 unanswered or refused attempts folded into 0 records per scanner and port, 3000 other records into 30 records per conversation$/);
    const report = await analyze([log], ['--input', 'zeek', '--max-flows', '1000']);
    expect(report.flows).toHaveLength(30);
  }, 60_000);

  it('fuzz: damaged bytes and garbage lines in a real log are counted, never thrown, and lose no good line', async () => {
    const good = [...HEADER, ...ROWS];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(ROWS.length), fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map((g) => `x${g.replace(/[\r\n]/g, ' ')}`)), { maxLength: 12 }),
        fc.uint8Array({ maxLength: 200 }),
        async (garbage, noise) => {
          // Garbage lines between the records: each is one unreadable line, every record is still read.
          const body = [...ROWS];
          for (const [at, g] of garbage) body.splice(at, 0, g);
          const run = await readZeekLogs([scratch('conn.log', [...HEADER, ...body, ''].join('\n'))]);
          expect(run.files[0]!.records).toBe(ROWS.length);
          expect(run.files[0]!.unreadable).toBe(garbage.length);
          expect(run.damage.total).toBe(garbage.length);
          // Raw bytes after the log, and a log of noise alone: counted, no throw.
          const noisy = await readZeekLogs([scratch('conn.log', Buffer.concat([Buffer.from([...good, ''].join('\n')), Buffer.from(noise)]))]);
          expect(noisy.files[0]!.records).toBeGreaterThanOrEqual(ROWS.length);
          const only = await readZeekLogs([scratch('conn.log', Buffer.from(noise))]);
          expect(only.files[0]!.records + only.files[0]!.unreadable).toBeLessThanOrEqual(only.files[0]!.lines);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
