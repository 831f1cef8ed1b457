import { flowaudit } from './helpers/run.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';

/*
 * `--format zeek` against Zeek itself: for the traces of the shared corpus that have the conn.log
 * Zeek wrote for them (zeek-conn-logs/, from Zeek's own test baselines), our log of the same trace
 * and Zeek's agree on the connections, their orientation, packet counts and the conn_states we map,
 * except for the disagreements listed below with their reasons.
 */

interface ZeekLog {
  headers: string[];
  fields: string[];
  types: string[];
  rows: Array<Record<string, string>>;
}

/** A conn.log read the way zeek-cut reads one: the #fields line names the tab-separated columns. */
function readLog(text: string): ZeekLog {
  const log: ZeekLog = { headers: [], fields: [], types: [], rows: [] };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('###')) continue;
    if (line.startsWith('#')) {
      log.headers.push(line.split(/[\t ]/)[0]!);
      if (line.startsWith('#fields\t')) log.fields = line.split('\t').slice(1);
      if (line.startsWith('#types\t')) log.types = line.split('\t').slice(1);
      continue;
    }
    // A baseline btest cut with zeek-cut has no header lines: nothing to read it by.
    if (log.fields.length === 0) return log;
    const cells = line.split('\t');
    expect(cells).toHaveLength(log.fields.length);
    log.rows.push(Object.fromEntries(log.fields.map((f, i) => [f, cells[i]!])));
  }
  return log;
}

/** A connection's key without its orientation: protocol (with the IP protocol of an unknown transport) and both endpoints. */
function key(r: Record<string, string>): string {
  const a = `${r['id.orig_h']}:${r['id.orig_p']}`;
  const b = `${r['id.resp_h']}:${r['id.resp_p']}`;
  const proto = r.proto === 'unknown_transport' ? `ip-proto-${r.ip_proto}` : r.proto;
  return `${proto} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
}

/** The same facts seen from the other side: what conn_state a connection has with orig and resp exchanged. */
const MIRRORED: Record<string, string> = { S0: 'SHR', SHR: 'S0', SF: 'SF', OTH: 'OTH' };

/** Baselines whose test script changes what Zeek logs, so they are no oracle for a whole trace. */
const NOT_AN_ORACLE: Record<string, string> = {
  // NetControl's packet filter drops the connections' packets after the first: Zeek saw 1/1.
  'scripts.base.frameworks.netcontrol.packetfilter': 'packets filtered by the test script',
  // The GridFTP script logs the data connection when it recognises it, before the connection ends.
  'scripts.base.protocols.ftp.gridftp': 'connection logged before its end',
};

interface Comparison {
  conns: number;
  matched: number;
  sameDirection: number;
  samePackets: number;
  statesMapped: number;
  sameState: number;
  disagreements: string[];
}

function compare(test: string, zeek: ZeekLog, ours: ZeekLog, c: Comparison): void {
  const mine = new Map(ours.rows.map((r) => [key(r), r]));
  for (const z of zeek.rows) {
    c.conns++;
    const k = key(z);
    const o = mine.get(k);
    if (o === undefined) {
      c.disagreements.push(`${test}: only Zeek: ${z.proto} ${z['id.orig_h']}:${z['id.orig_p']} > ${z['id.resp_h']}:${z['id.resp_p']}`);
      continue;
    }
    mine.delete(k);
    c.matched++;
    const same = o['id.orig_h'] === z['id.orig_h'] && o['id.orig_p'] === z['id.orig_p'];
    if (same) c.sameDirection++;
    else c.disagreements.push(`${test}: direction: ${k}: Zeek's orig ${z['id.orig_h']}:${z['id.orig_p']}`);
    const [op, rp] = same ? [o.orig_pkts, o.resp_pkts] : [o.resp_pkts, o.orig_pkts];
    if (op === z.orig_pkts && rp === z.resp_pkts) c.samePackets++;
    else c.disagreements.push(`${test}: packets: ${k}: Zeek ${z.orig_pkts}/${z.resp_pkts}, ours ${op}/${rp}`);
    if (o.conn_state !== '-') {
      c.statesMapped++;
      const state = same ? o.conn_state : MIRRORED[o.conn_state!];
      if (state === z.conn_state) c.sameState++;
      else c.disagreements.push(`${test}: conn_state: ${k}: Zeek ${z.conn_state}, ours ${o.conn_state}`);
    }
  }
  for (const k of mine.keys()) c.disagreements.push(`${test}: only ours: ${k}`);
}

/** Every disagreement with its reason. */
const KNOWN = [
  // Link types flowaudit does not decode (PPP in core.ppp's trace, radiotap, 802.11 monitor): no flows
  // at all.
  'core.ppp: only Zeek: icmp :::135 > ff02::1:ff00:3:136',
  'core.ppp: only Zeek: icmp :::135 > ff02::1:ff00:4:136',
  'core.ppp: only Zeek: udp 193.167.0.100:42834 > 193.167.100.100:443',
  'core.radiotap: only Zeek: udp 172.17.156.76:61738 > 208.67.220.220:53',
  'core.radiotap: only Zeek: udp fe80::a667:6ff:fef7:ec54:5353 > ff02::fb:5353',
  'core.wlanmon: only Zeek: udp 172.17.156.76:61738 > 208.67.220.220:53',
  'core.wlanmon: only Zeek: udp fe80::a667:6ff:fef7:ec54:5353 > ff02::fb:5353',
  // Zeek keys ICMP by type pair: the echo and the destination-unreachable errors between the same hosts
  // are two connections; flowaudit has one ICMP flow per pair of hosts.
  'core.skip_analyzer: only Zeek: icmp 172.28.2.3:3 > 66.59.111.190:3',
  'core.tunnels.gre: only Zeek: icmp 172.28.2.3:3 > 66.59.111.190:3',
  // A tunnel's outer connection (AYIYA, Geneve, VXLAN, Teredo's UDP) is a connection of its own in Zeek;
  // flowaudit reads through it and keeps the inner flow with its `tunnel`.
  'core.tunnels.ayiya-large-identity: only Zeek: udp fd00::1:40000 > fd00::2:40001',
  'core.tunnels.geneve-ipv6: only Zeek: udp 10.0.0.1:12345 > 10.0.0.2:6081',
  'core.tunnels.geneve-many-options: only Zeek: udp 192.168.33.179:6667 > 192.168.179.33:6081',
  'core.tunnels.geneve-vxlan-truncated: only Zeek: udp 127.0.0.1:11803 > 127.0.0.1:6081',
  'core.tunnels.geneve-vxlan-truncated: only Zeek: udp 127.0.0.1:26383 > 127.0.0.1:4789',
  'core.tunnels.geneve: only Zeek: udp 20.0.0.2:0 > 20.0.0.1:6081',
  'core.tunnels.geneve: only Zeek: udp 20.0.0.1:50901 > 20.0.0.2:6081',
  'core.tunnels.teredo_bubble_with_payload: only Zeek: udp 192.168.2.16:3797 > 65.55.158.80:3544',
  'core.tunnels.teredo_bubble_with_payload: only Zeek: udp 192.168.2.16:3797 > 65.55.158.81:3544',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:48036 > 172.30.0.2:4789',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:45303 > 172.30.0.2:4789',
  'core.tunnels.vxlan-unknown-internal-packet: only Zeek: udp 172.30.0.1:36030 > 172.30.0.2:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.12:38071 > 192.168.56.11:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.12:40908 > 192.168.56.11:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:39924 > 192.168.56.12:4789',
  'core.tunnels.vxlan: only Zeek: udp 192.168.56.11:48134 > 192.168.56.12:4789',
  // Aruba's GRE carries 802.11 A-MSDU frames, which flowaudit does not decode.
  'core.tunnels.gre-aruba-amsdu: only Zeek: tcp 157.240.18.16:443 > 149.159.130.184:49392',
  // Teredo: flowaudit reads it on UDP 3544 only, Zeek wherever its analyzer found it; the relay's
  // traffic on other ports (the echo's reply, the HTTP connection) stays plain UDP for flowaudit. Zeek
  // orients the router advertisement by its sender, flowaudit by the solicitation it answers; and Zeek
  // makes no connection of an IPv6 packet with no next header (59).
  'core.tunnels.teredo_bubble_with_payload: packets: icmp 2001:0:4137:9e50:8000:f12a:b9c8:2815:128 2001:4860:0:2001::68:129: Zeek 1/1, ours 1/0',
  'core.tunnels.teredo_bubble_with_payload: only Zeek: tcp 2001:0:4137:9e50:8000:f12a:b9c8:2815:1286 > 2001:4860:0:2001::68:80',
  'core.tunnels.teredo_bubble_with_payload: direction: icmp fe80::8000:f227:bec8:61af:134 fe80::8000:ffff:ffff:fffd:133: Zeek\'s orig fe80::8000:f227:bec8:61af:134',
  'core.tunnels.teredo_bubble_with_payload: only ours: ip-proto-59 2001:0:4137:9e50:8000:f12a:b9c8:2815:0 fe80::708d:fe83:4114:a512:0',
  // IGMP inside VXLAN: Zeek does not read that packet and logs only the outer UDP; flowaudit logs the
  // IGMP (IP protocol 2) as an unknown transport.
  'core.tunnels.vxlan-unknown-internal-packet: only ours: ip-proto-2 192.168.9.80:0 224.0.0.251:0',
  'core.tunnels.vxlan-unknown-internal-packet: only ours: ip-proto-2 192.168.9.123:0 224.0.0.251:0',
  // DHCP: Zeek flips the server's first packet by its likely_server_ports (67); between two well-known
  // ports flowaudit takes the first packet's sender as the client. Packets and conn_state (S0 from our
  // side, SHR from Zeek's) agree once the sides are exchanged.
  'scripts.base.protocols.dhcp.dhcp-all-msg-types: direction: udp 128.2.6.152:67 128.2.6.97:68: Zeek\'s orig 128.2.6.97:68',
  'scripts.base.protocols.dhcp.dhcp-all-msg-types: direction: udp 128.2.6.152:67 128.2.6.189:68: Zeek\'s orig 128.2.6.189:68',
];

describe.skipIf(skipWithoutCaptures('zeek conn.log comparison'))('flows --format zeek against the conn.log Zeek wrote for the same trace', () => {
  it('agrees on connections, orientation, packets and mapped conn_states except for the listed disagreements', async () => {
    const base = capturesDir()!;
    const index = JSON.parse(readFileSync(join(base, 'zeek-conn-logs/index.json'), 'utf8')) as Array<{ test: string; trace: string }>;
    const c: Comparison = { conns: 0, matched: 0, sameDirection: 0, samePackets: 0, statesMapped: 0, sameState: 0, disagreements: [] };
    const compared: string[] = [];
    for (const { test, trace } of index) {
      if (NOT_AN_ORACLE[test] !== undefined) continue;
      const zeek = readLog(readFileSync(join(base, 'zeek-conn-logs', test, 'conn.log'), 'utf8'));
      // Baselines that btest cut down to a few columns without the connection's endpoints cannot be matched.
      if (!zeek.fields.includes('id.orig_h')) continue;
      const r = await flowaudit(['flows', '--format', 'zeek', join(base, trace)]);
      expect(r.code, `${trace}: ${r.stderr}`).toBe(0);
      compare(test, zeek, readLog(r.stdout), c);
      compared.push(test);
    }
    expect([...c.disagreements].sort()).toEqual([...KNOWN].sort());
    // The agreement level: of 138 connections Zeek logged in 29 traces, 111 are flows of ours; of
    // those, 108 are oriented and counted alike, and every conn_state we map (105) is Zeek's.
    expect({ compared: compared.length, ...c, disagreements: undefined }).toEqual({
      compared: 29, conns: 138, matched: 111, sameDirection: 108, samePackets: 110, statesMapped: 105, sameState: 105, disagreements: undefined,
    });
  });
});

describe('the zeek format', () => {
  const sample = join(repositoryRoot, 'samples/mirror-port.pcapng');

  it('reads the way zeek-cut reads it: Zeek\'s header lines in order, as many #types as #fields, tab-separated records', async () => {
    const r = await flowaudit(['flows', '--format', 'zeek', sample]);
    expect(r.code).toBe(0);
    const log = readLog(r.stdout);
    expect(log.headers).toEqual(['#separator', '#set_separator', '#empty_field', '#unset_field', '#path', '#open', '#fields', '#types', '#close']);
    expect(r.stdout.split('\n').slice(0, 5)).toEqual(['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn']);
    expect(log.types).toHaveLength(log.fields.length);
    expect(log.fields.slice(0, 22)).toEqual([
      'ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes', 'resp_bytes',
      'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes',
      'tunnel_parents', 'ip_proto',
    ]);
    expect(log.rows).toHaveLength(9);
    // #open and #close are the capture's first and last packet times, so the bytes do not depend on when they were written.
    const json = JSON.parse((await flowaudit(['flows', '--format', 'json', sample])).stdout) as { capture: { first: string; last: string } };
    const stamp = (iso: string) => iso.slice(0, 19).replace(/[T:]/g, '-');
    expect(r.stdout).toContain(`#open\t${stamp(json.capture.first)}\n`);
    expect(r.stdout.endsWith(`#close\t${stamp(json.capture.last)}\n`)).toBe(true);
    const attempt = log.rows.find((row) => row['id.resp_p'] === '1611' && row.conn_state === 'S0');
    expect(attempt).toMatchObject({ proto: 'tcp', 'id.orig_h': '10.20.1.22', 'id.resp_h': '10.20.0.10', orig_pkts: '3', resp_pkts: '0', service: '-', history: '-' });
    expect(new Set(log.rows.map((row) => row.uid)).size).toBe(9);
  });

  it('writes the same bytes every run, to standard output and to --out', async () => {
    const a = await flowaudit(['flows', '--format', 'zeek', sample]);
    const b = await flowaudit(['flows', '--format', 'zeek', sample]);
    expect(b.stdout).toBe(a.stdout);
    const dir = mkdtempSync(join(tmpdir(), 'fa-zeek-'));
    const out = join(dir, 'conn.log');
    expect((await flowaudit(['flows', '--format', 'zeek', sample, '--out', out])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(a.stdout);
  });

  it('analyze: the conn columns of flows --format zeek, joined by uid, and the judgement in flowaudit.* fields', async () => {
    const capture = join(repositoryRoot, 'samples/cam-site.pcapng');
    const flows = readLog((await flowaudit(['flows', '--format', 'zeek', capture])).stdout);
    const r = await flowaudit(['analyze', capture, '--catalog', 'cam', '--roles', join(repositoryRoot, 'samples/cam-roles.yaml'), '--format', 'zeek']);
    expect(r.code).toBe(0);
    const judged = readLog(r.stdout);
    expect(judged.types).toHaveLength(judged.fields.length);
    expect(judged.fields.slice(0, flows.fields.length)).toEqual(flows.fields);
    expect(judged.fields.slice(flows.fields.length)).toEqual([
      'flowaudit.verdict', 'flowaudit.rule', 'flowaudit.client', 'flowaudit.orig_roles', 'flowaudit.resp_roles',
      'flowaudit.orig_roles_from', 'flowaudit.resp_roles_from', 'flowaudit.waived', 'flowaudit.detail',
    ]);
    const byUid = new Map(flows.rows.map((row) => [row.uid, row]));
    expect(judged.rows).toHaveLength(flows.rows.length);
    for (const row of judged.rows) {
      const conn = Object.fromEntries(flows.fields.map((f) => [f, row[f]]));
      expect(conn).toEqual(byUid.get(row.uid!));
      expect(['expected', 'role-mismatch', 'undocumented']).toContain(row['flowaudit.verdict']);
      expect(['orig', 'resp']).toContain(row['flowaudit.client']);
    }
    expect(judged.rows.some((row) => row['flowaudit.verdict'] === 'expected' && row['flowaudit.rule']!.startsWith('cam:'))).toBe(true);
  });

  it('is offered by flows and analyze, not by live', async () => {
    expect((await flowaudit(['live', '--format', 'zeek', '-i', 'lo', '--catalog', 'cam'])).stderr).toContain("argument 'zeek' is invalid");
  });
});
