import { formatIso } from '../core/time.js';
import { FlowColumns, portOrNull as portOf, PROTO_NAMES } from '../flow/columns.js';
import type { GrantIndex } from './grant-index.js';
import { exchanged, grantSide, sidesOf } from './orientation.js';
import { HostProfile, sideFits } from './profiles.js';
import { Candidate, isWide, MATCH_RANK, REQUIRED_RANK } from './readings.js';
import { expectedText, GRANT_NOT_OBSERVABLE, roleMismatchText, RPC_CALLS_SEEN, serviceText, sideText, undocumentedGrantText, undocumentedText } from './texts.js';
import type { Judgement } from './types.js';

const NO_MATCHES: string[] = [];

/**
 * A flow's verdict from its readings and its hosts' profiles: expected (some reading fits both
 * sides), role-mismatch (a narrow reading documents the port for other roles) or undocumented.
 */
export function verdictOf(c: FlowColumns, i: number, cands: Candidate[], pc: HostProfile, ps: HostProfile, classIds: ReadonlySet<string>): Judgement {
  // A wide range explains a flow only when both sides fit it for certain (given roles, address classes).
  const fits = (cand: Candidate, rev: boolean, sure: boolean) => {
    const [x, y] = rev !== cand.swapped ? [ps, pc] : [pc, ps];
    return sideFits(cand.rule.from, x, classIds, sure) && sideFits(cand.rule.to, y, classIds, sure);
  };
  const fitsEither = (cand: Candidate, sure: boolean) => fits(cand, false, sure) || (cand.rule.direction === 'either' && fits(cand, true, sure));
  if (cands.some(isWide)) cands = cands.filter((x) => !isWide(x) || fitsEither(x, true));
  const { swapped, client: pcs, server: pss } = sidesOf(cands, pc, ps);
  const proto = PROTO_NAMES[c.proto[i]!]!;
  const serverPort = portOf(swapped ? c.clientPort[i]! : c.serverPort[i]!);
  const base = { swapped, clientRoles: pcs.shown, serverRoles: pss.shown, clientRolesFrom: pcs.source, serverRolesFrom: pss.source };
  const icmpType = c.icmpType[i]!;
  if (cands.length === 0) {
    return { ...base, verdict: 'undocumented', rule: null, matches: NO_MATCHES, cite: null, detail: undocumentedText(serviceText(proto, serverPort, icmpType)) };
  }
  // Only roles the user gave and address classes can condemn a flow; inferred roles are guesses that
  // order readings.
  const ok = cands.filter((cand) => fitsEither(cand, false));
  const rank = (x: Candidate) => MATCH_RANK[x.match] * 10 + REQUIRED_RANK[x.rule.required];
  if (ok.length > 0) {
    const best = ok.sort((a, b) => rank(a) - rank(b))[0]!;
    const g = best.grant;
    return {
      ...base,
      verdict: 'expected',
      rule: `${best.rule.catalog}:${best.rule.id}`,
      matches: [...new Set(ok.map((x) => `${x.rule.catalog}:${x.rule.id}`))],
      cite: best.rule.cite,
      ...(g ? { grant: { reason: g.reason, host: g.host, port: g.port, at: formatIso(g.fromSec, g.fromNs, 6), detail: g.evidence.detail } } : {}),
      detail: expectedText(best.rule, g, pcs.source === 'unknown' || pss.source === 'unknown', best.match === 'dynamic-range' ? GRANT_NOT_OBSERVABLE : best.match === 'rpc-calls' ? RPC_CALLS_SEEN : undefined),
    };
  }
  // A broadcast or multicast address has no role to be wrong: a reading whose side it cannot play (a
  // unicast rule) does not document the flow at all, and only a wrong host on the other side of a
  // reading that names the class (Wake-on-LAN from a client, not the master) is a role mismatch.
  const classSidesFit = (cand: Candidate, rev: boolean) => {
    const [x, y] = rev !== cand.swapped ? [ps, pc] : [pc, ps];
    return (x.hostless === null || sideFits(cand.rule.from, x, classIds, false)) && (y.hostless === null || sideFits(cand.rule.to, y, classIds, false));
  };
  const narrow = cands.filter((x) => !isWide(x) && (classSidesFit(x, false) || (x.rule.direction === 'either' && classSidesFit(x, true))));
  if (narrow.length === 0) {
    // No reading holds: the flow keeps its own sides (a swap tried for the catalog's sake explained nothing).
    const own = { swapped: false, clientRoles: pc.shown, serverRoles: ps.shown, clientRolesFrom: pc.source, serverRolesFrom: ps.source };
    return { ...own, verdict: 'undocumented', rule: null, matches: NO_MATCHES, cite: null, detail: undocumentedText(serviceText(proto, portOf(c.serverPort[i]!), icmpType), { to: ps.hostless, from: pc.hostless }) };
  }
  const best = [...narrow].sort((a, b) => rank(a) - rank(b))[0]!;
  return {
    ...base,
    verdict: 'role-mismatch',
    rule: `${best.rule.catalog}:${best.rule.id}`,
    matches: NO_MATCHES,
    cite: best.rule.cite,
    detail: roleMismatchText(proto, serverPort, best.rule, sideText(pcs.shown, pcs.hostless), sideText(pss.shown, pss.hostless)),
  };
}

/** An undocumented flow on a port some negotiation granted: the verdict says which answer granted it. */
export function withUndocumentedGrant(j: Judgement, i: number, granted: GrantIndex, strong: boolean): Judgement {
  const { k, asRecorded } = grantSide(granted, i, strong);
  if (k < 0) return j;
  const g = granted.grant(k);
  return {
    ...(asRecorded ? j : exchanged(j)),
    grant: { reason: g.reason, host: g.host, port: g.port, at: formatIso(g.fromSec, g.fromNs, 6), detail: g.evidence.detail },
    detail: undocumentedGrantText(g),
  };
}
