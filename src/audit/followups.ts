import { compareTime } from '../core/time.js';
import type { Requirement } from '../catalog/types.js';
import { PROTO_NAMES } from '../flow/columns.js';
import { WEAK } from './readings.js';
import { endsAfter, exchangeIndex } from './followup-flows.js';
import { alternativeFlows, attribution, catalogRules, refinementFor, refinementsOf } from './followup-rules.js';
import { findingEvidence } from './finding-packets.js';
import type { JudgedFlows } from './judged.js';
import { endpointKey, negotiations, type Endpoint, type FollowUpContext, type Negotiation } from './negotiations.js';
import { answerText, endpointText, flowLabel as label, FOLLOW_UP_TEXT, followUpDescription } from './texts.js';
import type { FollowUp, RequirementFinding, RequirementState } from './types.js';
import { callsWithoutAnswer } from './unanswered-calls.js';

export type { FollowUpContext } from './negotiations.js';

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

const TCP = 6;

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
  const rules = catalogRules(ctx.catalogs);
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
    const refinement = refinementFor(refinements, n, exchange);
    const alt = refinement ? alternatives(refinement, n) : [];
    let status: RequirementState;
    let how: string;
    let evidence: number[];
    let by: FollowUp['by'] = null;
    if (n.refused) {
      status = 'failing';
      how = FOLLOW_UP_TEXT.refusedAnswer(n.refused.status);
      evidence = [];
    } else if (answered.length > 0) {
      status = 'satisfied';
      how = FOLLOW_UP_TEXT.followedBy(label(judged, answered[0]!));
      evidence = answered;
      by = 'new-connection';
    } else if (earlier.length > 0) {
      status = 'satisfied';
      how = FOLLOW_UP_TEXT.earlierConnection(label(judged, earlier[0]!));
      evidence = earlier;
      by = 'earlier-connection';
    } else if (alt.length > 0) {
      status = 'satisfied';
      how = FOLLOW_UP_TEXT.alternative(label(judged, alt[0]!));
      evidence = alt;
      by = 'alternative';
    } else if (tried.length > 0) {
      status = 'failing';
      const refused = fresh.some((x) => x.s === 'refused');
      how = FOLLOW_UP_TEXT.tried(n.endpoints.map(endpointText).join(' or '), refused, label(judged, tried[0]!));
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
        how = FOLLOW_UP_TEXT.tooSoon(after);
      } else if (ctx.captureLoss) {
        status = 'inconclusive';
        how = FOLLOW_UP_TEXT.lossy(ctx.captureLoss);
      } else if (n.endpoints.every((e) => e.port === null)) {
        status = 'failing';
        how = FOLLOW_UP_TEXT.noDatagram(n.responder, n.endpoints[0]?.peerPort ?? '?');
      } else {
        status = 'missing';
        how = FOLLOW_UP_TEXT.nothingFollowed(n.endpoints.map(endpointText).join(' or '));
      }
    }
    const rule = attribution(judged, ctx, rules, n, evidence, exchange);
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
      description: refinement?.description ?? followUpDescription(n.reason),
      detail: `${answerText(n)}; ${how}${rule.note ? `; ${rule.note}` : ''}`,
      cite: refinement?.cite ?? rule.cite,
      ...findingEvidence(judged, evidence, { from: n.peer, to: n.endpoints[0]?.host ?? n.responder, proto: transports.join('/') || 'tcp', ports }),
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
