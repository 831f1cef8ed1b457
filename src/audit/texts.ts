import { humanDuration } from '../core/human.js';
import { displayPorts, Rule } from '../catalog/types.js';
import type { Grant } from '../inspect/grants.js';
import type { JudgedFlows } from './judged.js';

/**
 * The sentences of the audit's findings, in one place: how evidence names a flow, why a verdict is
 * what it is, what a requirement or a negotiation's follow-up found. The audit decides; these say it.
 */

function endpoint(addr: string, port: number | null): string {
  if (port === null) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** How evidence names a judged flow: `tcp 10.0.0.1:50000 → 10.0.0.2:1610 (established)`. */
export function flowLabel(flows: JudgedFlows, i: number): string {
  const c = flows.columns;
  const outcome = flows.outcome(i);
  return `${flows.proto(i)} ${endpoint(c.hosts[flows.client(i)]!, flows.clientPort(i))} → ${endpoint(c.hosts[flows.server(i)]!, flows.serverPort(i))} (${outcome ?? `${c.clientPackets[i]! + c.serverPackets[i]!} packets`})`;
}

// ---- verdicts

/** `tcp/1610`, `icmp type 8`: what a rule would have to document. */
export function serviceText(proto: string, port: number | null, icmpType: number): string {
  return port === null ? `${proto}${icmpType >= 0 ? ` type ${icmpType}` : ''}` : `${proto}/${port}`;
}

export function undocumentedText(service: string, hostless?: { to: string | null; from: string | null }): string {
  if (!hostless) return `no catalog rule documents ${service}`;
  const between = hostless.to ? ` to a ${hostless.to} address` : hostless.from ? ` from a ${hostless.from} address` : ' between these roles';
  return `no catalog rule documents ${service}${between}`;
}

/** Every flow judged by a dynamic kind without its grant says this: flow records show no negotiation. */
export const GRANT_NOT_OBSERVABLE_IN = 'grant not observable in flow records';
/** What a flow judged by a dynamic kind's documented range says. */
export const GRANT_NOT_OBSERVABLE = `${GRANT_NOT_OBSERVABLE_IN}: judged by the documented range`;
/** What a flow judged by its own DCE/RPC calls (Zeek's dce_rpc.log) says. */
export const RPC_CALLS_SEEN = `${GRANT_NOT_OBSERVABLE_IN}: judged by the DCE/RPC calls Zeek's dce_rpc.log shows on this connection`;

/** The note of a dynamic reading without a grant in a verdict's detail, if it has one. */
export function ungrantedNote(detail: string): string | undefined {
  return detail.includes(RPC_CALLS_SEEN) ? RPC_CALLS_SEEN : detail.includes(GRANT_NOT_OBSERVABLE) ? GRANT_NOT_OBSERVABLE : undefined;
}

/** `note`: GRANT_NOT_OBSERVABLE or RPC_CALLS_SEEN, for a dynamic reading without a grant. */
export function expectedText(rule: Rule, granted: Grant | undefined, rolesUnknown: boolean, note?: string): string {
  return `${rule.service || rule.id}: ${rule.from.join('|')} → ${rule.to.join('|')}${granted ? ` (port granted by ${granted.reason})` : ''}${note ? `; ${note}` : ''}${rolesUnknown ? '; roles unknown, judged by port' : ''}`;
}

/** Why a flow is background: the service, where it is written, and what the product catalogs made of it. */
export function backgroundText(rule: Rule, grantedBy: string | undefined, product: string, note?: string): string {
  return `${rule.service || rule.id} (${rule.cite.document} ${rule.cite.section})${grantedBy ? `, port granted by ${grantedBy}` : ''}${note ? `, ${note}` : ''}: background service; the product catalogs: ${product}`;
}

/** A flow's DCE/RPC calls as its detail names them: `drsuapi DRSBind, drsuapi DRSCrackNames ×2`. */
export function rpcCallsText(calls: ReadonlyArray<{ endpoint: string; operation: string; calls: number }>): string {
  return `DCE/RPC calls on this connection (dce_rpc.log): ${calls.map((c) => `${c.endpoint} ${c.operation}${c.calls > 1 ? ` ×${c.calls}` : ''}`).join(', ')}`;
}

/** An endpoint-mapper call that came before a connection to a dynamic port of the same host: linked, with what is not known. */
export function epmCallText(at: string | null, client: string, server: string, serverPort: number | null, operation: string, uid?: string): string {
  return `endpoint-mapper call seen in dce_rpc.log at ${at ?? 'a time the log does not give'} (${operation} from ${client} to ${endpoint(server, serverPort)}${uid ? `, uid ${uid}` : ''}); the granted port is not in Zeek's log`;
}

/** How a role-mismatch names a side: its roles, its address class, or "a host of no role". */
export function sideText(shown: string[], hostless: string | null): string {
  return shown.length ? shown.join('|') : hostless ? `a ${hostless} address` : 'a host of no role';
}

export function roleMismatchText(proto: string, serverPort: number | null, rule: Rule, client: string, server: string): string {
  return `${proto}/${serverPort ?? ''} is documented for ${rule.from.join('|')} → ${rule.to.join('|')}, not ${client} → ${server}`;
}

export function undocumentedGrantText(g: Grant): string {
  return `${g.transport}/${g.port ?? 'any'} was granted by ${g.reason} (frame ${g.evidence.record}), but no catalog rule documents ${g.kind} ports between these hosts`;
}

// ---- requirements

/** A requirement's alternatives in words: `tcp/1610 from A to B (rule-id, service) or …`. */
export function alternativesText(expect: ReadonlyArray<{ rule: string; reverse?: boolean } | { grant: string }>, ruleById: ReadonlyMap<string, Rule>, from: string, to: string | null): string {
  return expect
    .map((e) => {
      if ('grant' in e) return `a connection to the port granted by ${e.grant}`;
      const r = ruleById.get(e.rule)!;
      const ps = displayPorts(r).join(',');
      const dir = e.reverse ? `from ${to ?? 'the server'} to ${from}` : `from ${from}${to ? ` to ${to}` : ''}`;
      return `${r.transport.join('/')}/${ps} ${dir} (${r.id}${r.service ? `, ${r.service}` : ''})`;
    })
    .join(' or ');
}

export function seenText(labels: string[]): string {
  return `seen: ${labels.join('; ')}`;
}

export function neverEstablishedText(what: string): string {
  return `attempted but never established: ${what}`;
}

export function refusedText(what: string): string {
  return `refused: answered only by ICMP errors (unreachable, prohibited): ${what}`;
}

export function triggeredMissingText(client: string, server: string, trigger: string, alternatives: string): string {
  return `${client} reached ${server} on ${trigger}, but there is no ${alternatives}`;
}

export function roleMissingText(host: string, role: string, alternatives: string): string {
  return `${host} (${role}) shows no ${alternatives}`;
}

export function shortForPeriodText(span: number, period: number): string {
  return `; the capture covers ${humanDuration(span)} of this host, shorter than the documented period of ${humanDuration(period)}`;
}

/** A requirement whose document gives no period, on a capture that watched the host for less than --min-span. */
export function shortForMinSpanText(span: number, minSpan: number, note: string | undefined): string {
  return `; the capture watched this host for ${humanDuration(span)}, less than --min-span ${humanDuration(minSpan)}, and the document gives no period${note ? ` (${note})` : ''}`;
}

// ---- negotiations and their follow-ups

export const REASON_TEXT: Record<Grant['reason'], string> = {
  'dcerpc-epm': 'ept_map reply',
  dcom: 'DCOM string binding',
  ssrp: 'SQL Browser answer',
  tftp: 'TFTP request',
};

/** A granted endpoint: `tcp 10.0.0.5[49667]`, or a TFTP answer's `udp 10.0.0.5 (any port) → client port 2070`. */
export function endpointText(e: { host: string; transport: string; port: number | null; peerPort?: number }): string {
  if (e.port === null) return `${e.transport} ${e.host} (any port) → client port ${e.peerPort ?? '?'}`;
  return `${e.transport} ${e.host.includes(':') ? `[${e.host}]` : e.host}[${e.port}]`;
}

/** What a negotiation's answer said, and where it is. */
export function answerText(n: { reason: Grant['reason']; evidence: Grant['evidence']; subject?: string; refused?: unknown; responder: string; peer: string; endpoints: Array<Parameters<typeof endpointText>[0]> }): string {
  const at = `frame ${n.evidence.record}${n.evidence.requestRecord !== undefined ? `, request frame ${n.evidence.requestRecord}` : ''}`;
  const what = n.subject ? ` for ${n.subject}` : '';
  if (n.refused) return `${REASON_TEXT[n.reason]}${what} from ${n.responder} (${at}) grants nothing`;
  if (n.reason === 'tftp') return `${n.evidence.detail} from ${n.peer} to ${n.responder} (${at})`;
  return `${REASON_TEXT[n.reason]}${what} (${at}) grants ${n.endpoints.map(endpointText).join(' and ')}`;
}

export function followUpDescription(reason: Grant['reason']): string {
  return `${REASON_TEXT[reason]} followed by the connection to the port it names`;
}

export const FOLLOW_UP_TEXT = {
  refusedAnswer: (status: string) => `the answer refused the request: ${status}`,
  followedBy: (flow: string) => `followed by ${flow}`,
  earlierConnection: (flow: string) => `used over a connection opened before the grant: ${flow}`,
  alternative: (flow: string) => `the requester used the documented alternative: ${flow}`,
  tried: (endpoints: string, refused: boolean, flow: string) => `the connection to ${endpoints} was ${refused ? 'refused' : 'attempted but never answered'}: ${flow}`,
  tooSoon: (after: number) => `the capture ends ${humanDuration(after)} after the grant, too soon to show the connection`,
  lossy: (loss: string) => `nothing followed, but ${loss}`,
  noDatagram: (responder: string, peerPort: number | string) => `no datagram from ${responder} answered the request (to client port ${peerPort})`,
  nothingFollowed: (endpoints: string) => `no connection to ${endpoints} followed`,
  manyRules: (n: number, kind: string) => `roles unknown: ${n} catalog rules document ${kind} ports between such hosts, the first is named`,
  undocumentedNegotiation: (kind: string) => `no catalog rule documents ${kind} ports between these hosts' roles (an undocumented negotiation)`,
  callAnswered: (what: string) => `${what} answered, so that a port can be granted`,
  callUnanswered: (what: string, client: string, server: string, refused: boolean, attempts: number) =>
    `the ${what} from ${client} to ${server} was ${refused ? 'refused' : 'never answered'}, so no port could be granted (${attempts} attempt${attempts === 1 ? '' : 's'})`,
  noGrantRead: (what: string) => `no grant could be read from the ${what} (the answer was not captured or not decodable)`,
} as const;
