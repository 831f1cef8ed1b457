/**
 * Zeek's dce_rpc.log, read beside the conn logs: the DCE/RPC calls Zeek saw, put on the connection
 * each was made on. The fields (Zeek's `DCE_RPC::Info`, base/protocols/dce-rpc/main.zeek):
 *
 *   ts          the call's time (the request's)
 *   uid, id.*   the connection it was made on: its conn.log uid and 4-tuple
 *   rtt         request to response (unset when either was not seen); not used
 *   named_pipe  the SMB pipe, or the secondary address of the bind's answer (a TCP port as text); not used
 *   endpoint    the RPC interface by name (consts.zeek: `epmapper`, `drsuapi`, `netlogon`, `samr`…)
 *   operation   the operation by name (`ept_map`, `DRSGetNCChanges`…)
 *
 * What it does not hold: an endpoint-mapper answer's towers. Zeek logs that `ept_map` was called,
 * not which port it granted, so a call here is evidence of the negotiation, never a grant.
 *
 * Calls are held by connection until the conn logs are read (the conn logs are the larger): each
 * connection keeps its distinct (endpoint, operation) pairs with counts, at most MAX_PAIRS of them,
 * and at most `maxConnections` connections are held (the rest are counted, not kept). A conn record
 * takes the calls of its uid; one whose uid has none (a log whose uids were rewritten or cut) takes
 * the calls of its 4-tuple made within its time (or any, where either side has no time).
 */
import type { DamageTally } from '../../core/errors.js';
import { compareTime, formatIso } from '../../core/time.js';
import type { DceRpcCall, FlowRecord, RecordFileFacts } from '../../flow/record.js';
import { FIELD_NAME, jsonFields, ZeekLogHeader } from './log-header.js';

/** Distinct (endpoint, operation) pairs kept per connection: a connection makes a handful. */
const MAX_PAIRS = 64;

const FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'endpoint', 'operation'] as const;
type Field = (typeof FIELDS)[number];
const DCE_RPC_FIELD_NAMES = new Set<string>([...FIELDS, 'rtt', 'named_pipe']);

const DECIMAL = /^\d{1,15}(\.\d{1,9})?$/;
const PORT = /^\d{1,5}$/;
const MASKED_TIME = /^X+(\.X+)?$/;

/** The calls of one connection, as read. */
interface Held {
  uid: string | null;
  tuple: string;
  calls: DceRpcCall[];
  /** The first timed call (Infinity: none). */
  sec: number;
  ns: number;
  taken: boolean;
}

/** How the calls came to the connections, for the capture section. */
export interface DceRpcJoin {
  calls: number;
  byUid: number;
  byTuple: number;
  /** Calls whose connection is in no conn log read. */
  unjoined: number;
  /** Calls not held: past the bound of connections. */
  dropped: number;
}

function tupleOf(origH: string, origP: number | string, respH: string, respP: number | string): string {
  return `${origH} ${origP} ${respH} ${respP}`;
}

export class DceRpcCalls {
  private readonly byUid = new Map<string, Held>();
  private readonly byTuple = new Map<string, Held[]>();
  private held = 0;
  readonly join: DceRpcJoin = { calls: 0, byUid: 0, byTuple: 0, unjoined: 0, dropped: 0 };

  constructor(private readonly maxConnections = 1_000_000) {}

  get empty(): boolean {
    return this.join.calls === 0;
  }

  /** One call (TSV cells or JSON values, as text). */
  add(uid: string | null, origH: string, origP: string, respH: string, respP: string, sec: number, ns: number, endpoint: string, operation: string): void {
    this.join.calls++;
    const tuple = tupleOf(origH, origP, respH, respP);
    let h = uid === null ? undefined : this.byUid.get(uid);
    if (h === undefined && uid === null) h = this.byTuple.get(tuple)?.find((x) => x.uid === null);
    if (h === undefined) {
      if (this.held >= this.maxConnections) {
        this.join.dropped++;
        return;
      }
      h = { uid, tuple, calls: [], sec: Infinity, ns: 0, taken: false };
      this.held++;
      if (uid !== null) this.byUid.set(uid, h);
      const list = this.byTuple.get(tuple);
      if (list) list.push(h);
      else this.byTuple.set(tuple, [h]);
    }
    const timed = Number.isFinite(sec);
    if (timed && compareTime(sec, ns, h.sec, h.ns) < 0) [h.sec, h.ns] = [sec, ns];
    const same = h.calls.find((c) => c.endpoint === endpoint && c.operation === operation);
    if (same) {
      same.calls++;
      if (timed && (same.first === null || formatIso(sec, ns, 6) < same.first)) same.first = formatIso(sec, ns, 6);
    } else if (h.calls.length < MAX_PAIRS) h.calls.push({ endpoint, operation, calls: 1, first: timed ? formatIso(sec, ns, 6) : null });
    else this.join.dropped++;
  }

  /** The calls made on a conn record's connection (its end given), or undefined; each connection's calls are taken once. */
  take(r: FlowRecord, uid: string | null, endSec: number, endNs: number): DceRpcCall[] | undefined {
    if (this.empty) return undefined;
    if (uid !== null) {
      const h = this.byUid.get(uid);
      if (h !== undefined && !h.taken) return this.taken(h, 'byUid');
    }
    const list = this.byTuple.get(tupleOf(r.client, r.clientPort ?? 0, r.server, r.serverPort ?? 0));
    if (!list) return undefined;
    for (const h of list) {
      if (h.taken || (uid !== null && h.uid === uid)) continue;
      const within = r.start === null || !Number.isFinite(h.sec) || (compareTime(h.sec, h.ns, r.startSec, r.startNs) >= 0 && compareTime(h.sec, h.ns, endSec, endNs) <= 0);
      if (within) return this.taken(h, 'byTuple');
    }
    return undefined;
  }

  private taken(h: Held, how: 'byUid' | 'byTuple'): DceRpcCall[] {
    h.taken = true;
    this.join[how] += h.calls.reduce((s, c) => s + c.calls, 0);
    return h.calls;
  }

  /** After the conn logs: the calls no connection took. */
  finish(): void {
    this.join.unjoined = this.join.calls - this.join.byUid - this.join.byTuple - this.join.dropped;
    this.byUid.clear();
    this.byTuple.clear();
  }
}

class BadCall {
  constructor(readonly reason: string) {}
}

/** How the read of one dce_rpc.log went; its calls go to the store. */
export class DceRpcLogReader {
  readonly facts: RecordFileFacts;
  private readonly header = new ZeekLogHeader();
  private missing = false;
  private notDceRpc = false;

  constructor(
    file: string,
    gzip: boolean,
    private readonly damage: DamageTally,
    private readonly store: DceRpcCalls,
  ) {
    this.facts = { file, gzip, format: 'zeek-tsv', lines: 0, records: 0, unreadable: 0, untimed: 0, tunnelled: 0, log: 'dce_rpc' };
  }

  private bad(reason: string, no: number, offset: number): void {
    this.facts.unreadable++;
    this.damage.add(reason, this.facts.file, no, offset);
  }

  private columnsKnown(): void {
    this.missing = FIELDS.some((n) => n !== 'ts' && n !== 'uid' && !this.header.column.has(n));
  }

  line(text: string, no: number, offset: number): void {
    this.facts.lines = no;
    if (text === '') return;
    const h = this.header;
    if (text.charCodeAt(0) === 0x23 /* # */) {
      const what = h.directive(text);
      if (what === 'fields') this.columnsKnown();
      else if (what === 'path') {
        this.notDceRpc = !h.path!.startsWith('dce_rpc');
        if (this.notDceRpc) this.damage.add('zeek-not-dce-rpc-log', this.facts.file, no, offset);
      }
      return;
    }
    if (text.charCodeAt(0) === 0x7b /* { */) return this.jsonCall(text, no, offset);
    if (h.fields === null) {
      const names = text.split(h.sep);
      if (names.every((n) => FIELD_NAME.test(n)) && names.includes('endpoint') && names.every((n) => DCE_RPC_FIELD_NAMES.has(n))) {
        h.setFields(names);
        return this.columnsKnown();
      }
      return this.bad('zeek-no-header', no, offset);
    }
    if (this.notDceRpc) return this.bad('zeek-not-dce-rpc-log', no, offset);
    if (this.missing) return this.bad('zeek-missing-column', no, offset);
    const cells = text.split(h.sep);
    if (cells.length !== h.fields.length) return this.bad('zeek-column-count', no, offset);
    this.take((name) => h.cell(cells, name), no, offset);
  }

  private jsonCall(text: string, no: number, offset: number): void {
    if (this.facts.records + this.facts.unreadable === 0) this.facts.format = 'zeek-json';
    const fields = jsonFields(text);
    if (fields === null) return this.bad('zeek-bad-json', no, offset);
    const value = (name: Field): unknown => fields.value(name);
    this.take((name) => {
      const v = value(name);
      if (v === null || v === undefined) return null;
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return name === 'ts' ? v.toFixed(6) : String(v);
      if (typeof v !== 'string') throw new BadCall('zeek-bad-type');
      // The JSON writer with JSON::TS_ISO8601 writes ts as text (a masked one, as btest leaves it, stays masked).
      if (name === 'ts' && !DECIMAL.test(v) && !MASKED_TIME.test(v)) {
        const ms = Date.parse(v);
        if (!Number.isFinite(ms)) throw new BadCall('zeek-bad-time');
        return (ms / 1000).toFixed(6);
      }
      return v;
    }, no, offset);
  }

  private take(get: (name: Field) => string | null | undefined, no: number, offset: number): void {
    try {
      const origH = get('id.orig_h');
      const respH = get('id.resp_h');
      const origP = get('id.orig_p');
      const respP = get('id.resp_p');
      if (origH == null || respH == null || origP == null || respP == null) throw new BadCall('zeek-missing-value');
      if (!PORT.test(origP) || !PORT.test(respP) || Number(origP) > 65535 || Number(respP) > 65535) throw new BadCall('zeek-bad-port');
      const ts = get('ts');
      let sec = Infinity;
      let ns = 0;
      if (ts != null && DECIMAL.test(ts)) {
        const dot = ts.indexOf('.');
        sec = Number(dot < 0 ? ts : ts.slice(0, dot));
        ns = dot < 0 ? 0 : Number(ts.slice(dot + 1).padEnd(9, '0'));
      } else if (ts != null && !MASKED_TIME.test(ts)) throw new BadCall('zeek-bad-time');
      else this.facts.untimed++;
      // An unset endpoint or operation is a call Zeek could not name: kept as Zeek's unset.
      this.store.add(get('uid') || null, origH, String(Number(origP)), respH, String(Number(respP)), sec, ns, get('endpoint') ?? '-', get('operation') ?? '-');
      this.facts.records++;
    } catch (e) {
      if (!(e instanceof BadCall)) throw e;
      this.bad(e.reason, no, offset);
    }
  }
}
