/**
 * A run of flow records (Zeek's conn.log; later IPFIX): what the audit reads in place of a packet
 * run's flow table. Records are kept as they come up to the --max-flows bound; past it every record,
 * kept ones first, is folded per conversation as a bounded packet read folds the flows that leave its
 * table (flow/aggregate.ts: bare attempts per scanner and port, the rest per client, server and port),
 * so memory follows the conversations, not the records. The capture section says what was read: the
 * files, their records, the lines that could not be read (file:line and reason), the time span of
 * the records, and that there is no packet-level quality to judge.
 */
import { DamageTally } from '../core/errors.js';
import { plural } from '../core/human.js';
import { compareTime, formatIso } from '../core/time.js';
import { FlowFolds, isScanAttempt, ScanFolds } from '../flow/aggregate.js';
import type { FlowTableBound } from '../flow/bound.js';
import type { CaptureSummary } from '../flow/pipeline.js';
import type { FlowRecord, RecordFileFacts } from '../flow/record.js';
import type { DceRpcJoin } from './zeek/dce-rpc-log.js';

export class RecordRun {
  readonly kind = 'records';
  readonly files: RecordFileFacts[] = [];
  readonly damage = new DamageTally();
  /** How the calls of the dce_rpc logs beside the conn logs came to their connections; absent without such logs. */
  dceRpc?: DceRpcJoin;
  /** Records inside a tunnel whose outer conn was among the records (their outer fields filled from it). */
  tunnelOuters = 0;
  firstSec = Infinity;
  firstNs = 0;
  lastSec = -Infinity;
  lastNs = 0;
  private kept: FlowRecord[] = [];
  private folding = false;
  private readonly scans: ScanFolds;
  private readonly folds: FlowFolds;
  private foldedRecords = 0;

  /** `input`: the input kind's name (`zeek`), as the report's notes say it. */
  constructor(
    readonly input: string,
    private readonly maxFlows = 1_000_000,
  ) {
    this.scans = new ScanFolds(maxFlows);
    this.folds = new FlowFolds(maxFlows);
  }

  /** A record and the time of its last packet (its start when it has none). */
  add(r: FlowRecord, endSec: number, endNs: number): void {
    if (r.start !== null) {
      if (compareTime(r.startSec, r.startNs, this.firstSec, this.firstNs) < 0) [this.firstSec, this.firstNs] = [r.startSec, r.startNs];
      if (compareTime(endSec, endNs, this.lastSec, this.lastNs) > 0) [this.lastSec, this.lastNs] = [endSec, endNs];
    }
    if (!this.folding) {
      if (this.kept.length < this.maxFlows) {
        this.kept.push(r);
        return;
      }
      this.folding = true;
      for (const k of this.kept) this.fold(k);
      this.kept = [];
    }
    this.fold(r);
  }

  /** Whether the records went past --max-flows and are folded per conversation. */
  get isFolding(): boolean {
    return this.folding;
  }

  private fold(full: FlowRecord): void {
    this.foldedRecords++;
    // A folded record stands for many connections: no one connection's uid, tunnel parents or calls.
    const { uid: _uid, tunnelParents: _parents, dceRpc: _calls, ...r } = full;
    if (isScanAttempt(r)) this.scans.add(r);
    else this.folds.add(r);
  }

  /** The records (or, past the bound, the folded ones) by start, the order the audit's columns need. */
  records(): FlowRecord[] {
    const out = this.folding ? [...this.scans.records(), ...this.folds.records()] : this.kept;
    return out.sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
  }

  /** The capture section of the report, for records. */
  summary(): CaptureSummary {
    const hasTime = Number.isFinite(this.firstSec);
    let packets = 0;
    let bytes = 0;
    for (const r of this.folding ? [...this.scans.records(), ...this.folds.records()] : this.kept) {
      packets += r.packets;
      bytes += r.bytes;
    }
    return {
      files: this.files,
      packets,
      bytes,
      ipPackets: packets,
      first: hasTime ? formatIso(this.firstSec, this.firstNs, 6) : null,
      last: hasTime ? formatIso(this.lastSec, this.lastNs, 6) : null,
      linkTypes: {},
      notIp: {},
      decodeErrors: this.damage.toJSON(),
      decodeErrorCount: this.damage.total,
      orphanFragments: 0,
      fragmentOverflow: 0,
      timeReversals: 0,
      ...(this.folding ? { flowTable: this.bound() } : {}),
    };
  }

  private bound(): FlowTableBound {
    const scanners = this.scans.scanners();
    return {
      limit: this.maxFlows,
      active: 0,
      expired: this.foldedRecords,
      evicted: 0,
      scanFlows: this.scans.folded - this.scans.dropped,
      scanRecords: this.scans.size,
      foldedFlows: this.folds.folded - this.folds.dropped,
      foldedRecords: this.folds.size,
      dropped: this.scans.dropped + this.folds.dropped,
      scanners: scanners.slice(0, 20),
      scannersMore: Math.max(0, scanners.length - 20),
      records: true,
    };
  }

  /** What the capture-quality section says of records, and why absence may not be proof. */
  qualityNotes(): { notes: string[]; loss: string | null } {
    const conns = this.files.filter((f) => f.log === undefined);
    const sum = (k: 'records' | 'unreadable' | 'untimed' | 'tunnelled' | 'lines', files = conns) => files.reduce((s, f) => s + f[k], 0);
    const notes = [
      `no packet-level quality: flow records (${this.input}): ${sum('records')} records read from ${conns.length === 1 ? '1 file' : `${conns.length} files`}; drops, truncation and decode errors are the sensor's to report`,
    ];
    const d = this.dceRpc;
    if (d !== undefined) {
      const logs = this.files.length - conns.length;
      const how = [d.byUid > 0 ? `${d.byUid} by uid` : '', d.byTuple > 0 ? `${d.byTuple} by addresses, ports and time where no uid matched` : ''].filter(Boolean).join(', ');
      notes.push(
        `${plural(d.calls, 'DCE/RPC call')} read from ${plural(logs, 'dce_rpc log')} beside the conn logs: ${d.byUid + d.byTuple} on connections of the conn logs${how ? ` (${how})` : ''}` +
          `${d.unjoined > 0 ? `, ${d.unjoined} on connections the conn logs do not have` : ''}${d.dropped > 0 ? `, ${d.dropped} not kept (past the bound of connections or operations)` : ''}; ` +
          "dce_rpc.log names the calls, not the ports an endpoint mapper granted",
      );
    }
    const unreadable = sum('unreadable', this.files);
    if (unreadable > 0) notes.push(`${unreadable} ${unreadable === 1 ? 'line' : 'lines'} could not be read as records (see decodeErrors: file and line)`);
    const untimed = sum('untimed');
    if (untimed > 0) notes.push(`${untimed} ${untimed === 1 ? 'record has' : 'records have'} no time (masked or unset ts): periods and spans leave them out`);
    const tunnelled = sum('tunnelled');
    if (tunnelled > 0) {
      const outer = this.tunnelOuters > 0 ? `; ${this.tunnelOuters} with the tunnel's outer conn in the logs read, its ends the flow's outer fields` : '';
      notes.push(`${tunnelled} ${tunnelled === 1 ? 'record was' : 'records were'} seen inside a tunnel (tunnel_parents)${outer}`);
    }
    // A dce_rpc line that could not be read loses a call, not a connection: absence stays proof.
    const lost = sum('unreadable');
    const loss = lost > 0 ? `${lost} ${lost === 1 ? "line" : "lines"} of the flow records could not be read, so absence is not proof` : null;
    return { notes, loss };
  }
}
