import type { Catalog, Rule } from '../catalog/types.js';
import type { FlowColumns } from '../flow/columns.js';
import type { AddressSpace } from './addresses.js';
import type { GrantIndex } from './grant-index.js';
import { isStrong, judgingReadings } from './orientation.js';
import { classIdsOf, HostProfiles } from './profiles.js';
import { Candidate, Readings } from './readings.js';
import { RoleResolver } from './roles.js';
import type { RpcCallIndex } from './rpc-calls.js';
import { backgroundText, ungrantedNote } from './texts.js';
import type { Judgement } from './types.js';
import { verdictOf } from './verdict.js';

/**
 * The background verdict: a flow that no product rule makes `expected` but the background catalog
 * covers is `background`. Product rules always win (an expected flow is never looked at here). The
 * background catalog's roles are address classes (catalog/background.ts), so its readings are judged
 * by port and address class alone, through a resolver of its own: no role map, no inference. The
 * judged flow keeps the hosts' product roles (what the report shows of them) on the sides the
 * background reading gives.
 */
export class BackgroundJudge {
  private readonly readings: Readings;
  private readonly profiles: HostProfiles;
  private readonly classIds: Set<string>;
  private readonly rules: Map<string, Rule>;
  /** Background judgements shared by readings, then (product judgement, both profiles). */
  private readonly shared = new Map<Candidate[], Map<number | string, number>>();

  constructor(
    private readonly c: FlowColumns,
    background: Catalog,
    granted: GrantIndex | null,
    space: AddressSpace,
    /** The product audit's profiles: the roles a judged flow shows. */
    private readonly products: HostProfiles,
    grantsObservable = true,
    rpc: RpcCallIndex | null = null,
  ) {
    this.readings = new Readings(c, [background], granted, grantsObservable, rpc);
    this.profiles = new HostProfiles(c, new RoleResolver(null, [background], space));
    this.classIds = classIdsOf([background]);
    this.rules = new Map(background.rules.map((r) => [`${r.catalog}:${r.id}`, r]));
  }

  /**
   * Flow i judged `ji` (not expected) by the product catalogs: the index of its background judgement
   * (pushed to `judgements` when new), or `ji` when no background rule covers it.
   */
  judge(i: number, ji: number, judgements: Judgement[]): number {
    const c = this.c;
    const strong = isStrong(c, i);
    const { first, cands } = judgingReadings(this.readings, i, strong);
    if (cands.length === 0) return ji;
    const pc = this.profiles.of(c.client[i]!);
    const ps = this.profiles.of(c.server[i]!);
    const own = this.readings.coveredByGrant(i, strong) || !this.readings.isShared(first) || !this.readings.isShared(cands);
    let memo: Map<number | string, number> | undefined;
    const key = pc.id < 0x8000 && ps.id < 0x8000 && ji < 0x400000 ? (ji * 0x8000 + pc.id) * 0x8000 + ps.id : `${ji}|${pc.id}|${ps.id}`;
    if (!own) {
      memo = this.shared.get(cands);
      if (!memo) this.shared.set(cands, (memo = new Map()));
      const known = memo.get(key);
      if (known !== undefined) return known;
    }
    const b = verdictOf(c, i, cands, pc, ps, this.classIds);
    let out = ji;
    if (b.verdict === 'expected') {
      const product = judgements[ji]!;
      const client = this.products.of(b.swapped ? c.server[i]! : c.client[i]!);
      const server = this.products.of(b.swapped ? c.client[i]! : c.server[i]!);
      const rule = this.rules.get(b.rule!)!;
      out = judgements.length;
      judgements.push({
        swapped: b.swapped,
        clientRoles: client.shown,
        serverRoles: server.shown,
        clientRolesFrom: client.source,
        serverRolesFrom: server.source,
        verdict: 'background',
        rule: b.rule,
        matches: b.matches,
        cite: b.cite,
        ...(b.grant ? { grant: b.grant } : {}),
        detail: backgroundText(rule, b.grant?.reason, product.detail, ungrantedNote(b.detail)),
      });
    }
    memo?.set(key, out);
    return out;
  }
}
