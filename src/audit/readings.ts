import { alternativePorts, Catalog, Rule } from '../catalog/types.js';
import { DIRECTIONS, FlowColumns, PROTO_NAMES } from '../flow/columns.js';
import { GrantIndex } from './grant-index.js';
import type { RpcCallIndex } from './rpc-calls.js';
import type { GrantLike } from './types.js';

/**
 * How a rule's ports cover a flow. 'rpc-calls': a DCE/RPC dynamic kind's port on which Zeek's
 * dce_rpc.log shows the connection's own RPC calls (rpc-calls.ts): the flow is an RPC endpoint, not a
 * port that happens to fall in a range, so it counts as a narrow reading; its grant is still not
 * observable, and the flow's detail says so. 'dynamic-range': a dynamic kind's documented range (RPC's
 * 49152-65535) where grants cannot be observed (flow records carry no payload), held to the same
 * certainty as 'wide' and marked GRANT_NOT_OBSERVABLE in the flow's detail. 'wide' is a range of more than 1024 ports (WMI's 49152-65535, a
 * vendor's "depends on configuration") or an `ephemeral` dynamic port nothing granted: it explains a
 * flow only when both sides fit the rule for certain (by roles the user gave, or by an address class
 * the rule names: a broadcast destination, `any`), never on inferred or unknown roles, and it never
 * makes an otherwise undocumented flow a role mismatch.
 */
export type PortMatch = 'port' | 'range' | 'grant' | 'rpc-calls' | 'dynamic-range' | 'wide';

/** A reading by a range too wide to say much alone: it needs both sides to fit for certain. */
export function isWide(x: Candidate): boolean {
  return x.match === 'wide' || x.match === 'dynamic-range';
}

/** One reading of a flow: a rule whose ports cover it, and how. */
export interface Candidate {
  rule: Rule;
  match: PortMatch;
  /** The flow's sides as the rule sees them (swapped when the rule says the other side listens). */
  swapped: boolean;
  grant?: GrantLike;
}

/** The better reading of two: a grant, then one port, then a range, then the connection's own RPC calls, then a wide range. */
export const MATCH_RANK: Record<PortMatch, number> = { grant: 0, port: 1, range: 2, 'rpc-calls': 3, 'dynamic-range': 4, wide: 5 };
export const REQUIRED_RANK = { required: 0, conditional: 1, optional: 2 } as const;

// Zeek's flip by its likely server ports is a port heuristic too: the catalog's documented port may overrule it.
const WEAK_DIRECTION = new Set(['first-packet', 'port-rank', 'epb-flags', 'zeek-flipped']);
/** By direction index (FlowColumns.direction): whether the evidence is a guess (no SYN seen). */
export const WEAK = DIRECTIONS.map((d) => WEAK_DIRECTION.has(d));

/** Every rule of every catalog, with the ports it accepts (all sets of its alternatives). */
interface IndexedRule {
  rule: Rule;
  key: string;
  ranges: Array<[number, number]>;
}

function indexRules(catalogs: Catalog[]): IndexedRule[] {
  const out: IndexedRule[] = [];
  for (const c of catalogs) {
    for (const r of c.rules) {
      const alt = alternativePorts(c, r).flatMap((a) => a.ports);
      out.push({ rule: r, key: `${r.catalog}:${r.id}`, ranges: [...r.ranges, ...alt] });
    }
  }
  return out;
}

function inRanges(port: number, ranges: Array<[number, number]>): 'port' | 'range' | 'wide' | null {
  let found: 'port' | 'range' | 'wide' | null = null;
  for (const [lo, hi] of ranges) {
    if (port < lo || port > hi) continue;
    const m = lo === hi ? 'port' : hi - lo >= 1024 ? 'wide' : 'range';
    if (found === null || MATCH_RANK[m] < MATCH_RANK[found]) found = m;
  }
  return found;
}

/** Ports 0-65535, then "no port" for each ICMP type (and none). */
const PORT_SLOTS = 65536 + 257;

/**
 * The readings of one audit's flows: which catalog rules cover a flow's port, as recorded or with its
 * sides exchanged. Readings depend on a flow's transport, port and ICMP type alone, unless a grant
 * covers it (grant-index.ts): so they are worked out once per (transport, port) and shared (callers
 * never change the arrays). With 200 000 flows on a few hundred ports this is most of the audit's time
 * saved. The memo lives as long as the audit that made it.
 */
export class Readings {
  private readonly rules: IndexedRule[];
  private readonly memo = new Map<string, [Array<Candidate[] | undefined>, Array<Candidate[] | undefined>]>();
  private readonly sharedLists = new WeakSet<Candidate[]>();
  private readonly narrowMemo = new WeakMap<Candidate[], Candidate[]>();

  constructor(
    private readonly c: FlowColumns,
    catalogs: Catalog[],
    /** The grants of the audit, indexed for its flows; null without grants. */
    readonly granted: GrantIndex | null,
    /** false for flow records: no negotiation can be read, so a dynamic kind's documented range stands in for its grants. */
    private readonly grantsObservable = true,
    /** The DCE/RPC calls of Zeek's dce_rpc.log on the flows (records only), or null. */
    private readonly rpc: RpcCallIndex | null = null,
  ) {
    this.rules = indexRules(catalogs);
  }

  /** Flow i's readings, with the recorded server listening (`swapped` false) or the recorded client. */
  of(i: number, swapped: boolean): Candidate[] {
    const c = this.c;
    const granted = this.granted;
    const proto = PROTO_NAMES[c.proto[i]!]!;
    // A flow no grant covers reads as every flow on its port: the shared readings.
    if (granted !== null && granted.touches(i) && granted.latest(i, swapped, null) !== undefined) return this.work(i, swapped, granted);
    // A flow whose own RPC calls show an RPC endpoint reads differently from its port's other flows.
    if (!swapped && this.rpc !== null && this.rpc.rpcEndpoint(i)) return this.work(i, swapped, granted);
    // By transport (a handful of interned names), then by direction and port (or ICMP type) as an
    // index: no key string is made per flow, and this runs several times for every flow.
    let byProto = this.memo.get(proto);
    if (!byProto) this.memo.set(proto, (byProto = [new Array(PORT_SLOTS), new Array(PORT_SLOTS)]));
    const port = swapped ? c.clientPort[i]! : c.serverPort[i]!;
    const slot = port >= 0 ? port : 65537 + c.icmpType[i]!;
    const lists = byProto[swapped ? 1 : 0]!;
    let out = lists[slot];
    if (!out) {
      lists[slot] = out = this.work(i, swapped, null);
      this.sharedLists.add(out);
    }
    return out;
  }

  /** Whether a list of readings is the shared one of its (transport, port), not worked out for one flow. */
  isShared(l: Candidate[]): boolean {
    return this.sharedLists.has(l);
  }

  /** Readings without the ones a wide range gives, worked out once for each list. */
  narrow(cands: Candidate[]): Candidate[] {
    let out = this.narrowMemo.get(cands);
    if (!out) this.narrowMemo.set(cands, (out = cands.filter((x) => !isWide(x))));
    return out;
  }

  /** Whether some grant covers flow i, either way round when its direction is a guess: its verdict is its own. */
  coveredByGrant(i: number, strong: boolean): boolean {
    const granted = this.granted;
    return granted !== null && granted.touches(i) && (granted.latest(i, false, null) !== undefined || (!strong && granted.latest(i, true, null) !== undefined));
  }

  private work(i: number, swapped: boolean, granted: GrantIndex | null): Candidate[] {
    const c = this.c;
    const out: Candidate[] = [];
    // The grant of each dynamic kind that covers the flow, looked up once per kind.
    const byKind = new Map<string, GrantLike | undefined>();
    const port = swapped ? c.clientPort[i]! : c.serverPort[i]!;
    const t = PROTO_NAMES[c.proto[i]!]!;
    for (const { rule, ranges } of this.rules) {
      if (!rule.transport.includes(t as Rule['transport'][number])) continue;
      if (t === 'icmp' || t === 'icmpv6') {
        if (swapped) continue;
        if (!rule.icmp || rule.icmp.type === c.icmpType[i]) out.push({ rule, match: 'port', swapped });
        continue;
      }
      if (port < 0) continue;
      const m = inRanges(port, ranges);
      if (m) {
        out.push({ rule, match: m, swapped });
        continue;
      }
      if (rule.dynamic) {
        // The latest grant before the flow explains it (a port granted again and again credits each use to its own answer).
        const kind = rule.dynamic.kind;
        let g: GrantLike | undefined;
        if (granted !== null) {
          if (byKind.has(kind)) g = byKind.get(kind);
          else byKind.set(kind, (g = granted.latest(i, swapped, kind)));
        }
        if (g) out.push({ rule, match: 'grant', swapped, grant: g });
        else if (!this.grantsObservable && kind === 'dcerpc' && !swapped && this.rpc !== null && this.rpc.rpcEndpoint(i) && (!rule.dynamic.range || (port >= rule.dynamic.range[0] && port <= rule.dynamic.range[1]))) {
          out.push({ rule, match: 'rpc-calls', swapped });
        } else if (!this.grantsObservable && rule.dynamic.kind !== 'ephemeral' && rule.dynamic.range) {
          const [lo, hi] = rule.dynamic.range;
          if (port >= lo && port <= hi) out.push({ rule, match: 'dynamic-range', swapped });
        } else if (rule.dynamic.kind === 'ephemeral') {
          const [lo, hi] = rule.dynamic.range ?? [1024, 65535];
          if (port >= lo && port <= hi) out.push({ rule, match: 'wide', swapped });
        }
      }
    }
    return out;
  }
}
