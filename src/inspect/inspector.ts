import type { PacketRecord } from '../capture/record.js';
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import type { PacketView } from '../decode/view.js';
import { BoundName, GRANTS } from './bounds.js';
import type { FailedNegotiation, Grant, InspectorStats } from './grants.js';
import type { StreamConsumer, TcpConnection } from './tcp-stream.js';

/**
 * What every payload inspector is: it reads one negotiation protocol and emits grants and refusals
 * into the shared sink. A TCP inspector gets a consumer per connection from the shared reassembler
 * (`openStream`); a UDP inspector gets each datagram (`datagram`). Neither throws on bad bytes: what
 * it cannot read it counts in its statistics.
 */
export interface Inspector {
  /** One entry per negotiation kind the inspector reads (the DCE/RPC one reads two). */
  readonly stats: InspectorStats[];
  openStream?(conn: TcpConnection): StreamConsumer;
  datagram?(v: PacketView, rec: PacketRecord, file: string): void;
  /** The reassembler gave up one of this inspector's connections at its bounds. */
  streamDropped?(): void;
}

/**
 * Where inspectors put what they learn; negotiations are numbered across all inspectors in capture
 * order. Grants are bounded per host and in all (bounds.ts GRANTS): past a bound a grant is not kept
 * and the inspector's statistics count it.
 */
export class GrantSink {
  readonly grants: Grant[] = [];
  readonly failed: FailedNegotiation[] = [];
  private negotiations = 0;
  private readonly perHost = new Map<string, number>();

  nextNegotiation(): number {
    return this.negotiations++;
  }

  /** Keeps a grant unless a bound is reached (then counted in `stats`); whether it was kept. */
  grant(g: Grant, stats: InspectorStats): boolean {
    if (this.grants.length >= GRANTS.maxTotal) return overBound(stats, 'grants');
    const n = this.perHost.get(g.host) ?? 0;
    if (n >= GRANTS.maxPerHost) return overBound(stats, 'grants-per-host');
    this.perHost.set(g.host, n + 1);
    this.grants.push(g);
    return true;
  }
}

export function newStats(inspector: string): InspectorStats {
  return { inspector, read: 0, malformed: 0, refused: 0, retransmitted: 0, streamsDropped: 0, bounds: {} };
}

/** Counts one excess of a bound in the inspector's statistics; false, for callers that return it. */
export function overBound(stats: InspectorStats, bound: BoundName, n = 1): false {
  stats.bounds[bound] = (stats.bounds[bound] ?? 0) + n;
  return false;
}

export function sourceAddress(v: PacketView): string {
  return v.ipVersion === 4 ? formatIPv4(v.src[0]!) : formatIPv6(v.src[0]!, v.src[1]!, v.src[2]!, v.src[3]!);
}

export function destinationAddress(v: PacketView): string {
  return v.ipVersion === 4 ? formatIPv4(v.dst[0]!) : formatIPv6(v.dst[0]!, v.dst[1]!, v.dst[2]!, v.dst[3]!);
}
