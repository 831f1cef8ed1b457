import { compareTime } from '../core/time.js';
import { FlowFolds, FoldedFlow, isScanAttempt, ScannerSummary, ScanFolds, ScanRecord } from './aggregate.js';
import type { FlowRecord } from './record.js';
import type { RetireLimits } from './retire.js';
import type { FlowTable } from './table.js';

/** The idle timeouts `live` retires flows by (its --idle-timeout and --tcp-idle-timeout defaults). */
export const DEFAULT_RETIRE: Omit<RetireLimits, 'maxFlows'> = { idle: 120, tcpIdle: 7200, finishedIdle: 30 };

/** What a bounded table did, for the report: present only once the bound was reached. */
export interface FlowTableBound {
  /** The --max-flows bound. */
  limit: number;
  /** Flows still in the table at the end. */
  active: number;
  /** Flows that left the table: over by capture time (idle, finished) or evicted, longest idle first. */
  expired: number;
  evicted: number;
  /** Bare attempts (unanswered or refused) folded per scanner and port, into `scanRecords` records. */
  scanFlows: number;
  scanRecords: number;
  /** Other flows folded per conversation (client, server, port), into `foldedRecords` records. */
  foldedFlows: number;
  foldedRecords: number;
  /** Flows only counted: their fold store was full. */
  dropped: number;
  /** The busiest scanners (at most 20), most flows first. */
  scanners: ScannerSummary[];
  scannersMore: number;
  /** Present (true) when the bound held flow records (Zeek, IPFIX), not a packet read's flow table. */
  records?: true;
}

/** The folds of a shard, sent from its worker to be merged. */
export interface BoundShard {
  expired: number;
  evicted: number;
  scans: ScanRecord[];
  scanDropped: number;
  folds: FoldedFlow[];
  foldDropped: number;
}

/**
 * `--max-flows` for a capture read from a file or a stream: while the table holds no more than the
 * bound, nothing happens (a normal capture's report is what it always was). Past it, the table
 * retires as `live` does, by capture time with live's idle timeouts, then the longest idle down to
 * half the bound (so that a scan's flood pays for a retirement every half bound of new flows, not
 * every few); what leaves is folded: bare attempts (a scan) per scanner and port, the rest per
 * conversation. Memory stays at the bound's table plus two fold stores of at most `maxFlows` records.
 */
export class FlowBound {
  readonly limits: RetireLimits;
  /** The table is trimmed when it holds more flows than this (the bound). */
  readonly trimAt: number;
  private readonly maxFlows: number;
  private readonly scans: ScanFolds;
  private readonly folds: FlowFolds;
  private expired = 0;
  private evicted = 0;

  constructor(maxFlows: number, retire: Omit<RetireLimits, 'maxFlows'> = DEFAULT_RETIRE) {
    this.maxFlows = maxFlows;
    this.limits = { ...retire, maxFlows: Math.floor(maxFlows / 2) };
    this.trimAt = maxFlows;
    this.scans = new ScanFolds(maxFlows);
    this.folds = new FlowFolds(maxFlows);
  }

  /** Whether anything left the table: then reports say so and carry the folded records. */
  get reached(): boolean {
    return this.expired + this.evicted + this.scans.folded > 0;
  }

  /** Retires and folds; `nowSec` is the capture time of the latest packet. */
  trim(table: FlowTable, nowSec: number): void {
    table.retire(nowSec, this.limits, (f, evicted) => {
      if (evicted) this.evicted++;
      else this.expired++;
      this.fold(f);
    });
  }

  private fold(f: FlowRecord | FoldedFlow): void {
    if (isScanAttempt(f)) this.scans.add(f);
    else this.folds.add(f);
  }

  toShard(): BoundShard {
    return { expired: this.expired, evicted: this.evicted, scans: this.scans.records(), scanDropped: this.scans.dropped, folds: this.folds.records(), foldDropped: this.folds.dropped };
  }

  mergeShard(s: BoundShard): void {
    this.expired += s.expired;
    this.evicted += s.evicted;
    for (const r of s.scans) this.scans.add(r);
    for (const r of s.folds) this.folds.add(r);
    this.scans.folded += s.scanDropped;
    this.scans.dropped += s.scanDropped;
    this.folds.folded += s.foldDropped;
    this.folds.dropped += s.foldDropped;
  }

  /** The folded records, by first packet, to be reported and judged with the table's flows. */
  records(): FlowRecord[] {
    return [...this.scans.records(), ...this.folds.records()].sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
  }

  summary(active: number): FlowTableBound {
    const scanners = this.scans.scanners();
    return {
      limit: this.maxFlows,
      active,
      expired: this.expired,
      evicted: this.evicted,
      scanFlows: this.scans.folded - this.scans.dropped,
      scanRecords: this.scans.size,
      foldedFlows: this.folds.folded - this.folds.dropped,
      foldedRecords: this.folds.size,
      dropped: this.scans.dropped + this.folds.dropped,
      scanners: scanners.slice(0, 20),
      scannersMore: Math.max(0, scanners.length - 20),
    };
  }
}

/** The report's sentence for a bounded table (text and HTML say the same). */
export function boundText(b: FlowTableBound): string[] {
  const folds =
    `${b.scanFlows} unanswered or refused attempts folded into ${b.scanRecords} records per scanner and port, ${b.foldedFlows} other ${b.records ? 'records' : 'flows'} into ${b.foldedRecords} records per conversation` +
    (b.dropped ? `; ${b.dropped} ${b.records ? 'records' : 'flows'} only counted (the fold store was full)` : '');
  const lines = [
    b.records
      ? `flow record bound reached (--max-flows ${b.limit}): all ${b.expired} records were folded as read; ${folds}`
      : `flow table bound reached (--max-flows ${b.limit}): ${b.expired + b.evicted} flows left the table (${b.expired} over by capture time, ${b.evicted} evicted longest idle first); ${folds}`,
  ];
  for (const s of b.scanners) {
    const ports = s.lowPort === null ? '' : s.lowPort === s.highPort ? ` port ${s.lowPort}` : ` ${s.ports} ports ${s.lowPort}-${s.highPort}`;
    lines.push(`scanner ${s.scanner}: ${s.flows} ${s.proto} attempts,${ports}, ${s.targets} targets on its busiest port`);
  }
  if (b.scannersMore) lines.push(`(+${b.scannersMore} more scanners)`);
  return lines;
}
