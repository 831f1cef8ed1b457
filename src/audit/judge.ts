import type { Catalog } from '../catalog/types.js';
import { BackgroundJudge } from './background.js';
import type { FlowColumns } from '../flow/columns.js';
import { GrantIndex } from './grant-index.js';
import { inferRoles } from './infer.js';
import { JudgedFlows } from './judged.js';
import { isStrong, judgingReadings } from './orientation.js';
import { classIdsOf, HostProfiles } from './profiles.js';
import { Candidate, Readings } from './readings.js';
import type { RoleResolver } from './roles.js';
import type { RpcCallIndex } from './rpc-calls.js';
import type { GrantLike, Judgement } from './types.js';
import { verdictOf, withUndocumentedGrant } from './verdict.js';

export interface AuditContext {
  catalogs: Catalog[];
  roles: RoleResolver;
  grants: GrantLike[];
  /** Capture span in seconds (for periods) and whether it demonstrably lost packets. */
  captureSeconds: number;
  captureLoss: string | null;
  /** Seconds of watch below which a missing requirement without a documented period is inconclusive (`--min-span`). */
  minSpan?: number;
  /** Whether roles are learnt from traffic when there is no role map (`--no-infer` turns it off). */
  infer?: boolean;
  /** The background catalog (background.ts), or none (`--no-background`). */
  background?: Catalog | null;
  /** false for flow records: no payload, so no grant; dynamic kinds are judged by their documented ranges. */
  grantsObservable?: boolean;
  /** The DCE/RPC calls Zeek's dce_rpc.log shows on the flows (flow records read with it), rpc-calls.ts. */
  rpc?: RpcCallIndex | null;
}

/**
 * Per-flow verdicts: expected, role-mismatch, undocumented or background (background.ts), with the rule
 * and the vendor's words.
 * Roles are inferred first when there is no role map (infer.ts). A verdict depends on the readings of
 * the flow's ports (readings.ts), which side listens (orientation.ts) and the two hosts' profiles
 * (profiles.ts), so it is worked out (verdict.ts) once for each (readings, client profile, server
 * profile) and shared: hundreds of thousands of flows make only as many distinct verdicts as there
 * are ports and kinds of host, and each flow keeps only its verdict's index. Readings that depend on
 * a grant are worked out for each flow.
 */
export function judgeFlows(c: FlowColumns, ctx: AuditContext): JudgedFlows {
  const classIds = classIdsOf(ctx.catalogs);
  const granted = ctx.grants.length > 0 ? new GrantIndex(ctx.grants, c) : null;
  const rpc = ctx.rpc ?? null;
  const readings = new Readings(c, ctx.catalogs, granted, ctx.grantsObservable !== false, rpc);
  if (!ctx.roles.map && ctx.infer !== false) inferRoles(c, readings, ctx.catalogs, ctx.roles);
  const profiles = new HostProfiles(c, ctx.roles);
  const background = ctx.background ? new BackgroundJudge(c, ctx.background, granted, ctx.roles.space, profiles, ctx.grantsObservable !== false, rpc) : null;
  // A pair of shared reading lists (as the flow's port gives them, and as judged) gets a number; with
  // the two profiles' ids it keys the shared verdicts without a string a flow.
  const pairIds = new Map<Candidate[], Map<Candidate[], number>>();
  let nextPair = 0;
  const pairId = (a: Candidate[], b: Candidate[]) => {
    let inner = pairIds.get(a);
    if (!inner) pairIds.set(a, (inner = new Map()));
    let id = inner.get(b);
    if (id === undefined) inner.set(b, (id = nextPair++));
    return id;
  };
  const judgements: Judgement[] = [];
  const shared = new Map<number | string, number>();
  const of = new Uint32Array(c.n);
  let lastFirst: Candidate[] | null = null;
  let lastCands: Candidate[] | null = null;
  let lastPair = -1;
  for (let i = 0; i < c.n; i++) {
    const strong = isStrong(c, i);
    const { first, cands } = judgingReadings(readings, i, strong);
    const pc = profiles.of(c.client[i]!);
    const ps = profiles.of(c.server[i]!);
    // Flows come in runs on the same port: the last pair of reading lists keeps its number.
    if (first !== lastFirst || cands !== lastCands) {
      lastFirst = first;
      lastCands = cands;
      lastPair = readings.isShared(first) && readings.isShared(cands) ? pairId(first, cands) : -1;
    }
    // A flow some grant covers has a verdict of its own (the grant's evidence), even on shared readings.
    const own = readings.coveredByGrant(i, strong);
    if (lastPair >= 0 && !own) {
      const pair = lastPair;
      const key = pc.id < 0x8000 && ps.id < 0x8000 ? (pair * 0x8000 + pc.id) * 0x8000 + ps.id : `${pair}|${pc.id}|${ps.id}`;
      let ji = shared.get(key);
      if (ji === undefined) {
        shared.set(key, (ji = judgements.length));
        judgements.push(verdictOf(c, i, cands, pc, ps, classIds));
      }
      of[i] = ji;
    } else {
      of[i] = judgements.length;
      let j = verdictOf(c, i, cands, pc, ps, classIds);
      // A port some negotiation granted, that no catalog rule documents: say which answer granted it.
      if (j.verdict === 'undocumented' && own) j = withUndocumentedGrant(j, i, granted!, strong);
      judgements.push(j);
    }
    // Product rules win: only a flow they do not make expected can be background.
    if (background !== null && judgements[of[i]!]!.verdict !== 'expected') of[i] = background.judge(i, of[i]!, judgements);
    // What Zeek's dce_rpc.log says of this flow, on a judgement of its own.
    if (rpc !== null && rpc.touches(i)) {
      const j = judgements[of[i]!]!;
      const withCalls = rpc.withEvidence(j, i);
      if (withCalls !== j) {
        of[i] = judgements.length;
        judgements.push(withCalls);
      }
    }
  }
  return new JudgedFlows(c, judgements, of);
}
