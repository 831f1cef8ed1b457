/**
 * A Zeek record's tunnel, from its tunnel_parents: Zeek logs the connection a tunnel runs over (a
 * VXLAN, Geneve, Teredo, AYIYA or GTP UDP connection) as a conn of its own, and names its uid in the
 * tunnel_parents of every connection carried inside. Where that outer conn is in the logs read, the
 * inner record gets the outer fields a packet capture gives it from its outermost IP header
 * (FlowRecord.outerClient … outerServerPort) and the tunnel's kind, so that a Zeek-log audit shows the
 * tunnel as a pcap audit of the same traffic does.
 *
 * - Nested tunnels: tunnel_parents names the encapsulation next to the record (a DNS query in VXLAN
 *   in Geneve names the VXLAN conn, which names the Geneve one): the chain is followed to the
 *   outermost conn in the logs, as the capture's outermost header is the outermost tunnel's.
 * - Several parents (a tunnel whose two directions run between different UDP ports is two conns): the
 *   one that started first carried the inner connection's first packet, as the capture's outer
 *   header is its first tunnelled packet's; with equal or masked times, the first named.
 * - The outer conn's originator is taken to be on the inner client's side, as the packet that opened
 *   the outer conn is the first one tunnelled.
 * - GRE, ERSPAN, IP in IP are no connection in Zeek's conn.log (tunnel.log holds them): their records
 *   keep tunnel_parents and get no outer fields.
 */
import { compareTime } from '../../core/time.js';
import { TUNNEL_NAMES, type FlowRecord } from '../../flow/record.js';

/** The tunnel kinds of Zeek's outer conns that a packet capture does not decode, after the capture's own. */
export const ZEEK_TUNNEL_NAMES = [...TUNNEL_NAMES, 'ayiya', 'gtpv1', 'unknown'] as const;

/** Zeek's service of a tunnel's outer conn, or its well-known UDP port where Zeek wrote no service (Teredo without a bubble it parsed). */
const KIND_BY_PORT = new Map([[4789, 'vxlan'], [6081, 'geneve'], [3544, 'teredo'], [5072, 'ayiya'], [2152, 'gtpv1']]);

function kindOf(outer: FlowRecord, service: string | undefined): string {
  const named = service?.split(',').find((s) => (ZEEK_TUNNEL_NAMES as readonly string[]).includes(s));
  if (named !== undefined) return named;
  return KIND_BY_PORT.get(outer.serverPort ?? -1) ?? KIND_BY_PORT.get(outer.clientPort ?? -1) ?? 'unknown';
}

/**
 * Fills the outer fields of the records whose tunnel parents are among them, and says how many.
 * `services`: Zeek's service of the records that are a tunnel's outer conn, by uid.
 */
export function fillTunnels(records: readonly FlowRecord[], services: ReadonlyMap<string, string>): number {
  const wanted = new Set<string>();
  for (const r of records) if (r.tunnelParents !== undefined) for (const u of r.tunnelParents) wanted.add(u);
  if (wanted.size === 0) return 0;
  let filled = 0;
  const byUid = new Map<string, FlowRecord>();
  for (const r of records) if (r.uid !== undefined && wanted.has(r.uid)) byUid.set(r.uid, r);
  for (const r of records) {
    if (r.tunnelParents === undefined) continue;
    const kinds = new Set<string>();
    const seen = new Set<string>();
    let outer: FlowRecord | undefined;
    for (let at: FlowRecord = r; at.tunnelParents !== undefined; ) {
      let first: FlowRecord | undefined;
      for (const u of at.tunnelParents) {
        const p = byUid.get(u);
        if (p !== undefined && !seen.has(u) && (first === undefined || compareTime(p.startSec, p.startNs, first.startSec, first.startNs) < 0)) first = p;
      }
      if (first === undefined) break;
      seen.add(first.uid!);
      kinds.add(kindOf(first, services.get(first.uid!)));
      outer = first;
      at = first;
    }
    if (outer === undefined) continue;
    filled++;
    r.tunnel = ZEEK_TUNNEL_NAMES.filter((n) => kinds.has(n));
    r.outerClient = outer.client;
    r.outerServer = outer.server;
    if (outer.protoNumber === 17 && outer.clientPort !== null && outer.serverPort !== null) {
      r.outerClientPort = outer.clientPort;
      r.outerServerPort = outer.serverPort;
    }
  }
  return filled;
}
