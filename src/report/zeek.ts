import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow } from '../audit/types.js';
import type { CaptureSummary, FlowRecord } from '../flow/pipeline.js';
import { foldedCells } from './flows.js';
import { writePieces } from './write.js';

/*
 * Zeek's conn.log in its TSV form (the ASCII writer's defaults: the header lines, `-` for unset,
 * `(empty)` for an empty string or set, control and non-ASCII bytes as \xNN), so zeek-cut and the
 * tools that read Zeek logs read a flow table. One record per flow, in the report's order, with
 * conn.log's fields in Zeek's order and types, filled from what flowaudit knows and unset where it
 * does not know the exact value:
 *
 *   ts, duration        first packet; last minus first (unset when 0, as Zeek leaves it)
 *   uid                 Zeek's, for a record read from Zeek's conn.log; else 'C' + 96 bits of SHA-256
 *                       over the flow's key and start: the same flow gets the same uid in every run,
 *                       in `flows` and in `analyze`
 *   tunnel_parents      Zeek's, for a record read from Zeek's conn.log (its parents' uids are theirs
 *                       too); else unset: a capture's tunnel has no outer connection of ours
 *   id.*                client as orig, server as resp. ICMP: orig_p is the type and resp_p the
 *                       type's counterpart (echo ↔ echo reply …) or else the code, as Zeek keys them
 *                       (a pair's types exchanged when only the server sent);
 *                       other IP protocols: ports 0, proto unknown_transport
 *   orig_pkts, resp_pkts packets each way
 *   ip_proto, vlan      the IP protocol number; the outermost VLAN id (Zeek's vlan-logging field)
 *   unset               service (no protocol detection), orig_bytes/resp_bytes (Zeek's are payload
 *                       bytes, ours frame bytes), orig_ip_bytes/resp_ip_bytes (IP total lengths:
 *                       ours include the link header), local_orig/local_resp (no Site::local_nets),
 *                       missed_bytes, history (flags are kept as sets, not in order)
 *
 * conn_state is Zeek's `conn_state()` (base/protocols/conn/main.zeek) applied to what the flow
 * table records, given where that is exact; elsewhere unset. For TCP it assumes, as every capture
 * of a handshake shows, that the client's SYN came before the server's SYN-ACK; Zeek ignores packets
 * with bad checksums and we count them, which can also differ.
 *
 *   TCP outcome   client flags          server flags      conn_state
 *   attempted     only SYN              (no packets)      S0
 *   attempted     SYN, FIN              (no packets)      SH
 *   attempted     SYN, RST              (no packets)      RSTOS0
 *   rejected      only SYN              RST (with ACK)    REJ
 *   established   any                   RST               RSTR  (unset if the client sent RST too)
 *   established   RST                   no RST            RSTO
 *   established   FIN, no RST           FIN, no RST       SF
 *   established   FIN, no RST           no FIN, no RST    S2
 *   established   no FIN, no RST        FIN, no RST       S3
 *   established   no FIN, no RST        no FIN, no RST    S1
 *   UDP: packets both ways SF, only from the client S0, only from the server SHR. Others: OTH.
 *   (ECN's E and C may come with any of them.)
 *
 * After Zeek's fields, `flowaudit.first_file`, `first_frame`, `last_file` and `last_frame` say where
 * the flow's packets are (the file's index in the capture's list, tshark's frame numbers).
 * Records folded past --max-flows stand for many flows: they get `flowaudit.flows` and
 * `flowaudit.targets` as csv does, and no conn_state. `#open` and `#close` are the capture's first
 * and last packet times (UTC), not the time of writing, so the same capture gives the same bytes.
 */

type Field = readonly [name: string, type: string];

const CONN_FIELDS: readonly Field[] = [
  ['ts', 'time'], ['uid', 'string'], ['id.orig_h', 'addr'], ['id.orig_p', 'port'], ['id.resp_h', 'addr'], ['id.resp_p', 'port'],
  ['proto', 'enum'], ['service', 'string'], ['duration', 'interval'], ['orig_bytes', 'count'], ['resp_bytes', 'count'],
  ['conn_state', 'string'], ['local_orig', 'bool'], ['local_resp', 'bool'], ['missed_bytes', 'count'], ['history', 'string'],
  ['orig_pkts', 'count'], ['orig_ip_bytes', 'count'], ['resp_pkts', 'count'], ['resp_ip_bytes', 'count'],
  ['tunnel_parents', 'set[string]'], ['ip_proto', 'count'], ['vlan', 'int'],
  // Not Zeek's: where the flow's packets are (file index in the report's file list, tshark frame numbers).
  ['flowaudit.first_file', 'count'], ['flowaudit.first_frame', 'count'], ['flowaudit.last_file', 'count'], ['flowaudit.last_frame', 'count'],
];

const FOLDED_FIELDS: readonly Field[] = [['flowaudit.flows', 'count'], ['flowaudit.targets', 'string']];

/** The judgement, Zeek-package style: `client` says which side the catalog's reading made the client. */
const JUDGED_FIELDS: readonly Field[] = [
  ['flowaudit.verdict', 'string'], ['flowaudit.rule', 'string'], ['flowaudit.client', 'string'],
  ['flowaudit.orig_roles', 'set[string]'], ['flowaudit.resp_roles', 'set[string]'],
  ['flowaudit.orig_roles_from', 'string'], ['flowaudit.resp_roles_from', 'string'],
  ['flowaudit.waived', 'string'], ['flowaudit.detail', 'string'],
];

const UNSET = '-';
const EMPTY = '(empty)';

/** The flow table of `flows` as a conn log. */
export function writeZeekConn(capture: CaptureSummary, batches: Iterable<FlowRecord[]>, out: Writable): Promise<void> {
  const folded = capture.flowTable !== undefined;
  return writePieces(logPieces(capture, folded ? [...CONN_FIELDS, ...FOLDED_FIELDS] : CONN_FIELDS, flowRows(batches, folded)), out);
}

/** The judged flows of `analyze` as a conn log with the judgement in `flowaudit.*` fields; the required flows are in the other formats. */
export function writeZeekJudgedConn(r: AuditReport, out: Writable): Promise<void> {
  const folded = r.capture.flowTable !== undefined;
  const fields = [...CONN_FIELDS, ...(folded ? FOLDED_FIELDS : []), ...JUDGED_FIELDS];
  return writePieces(logPieces(r.capture, fields, judgedRows(r.flows, folded)), out);
}

function* logPieces(capture: CaptureSummary, fields: readonly Field[], rows: Iterable<string>): Generator<string> {
  yield '#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n';
  yield `#open\t${logTime(capture.first)}\n`;
  yield `#fields\t${fields.map((f) => f[0]).join('\t')}\n`;
  yield `#types\t${fields.map((f) => f[1]).join('\t')}\n`;
  yield* rows;
  yield `#close\t${logTime(capture.last)}\n`;
}

function* flowRows(batches: Iterable<FlowRecord[]>, folded: boolean): Generator<string> {
  for (const batch of batches) for (const f of batch) yield `${connCells(f, folded).join('\t')}\n`;
}

function* judgedRows(flows: Iterable<JudgedFlow>, folded: boolean): Generator<string> {
  for (const j of flows) {
    // The judged record has its sides exchanged when the catalog's port said so: the conn columns keep the traffic's.
    const swapped = j.direction === 'catalog-port';
    const f = swapped ? recorded(j) : j;
    const cells = connCells(f, folded);
    cells.push(
      str(j.verdict),
      j.rule === null ? UNSET : str(j.rule),
      swapped ? 'resp' : 'orig',
      set(swapped ? j.serverRoles : j.clientRoles),
      set(swapped ? j.clientRoles : j.serverRoles),
      str(swapped ? j.serverRolesFrom : j.clientRolesFrom),
      str(swapped ? j.clientRolesFrom : j.serverRolesFrom),
      j.waived ? str(j.waived.reason) : UNSET,
      str(j.detail),
    );
    yield `${cells.join('\t')}\n`;
  }
}

/** A judged record with its sides as the flow table recorded them. */
function recorded(j: JudgedFlow): FlowRecord {
  return {
    ...j,
    client: j.server, clientPort: j.serverPort, server: j.client, serverPort: j.clientPort,
    clientPackets: j.serverPackets, clientBytes: j.serverBytes, serverPackets: j.clientPackets, serverBytes: j.clientBytes,
    ...(j.serverFlags !== undefined ? { clientFlags: j.serverFlags } : {}),
    ...(j.clientFlags !== undefined ? { serverFlags: j.clientFlags } : {}),
  } as FlowRecord;
}

function connCells(f: FlowRecord, folded: boolean): string[] {
  const icmp = f.protoNumber === 1 || f.protoNumber === 58;
  const known = icmp || f.protoNumber === 6 || f.protoNumber === 17;
  const [origPort, respPort] = icmp ? icmpPorts(f) : known ? [f.clientPort, f.serverPort] : [0, 0];
  const many = (f as { flows?: number }).flows !== undefined;
  const cells = [
    f.start === null ? UNSET : `${f.startSec}.${String(Math.floor(f.startNs / 1000)).padStart(6, '0')}`,
    uid(f),
    f.client, port(origPort), f.server, port(respPort),
    icmp ? 'icmp' : known ? f.proto : 'unknown_transport',
    UNSET,
    f.duration > 0 ? f.duration.toFixed(6) : UNSET,
    UNSET, UNSET,
    many ? UNSET : connState(f),
    UNSET, UNSET, UNSET, UNSET,
    String(f.clientPackets), UNSET, String(f.serverPackets), UNSET,
    f.tunnelParents === undefined ? UNSET : set(f.tunnelParents),
    String(f.protoNumber),
    f.vlan === undefined ? UNSET : String(f.vlan),
    String(f.firstFile), String(f.firstFrame), String(f.lastFile), String(f.lastFrame),
  ];
  if (folded) {
    const { flows, targets } = foldedCells(f);
    cells.push(flows === '' ? UNSET : String(flows), targets === '' ? UNSET : targets);
  }
  return cells;
}

const port = (p: number | null | undefined) => (p === null || p === undefined ? UNSET : String(p));

/** Zeek's ICMP4_counterpart and ICMP6_counterpart: the reply to a request and back. */
const ICMP4_COUNTERPART = new Map([[8, 0], [0, 8], [13, 14], [14, 13], [15, 16], [16, 15], [10, 9], [9, 10], [17, 18], [18, 17]]);
const ICMP6_COUNTERPART = new Map([[128, 129], [129, 128], [133, 134], [134, 133], [135, 136], [136, 135], [130, 131], [131, 130], [139, 140], [140, 139], [144, 145], [145, 144]]);

function icmpPorts(f: FlowRecord): [number | undefined, number | undefined] {
  if (f.icmpType === undefined) return [undefined, undefined];
  const pair = (f.protoNumber === 58 ? ICMP6_COUNTERPART : ICMP4_COUNTERPART).get(f.icmpType);
  if (pair === undefined) return [f.icmpType, f.icmpCode];
  // Only the server sent: the type is its message, and the client's side of the pair is the counterpart.
  return f.clientPackets === 0 ? [pair, f.icmpType] : [f.icmpType, pair];
}

/** The flags of a side are among `allowed` (ECN's E and C always are). */
const only = (flags: string | undefined, allowed: string) => [...(flags ?? '')].every((c) => allowed.includes(c) || c === 'E' || c === 'C');
const has = (flags: string | undefined, c: string) => (flags ?? '').includes(c);

/** The table in the header comment. */
function connState(f: FlowRecord): string {
  if (f.protoNumber === 17) return f.clientPackets > 0 ? (f.serverPackets > 0 ? 'SF' : 'S0') : f.serverPackets > 0 ? 'SHR' : 'OTH';
  if (f.protoNumber !== 6) return 'OTH';
  const c = f.clientFlags;
  const s = f.serverFlags;
  switch (f.outcome) {
    case 'attempted':
      if (only(c, 'S')) return 'S0';
      if (only(c, 'SF') && has(c, 'F')) return 'SH';
      if (only(c, 'SR') && has(c, 'R')) return 'RSTOS0';
      return UNSET;
    case 'rejected':
      return only(c, 'S') && only(s, 'RA') ? 'REJ' : UNSET;
    case 'established':
      if (has(s, 'R')) return has(c, 'R') ? UNSET : 'RSTR';
      if (has(c, 'R')) return 'RSTO';
      if (has(c, 'F')) return has(s, 'F') ? 'SF' : 'S2';
      return has(s, 'F') ? 'S3' : 'S1';
    default:
      return UNSET;
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++, n = Math.floor(n / 62)) s = BASE62[n % 62] + s;
  return s;
}

/** A record read from Zeek's conn.log keeps Zeek's uid; others are deterministic: the flow's key (protocol, ends, VLAN, ICMP type) and its first packet's time. */
function uid(f: FlowRecord): string {
  if (f.uid !== undefined) return str(f.uid);
  const key = `${f.protoNumber} ${f.client} ${f.clientPort} ${f.server} ${f.serverPort} ${f.vlan ?? ''} ${f.icmpType ?? ''} ${f.startSec}.${f.startNs}`;
  const h = createHash('sha256').update(key).digest();
  return `C${base62(h.readUIntBE(0, 6), 9)}${base62(h.readUIntBE(6, 6), 9)}`;
}

/** `2013-03-21T21:18:19.548138Z` → `2013-03-21-21-18-19`, the form of Zeek's #open and #close. */
function logTime(iso: string | null): string {
  const m = iso === null ? null : /^(\d{4}-\d\d-\d\d)T(\d\d):(\d\d):(\d\d)/.exec(iso);
  return m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}` : UNSET;
}

const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/;

/** A string field: empty is `(empty)`, a lone `-` is escaped so it does not read as unset, and so are tabs, backslashes, control and non-ASCII bytes. */
function str(s: string, extra = ''): string {
  if (s === '') return EMPTY;
  if (s === UNSET) return '\\x2d';
  if (PLAIN.test(s) && (extra === '' || !s.includes(extra))) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x20 || b > 0x7e || c === '\\' || extra.includes(c) ? `\\x${b.toString(16).padStart(2, '0')}` : c;
  }
  return out;
}

/** A set[string] field: `(empty)` when empty, elements joined by the set separator (a comma inside one is escaped). */
function set(items: readonly string[]): string {
  return items.length === 0 ? EMPTY : items.map((i) => str(i, ',')).join(',');
}
