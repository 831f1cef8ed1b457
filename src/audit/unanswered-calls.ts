import type { Requirement } from '../catalog/types.js';
import { alternativeFlows, type Refinements } from './followup-rules.js';
import { findingEvidence } from './finding-packets.js';
import type { JudgedFlows } from './judged.js';
import { NEGOTIATION_PORTS, type Negotiation } from './negotiations.js';
import type { RoleResolver } from './roles.js';
import { flowLabel as label, FOLLOW_UP_TEXT } from './texts.js';
import type { FollowUp, RequirementFinding } from './types.js';

const TCP = 6;

/**
 * Negotiation calls no answer was read for, between hosts without a negotiation: an endpoint-mapper
 * SYN nobody answers, a SQL Browser request with no reply (no port could be granted: `failing`), and
 * the exchanges of a refinement's trigger whose answer could not be read (`inconclusive`, unless the
 * refinement's alternative was used). One finding a pair. Broadcast and multicast requests are
 * answered from other hosts, never in their own flow, and are left out.
 */
export function callsWithoutAnswer(judged: JudgedFlows, roles: RoleResolver, refinements: Refinements, negs: Negotiation[]): RequirementFinding[] {
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
      description: g.refinement?.description ?? FOLLOW_UP_TEXT.callAnswered(what),
      cite: g.refinement?.cite ?? j.cite,
    };
    const followUp = (by: FollowUp['by']): FollowUp => ({ reason: g.call?.reason ?? g.refinement!.expect.flatMap((e) => ('grant' in e ? [e.grant] : []))[0]!, kind: g.call?.kind ?? 'dcerpc', file: null, frame: null, granted: [], superseded: [], by, documentedBy: j.rule, unanswered: true });
    if (!g.answered) {
      const refused = c.proto[first] === TCP && judged.outcome(first) === 'rejected';
      out.push({ ...base, status: 'failing', detail: FOLLOW_UP_TEXT.callUnanswered(what, client, server, refused, g.flows.length), ...findingEvidence(judged, g.flows, base), followUp: followUp(null) });
      continue;
    }
    if (!g.refinement) continue;
    const pseudo = { peer: client, responder: server } as Negotiation;
    const alt = alternativeFlows(judged, g.refinement, pseudo, pairs().get(pairKey(judged.client(first), judged.server(first))) ?? []);
    if (alt.length > 0) {
      out.push({ ...base, status: 'satisfied', detail: FOLLOW_UP_TEXT.alternative(label(judged, alt[0]!)), ...findingEvidence(judged, alt, base), followUp: followUp('alternative') });
    } else {
      out.push({ ...base, status: 'inconclusive', detail: FOLLOW_UP_TEXT.noGrantRead(what), ...findingEvidence(judged, g.flows, base), followUp: followUp(null) });
    }
  }
  return out;
}
