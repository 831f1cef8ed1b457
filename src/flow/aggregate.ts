import { compareTime } from '../core/time.js';
import type { FlowRecord, TcpOutcome } from './table.js';

/** A flow record that stands for one or more flows of the same conversation that are over. */
export interface FoldedFlow extends FlowRecord {
  /** How many flows were folded into this record. */
  flows: number;
  /** TCP: how many of them ended each way. */
  outcomes?: Partial<Record<TcpOutcome, number>>;
}

// The outcome a requirement needs to see: one established connection outweighs any failed attempt.
const OUTCOME_RANK: Record<TcpOutcome, number> = { attempted: 0, rejected: 1, partial: 2, established: 3 };

/**
 * Flows that left a long-running flow table, folded per conversation: protocol, client, server,
 * server port and VLAN (and, for UDP, the client port, which grants such as TFTP's name). What the
 * audit needs from finished flows — who reached whom on what, when first, how it went, how much — stays;
 * the one record per ephemeral port goes. Bounded by `maxRecords`; flows past it are only counted.
 */
export class FlowFolds {
  private readonly byKey = new Map<string, FoldedFlow>();
  /** Flows that arrived when the store was full and were counted only. */
  dropped = 0;
  folded = 0;

  constructor(private readonly maxRecords: number) {}

  get size(): number {
    return this.byKey.size;
  }

  add(f: FlowRecord): void {
    this.folded++;
    const key = `${f.proto}|${f.client}|${f.server}|${f.serverPort ?? f.icmpType ?? ''}|${f.proto === 'udp' ? f.clientPort : ''}|${f.vlan ?? ''}`;
    const had = this.byKey.get(key);
    if (had === undefined) {
      if (this.byKey.size >= this.maxRecords) {
        this.dropped++;
        return;
      }
      const rec: FoldedFlow = { ...f, flows: 1 };
      if (f.outcome !== null) rec.outcomes = { [f.outcome]: 1 };
      this.byKey.set(key, rec);
      return;
    }
    had.flows++;
    had.packets += f.packets;
    had.bytes += f.bytes;
    had.clientPackets += f.clientPackets;
    had.clientBytes += f.clientBytes;
    had.serverPackets += f.serverPackets;
    had.serverBytes += f.serverBytes;
    if (f.start !== null && (had.start === null || compareTime(f.startSec, f.startNs, had.startSec, had.startNs) < 0)) {
      had.start = f.start;
      had.startSec = f.startSec;
      had.startNs = f.startNs;
    }
    if (f.end !== null && (had.end === null || f.end > had.end)) had.end = f.end;
    if (f.outcome !== null) {
      had.outcomes ??= {};
      had.outcomes[f.outcome] = (had.outcomes[f.outcome] ?? 0) + 1;
      if (had.outcome === null || OUTCOME_RANK[f.outcome] > OUTCOME_RANK[had.outcome]) had.outcome = f.outcome;
    }
    if (f.clientFlags !== undefined) had.clientFlags = mergeFlags(had.clientFlags, f.clientFlags);
    if (f.serverFlags !== undefined) had.serverFlags = mergeFlags(had.serverFlags, f.serverFlags);
    if (f.vlanAsymmetric) had.vlanAsymmetric = true;
    if (f.tunnel !== undefined) had.tunnel = [...new Set([...(had.tunnel ?? []), ...f.tunnel])];
    if (had.start !== null && had.end !== null) {
      had.duration = Number((Date.parse(had.end) / 1000 - had.startSec - had.startNs / 1e9).toFixed(6));
    }
  }

  records(): FoldedFlow[] {
    return [...this.byKey.values()];
  }
}

const LETTERS = 'SAFRPUEC';
function mergeFlags(a: string | undefined, b: string): string {
  const all = (a ?? '') + b;
  let s = '';
  for (const l of LETTERS) if (all.includes(l)) s += l;
  return s;
}
