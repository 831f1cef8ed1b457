import type { Catalog, DynamicKind, Requirement, Rule } from '../catalog/types.js';
import { compareTime } from '../core/time.js';
import { DIRECTIONS, PROTO_NAMES } from '../flow/columns.js';
import type { FailedNegotiation, Grant } from '../inspect/grants.js';
import type { JudgedFlows } from './judged.js';
import type { RoleResolver } from './roles.js';
import type { FollowUp, Judgement, RequirementFinding, RequirementState } from './types.js';

/**
 * Follow-ups as one mechanism: every negotiation an inspector read (an endpoint-mapper answer, a DCOM
 * string binding, a SQL Browser answer, a TFTP request) promises a connection from the requester to
 * a port it names. Each negotiation gets one finding, in every catalog:
 *
 * - `satisfied`: the requester reached one of its ports after it (a new connection answered, server
 *   data where the capture has no handshakes, or a connection opened earlier that carries the server's
 *   data past the grant);
 * - `failing`: it tried and was never answered or was refused, or the answer itself was a refusal
 *   (EPT_S_NOT_REGISTERED), or a TFTP request that no datagram answered;
 * - `missing`: nothing followed;
 * - `inconclusive`: the capture ends too soon after the grant, or lost packets.
 *
 * A negotiation whose ports a later identical one grants again before anything followed is
 * superseded: it is named in the later one's finding, not reported on its own. The finding is
 * attributed to the catalog rule that documents dynamic ports of that kind for the hosts' roles, or
 * reported as the follow-up of an undocumented negotiation. A catalog requirement that expects
 * `{ grant: kind }` refines it: its id names the finding and its other alternatives satisfy it too.
 */

/** Seconds the capture must go on after a grant before "nothing followed" is a finding. */
export const FOLLOW_UP_WINDOW_SECONDS = 2;

/** Where negotiations are asked for: an unanswered call there means no port could be granted. */
const NEGOTIATION_PORTS: ReadonlyArray<{ proto: number; port: number; reason: Grant['reason']; kind: DynamicKind; what: string }> = [
  { proto: 6, port: 135, reason: 'dcerpc-epm', kind: 'dcerpc', what: 'endpoint-mapper call' },
  { proto: 17, port: 1434, reason: 'ssrp', kind: 'sql-named-instance', what: 'SQL Server Browser request' },
];

const REASON_TEXT: Record<Grant['reason'], string> = {
  'dcerpc-epm': 'ept_map reply',
  dcom: 'DCOM string binding',
  ssrp: 'SQL Browser answer',
  tftp: 'TFTP request',
};

interface Endpoint {
  host: string;
  transport: 'tcp' | 'udp';
  port: number | null;
  peerPort?: number;
}

interface Negotiation {
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

export interface FollowUpContext {
  catalogs: Catalog[];
  roles: RoleResolver;
  grants: Grant[];
  failed: FailedNegotiation[];
  captureLoss: string | null;
}

const TCP = 6;
const WEAK = DIRECTIONS.map((d) => d === 'first-packet' || d === 'port-rank' || d === 'epb-flags');

function endpointText(e: Endpoint): string {
  if (e.port === null) return `${e.transport} ${e.host} (any port) → client port ${e.peerPort ?? '?'}`;
  return `${e.transport} ${e.host.includes(':') ? `[${e.host}]` : e.host}[${e.port}]`;
}

function endpointKey(e: Endpoint): string {
  return `${e.transport}|${e.host}|${e.port ?? '*'}|${e.peerPort ?? '*'}`;
}

/** The negotiations of the capture, in time order: grants grouped by answer, refusals as answers without ports. */
function negotiations(grants: Grant[], failed: FailedNegotiation[]): Negotiation[] {
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

type FlowState = 'answered' | 'unanswered' | 'refused';

/**
 * One finding per negotiation (see the module comment), then the negotiation calls that were never
 * answered, so that no port could be granted at all.
 */
export function checkFollowUps(judged: JudgedFlows, ctx: FollowUpContext, captureEnd: { sec: number; ns: number } | null): RequirementFinding[] {
  const c = judged.columns;
  const hosts = c.hosts;
  const H = hosts.length;
  const negs = negotiations(ctx.grants, ctx.failed);
  const refinements = refinementsOf(ctx.catalogs);
  const out: RequirementFinding[] = [];
  const ids = new Map<string, number>();
  for (let h = 0; h < H; h++) ids.set(hosts[h]!, h);

  // Flows between the hosts negotiations name, by unordered pair: the only flows this looks at.
  const involved = new Set<number>();
  const mark = (a: string) => {
    const id = ids.get(a);
    if (id !== undefined) involved.add(id);
  };
  for (const n of negs) {
    mark(n.peer);
    mark(n.responder);
    for (const e of n.endpoints) mark(e.host);
  }
  const pairKey = (a: number, b: number) => (a < b ? a * H + b : b * H + a);
  const byPair = new Map<number, number[]>();
  // The same flows by the side that may be a granted endpoint: (transport, host, its port, peer), and
  // (transport, host, any port, peer). The server side always; the client side too where the flow
  // table's direction is a guess or the flow is UDP (see followState).
  const bySide = new Map<string, number[]>();
  const side = (key: string, i: number) => {
    const list = bySide.get(key);
    if (!list) bySide.set(key, [i]);
    else if (list[list.length - 1] !== i) list.push(i);
  };
  if (involved.size > 0) {
    for (let i = 0; i < c.n; i++) {
      const a = c.client[i]!;
      const b = c.server[i]!;
      if (!involved.has(a) || !involved.has(b)) continue;
      const k = pairKey(a, b);
      const list = byPair.get(k);
      if (list) list.push(i);
      else byPair.set(k, [i]);
      const proto = c.proto[i]!;
      side(`${proto}|${b}|${c.serverPort[i]}|${a}`, i);
      side(`${proto}|${b}|*|${a}`, i);
      if (WEAK[c.direction[i]!] || proto !== TCP) {
        side(`${proto}|${a}|${c.clientPort[i]}|${b}`, i);
        side(`${proto}|${a}|*|${b}`, i);
      }
    }
  }
  const flowsBetween = (a: string, b: string): number[] => {
    const x = ids.get(a);
    const y = ids.get(b);
    return x === undefined || y === undefined ? [] : (byPair.get(pairKey(x, y)) ?? []);
  };
  // A side's flows by start time (ties by index), made when first asked: a negotiation reads the ones
  // that began in its window by binary search, so a port granted thousands of times costs no more
  // than its flows.
  const byTime = new Map<string, number[]>();
  const sideFlows = (n: Negotiation, e: Endpoint): number[] => {
    const host = ids.get(e.host);
    const peer = ids.get(n.peer);
    const proto = e.transport === 'tcp' ? TCP : 17;
    if (host === undefined || peer === undefined) return [];
    const key = `${proto}|${host}|${e.port ?? '*'}|${peer}`;
    let list = byTime.get(key);
    if (!list) {
      list = [...(bySide.get(key) ?? [])].sort((x, y) => compareTime(c.startSec[x]!, c.startNs[x]!, c.startSec[y]!, c.startNs[y]!) || x - y);
      byTime.set(key, list);
    }
    return list;
  };
  /** The first place in a list by start time whose flow starts at or after the time. */
  const firstFrom = (list: number[], sec: number, ns: number): number => {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const i = list[mid]!;
      if (compareTime(c.startSec[i]!, c.startNs[i]!, sec, ns) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const byIndex = (a: number, b: number) => a - b;
  const exchanges = exchangeIndex(judged, byPair);
  // A refinement's alternatives depend on the pair alone: worked out once per pair and refinement.
  const altMemo = new Map<Requirement, Map<string, number[]>>();
  const alternatives = (req: Requirement, n: Negotiation): number[] => {
    let m = altMemo.get(req);
    if (!m) altMemo.set(req, (m = new Map()));
    const key = `${n.peer}|${n.responder}`;
    let list = m.get(key);
    if (!list) m.set(key, (list = alternativeFlows(judged, req, n, flowsBetween(n.peer, n.responder))));
    return list;
  };

  /** Whether flow i goes from the peer to the endpoint, and how it went seen from the endpoint. */
  const followState = (i: number, n: Negotiation, e: Endpoint): FlowState | null => {
    if (PROTO_NAMES[c.proto[i]!] !== e.transport) return null;
    const peer = ids.get(n.peer);
    const host = ids.get(e.host);
    let hostIsServer: boolean;
    const matches = (hostSide: 'client' | 'server') => {
      const hostId = hostSide === 'server' ? c.server[i]! : c.client[i]!;
      const peerId = hostSide === 'server' ? c.client[i]! : c.server[i]!;
      const hostPort = hostSide === 'server' ? c.serverPort[i]! : c.clientPort[i]!;
      const peerPort = hostSide === 'server' ? c.clientPort[i]! : c.serverPort[i]!;
      if (hostId !== host || peerId !== peer) return false;
      if (e.port !== null) return hostPort === e.port;
      // Any port of the host but the one the request went to, towards the request's port.
      return hostPort !== n.responderPort && (e.peerPort === undefined || peerPort === e.peerPort);
    };
    if (matches('server')) hostIsServer = true;
    // The flow table's direction is a guess without a SYN: the endpoint may be its "client".
    else if ((WEAK[c.direction[i]!] || c.proto[i] !== TCP) && matches('client')) hostIsServer = false;
    else return null;
    const fromHost = hostIsServer ? c.serverPackets[i]! : c.clientPackets[i]!;
    if (c.proto[i] === TCP) {
      const o = judged.outcome(i);
      if (o === 'established') return 'answered';
      if (o === 'rejected') return 'refused';
      if (o === 'attempted') return 'unanswered';
      return fromHost > 0 ? 'answered' : 'unanswered';
    }
    return fromHost > 0 ? 'answered' : 'unanswered';
  };

  // For superseding: the next negotiation of the same peer that grants one of the same endpoints.
  const nextSame = new Map<Negotiation, Negotiation>();
  const lastByEndpoint = new Map<string, Negotiation>();
  for (let k = negs.length - 1; k >= 0; k--) {
    const n = negs[k]!;
    let next: Negotiation | undefined;
    for (const e of n.endpoints) {
      const m = lastByEndpoint.get(`${n.peer}|${endpointKey(e)}`);
      if (m && (!next || compareTime(m.sec, m.ns, next.sec, next.ns) < 0)) next = m;
    }
    if (next) nextSame.set(n, next);
    for (const e of n.endpoints) lastByEndpoint.set(`${n.peer}|${endpointKey(e)}`, n);
  }

  const findings = new Map<Negotiation, RequirementFinding>();
  const pending: Negotiation[] = [];
  for (const n of negs) {
    const next = nextSame.get(n);
    // Per endpoint, in flow order: the flows that began between the grant and the next identical one.
    const fresh: Array<{ i: number; s: FlowState }> = [];
    if (!n.refused) {
      for (const e of n.endpoints) {
        const list = sideFlows(n, e);
        const end = next ? firstFrom(list, next.sec, next.ns) : list.length;
        const window = list.slice(firstFrom(list, n.sec, n.ns), end).sort(byIndex);
        for (const i of window) {
          const s = followState(i, n, e);
          if (s !== null) fresh.push({ i, s });
        }
      }
    }
    // Connections opened before the grant and still in use after it: read only when no new one answered.
    const earlierFlows = (): number[] => {
      const out: number[] = [];
      if (n.refused) return out;
      for (const e of n.endpoints) {
        const list = sideFlows(n, e);
        for (const i of list.slice(0, firstFrom(list, n.sec, n.ns)).sort(byIndex)) if (followState(i, n, e) === 'answered' && endsAfter(judged, i, n.sec, n.ns)) out.push(i);
      }
      return out;
    };
    const answered = fresh.filter((x) => x.s === 'answered').map((x) => x.i);
    const earlier = answered.length > 0 ? [] : earlierFlows();
    const tried = fresh.map((x) => x.i);
    const exchange = exchanges.of(n);
    const refinement = refinementFor(judged, refinements, n, exchange);
    const alt = refinement ? alternatives(refinement, n) : [];
    let status: RequirementState;
    let how: string;
    let evidence: number[];
    let by: FollowUp['by'] = null;
    if (n.refused) {
      status = 'failing';
      how = `the answer refused the request: ${n.refused.status}`;
      evidence = [];
    } else if (answered.length > 0) {
      status = 'satisfied';
      how = `followed by ${label(judged, answered[0]!)}`;
      evidence = answered;
      by = 'new-connection';
    } else if (earlier.length > 0) {
      status = 'satisfied';
      how = `used over a connection opened before the grant: ${label(judged, earlier[0]!)}`;
      evidence = earlier;
      by = 'earlier-connection';
    } else if (alt.length > 0) {
      status = 'satisfied';
      how = `the requester used the documented alternative: ${label(judged, alt[0]!)}`;
      evidence = alt;
      by = 'alternative';
    } else if (tried.length > 0) {
      status = 'failing';
      const refused = fresh.some((x) => x.s === 'refused');
      how = `the connection to ${n.endpoints.map(endpointText).join(' or ')} was ${refused ? 'refused' : 'attempted but never answered'}: ${label(judged, tried[0]!)}`;
      evidence = tried;
    } else if (next) {
      // Granted again before anything followed: the later answer speaks for both.
      pending.push(n);
      continue;
    } else {
      evidence = [];
      const after = captureEnd === null ? 0 : captureEnd.sec - n.sec + (captureEnd.ns - n.ns) / 1e9;
      if (after < FOLLOW_UP_WINDOW_SECONDS) {
        status = 'inconclusive';
        how = `the capture ends ${after.toFixed(1)} s after the grant, too soon to show the connection`;
      } else if (ctx.captureLoss) {
        status = 'inconclusive';
        how = `nothing followed, but ${ctx.captureLoss}`;
      } else if (n.endpoints.every((e) => e.port === null)) {
        status = 'failing';
        how = `no datagram from ${n.responder} answered the request (to client port ${n.endpoints[0]?.peerPort ?? '?'})`;
      } else {
        status = 'missing';
        how = `no connection to ${n.endpoints.map(endpointText).join(' or ')} followed`;
      }
    }
    const rule = attribution(judged, ctx, n, evidence, exchange);
    const key = refinement ? `${refinement.catalog}:${refinement.id}` : rule.key;
    const ports = n.endpoints.length === 0 ? [] : n.endpoints.every((e) => e.port === null) ? ['dynamic'] : [...new Set(n.endpoints.flatMap((e) => (e.port === null ? [] : [e.port])))];
    const transports = [...new Set(n.endpoints.map((e) => e.transport))];
    const finding: RequirementFinding = {
      rule: key,
      status,
      from: n.peer,
      to: n.endpoints[0]?.host ?? n.responder,
      proto: transports.join('/') || (n.reason === 'tftp' || n.reason === 'ssrp' ? 'udp' : 'tcp'),
      ports,
      description: refinement?.description ?? `${REASON_TEXT[n.reason]} followed by the connection to the port it names`,
      detail: `${answerText(n)}; ${how}${rule.note ? `; ${rule.note}` : ''}`,
      cite: refinement?.cite ?? rule.cite,
      evidence: evidence.map((i) => label(judged, i)),
      followUp: {
        reason: n.reason,
        kind: n.kind,
        file: n.evidence.file,
        frame: n.evidence.record,
        ...(n.evidence.requestRecord !== undefined ? { requestFrame: n.evidence.requestRecord } : {}),
        ...(n.subject ? { subject: n.subject } : {}),
        granted: n.endpoints.map(endpointText),
        ...(n.refused ? { refused: n.refused.status } : {}),
        superseded: [],
        by,
        documentedBy: rule.documented ? rule.key : null,
      },
    };
    findings.set(n, finding);
    out.push(finding);
  }
  // A superseded answer is named by the one that superseded it (that one comes later in time order).
  for (const n of pending) {
    let m = nextSame.get(n);
    while (m && !findings.has(m)) m = nextSame.get(m);
    if (m) findings.get(m)!.followUp!.superseded.push(n.evidence.record);
  }
  for (const f of findings.values()) if (f.followUp!.superseded.length) f.followUp!.superseded.sort((a, b) => a - b);

  out.push(...callsWithoutAnswer(judged, ctx.roles, refinements, negs));
  return out;
}

/** Whether flow i's last packet is at or after the time (a connection still in use then). */
function endsAfter(judged: JudgedFlows, i: number, sec: number, ns: number): boolean {
  const c = judged.columns;
  const d = c.record(i).duration;
  const endSec = c.startSec[i]! + d + c.startNs[i]! / 1e9;
  return endSec >= sec + ns / 1e9;
}

function label(judged: JudgedFlows, i: number): string {
  const c = judged.columns;
  const ep = (h: number, p: number | null) => {
    const a = c.hosts[h]!;
    return p === null ? a : a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`;
  };
  const outcome = judged.outcome(i);
  return `${judged.proto(i)} ${ep(judged.client(i), judged.clientPort(i))} → ${ep(judged.server(i), judged.serverPort(i))} (${outcome ?? `${c.clientPackets[i]! + c.serverPackets[i]!} packets`})`;
}

function answerText(n: Negotiation): string {
  const at = `frame ${n.evidence.record}${n.evidence.requestRecord !== undefined ? `, request frame ${n.evidence.requestRecord}` : ''}`;
  const what = n.subject ? ` for ${n.subject}` : '';
  if (n.refused) return `${REASON_TEXT[n.reason]}${what} from ${n.responder} (${at}) grants nothing`;
  if (n.reason === 'tftp') return `${n.evidence.detail} from ${n.peer} to ${n.responder} (${at})`;
  return `${REASON_TEXT[n.reason]}${what} (${at}) grants ${n.endpoints.map(endpointText).join(' and ')}`;
}

/** Requirements that expect `{ grant: kind }`, by kind: refinements of the follow-up check. */
function refinementsOf(catalogs: Catalog[]): Map<DynamicKind, Array<{ req: Requirement; when: string; rules: Map<string, Rule> }>> {
  const out = new Map<DynamicKind, Array<{ req: Requirement; when: string; rules: Map<string, Rule> }>>();
  for (const cat of catalogs) {
    const rules = new Map(cat.rules.map((r) => [r.id, r]));
    for (const req of cat.requirements) {
      if (!req.when) continue;
      for (const e of req.expect) {
        if (!('grant' in e)) continue;
        const when = rules.get(req.when.rule)!;
        let list = out.get(e.grant);
        if (!list) out.set(e.grant, (list = []));
        list.push({ req, when: `${when.catalog}:${when.id}`, rules });
      }
    }
  }
  return out;
}

/**
 * A negotiation's own exchange: the flows from the peer to the responder's negotiation port (as
 * judged) that began by the answer, given as the distinct verdicts they carry (what the callers read).
 * Per (client, server, port), the flows by start time and where each distinct verdict first appears:
 * an answer's exchange is a prefix, so thousands of answers on one pair cost no pass over its flows each.
 */
function exchangeIndex(judged: JudgedFlows, byPair: Map<number, number[]>): { of(n: Negotiation): Judgement[] } {
  const c = judged.columns;
  const lists = new Map<string, number[]>();
  for (const flows of byPair.values()) {
    for (const i of flows) {
      const key = `${c.hosts[judged.client(i)]}|${c.hosts[judged.server(i)]}|${judged.serverPort(i)}`;
      const list = lists.get(key);
      if (list) list.push(i);
      else lists.set(key, [i]);
    }
  }
  const firsts = new Map<string, { sorted: number[]; first: Array<{ at: number; j: Judgement }> }>();
  return {
    of(n: Negotiation): Judgement[] {
      const key = `${n.peer}|${n.responder}|${n.responderPort}`;
      let f = firsts.get(key);
      if (!f) {
        const sorted = [...(lists.get(key) ?? [])].sort((x, y) => compareTime(c.startSec[x]!, c.startNs[x]!, c.startSec[y]!, c.startNs[y]!) || x - y);
        const seen = new Set<number>();
        const first: Array<{ at: number; j: Judgement }> = [];
        sorted.forEach((i, at) => {
          if (seen.has(judged.of[i]!)) return;
          seen.add(judged.of[i]!);
          first.push({ at, j: judged.judgement(i) });
        });
        firsts.set(key, (f = { sorted, first }));
      }
      // The flows that began at or before the answer: a prefix of the sorted list.
      let lo = 0;
      let hi = f.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const i = f.sorted[mid]!;
        if (compareTime(c.startSec[i]!, c.startNs[i]!, n.sec, n.ns) <= 0) lo = mid + 1;
        else hi = mid;
      }
      const out: Judgement[] = [];
      for (const x of f.first) if (x.at < lo) out.push(x.j);
      return out;
    },
  };
}

function refinementFor(judged: JudgedFlows, refinements: ReturnType<typeof refinementsOf>, n: Negotiation, exchange: Judgement[]): Requirement | null {
  const list = refinements.get(n.kind);
  if (!list) return null;
  for (const { req, when } of list) if (exchange.some((j) => j.matches.includes(when))) return req;
  return null;
}

/** Flows of a refinement's rule alternatives for the negotiation's pair (judged expected on that rule). */
function alternativeFlows(judged: JudgedFlows, req: Requirement, n: Negotiation, pairFlows: number[]): number[] {
  const c = judged.columns;
  const out: number[] = [];
  for (const e of req.expect) {
    if (!('rule' in e)) continue;
    const key = `${req.catalog}:${e.rule}`;
    const [from, to] = e.reverse ? [n.responder, n.peer] : [n.peer, n.responder];
    for (const i of pairFlows) {
      const j = judged.judgement(i);
      if (j.verdict !== 'expected' || !matchesRule(j.matches, key, e.rule)) continue;
      if (c.hosts[judged.client(i)] !== from || c.hosts[judged.server(i)] !== to) continue;
      if (c.proto[i] === TCP && judged.outcome(i) !== 'established' && !(judged.outcome(i) === 'partial' && c.serverPackets[i]! > 0 && c.clientPackets[i]! > 0)) continue;
      out.push(i);
    }
  }
  return out;
}

/** A rule key as flows carry it: the declaring catalog's id (a site catalog's inherited rules keep the base's). */
function matchesRule(matches: string[], key: string, id: string): boolean {
  return matches.includes(key) || matches.some((m) => m.endsWith(`:${id}`));
}

/**
 * Which catalog rule documents the negotiated ports: the rule that judged the follow-up, else a rule
 * of that dynamic kind between the roles of the exchange's own rule, else one whose roles fit the
 * hosts' roles; none: the negotiation is undocumented.
 */
function attribution(judged: JudgedFlows, ctx: FollowUpContext, n: Negotiation, followed: number[], exchange: Judgement[]): { key: string; documented: boolean; cite: RequirementFinding['cite']; note?: string } {
  for (const i of followed) {
    const j = judged.judgement(i);
    if (j.verdict === 'expected' && j.grant && j.rule) return { key: j.rule, documented: true, cite: j.cite };
  }
  const dynamic = catalogRules(ctx.catalogs).dynamic.get(n.kind) ?? [];
  if (dynamic.length > 0) {
    const byId = catalogRules(ctx.catalogs).byKey;
    const exchangeRules = exchange.flatMap((j) => (j.verdict === 'expected' ? j.matches : [])).map((k) => byId.get(k)).filter((r): r is Rule => r !== undefined);
    const overlap = (a: string[], b: string[]) => a.some((x) => b.includes(x));
    let fitting = dynamic.filter((d) => exchangeRules.some((r) => overlap(r.from, d.from) && overlap(r.to, d.to)));
    if (fitting.length === 0) {
      const pr = ctx.roles.rolesOf(n.peer);
      const hr = ctx.roles.rolesOf(n.endpoints[0]?.host ?? n.responder);
      const fits = (ruleRoles: string[], r: { roles: string[]; source: string }, addr: string) =>
        r.source === 'unknown' ? ruleRoles.some((x) => !isClassRole(ctx, x)) || ruleRoles.some((x) => ctx.roles.classRolesOf(addr).includes(x)) : ruleRoles.some((x) => r.roles.includes(x) || ctx.roles.classRolesOf(addr).includes(x));
      fitting = dynamic.filter((d) => fits(d.from, pr, n.peer) && fits(d.to, hr, n.endpoints[0]?.host ?? n.responder));
    }
    if (fitting.length > 0) {
      const d = fitting[0]!;
      const known = ctx.roles.rolesOf(n.peer).source !== 'unknown' && ctx.roles.rolesOf(n.endpoints[0]?.host ?? n.responder).source !== 'unknown';
      const note = fitting.length > 1 && !known ? `roles unknown: ${fitting.length} catalog rules document ${n.kind} ports between such hosts, the first is named` : undefined;
      return { key: ruleKey(d), documented: true, cite: d.cite, ...(note ? { note } : {}) };
    }
  }
  return { key: `negotiation:${n.reason}`, documented: false, cite: null, note: `no catalog rule documents ${n.kind} ports between these hosts' roles (an undocumented negotiation)` };
}

const ruleKey = (r: Rule) => `${r.catalog}:${r.id}`;

/** The catalogs' rules by key, and their dynamic-port rules by kind: made once per set of catalogs. */
const rulesMemo = new WeakMap<Catalog[], { byKey: Map<string, Rule>; dynamic: Map<DynamicKind, Rule[]> }>();
function catalogRules(catalogs: Catalog[]): { byKey: Map<string, Rule>; dynamic: Map<DynamicKind, Rule[]> } {
  let m = rulesMemo.get(catalogs);
  if (!m) {
    m = { byKey: new Map(), dynamic: new Map() };
    for (const cat of catalogs) {
      for (const r of cat.rules) {
        m.byKey.set(ruleKey(r), r);
        if (r.dynamic) m.dynamic.set(r.dynamic.kind, [...(m.dynamic.get(r.dynamic.kind) ?? []), r]);
      }
    }
    rulesMemo.set(catalogs, m);
  }
  return m;
}

function isClassRole(ctx: FollowUpContext, role: string): boolean {
  return ctx.catalogs.some((cat) => cat.roles.some((r) => r.id === role && r.address !== undefined));
}

/**
 * Negotiation calls no answer was read for, between hosts without a negotiation: an endpoint-mapper
 * SYN nobody answers, a SQL Browser request with no reply (no port could be granted: `failing`), and
 * the exchanges of a refinement's trigger whose answer could not be read (`inconclusive`, unless the
 * refinement's alternative was used). One finding a pair. Broadcast and multicast requests are
 * answered from other hosts, never in their own flow, and are left out.
 */
function callsWithoutAnswer(judged: JudgedFlows, roles: RoleResolver, refinements: ReturnType<typeof refinementsOf>, negs: Negotiation[]): RequirementFinding[] {
  const c = judged.columns;
  const answered = new Set(negs.map((n) => `${n.peer}|${n.responder}|${n.responderPort}`));
  const triggers = [...refinements.values()].flat();
  const groups = new Map<string, { flows: number[]; answered: boolean; call: (typeof NEGOTIATION_PORTS)[number] | undefined; refinement: Requirement | undefined }>();
  for (let i = 0; i < c.n; i++) {
    const j = judged.judgement(i);
    if (j.verdict !== 'expected' || j.rule === null) continue;
    const port = judged.serverPort(i);
    const call = NEGOTIATION_PORTS.find((p) => p.proto === c.proto[i] && p.port === port);
    const refinement = triggers.find((t) => j.matches.includes(t.when))?.req;
    if (!call && !refinement) continue;
    const client = c.hosts[judged.client(i)]!;
    const server = c.hosts[judged.server(i)]!;
    if (roles.space.isHostless(server)) continue;
    const key = `${client}|${server}|${port}`;
    if (answered.has(key)) continue;
    const unanswered = c.proto[i] === TCP ? judged.outcome(i) === 'attempted' || judged.outcome(i) === 'rejected' : (j.swapped ? c.clientPackets[i]! : c.serverPackets[i]!) === 0;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { flows: [], answered: false, call, refinement }));
    g.flows.push(i);
    if (!unanswered) g.answered = true;
  }
  // Every flow by unordered host pair, made only when a refinement needs its alternatives.
  const H = c.hosts.length;
  const pairKey = (a: number, b: number) => (a < b ? a * H + b : b * H + a);
  let byPair: Map<number, number[]> | null = null;
  const pairs = (): Map<number, number[]> => {
    if (byPair === null) {
      byPair = new Map();
      for (let i = 0; i < c.n; i++) {
        const k = pairKey(c.client[i]!, c.server[i]!);
        const list = byPair.get(k);
        if (list) list.push(i);
        else byPair.set(k, [i]);
      }
    }
    return byPair;
  };
  const out: RequirementFinding[] = [];
  for (const [key, g] of groups) {
    const [client, server] = key.split('|') as [string, string];
    const first = g.flows[0]!;
    const j = judged.judgement(first);
    const what = g.call?.what ?? `${j.rule} exchange`;
    const base = {
      rule: g.refinement ? `${g.refinement.catalog}:${g.refinement.id}` : j.rule!,
      from: client,
      to: server,
      proto: judged.proto(first),
      ports: [judged.serverPort(first) ?? 'none'] as Array<number | string>,
      description: g.refinement?.description ?? `${what} answered, so that a port can be granted`,
      cite: g.refinement?.cite ?? j.cite,
    };
    const followUp = (by: FollowUp['by']): FollowUp => ({ reason: g.call?.reason ?? g.refinement!.expect.flatMap((e) => ('grant' in e ? [e.grant] : []))[0]!, kind: g.call?.kind ?? 'dcerpc', file: null, frame: null, granted: [], superseded: [], by, documentedBy: j.rule, unanswered: true });
    if (!g.answered) {
      const refused = c.proto[first] === TCP && judged.outcome(first) === 'rejected';
      out.push({ ...base, status: 'failing', detail: `the ${what} from ${client} to ${server} was ${refused ? 'refused' : 'never answered'}, so no port could be granted (${g.flows.length} attempt${g.flows.length === 1 ? '' : 's'})`, evidence: g.flows.map((i) => label(judged, i)), followUp: followUp(null) });
      continue;
    }
    if (!g.refinement) continue;
    const pseudo = { peer: client, responder: server } as Negotiation;
    const alt = alternativeFlows(judged, g.refinement, pseudo, pairs().get(pairKey(judged.client(first), judged.server(first))) ?? []);
    if (alt.length > 0) {
      out.push({ ...base, status: 'satisfied', detail: `the requester used the documented alternative: ${label(judged, alt[0]!)}`, evidence: alt.map((i) => label(judged, i)), followUp: followUp('alternative') });
    } else {
      out.push({ ...base, status: 'inconclusive', detail: `no grant could be read from the ${what} (the answer was not captured or not decodable)`, evidence: g.flows.map((i) => label(judged, i)), followUp: followUp(null) });
    }
  }
  return out;
}
