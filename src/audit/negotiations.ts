import type { Catalog, DynamicKind } from '../catalog/types.js';
import { compareTime } from '../core/time.js';
import type { FailedNegotiation, Grant } from '../inspect/grants.js';
import type { RoleResolver } from './roles.js';

/** What follow-up checking reads besides the judged flows. */
export interface FollowUpContext {
  catalogs: Catalog[];
  roles: RoleResolver;
  grants: Grant[];
  failed: FailedNegotiation[];
  captureLoss: string | null;
}

/** Where negotiations are asked for: an unanswered call there means no port could be granted. */
export const NEGOTIATION_PORTS: ReadonlyArray<{ proto: number; port: number; reason: Grant['reason']; kind: DynamicKind; what: string }> = [
  { proto: 6, port: 135, reason: 'dcerpc-epm', kind: 'dcerpc', what: 'endpoint-mapper call' },
  { proto: 17, port: 1434, reason: 'ssrp', kind: 'sql-named-instance', what: 'SQL Server Browser request' },
];

/** A granted endpoint; `port` null: any port of the host (a TFTP answer comes from a port of its own). */
export interface Endpoint {
  host: string;
  transport: 'tcp' | 'udp';
  port: number | null;
  peerPort?: number;
}

/** One answer (or refusal) of a negotiation and the endpoints it granted. */
export interface Negotiation {
  id: number;
  reason: Grant['reason'];
  kind: DynamicKind;
  peer: string;
  responder: string;
  responderPort: number;
  sec: number;
  ns: number;
  subject?: string;
  evidence: Grant['evidence'];
  endpoints: Endpoint[];
  refused?: FailedNegotiation;
  superseded: number[];
}

export function endpointKey(e: Endpoint): string {
  return `${e.transport}|${e.host}|${e.port ?? '*'}|${e.peerPort ?? '*'}`;
}

/** The negotiations of the capture, in time order: grants grouped by answer, refusals as answers without ports. */
export function negotiations(grants: Grant[], failed: FailedNegotiation[]): Negotiation[] {
  const byId = new Map<number, Negotiation>();
  for (const g of grants) {
    let n = byId.get(g.negotiation);
    if (!n) {
      n = {
        id: g.negotiation,
        reason: g.reason,
        kind: g.kind,
        peer: g.peer,
        responder: g.evidence.server,
        responderPort: g.evidence.serverPort,
        sec: g.fromSec,
        ns: g.fromNs,
        ...(g.subject ? { subject: g.subject } : {}),
        evidence: g.evidence,
        endpoints: [],
        superseded: [],
      };
      byId.set(g.negotiation, n);
    }
    const e: Endpoint = { host: g.host, transport: g.transport, port: g.port, ...(g.peerPort !== undefined ? { peerPort: g.peerPort } : {}) };
    if (!n.endpoints.some((x) => endpointKey(x) === endpointKey(e))) n.endpoints.push(e);
  }
  for (const f of failed) {
    if (byId.has(f.negotiation)) continue;
    byId.set(f.negotiation, {
      id: f.negotiation,
      reason: f.reason,
      kind: f.kind,
      peer: f.peer,
      responder: f.server,
      responderPort: f.evidence.serverPort,
      sec: f.fromSec,
      ns: f.fromNs,
      ...(f.subject ? { subject: f.subject } : {}),
      evidence: f.evidence,
      endpoints: [],
      refused: f,
      superseded: [],
    });
  }
  return [...byId.values()].sort((a, b) => compareTime(a.sec, a.ns, b.sec, b.ns) || a.id - b.id);
}
