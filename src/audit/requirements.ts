import type { Rule } from '../catalog/types.js';
import { displayPorts } from '../catalog/types.js';
import { compareTime } from '../core/time.js';
import type { AuditContext } from './judge.js';
import { findingEvidence } from './finding-packets.js';
import type { JudgedFlows } from './judged.js';
import { alternativesText, flowLabel, neverEstablishedText, refusedText, roleMissingText, seenText, shortForMinSpanText, shortForPeriodText, triggeredMissingText } from './texts.js';
import type { RequirementFinding, RequirementState } from './types.js';

/** Seconds a host must be watched before the absence of a flow without a documented period is a finding (`--min-span`). */
export const MIN_SPAN_DEFAULT = 600;

/** Flows by index in the judged list. */
type AltState = { state: 'satisfied' | 'failing' | 'missing'; flows: number[] };

/**
 * Required flows: for every requirement, per host pair (when a trigger rule was seen) or per host (for
 * every host of a role), whether one of the expected flows is there. Flows are read from the judged
 * list's columns by index; hosts by id.
 */
export function checkRequirements(judged: JudgedFlows, ctx: AuditContext, captureStart: { sec: number; ns: number } | null, captureEnd: { sec: number; ns: number } | null): RequirementFinding[] {
  const c = judged.columns;
  const hosts = c.hosts;
  const H = hosts.length;
  const TCP = 6;
  const UDP = 17;
  const stateOf = (flows: number[]): AltState => {
    if (flows.length === 0) return { state: 'missing', flows };
    const ok = flows.filter((i) => {
      // A UDP flow an ICMP error rejected (port or host unreachable, prohibited) and nothing answered is refused.
      if (c.proto[i] === UDP) return !(judged.outcome(i) === 'rejected' && c.serverPackets[i] === 0);
      if (c.proto[i] !== TCP) return true;
      const o = judged.outcome(i);
      return o === 'established' || (o === 'partial' && c.serverPackets[i]! > 0 && c.clientPackets[i]! > 0);
    });
    return ok.length ? { state: 'satisfied', flows: ok } : { state: 'failing', flows };
  };
  const label = (i: number) => flowLabel(judged, i);
  // Failing flows that are all UDP: ICMP errors refused them (a failing TCP flow was never established).
  const refused = (flows: number[]) => flows.every((i) => c.proto[i] === UDP);
  const start = (i: number) => ({ sec: c.startSec[i]!, ns: c.startNs[i]! });
  // The expected flows a rule explains, found when a requirement first asks (one pass over the flows'
  // verdict indices per rule asked for; a flow on a port of twenty rules would otherwise be listed
  // twenty times for rules no requirement names).
  const ruleFlows = new Map<string, number[]>();
  const byRule = (rule: string): number[] => {
    let list = ruleFlows.get(rule);
    if (list) return list;
    const hit = judged.judgements.map((j) => j.verdict === 'expected' && j.matches.includes(rule));
    list = [];
    if (hit.some(Boolean)) for (let i = 0; i < c.n; i++) if (hit[judged.of[i]!]) list.push(i);
    ruleFlows.set(rule, list);
    return list;
  };
  // Where each host is first seen, for how long the capture could have shown its flows (every host of
  // the columns is seen: they are made from the flows).
  const seenSec = new Float64Array(H).fill(Infinity);
  const seenNs = new Float64Array(H);
  const see = (h: number, sec: number, ns: number) => {
    if (sec < seenSec[h]! || (sec === seenSec[h]! && ns < seenNs[h]!)) {
      seenSec[h] = sec;
      seenNs[h] = ns;
    }
  };
  for (let i = 0; i < c.n; i++) {
    see(c.client[i]!, c.startSec[i]!, c.startNs[i]!);
    see(c.server[i]!, c.startSec[i]!, c.startNs[i]!);
  }
  let ids: Map<string, number> | null = null;
  const hostId = (addr: string): number | undefined => {
    if (ids === null) {
      ids = new Map();
      for (let h = 0; h < H; h++) ids.set(hosts[h]!, h);
    }
    return ids.get(addr);
  };
  const firstSeen = (addr: string): { sec: number; ns: number } | null => {
    const h = hostId(addr);
    return h === undefined ? null : { sec: seenSec[h]!, ns: seenNs[h]! };
  };
  // A rule's flows by client, by server and by pair (client × H + server), made when first asked: one
  // pass, not one a host.
  const indexes = new Map<string, Map<number, number[]>>();
  const flowsOf = (rule: string, by: 'client' | 'server' | 'pair', key: number | undefined): number[] => {
    if (key === undefined) return [];
    const ik = `${by}\u0000${rule}`;
    let index = indexes.get(ik);
    if (!index) {
      index = new Map();
      for (const i of byRule(rule)) {
        const k = by === 'client' ? judged.client(i) : by === 'server' ? judged.server(i) : judged.client(i) * H + judged.server(i);
        const list = index.get(k);
        if (list) list.push(i);
        else index.set(k, [i]);
      }
      indexes.set(ik, index);
    }
    return index.get(key) ?? [];
  };
  // UDP flows by unordered host pair, made when first asked: a UDP expectation is met by who sent to
  // which port, whoever spoke first (a device answering 3080 → 3080 inside the flow the manager began).
  let udpPairs: Map<number, number[]> | null = null;
  const sentOn = (rule: Rule, from: number, to: number): number[] => {
    if (!rule.transport.includes('udp')) return [];
    if (udpPairs === null) {
      udpPairs = new Map();
      for (let i = 0; i < c.n; i++) {
        if (c.proto[i] !== 17) continue;
        const a = c.client[i]!;
        const b = c.server[i]!;
        const k = a < b ? a * H + b : b * H + a;
        const list = udpPairs.get(k);
        if (list) list.push(i);
        else udpPairs.set(k, [i]);
      }
    }
    const ranges = rule.ranges;
    const inRule = (p: number) => ranges.some(([lo, hi]) => p >= lo && p <= hi);
    const out: number[] = [];
    for (const i of udpPairs.get(from < to ? from * H + to : to * H + from) ?? []) {
      const fromIsClient = c.client[i] === from;
      const sent = fromIsClient ? c.clientPackets[i]! : c.serverPackets[i]!;
      const toPort = fromIsClient ? c.serverPort[i]! : c.clientPort[i]!;
      if (sent > 0 && inRule(toPort)) out.push(i);
    }
    return out;
  };
  const union = (a: number[], b: number[]) => (b.length === 0 ? a : [...new Set([...a, ...b])].sort((x, y) => x - y));
  const minSpan = ctx.minSpan ?? MIN_SPAN_DEFAULT;
  const out: RequirementFinding[] = [];
  for (const cat of ctx.catalogs) {
    const ruleById = new Map(cat.rules.map((r) => [r.id, r]));
    for (const req of cat.requirements) {
      // Requirements that expect a grant refine the follow-up check of every negotiation (followups.ts).
      if (req.expect.some((e) => 'grant' in e)) continue;
      const expectRules = req.expect.flatMap((e) => ('rule' in e ? [ruleById.get(e.rule)!] : []));
      // Which roles the requirement expects on each side (a reversed expectation runs server to client).
      const sides = req.expect.flatMap((e) => ('rule' in e ? [{ rule: ruleById.get(e.rule)!, reverse: e.reverse === true }] : []));
      const expectFrom = req.forEach ? [req.forEach] : [...new Set(sides.flatMap((x) => (x.reverse ? x.rule.to : x.rule.from)))];
      const expectTo = [...new Set(sides.flatMap((x) => (x.reverse ? x.rule.from : x.rule.to)))];
      const proto = [...new Set(expectRules.flatMap((r) => r.transport))].join('/') || 'tcp';
      const ports = [...new Set(expectRules.flatMap((r) => displayPorts(r)))];
      const period = req.period;
      const key = `${req.catalog}:${req.id}`;
      // A rule keeps the id of the catalog that declared it (a site catalog's inherited rules are the base's).
      const ruleKey = (id: string) => `${ruleById.get(id)!.catalog}:${id}`;
      const finding = (from: string, to: string | null, alt: AltState, what: string, extraPorts?: Array<number | string>): RequirementFinding => {
        let status: RequirementState = alt.state;
        let detail = what;
        const watched = captureSpanFrom(firstSeen(from), captureEnd, captureStart);
        if (status === 'missing') {
          // Absence proves something only over a long enough watch: the documented period, or without
          // one the --min-span threshold (an idle client may say nothing for minutes).
          if (period !== null && watched < period) {
            status = 'inconclusive';
            detail += shortForPeriodText(watched, period);
          } else if (period === null && watched < minSpan) {
            status = 'inconclusive';
            detail += shortForMinSpanText(watched, minSpan, req.note);
          } else if (ctx.captureLoss) {
            status = 'inconclusive';
            detail += `; ${ctx.captureLoss}`;
          }
        }
        return {
          rule: key,
          status,
          from,
          to,
          proto,
          ports: extraPorts ?? ports,
          description: req.description,
          detail,
          cite: req.cite ?? (expectRules[0]?.cite ?? null),
          watchedSeconds: Number(watched.toFixed(6)),
          // The sides' roles as the requirement expects them; the audit puts the hosts' own first.
          fromRoles: expectFrom,
          toRoles: expectTo,
          ...findingEvidence(judged, alt.flows, { from, to, proto, ports: extraPorts ?? ports }),
        };
      };
      const describeAlternatives = (from: string, to: string | null) => alternativesText(req.expect, ruleById, from, to);

      if (req.when) {
        const triggers = byRule(ruleKey(req.when.rule));
        const pairs = new Map<number, number[]>();
        for (const i of triggers) {
          const k = judged.client(i) * H + judged.server(i);
          const list = pairs.get(k);
          if (list) list.push(i);
          else pairs.set(k, [i]);
        }
        for (const [k, trig] of pairs) {
          const clientId = Math.floor(k / H);
          const serverId = k - clientId * H;
          const client = hosts[clientId]!;
          const server = hosts[serverId]!;
          // Without given roles a rule and its reverse cannot be told apart on one port: a pair seen
          // both ways is one relationship, triggered by whichever side spoke first.
          const reverse = pairs.get(serverId * H + clientId);
          if (reverse && ctx.roles.rolesOf(client).source !== 'given' && ctx.roles.rolesOf(server).source !== 'given') {
            const first = (fs: number[]) => fs.reduce((m, i) => (compareTime(c.startSec[i]!, c.startNs[i]!, c.startSec[m]!, c.startNs[m]!) < 0 ? i : m));
            const a = start(first(trig));
            const b = start(first(reverse));
            if (compareTime(b.sec, b.ns, a.sec, a.ns) < 0) continue;
          }
          const ruleAlts: AltState[] = [];
          for (const e of req.expect) {
            if (!('rule' in e)) continue;
            const [a, b] = e.reverse ? [serverId, clientId] : [clientId, serverId];
            ruleAlts.push(stateOf(union(flowsOf(ruleKey(e.rule), 'pair', a * H + b), sentOn(ruleById.get(e.rule)!, a, b))));
          }
          const alt = combine(ruleAlts);
          const what =
            alt.state === 'satisfied'
              ? seenText(alt.flows.slice(0, 3).map(label))
              : alt.state === 'failing'
                ? refused(alt.flows)
                  ? refusedText(alt.flows.slice(0, 3).map(label).join('; '))
                  : neverEstablishedText(describeAlternatives(client, server))
                : triggeredMissingText(client, server, req.when.rule, describeAlternatives(client, server));
          out.push(finding(client, server, alt, what));
        }
      } else if (req.forEach) {
        const peersByRole = (q: typeof req, host: string): string[] => {
          if (!ctx.roles.map) return [];
          const roles = new Set(q.expect.flatMap((e) => ('rule' in e ? (e.reverse ? ruleById.get(e.rule)!.from : ruleById.get(e.rule)!.to) : [])));
          const candidates = new Set<string>();
          for (const role of roles) {
            if (cat.roles.find((r) => r.id === role)?.address) continue;
            for (const h of ctx.roles.hostsOf(role, hosts)) if (h !== host) candidates.add(h);
          }
          return candidates.size === 1 ? [...candidates] : [];
        };
        for (const host of ctx.roles.hostsOf(req.forEach, hosts).sort()) {
          const id = hostId(host);
          const alts: AltState[] = [];
          for (const e of req.expect) {
            if (!('rule' in e)) continue;
            alts.push(stateOf(flowsOf(ruleKey(e.rule), e.reverse ? 'server' : 'client', id)));
          }
          const alt = combine(alts);
          let peers = [...new Set(alt.flows.map((i) => hosts[judged.client(i) === id ? judged.server(i) : judged.client(i)]!))];
          // Nothing seen: the peer is the one host the role map gives the other side's role, if there is one.
          if (peers.length === 0) peers = peersByRole(req, host);
          const what =
            alt.state === 'satisfied'
              ? seenText(alt.flows.slice(0, 3).map(label))
              : alt.state === 'failing'
                ? (refused(alt.flows) ? refusedText : neverEstablishedText)(alt.flows.slice(0, 3).map(label).join('; '))
                : roleMissingText(host, req.forEach, describeAlternatives(host, null));
          out.push(finding(host, peers.length === 1 ? peers[0]! : null, alt, what));
        }
      }
    }
  }
  return out;
}

function combine(alts: AltState[]): AltState {
  return alts.find((a) => a.state === 'satisfied') ?? alts.find((a) => a.state === 'failing') ?? { state: 'missing', flows: [] };
}

/** Seconds of capture in which a host could have shown the flow: from its first packet (or the capture start) to the end. */
function captureSpanFrom(first: { sec: number; ns: number } | null, end: { sec: number; ns: number } | null, start: { sec: number; ns: number } | null): number {
  if (end === null || start === null) return 0;
  const from = first ?? start;
  return end.sec - from.sec + (end.ns - from.ns) / 1e9;
}
