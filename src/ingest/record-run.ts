/**
 * A run of flow records (Zeek's conn.log; IPFIX, NetFlow v9 and v5): what the audit reads in place of a packet
 * run's flow table. Records are kept as they come up to the --max-flows bound; past it every record,
 * kept ones first, is folded per conversation as a bounded packet read folds the flows that leave its
 * table (flow/aggregate.ts: bare attempts per scanner and port, the rest per client, server and port),
 * so memory follows the conversations, not the records. The capture section says what was read: the
 * files, their records, the lines that could not be read (file:line and reason), the time span of
 * the records, and that there is no packet-level quality to judge; of flow export also each exporter's
 * loss by its sequence numbers and the sampling it stated, either of which makes absence no proof.
 */
import { DamageTally } from '../core/errors.js';
import { plural } from '../core/human.js';
import { compareTime, formatIso } from '../core/time.js';
import { FlowFolds, isScanAttempt, ScanFolds } from '../flow/aggregate.js';
import type { FlowTableBound } from '../flow/bound.js';
import type { CaptureSummary } from '../flow/pipeline.js';
import type { ExportDomainFacts, ExportSourceFacts, FlowRecord, RecordFileFacts } from '../flow/record.js';
import type { DceRpcJoin } from './zeek/dce-rpc-log.js';

/** `F`: the facts of its sources (a Zeek run's are conn.logs', an export run's ExportSourceFacts). */
export class RecordRun<F extends RecordFileFacts | ExportSourceFacts = RecordFileFacts | ExportSourceFacts> {
  readonly kind = 'records';
  readonly files: F[] = [];
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
  private scans: ScanFolds;
  private folds: FlowFolds;
  private foldedRecords = 0;
  /** Records not over yet, listed by one report's view of the run (including()). */
  private open: FlowRecord[] = [];

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
    this.span(r, endSec, endNs);
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

  /**
   * This run with `open` (records not over yet: a collector's open conversations, each with the time
   * of its last packet) added, for one report; this run is left as it is. The open records are listed
   * as they are, never folded: what holds them (the stitcher) bounds them.
   */
  including(open: Array<{ record: FlowRecord; endSec: number; endNs: number }>): RecordRun<F> {
    const v = new RecordRun<F>(this.input, this.maxFlows);
    v.files.push(...this.files);
    v.damage.merge(this.damage);
    [v.firstSec, v.firstNs, v.lastSec, v.lastNs] = [this.firstSec, this.firstNs, this.lastSec, this.lastNs];
    v.kept = [...this.kept];
    v.folding = this.folding;
    v.scans = this.scans;
    v.folds = this.folds;
    v.foldedRecords = this.foldedRecords;
    for (const { record: r, endSec, endNs } of open) {
      v.span(r, endSec, endNs);
      v.open.push(r);
    }
    return v;
  }

  private span(r: FlowRecord, endSec: number, endNs: number): void {
    if (r.start === null) return;
    if (compareTime(r.startSec, r.startNs, this.firstSec, this.firstNs) < 0) [this.firstSec, this.firstNs] = [r.startSec, r.startNs];
    if (compareTime(endSec, endNs, this.lastSec, this.lastNs) > 0) [this.lastSec, this.lastNs] = [endSec, endNs];
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
    if (this.open.length > 0) return [...out, ...this.open].sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
    return out.sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
  }

  /** The capture section of the report, for records. */
  summary(): CaptureSummary {
    const hasTime = Number.isFinite(this.firstSec);
    let packets = 0;
    let bytes = 0;
    for (const r of this.folding ? [...this.scans.records(), ...this.folds.records(), ...this.open] : [...this.kept, ...this.open]) {
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
    const sources: Array<RecordFileFacts | ExportSourceFacts> = this.files;
    const logs = sources.filter((f): f is RecordFileFacts => !('domains' in f));
    // The conn logs hold the records; a dce_rpc log beside them holds calls on them.
    const conns = logs.filter((f) => f.log === undefined);
    const exports = sources.filter((f): f is ExportSourceFacts => 'domains' in f);
    const sum = <F>(files: F[], k: keyof F) => files.reduce((s, f) => s + (f[k] as number), 0);
    const listeners = exports.filter((f) => f.format === 'udp').length;
    const files = conns.length + exports.length - listeners;
    const from = [files > 0 || listeners === 0 ? (files === 1 ? '1 file' : `${files} files`) : '', listeners === 0 ? '' : listeners === 1 ? '1 listener' : `${listeners} listeners`].filter(Boolean).join(' and ');
    const notes = [
      `no packet-level quality: flow records (${this.input}): ${sum(conns, 'records') + sum(exports, 'records')} records read from ${from}; drops, truncation and decode errors are the sensor's to report`,
    ];
    const d = this.dceRpc;
    if (d !== undefined) {
      const how = [d.byUid > 0 ? `${d.byUid} by uid` : '', d.byTuple > 0 ? `${d.byTuple} by addresses, ports and time where no uid matched` : ''].filter(Boolean).join(', ');
      notes.push(
        `${plural(d.calls, 'DCE/RPC call')} read from ${plural(logs.length - conns.length, 'dce_rpc log')} beside the conn logs: ${d.byUid + d.byTuple} on connections of the conn logs${how ? ` (${how})` : ''}` +
          `${d.unjoined > 0 ? `, ${d.unjoined} on connections the conn logs do not have` : ''}${d.dropped > 0 ? `, ${d.dropped} not kept (past the bound of connections or operations)` : ''}; ` +
          "dce_rpc.log names the calls, not the ports an endpoint mapper granted",
      );
    }
    const unreadable = sum(logs, 'unreadable');
    if (unreadable > 0) notes.push(`${unreadable} ${unreadable === 1 ? 'line' : 'lines'} could not be read as records (see decodeErrors: file and line)`);
    const untimed = sum(conns, 'untimed');
    if (untimed > 0) notes.push(`${untimed} ${untimed === 1 ? 'record has' : 'records have'} no time (masked or unset ts): periods and spans leave them out`);
    const tunnelled = sum(conns, 'tunnelled');
    if (tunnelled > 0) {
      const outer = this.tunnelOuters > 0 ? `; ${this.tunnelOuters} with the tunnel's outer conn in the logs read, its ends the flow's outer fields` : '';
      notes.push(`${tunnelled} ${tunnelled === 1 ? 'record was' : 'records were'} seen inside a tunnel (tunnel_parents)${outer}`);
    }
    // A dce_rpc line that could not be read loses a call, not a connection: absence stays proof.
    const lost = sum(conns, 'unreadable');
    let loss = lost > 0 ? `${lost} ${lost === 1 ? "line" : "lines"} of the flow records could not be read, so absence is not proof` : null;
    if (exports.length > 0) {
      const said = exportNotes(exports);
      notes.push(...said.notes);
      loss ??= said.loss;
    }
    return { notes, loss };
  }
}

const VERSION_NAMES: Record<number, string> = { 5: 'NetFlow v5', 9: 'NetFlow v9', 10: 'IPFIX' };
const LOST_UNIT: Record<ExportDomainFacts['lostUnit'], [string, string]> = { records: ['record', 'records'], packets: ['export packet', 'export packets'], flows: ['flow', 'flows'] };
/** Domains named one by one in a note; the rest are counted. */
const DOMAINS_NAMED = 8;

function domainName(d: ExportDomainFacts): string {
  return `${d.exporter} domain ${d.domain} (${VERSION_NAMES[d.version] ?? `v${d.version}`})`;
}

function named<T>(items: T[], text: (x: T) => string): string {
  const shown = items.slice(0, DOMAINS_NAMED).map(text).join('; ');
  return items.length > DOMAINS_NAMED ? `${shown}; … and ${items.length - DOMAINS_NAMED} more` : shown;
}

/**
 * What flow export says of itself: the exporters and their domains, the sampling they stated (or that
 * none did), what their sequence numbers show lost before the collector, the damaged places, and
 * which of these makes absence no proof (the collector's own drops first, then the exporters' loss,
 * damage, sampling).
 */
function exportNotes(sources: ExportSourceFacts[]): { notes: string[]; loss: string | null } {
  const notes: string[] = [];
  const domains = sources.flatMap((s) => s.domains);
  const count = (k: 'unreadable' | 'untimed' | 'garbage' | 'templateChanges' | 'socketDrops') => sources.reduce((n, s) => n + (s[k] ?? 0), 0);
  if (domains.length > 0) notes.push(`exporters: ${named(domains, (d) => `${domainName(d)}: ${plural(d.messages, 'message', 'messages')}, ${plural(d.records, 'record', 'records')}`)}`);
  const sampled = domains.filter((d) => d.sampling > 1);
  if (sampled.length === 0) {
    notes.push(domains.every((d) => d.samplingSource !== null) ? 'sampling: none: every packet metered, as the exporters state' : 'sampling: none stated by the exporters (taken as every packet metered)');
  }
  else {
    notes.push(`sampling: ${named(sampled, (d) => `1 in ${d.sampling} packets by ${domainName(d)}, stated in ${d.samplingSource === 'v5-header' ? 'the v5 header' : d.samplingSource === 'data-record' ? 'the data records' : 'an options record'}`)}: packet and byte counts are of the sampled packets, and a short flow may not be seen at all`);
    const unsampled = domains.length - sampled.length;
    if (unsampled > 0) notes.push(`${plural(unsampled, 'other domain states', 'other domains state')} no sampling`);
  }
  const drops = count('socketDrops');
  if (drops > 0) notes.unshift(`!!! DROPS: ${plural(drops, 'datagram was', 'datagrams were')} dropped by this host before flowaudit read them (the socket's receive buffer was full)`);
  const lossy = domains.filter((d) => d.lost > 0);
  const lostText = named(lossy, (d) => `${plural(d.lost, LOST_UNIT[d.lostUnit][0], LOST_UNIT[d.lostUnit][1])} of ${domainName(d)}`);
  if (lossy.length > 0) notes.push(`sequence numbers show loss before the collector: ${lostText}`);
  const backwards = domains.reduce((n, d) => n + d.sequenceBackwards, 0);
  if (backwards > 0) notes.push(`${plural(backwards, "message's sequence number", "messages' sequence numbers")} went backwards (reordered, or an exporter restarted)`);
  const garbage = count('garbage');
  if (garbage > 0) notes.push(`${plural(garbage, 'datagram was', 'datagrams were')} no NetFlow v5, v9 or IPFIX message (see decodeErrors: unknown-version): no exporter's, so no loss`);
  const unreadable = count('unreadable');
  if (unreadable > 0) notes.push(`${plural(unreadable, 'damaged place', 'damaged places')} in the flow export (see decodeErrors: file, message and byte offset)`);
  const changes = count('templateChanges');
  if (changes > 0) notes.push(`${plural(changes, 'template was', 'templates were')} sent again with other fields and no withdrawal (RFC 7011 §8.1): the new fields were used from then on`);
  const untimed = count('untimed');
  if (untimed > 0) notes.push(`${plural(untimed, 'conversation has', 'conversations have')} no time (the exporter sent none): periods and spans leave them out`);
  let loss: string | null = null;
  if (drops > 0) loss = `the collector's socket dropped ${plural(drops, 'datagram', 'datagrams')} of flow export, so absence is not proof`;
  else if (lossy.length > 0) loss = `the exporters' sequence numbers show ${lostText} lost before the collector, so absence is not proof`;
  else if (unreadable > 0) loss = `${plural(unreadable, 'place', 'places')} of the flow export could not be read, so absence is not proof`;
  else if (sampled.length > 0) loss = `the exporters sample packets (${[...new Set(sampled.map((d) => `1 in ${d.sampling}`))].join(', ')}), so absence is not proof`;
  return { notes, loss };
}
