import type { Catalog, DynamicKind, Requirement, Rule } from '../catalog/types.js';
import type { JudgedFlows } from './judged.js';
import type { FollowUpContext, Negotiation } from './negotiations.js';
import { FOLLOW_UP_TEXT } from './texts.js';
import type { Judgement, RequirementFinding } from './types.js';

const TCP = 6;

/** The follow-up requirements of the catalogs, by dynamic kind (see refinementsOf). */
export type Refinements = Map<DynamicKind, Array<{ req: Requirement; when: string; rules: Map<string, Rule> }>>;

/** Requirements that expect `{ grant: kind }`, by kind: refinements of the follow-up check. */
export function refinementsOf(catalogs: Catalog[]): Refinements {
  const out: Refinements = new Map();
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

/** The refinement a negotiation answers to: one whose trigger rule judged the negotiation's own exchange. */
export function refinementFor(refinements: Refinements, n: Negotiation, exchange: Judgement[]): Requirement | null {
  const list = refinements.get(n.kind);
  if (!list) return null;
  for (const { req, when } of list) if (exchange.some((j) => j.matches.includes(when))) return req;
  return null;
}

/** Flows of a refinement's rule alternatives for the negotiation's pair (judged expected on that rule). */
export function alternativeFlows(judged: JudgedFlows, req: Requirement, n: Negotiation, pairFlows: number[]): number[] {
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
export function attribution(judged: JudgedFlows, ctx: FollowUpContext, rules: CatalogRules, n: Negotiation, followed: number[], exchange: Judgement[]): { key: string; documented: boolean; cite: RequirementFinding['cite']; note?: string } {
  for (const i of followed) {
    const j = judged.judgement(i);
    if (j.verdict === 'expected' && j.grant && j.rule) return { key: j.rule, documented: true, cite: j.cite };
  }
  const dynamic = rules.dynamic.get(n.kind) ?? [];
  if (dynamic.length > 0) {
    const byId = rules.byKey;
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
      const note = fitting.length > 1 && !known ? FOLLOW_UP_TEXT.manyRules(fitting.length, n.kind) : undefined;
      return { key: ruleKey(d), documented: true, cite: d.cite, ...(note ? { note } : {}) };
    }
  }
  return { key: `negotiation:${n.reason}`, documented: false, cite: null, note: FOLLOW_UP_TEXT.undocumentedNegotiation(n.kind) };
}

const ruleKey = (r: Rule) => `${r.catalog}:${r.id}`;

/** The catalogs' rules by key, and their dynamic-port rules by kind. */
export interface CatalogRules {
  byKey: Map<string, Rule>;
  dynamic: Map<DynamicKind, Rule[]>;
}

export function catalogRules(catalogs: Catalog[]): CatalogRules {
  const m: CatalogRules = { byKey: new Map(), dynamic: new Map() };
  for (const cat of catalogs) {
    for (const r of cat.rules) {
      m.byKey.set(ruleKey(r), r);
      if (r.dynamic) m.dynamic.set(r.dynamic.kind, [...(m.dynamic.get(r.dynamic.kind) ?? []), r]);
    }
  }
  return m;
}

function isClassRole(ctx: FollowUpContext, role: string): boolean {
  return ctx.catalogs.some((cat) => cat.roles.some((r) => r.id === role && r.address !== undefined));
}
