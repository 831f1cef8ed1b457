/**
 * Zeek's conn.log → flow records, one line at a time: the ASCII writer's TSV (`#separator` with its
 * \x escapes, `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#fields`, `#types`), the
 * header line zeek-cut leaves (names without `#fields`), and the JSON writer's lines (one object a
 * line, unset fields left out). A line is JSON when it starts with `{`; the file's format is its first
 * record's. Nothing is held but the header: every record goes to the sink as it is read.
 *
 * The fields (Zeek's `Conn::Info`, base/protocols/conn/main.zeek):
 *   id.orig_h/id.orig_p   the client (Zeek's originator); id.resp_h/id.resp_p the server. For ICMP
 *                         Zeek puts the type in orig_p and the code (or the counterpart type of a
 *                         request: echo 8 → 0) in resp_p: icmpType and icmpCode, no ports.
 *   proto                 tcp, udp, icmp (ICMPv6 on IPv6 addresses), unknown_transport with ip_proto
 *   orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes   packets and IP bytes each way
 *   ts, duration          start; end = ts + duration. A masked ts (XXXXXXXXXX.XXXXXX, Zeek's test
 *                         baselines) or an unset one is a record without time, counted, not damage.
 *   vlan                  the outer VLAN id (policy/protocols/conn/vlan-logging.zeek); inner_vlan is read
 *                         and checked but a flow record has no inner tag.
 *   uid                   kept on the record (FlowRecord.uid): dce_rpc.log's calls and tunnel_parents name it.
 *   tunnel_parents        kept on the record (tunnelParents) and counted per file (`tunnelled`); the
 *                         outer conn's fields fill the record's outer ones (tunnel-parents.ts).
 *   service               passed on with the record: the kind of a tunnel's outer conn.
 *   conn_state, history   the TCP outcome and who the client is (OUTCOME_BY_STATE, directionOf).
 */
import { isIP } from 'node:net';
import type { DamageTally } from '../../core/errors.js';
import { formatIso } from '../../core/time.js';
import { PROTO_NAMES } from '../../flow/columns.js';
import type { DirectionEvidence, FlowRecord, RecordFileFacts, TcpOutcome } from '../../flow/record.js';
import { FIELD_NAME, jsonFields, ZeekLogHeader } from './log-header.js';

/**
 * Zeek's conn_state (base/protocols/conn/main.zeek, `conn_state` documentation) as a TCP outcome:
 *   S0      SYN seen, no reply                                   attempted
 *   SH      SYN then FIN from the originator, no SYN-ACK         attempted (the pcap reading: the server sent nothing)
 *   RSTOS0  SYN then RST from the originator, no SYN-ACK         attempted
 *   REJ     SYN answered by RST                                  rejected
 *   S1 SF S2 S3 RSTO RSTR   established (closed or not, reset by either side)
 *   SHR     SYN-ACK then FIN from the responder, no SYN seen     partial
 *   RSTRH   SYN-ACK then RST from the responder, no SYN seen     partial
 *   OTH     no SYN seen, midstream traffic                       partial
 * An established state whose history shows no SYN from the originator (no `S`: Zeek saw the
 * handshake from its middle, e.g. `^hADdFaf`) is partial, as flowaudit judges the same packets: no
 * outcome is claimed without the client's SYN.
 */
const OUTCOME_BY_STATE: Readonly<Record<string, TcpOutcome>> = {
  S0: 'attempted', SH: 'attempted', RSTOS0: 'attempted', REJ: 'rejected',
  S1: 'established', SF: 'established', S2: 'established', S3: 'established', RSTO: 'established', RSTR: 'established',
  SHR: 'partial', RSTRH: 'partial', OTH: 'partial',
};

/** The TCP outcome of a conn_state and history (null history: the log has none). */
export function outcomeOf(state: string | null, history: string | null): TcpOutcome {
  const o = state === null ? undefined : OUTCOME_BY_STATE[state];
  if (o === undefined) return 'partial';
  if (o === 'established' && history !== null && !history.includes('S')) return 'partial';
  return o;
}

/**
 * Who the client is, as Zeek decided it. Zeek's originator is the first packet's sender unless it
 * flipped the connection (history `^`): then its originator is the side its heuristics took for the
 * client. A flip over a lone SYN-ACK (`h` from the responder, no `S`) is the SYN-ACK evidence
 * flowaudit itself uses; any other flip (Zeek's likely server ports) is `zeek-flipped`, a weak
 * evidence that the catalog's documented port may overrule, as it overrules the first packet. A
 * history with the originator's SYN is `syn`.
 */
export function directionOf(tcp: boolean, history: string | null): DirectionEvidence {
  if (history === null || history === '') return 'first-packet';
  if (history.startsWith('^')) return tcp && history.includes('h') && !history.includes('S') ? 'syn-ack' : 'zeek-flipped';
  return tcp && history.includes('S') ? 'syn' : 'first-packet';
}

/** The flags a history shows for one side (upper case: the originator's letters), in the record's order. */
export function flagsOf(history: string | null, orig: boolean): string {
  if (history === null) return '';
  const has = (c: string) => history.includes(orig ? c : c.toLowerCase());
  const syn = has('S') || has('H');
  const ack = has('A') || has('H');
  return `${syn ? 'S' : ''}${ack ? 'A' : ''}${has('F') ? 'F' : ''}${has('R') ? 'R' : ''}`;
}

/** The fields read, by Zeek's names. */
const WANTED = ['ts', 'uid', 'service', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'duration', 'conn_state', 'history', 'orig_pkts', 'resp_pkts', 'orig_ip_bytes', 'resp_ip_bytes', 'tunnel_parents', 'vlan', 'inner_vlan', 'ip_proto'] as const;
type Wanted = (typeof WANTED)[number];
/** Without these a record is no conversation. */
const REQUIRED: readonly Wanted[] = ['id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto'];
/** Every field name of Conn::Info (and the usual policy additions): how a zeek-cut header line is recognised. */
const CONN_FIELD_NAMES = new Set<string>([...WANTED, 'orig_bytes', 'resp_bytes', 'local_orig', 'local_resp', 'missed_bytes', 'orig_l2_addr', 'resp_l2_addr', 'community_id']);

/** A field's value as text, null when unset, undefined when the log has no such column. */
type Get = (name: Wanted) => string | null | undefined;

class BadRecord {
  constructor(readonly reason: string) {}
}

const COUNT = /^\d{1,15}$/;
const DECIMAL = /^\d{1,15}(\.\d{1,9})?$/;
const MASKED_TIME = /^X+(\.X+)?$/;

function count(get: Get, name: Wanted, max = Number.MAX_SAFE_INTEGER): number | null {
  const v = get(name);
  if (v === null || v === undefined) return null;
  if (!COUNT.test(v) || Number(v) > max) throw new BadRecord(name.endsWith('_p') ? 'zeek-bad-port' : 'zeek-bad-count');
  return Number(v);
}

/** A decimal seconds text → [sec, ns]. */
function splitDecimal(v: string): [number, number] {
  const dot = v.indexOf('.');
  if (dot < 0) return [Number(v), 0];
  return [Number(v.slice(0, dot)), Number(v.slice(dot + 1).padEnd(9, '0'))];
}

/** The record of one line's fields; throws BadRecord. `untimed` is told when the record has no time. */
function recordOf(get: Get, fileIndex: number, line: number, untimed: () => void, end: [number, number]): FlowRecord {
  const client = get('id.orig_h');
  const server = get('id.resp_h');
  const proto = get('proto');
  if (client == null || server == null || proto == null) throw new BadRecord('zeek-missing-value');
  const v = isIP(client);
  if (v === 0 || isIP(server) !== v) throw new BadRecord('zeek-bad-address');
  const ipVersion = v as 4 | 6;
  const origP = count(get, 'id.orig_p', 65535);
  const respP = count(get, 'id.resp_p', 65535);
  let protoNumber: number;
  if (proto === 'tcp') protoNumber = 6;
  else if (proto === 'udp') protoNumber = 17;
  else if (proto === 'icmp') protoNumber = ipVersion === 6 ? 58 : 1;
  else if (proto === 'unknown_transport') {
    const ip = count(get, 'ip_proto', 255);
    if (ip === null) throw new BadRecord('zeek-unknown-transport');
    protoNumber = ip;
  } else throw new BadRecord('zeek-bad-proto');
  const ported = protoNumber === 6 || protoNumber === 17;
  if (ported && (origP === null || respP === null)) throw new BadRecord('zeek-missing-value');
  const icmp = protoNumber === 1 || protoNumber === 58;
  if (icmp && ((origP ?? 0) > 255 || (respP ?? 0) > 255)) throw new BadRecord('zeek-bad-port');
  const clientPackets = count(get, 'orig_pkts') ?? 0;
  const serverPackets = count(get, 'resp_pkts') ?? 0;
  const clientBytes = count(get, 'orig_ip_bytes') ?? 0;
  const serverBytes = count(get, 'resp_ip_bytes') ?? 0;
  const ts = get('ts');
  let startSec = 0;
  let startNs = 0;
  let timed = false;
  if (ts != null && !MASKED_TIME.test(ts)) {
    if (!DECIMAL.test(ts)) throw new BadRecord('zeek-bad-time');
    [startSec, startNs] = splitDecimal(ts);
    timed = true;
  } else untimed();
  const d = get('duration');
  let duration = 0;
  if (d != null) {
    if (!DECIMAL.test(d)) throw new BadRecord('zeek-bad-interval');
    duration = Number(d);
  }
  const vlan = count(get, 'vlan', 4095);
  count(get, 'inner_vlan', 4095);
  const history = get('history') ?? null;
  const tcp = protoNumber === 6;
  const state = get('conn_state') ?? null;
  let endSec = startSec;
  let endNs = startNs;
  if (timed) {
    const [ds, dn] = splitDecimal(d ?? '0');
    endNs = startNs + dn;
    endSec = startSec + ds + Math.floor(endNs / 1e9);
    endNs %= 1e9;
  }
  end[0] = endSec;
  end[1] = endNs;
  const r: FlowRecord = {
    proto: PROTO_NAMES[protoNumber]!,
    protoNumber,
    ipVersion,
    client,
    clientPort: ported ? origP : null,
    server,
    serverPort: ported ? respP : null,
    packets: clientPackets + serverPackets,
    bytes: clientBytes + serverBytes,
    clientPackets,
    clientBytes,
    serverPackets,
    serverBytes,
    start: timed ? formatIso(startSec, startNs, 6) : null,
    end: timed ? formatIso(endSec, endNs, 6) : null,
    duration,
    outcome: tcp ? outcomeOf(state, history) : null,
    direction: directionOf(tcp, history),
    firstFile: fileIndex,
    firstFrame: line,
    lastFile: fileIndex,
    lastFrame: line,
    startSec,
    startNs,
  };
  if (tcp) {
    r.clientFlags = flagsOf(history, true);
    r.serverFlags = flagsOf(history, false);
  }
  if (icmp) {
    r.icmpType = origP ?? 0;
    r.icmpCode = respP ?? 0;
  }
  if (vlan !== null) r.vlan = vlan;
  return r;
}

/** The JSON writer's value as the TSV writer would spell it (sets joined by commas), or a type error. */
function jsonText(v: unknown, name: Wanted): string | null {
  if (v === null || v === undefined) return null;
  const numeric = name !== 'uid' && name !== 'service' && name !== 'id.orig_h' && name !== 'id.resp_h' && name !== 'proto' && name !== 'conn_state' && name !== 'history' && name !== 'tunnel_parents';
  if (numeric) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return name === 'ts' || name === 'duration' ? v.toFixed(6) : String(v);
    // The JSON writer with JSON::TS_ISO8601 writes ts as text.
    if (name === 'ts' && typeof v === 'string') {
      const ms = Date.parse(v);
      if (Number.isFinite(ms)) return (ms / 1000).toFixed(6);
    }
    throw new BadRecord('zeek-bad-type');
  }
  if (name === 'tunnel_parents') {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
    throw new BadRecord('zeek-bad-type');
  }
  if (typeof v !== 'string') throw new BadRecord('zeek-bad-type');
  return v;
}

/** How the read of one conn.log went. */
export class ConnLogReader {
  readonly facts: RecordFileFacts;
  private readonly header = new ZeekLogHeader();
  private missing: string | null = null;
  private notConn: string | null = null;
  private recordsUnderHeader = 0;
  private cells: string[] = [];
  private readonly end: [number, number] = [0, 0];
  private readonly getTsv: Get = (name) => this.header.cell(this.cells, name, name === 'tunnel_parents');

  constructor(
    file: string,
    gzip: boolean,
    private readonly fileIndex: number,
    private readonly damage: DamageTally,
    /** A record (with its Zeek uid and tunnel parents where the log has them), the time of its end, and Zeek's service of it. */
    private readonly onRecord: (r: FlowRecord, endSec: number, endNs: number, service: string | null) => void,
  ) {
    this.facts = { file, gzip, format: 'zeek-tsv', lines: 0, records: 0, unreadable: 0, untimed: 0, tunnelled: 0 };
  }

  private bad(reason: string, no: number, offset: number): void {
    this.facts.unreadable++;
    this.damage.add(reason, this.facts.file, no, offset);
  }

  /** The columns were (re)declared: a different header under records is news. */
  private fieldsChanged(before: string[] | null, no: number, offset: number): void {
    const names = this.header.fields!;
    // Logs concatenated from rotations repeat their header: only a different one is news.
    if (before !== null && !(names.length === before.length && names.every((n, i) => n === before[i])) && this.recordsUnderHeader > 0) {
      this.damage.add('zeek-header-changed', this.facts.file, no, offset);
    }
    const absent = REQUIRED.filter((n) => !this.header.column.has(n));
    this.missing = absent.length ? 'zeek-missing-column' : null;
    this.recordsUnderHeader = 0;
  }

  line(text: string, no: number, offset: number): void {
    this.facts.lines = no;
    if (text === '') return;
    if (text.charCodeAt(0) === 0x23 /* # */) return this.directive(text, no, offset);
    if (text.charCodeAt(0) === 0x7b /* { */) return this.jsonRecord(text, no, offset);
    const h = this.header;
    if (h.fields === null) {
      // zeek-cut's header: the names of the columns it kept, with no '#fields'.
      const names = text.split(h.sep);
      if (names.every((n) => FIELD_NAME.test(n)) && names.some((n) => CONN_FIELD_NAMES.has(n))) {
        h.setFields(names);
        return this.fieldsChanged(null, no, offset);
      }
      return this.bad('zeek-no-header', no, offset);
    }
    this.recordsUnderHeader++;
    if (this.notConn !== null) return this.bad('zeek-not-conn-log', no, offset);
    if (this.missing !== null) return this.bad(this.missing, no, offset);
    this.cells = text.split(h.sep);
    if (this.cells.length !== h.fields.length) return this.bad('zeek-column-count', no, offset);
    this.take(this.getTsv, no, offset);
  }

  private take(get: Get, no: number, offset: number): void {
    try {
      const r = recordOf(get, this.fileIndex, no, () => this.facts.untimed++, this.end);
      const uid = get('uid');
      if (uid) r.uid = uid;
      const parents = get('tunnel_parents');
      if (parents) {
        this.facts.tunnelled++;
        r.tunnelParents = parents.split(',');
      }
      this.facts.records++;
      this.onRecord(r, this.end[0], this.end[1], get('service') || null);
    } catch (e) {
      if (!(e instanceof BadRecord)) throw e;
      this.bad(e.reason, no, offset);
    }
  }

  private jsonRecord(text: string, no: number, offset: number): void {
    if (this.facts.records + this.facts.unreadable === 0) this.facts.format = 'zeek-json';
    const fields = jsonFields(text);
    if (fields === null) return this.bad('zeek-bad-json', no, offset);
    for (const n of ['id.orig_h', 'id.resp_h', 'proto']) if (!fields.has(n)) return this.bad('zeek-missing-column', no, offset);
    const get: Get = (name) => jsonText(fields.value(name), name);
    this.take(get, no, offset);
  }

  private directive(text: string, no: number, offset: number): void {
    const before = this.header.fields;
    const what = this.header.directive(text);
    if (what === 'fields') this.fieldsChanged(before, no, offset);
    else if (what === 'path') {
      const path = this.header.path!;
      this.notConn = path.startsWith('conn') ? null : path;
      if (this.notConn !== null) this.damage.add('zeek-not-conn-log', this.facts.file, no, offset);
    }
  }
}
