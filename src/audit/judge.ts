import { alternativePorts, Catalog, Cite, displayPorts, Rule } from '../catalog/types.js';
import { compareTime, formatIso } from '../core/time.js';
import { DIRECTIONS, FlowColumns, portOrNull as portOf, PROTO_NAMES } from '../flow/columns.js';
import { GrantIndex } from './grant-index.js';
import { JudgedFlows } from './judged.js';
import { RoleResolver } from './roles.js';
import type { GrantLike, Judgement, RequirementFinding, RequirementState, RoleSource } from './types.js';

/**
 * How a rule's ports cover a flow. 'wide' is a range of more than 1024 ports (WMI's 49152-65535, a
 * vendor's "depends on configuration") or an `ephemeral` dynamic port nothing granted: it explains a
 * flow only when both sides fit the rule for certain (by roles the user gave, or by an address class
 * the rule names: a broadcast destination, `any`), never on inferred or unknown roles, and it never
 * makes an otherwise undocumented flow a role mismatch.
 */
type PortMatch = 'port' | 'range' | 'grant' | 'dynamic-range' | 'wide';

interface Candidate {
  rule: Rule;
  match: PortMatch;
  /** The flow's sides as the rule sees them (swapped when the rule says the other side listens). */
  swapped: boolean;
  grant?: GrantLike;
}

const WEAK_DIRECTION = new Set(['first-packet', 'port-rank', 'epb-flags']);
/** By direction index (FlowColumns.direction): whether the evidence is a guess (no SYN seen). */
const WEAK = DIRECTIONS.map((d) => WEAK_DIRECTION.has(d));
const REQUIRED_RANK = { required: 0, conditional: 1, optional: 2 } as const;

function inRanges(port: number, ranges: Array<[number, number]>): 'port' | 'range' | 'wide' | null {
  let found: 'port' | 'range' | 'wide' | null = null;
  for (const [lo, hi] of ranges) {
    if (port < lo || port > hi) continue;
    const m = lo === hi ? 'port' : hi - lo >= 1024 ? 'wide' : 'range';
    if (found === null || MATCH_RANK[m] < MATCH_RANK[found]) found = m;
  }
  return found;
}

export interface AuditContext {
  catalogs: Catalog[];
  roles: RoleResolver;
  grants: GrantLike[];
  /** Capture span in seconds (for periods) and whether it demonstrably lost packets. */
  captureSeconds: number;
  captureLoss: string | null;
  /** Whether roles are learnt from traffic when there is no role map (`--no-infer` turns it off). */
  infer?: boolean;
}

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

/**
 * The readings of a flow depend on its transport, port and ICMP type alone, unless a grant covers it
 * (grant-index.ts): so they are worked out once per (transport, port) and shared (callers never change
 * the array). With 200 000 flows on a few hundred ports this is most of the audit's time saved.
 */
const candidateMemo = new WeakMap<IndexedRule[], Map<string, [Array<Candidate[] | undefined>, Array<Candidate[] | undefined>]>>();
const sharedLists = new WeakSet<Candidate[]>();

/** Whether a list of readings is the shared one of its (transport, port), not worked out for one flow. */
function isShared(l: Candidate[]): boolean {
  return sharedLists.has(l);
}

/** The grants of the audit, indexed for its flows; null without grants. */
type Granted = GrantIndex | null;

/** Whether some grant covers flow i, either way round when its direction is a guess: its verdict is its own. */
function grantCoversFlow(granted: Granted, i: number, strong: boolean): boolean {
  return granted !== null && granted.touches(i) && (granted.latest(i, false, null) !== undefined || (!strong && granted.latest(i, true, null) !== undefined));
}

function candidatesFor(c: FlowColumns, i: number, rules: IndexedRule[], granted: Granted, swapped: boolean): Candidate[] {
  const proto = PROTO_NAMES[c.proto[i]!]!;
  // A flow no grant covers reads as every flow on its port: the shared readings.
  if (granted !== null && granted.touches(i) && granted.latest(i, swapped, null) !== undefined) return candidatesOf(c, i, rules, granted, swapped);
  let memo = candidateMemo.get(rules);
  if (!memo) candidateMemo.set(rules, (memo = new Map()));
  // By transport (a handful of interned names), then by direction and port (or ICMP type) as an
  // index: no key string is made per flow, and this runs several times for every flow.
  let byProto = memo.get(proto);
  if (!byProto) memo.set(proto, (byProto = [new Array(PORT_SLOTS), new Array(PORT_SLOTS)]));
  const port = swapped ? c.clientPort[i]! : c.serverPort[i]!;
  const slot = port >= 0 ? port : 65537 + c.icmpType[i]!;
  const lists = byProto[swapped ? 1 : 0]!;
  let out = lists[slot];
  if (!out) {
    lists[slot] = out = candidatesOf(c, i, rules, null, swapped);
    sharedLists.add(out);
  }
  return out;
}

/** Ports 0-65535, then "no port" for each ICMP type (and none). */
const PORT_SLOTS = 65536 + 257;

function candidatesOf(c: FlowColumns, i: number, rules: IndexedRule[], granted: Granted, swapped: boolean): Candidate[] {
  const out: Candidate[] = [];
  // The grant of each dynamic kind that covers the flow, looked up once per kind.
  const byKind = new Map<string, GrantLike | undefined>();
  const port = swapped ? c.clientPort[i]! : c.serverPort[i]!;
  const t = PROTO_NAMES[c.proto[i]!]!;
  for (const { rule, ranges } of rules) {
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
      else if (rule.dynamic.kind === 'ephemeral') {
        const [lo, hi] = rule.dynamic.range ?? [1024, 65535];
        if (port >= lo && port <= hi) out.push({ rule, match: 'wide', swapped });
      }
    }
  }
  return out;
}

/**
 * Whether a host can be one side of a rule. An address class is a fact of the address: a side that
 * names only classes (`to: broadcast`) fits only hosts of those classes, and a broadcast or multicast
 * address fits only a side that names its class. Roles the user gave decide; roles inferred or
 * unknown never condemn a flow (unless `sure`: a wide range needs the fit to be known).
 */
function sideFits(ruleRoles: string[], p: HostProfile, classIds: ReadonlySet<string>, sure: boolean): boolean {
  for (const r of ruleRoles) if (p.classRoles.includes(r)) return true;
  if (p.source === 'given') return ruleRoles.some((r) => p.roles.includes(r));
  if (sure || p.hostless !== null) return false;
  return ruleRoles.some((r) => !classIds.has(r));
}

const MATCH_RANK: Record<PortMatch, number> = { grant: 0, port: 1, range: 2, 'dynamic-range': 3, wide: 4 };

function endpoint(addr: string, port: number | null): string {
  if (port === null) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** How evidence names a judged flow: `tcp 10.0.0.1:50000 → 10.0.0.2:1610 (established)`. */
function flowLabel(flows: JudgedFlows, i: number): string {
  const c = flows.columns;
  const outcome = flows.outcome(i);
  return `${flows.proto(i)} ${endpoint(c.hosts[flows.client(i)]!, flows.clientPort(i))} → ${endpoint(c.hosts[flows.server(i)]!, flows.serverPort(i))} (${outcome ?? `${c.clientPackets[i]! + c.serverPackets[i]!} packets`})`;
}

/** Readings without the ones a wide range gives, worked out once for each shared array. */
const narrowMemo = new WeakMap<Candidate[], Candidate[]>();
function narrowOf(cands: Candidate[]): Candidate[] {
  let out = narrowMemo.get(cands);
  if (!out) narrowMemo.set(cands, (out = cands.filter((x) => x.match !== 'wide')));
  return out;
}

/**
 * Roles no map gave, read off traffic that only one documented reading explains. A few passes: a role
 * learnt in one pass rules out readings in the next (the host that clients reach on 1433 is the
 * database server, so its clients on 1610 are agents, not parents). A pass that learns nothing ends
 * the passes: the next one would see the same roles and learn nothing either.
 */
function inferRoles(c: FlowColumns, rules: IndexedRule[], ctx: AuditContext, granted: Granted): void {
  const classIds = classIdsOf(ctx.catalogs);
  const roles = ctx.roles;
  // Broadcasts, multicast groups, loopback, unspecified and link-local addresses never learn a role
  // (see AddressSpace.mayInfer); a broadcast or multicast address plays only its class.
  const space = roles.space;
  const mayLearn = new Uint8Array(c.hosts.length);
  const hostless = new Uint8Array(c.hosts.length);
  const classesOf: Array<string[] | undefined> = new Array(c.hosts.length);
  for (let h = 0; h < c.hosts.length; h++) {
    const addr = c.hosts[h]!;
    if (space.mayInfer(addr)) mayLearn[h] = 1;
    else if (space.isHostless(addr)) hostless[h] = 1;
  }
  // Without a role map (the only time roles are inferred) a host's roles are the ones learnt here:
  // kept by host id while the passes run (no address string hashed a flow), handed to the resolver
  // at the end in the order they were first learnt, each host's roles in the order learnt.
  const learnt: Array<Set<string> | undefined> = new Array(c.hosts.length);
  const order: number[] = [];
  const infer = (host: number, found: Set<string>): boolean => {
    if (mayLearn[host] === 0) return false;
    let set = learnt[host];
    if (!set) {
      learnt[host] = set = new Set();
      order.push(host);
    }
    const before = set.size;
    for (const r of found) set.add(r);
    return set.size !== before;
  };
  // A rule side naming an address class the host is in fits it; a side naming only classes fits no
  // other host; a broadcast or multicast address fits only its class.
  const fillable = new Map<string[], boolean>();
  const compatible = (ruleRoles: string[], host: number) => {
    const cls = (classesOf[host] ??= roles.classRolesOf(c.hosts[host]!));
    if (cls.length > 0) for (const r of ruleRoles) if (cls.includes(r)) return true;
    if (hostless[host] === 1) return false;
    let open = fillable.get(ruleRoles);
    if (open === undefined) fillable.set(ruleRoles, (open = ruleRoles.some((r) => !classIds.has(r))));
    if (!open) return false;
    const set = learnt[host];
    if (set === undefined || set.size === 0) return true;
    for (const r of ruleRoles) if (set.has(r)) return true;
    return false;
  };
  // What a list of readings can teach, when every one of them fits the hosts: worked out once a list.
  const lessons = new WeakMap<Candidate[], { usable: boolean; to: Set<string>; from: Set<string>; partial: Map<number, { to: Set<string>; from: Set<string> }> }>();
  const lessonOf = (cands: Candidate[]) => {
    let l = lessons.get(cands);
    if (!l) {
      // ICMP rules (any host may be pinged) and two-way rules say too little about who is who.
      const usable = cands.length > 0 && !cands.some((c) => c.rule.direction !== 'one-way' || c.rule.transport.some((t) => t.startsWith('icmp')));
      l = { usable, ...sidesOf(cands, classIds), partial: new Map() };
      lessons.set(cands, l);
    }
    return l;
  };
  for (let pass = 0; pass < 3; pass++) {
    let news = false;
    // Flows come in runs on the same port: the last readings and their lesson are kept.
    // (Kept only for readings whose narrow part is not empty: then the flow's direction evidence
    // plays no part, and the same readings are the same lesson.)
    let lastFirst: Candidate[] | null = null;
    let lastCands: Candidate[] = [];
    let lastLesson: ReturnType<typeof lessonOf> | null = null;
    for (let i = 0; i < c.n; i++) {
      const first = candidatesFor(c, i, rules, granted, false);
      let cands: Candidate[];
      let lesson: ReturnType<typeof lessonOf>;
      if (first === lastFirst) {
        if (!lastLesson!.usable) continue;
        cands = lastCands;
        lesson = lastLesson!;
      } else {
        cands = narrowOf(first);
        const narrowFirst = cands.length > 0;
        if (!narrowFirst && WEAK[c.direction[i]!]) cands = narrowOf(candidatesFor(c, i, rules, granted, true));
        lesson = lessonOf(cands);
        if (narrowFirst) {
          lastFirst = first;
          lastCands = cands;
          lastLesson = lesson;
        }
        if (!lesson.usable) continue;
      }
      const swapped = cands[0]!.swapped;
      const client = swapped ? c.server[i]! : c.client[i]!;
      const server = swapped ? c.client[i]! : c.server[i]!;
      // Which readings fit these hosts, as a bit mask: the sides of a partial fit are worked out once
      // per (list, mask), not once a flow.
      let fit = 0;
      let mask = 0;
      for (let i = 0; i < cands.length; i++) {
        const c = cands[i]!;
        if (compatible(c.rule.from, client) && compatible(c.rule.to, server)) {
          fit++;
          if (i < 31) mask |= 1 << i;
        }
      }
      if (fit === 0) continue;
      let sides: { to: Set<string>; from: Set<string> } | undefined = fit === cands.length ? lesson : undefined;
      if (sides === undefined) {
        const fitting = () => cands.filter((c) => compatible(c.rule.from, client) && compatible(c.rule.to, server));
        if (cands.length > 31) sides = sidesOf(fitting(), classIds);
        else if (!(sides = lesson.partial.get(mask))) lesson.partial.set(mask, (sides = sidesOf(fitting(), classIds)));
      }
      const { to, from } = sides;
      // Only an unambiguous reading teaches a role: one role on that side for every matching rule.
      if (to.size === 1 && infer(server, to)) news = true;
      if (from.size === 1 && infer(client, from)) news = true;
    }
    if (!news) break;
  }
  for (const host of order) roles.infer(c.hosts[host]!, learnt[host]!);
}

/** The roles that are address classes (broadcast, multicast, external, any) in the catalogs. */
function classIdsOf(catalogs: Catalog[]): Set<string> {
  return new Set(catalogs.flatMap((c) => c.roles.filter((r) => r.address).map((r) => r.id)));
}

function sidesOf(cands: Candidate[], classIds: Set<string>): { to: Set<string>; from: Set<string> } {
  return {
    to: new Set(cands.flatMap((c) => c.rule.to).filter((r) => !classIds.has(r))),
    from: new Set(cands.flatMap((c) => c.rule.from).filter((r) => !classIds.has(r))),
  };
}

/** What the audit knows of a host once roles are settled; equal profiles are one object. */
interface HostProfile {
  id: number;
  roles: string[];
  source: RoleSource;
  classRoles: string[];
  /** A broadcast or multicast address: it plays only its address class, never a role of hosts. */
  hostless: 'broadcast' | 'multicast' | null;
  /** What reports show: the host's roles, then its address classes. */
  shown: string[];
}

function judge(c: FlowColumns, i: number, cands: Candidate[], pc: HostProfile, ps: HostProfile, classIds: ReadonlySet<string>): Judgement {
  // A wide range explains a flow only when both sides fit it for certain (given roles, address classes).
  const fits = (cand: Candidate, rev: boolean, sure: boolean) => {
    const [x, y] = rev !== cand.swapped ? [ps, pc] : [pc, ps];
    return sideFits(cand.rule.from, x, classIds, sure) && sideFits(cand.rule.to, y, classIds, sure);
  };
  const fitsEither = (cand: Candidate, sure: boolean) => fits(cand, false, sure) || (cand.rule.direction === 'either' && fits(cand, true, sure));
  if (cands.some((x) => x.match === 'wide')) cands = cands.filter((x) => x.match !== 'wide' || fitsEither(x, true));
  const swapped = cands.length > 0 && cands[0]!.swapped;
  const pcs = swapped ? ps : pc;
  const pss = swapped ? pc : ps;
  const proto = PROTO_NAMES[c.proto[i]!]!;
  const serverPort = portOf(swapped ? c.clientPort[i]! : c.serverPort[i]!);
  const base = { swapped, clientRoles: pcs.shown, serverRoles: pss.shown, clientRolesFrom: pcs.source, serverRolesFrom: pss.source };
  const icmpType = c.icmpType[i]!;
  const what = (port: number | null) => (port === null ? `${proto}${icmpType >= 0 ? ` type ${icmpType}` : ''}` : `${proto}/${port}`);
  if (cands.length === 0) {
    return { ...base, verdict: 'undocumented', rule: null, matches: NO_MATCHES, cite: null, detail: `no catalog rule documents ${what(serverPort)}` };
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
      detail: `${best.rule.service || best.rule.id}: ${best.rule.from.join('|')} → ${best.rule.to.join('|')}${g ? ` (port granted by ${g.reason})` : ''}${pcs.source === 'unknown' || pss.source === 'unknown' ? '; roles unknown, judged by port' : ''}`,
    };
  }
  // A broadcast or multicast address has no role to be wrong: a reading whose side it cannot play (a
  // unicast rule) does not document the flow at all, and only a wrong host on the other side of a
  // reading that names the class (Wake-on-LAN from a client, not the master) is a role mismatch.
  const classSidesFit = (cand: Candidate, rev: boolean) => {
    const [x, y] = rev !== cand.swapped ? [ps, pc] : [pc, ps];
    return (x.hostless === null || sideFits(cand.rule.from, x, classIds, false)) && (y.hostless === null || sideFits(cand.rule.to, y, classIds, false));
  };
  const narrow = cands.filter((x) => x.match !== 'wide' && (classSidesFit(x, false) || (x.rule.direction === 'either' && classSidesFit(x, true))));
  if (narrow.length === 0) {
    // No reading holds: the flow keeps its own sides (a swap tried for the catalog's sake explained nothing).
    const own = { swapped: false, clientRoles: pc.shown, serverRoles: ps.shown, clientRolesFrom: pc.source, serverRolesFrom: ps.source };
    const to = ps.hostless ? ` to a ${ps.hostless} address` : pc.hostless ? ` from a ${pc.hostless} address` : ' between these roles';
    return { ...own, verdict: 'undocumented', rule: null, matches: NO_MATCHES, cite: null, detail: `no catalog rule documents ${what(portOf(c.serverPort[i]!))}${to}` };
  }
  const best = [...narrow].sort((a, b) => rank(a) - rank(b))[0]!;
  const who = (p: HostProfile) => (p.shown.length ? p.shown.join('|') : p.hostless ? `a ${p.hostless} address` : 'a host of no role');
  return {
    ...base,
    verdict: 'role-mismatch',
    rule: `${best.rule.catalog}:${best.rule.id}`,
    matches: NO_MATCHES,
    cite: best.rule.cite,
    detail: `${proto}/${serverPort ?? ''} is documented for ${best.rule.from.join('|')} → ${best.rule.to.join('|')}, not ${who(pcs)} → ${who(pss)}`,
  };
}

const NO_MATCHES: string[] = [];

/**
 * Per-flow verdicts: expected, role-mismatch or undocumented, with the rule and the vendor's words.
 * A verdict depends on the readings of the flow's ports and the two hosts' roles, so it is worked out
 * once for each (readings, client profile, server profile) and shared: hundreds of thousands of flows
 * make only as many distinct verdicts as there are ports and kinds of host, and each flow keeps only
 * its verdict's index. Readings that depend on a grant are worked out for each flow.
 */
export function judgeFlows(c: FlowColumns, ctx: AuditContext): JudgedFlows {
  const rules = indexRules(ctx.catalogs);
  const classIds = classIdsOf(ctx.catalogs);
  const granted = ctx.grants.length > 0 ? new GrantIndex(ctx.grants, c) : null;
  if (!ctx.roles.map && ctx.infer !== false) inferRoles(c, rules, ctx, granted);
  const profiles: Array<HostProfile | undefined> = new Array(c.hosts.length);
  const byContent = new Map<string, HostProfile>();
  // By class-role array, for hosts (0), broadcast (1) and multicast addresses (2).
  const plainProfiles = [new Map<string[], HostProfile>(), new Map<string[], HostProfile>(), new Map<string[], HostProfile>()] as const;
  const profileOf = (host: number): HostProfile => {
    let p = profiles[host];
    if (p) return p;
    const addr = c.hosts[host]!;
    const r = ctx.roles.rolesOf(addr);
    const classRoles = ctx.roles.classRolesOf(addr);
    const kind = ctx.roles.space.kindOf(addr);
    const hostless = kind === 'broadcast' || kind === 'multicast' ? kind : null;
    // Most hosts have no roles: their profile follows from the (shared) class-role array alone.
    const plain = r.roles.length === 0 && r.source === 'unknown';
    const slot = hostless === null ? 0 : hostless === 'broadcast' ? 1 : 2;
    if (plain && (p = plainProfiles[slot].get(classRoles))) {
      profiles[host] = p;
      return p;
    }
    const key = `${r.source}|${r.roles.join(',')}|${classRoles.join(',')}|${slot}`;
    p = byContent.get(key);
    if (!p) {
      p = {
        id: byContent.size,
        roles: r.roles,
        source: r.source,
        classRoles,
        hostless,
        shown: [...r.roles, ...classRoles.filter((x) => !r.roles.includes(x))],
      };
      byContent.set(key, p);
    }
    if (plain) plainProfiles[slot].set(classRoles, p);
    profiles[host] = p;
    return p;
  };
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
    const strong = !WEAK[c.direction[i]!];
    const first = candidatesFor(c, i, rules, granted, false);
    let cands = first;
    // Without a SYN our direction is a guess: if only the other side's port is documented, the
    // catalog knows better who listens.
    if (cands.length === 0 && !strong) cands = candidatesFor(c, i, rules, granted, true);
    const pc = profileOf(c.client[i]!);
    const ps = profileOf(c.server[i]!);
    // Flows come in runs on the same port: the last pair of reading lists keeps its number.
    if (first !== lastFirst || cands !== lastCands) {
      lastFirst = first;
      lastCands = cands;
      lastPair = isShared(first) && isShared(cands) ? pairId(first, cands) : -1;
    }
    // A flow some grant covers has a verdict of its own (the grant's evidence), even on shared readings.
    const own = granted !== null && grantCoversFlow(granted, i, strong);
    if (lastPair >= 0 && !own) {
      const pair = lastPair;
      const key = pc.id < 0x8000 && ps.id < 0x8000 ? (pair * 0x8000 + pc.id) * 0x8000 + ps.id : `${pair}|${pc.id}|${ps.id}`;
      let ji = shared.get(key);
      if (ji === undefined) {
        shared.set(key, (ji = judgements.length));
        judgements.push(judge(c, i, cands, pc, ps, classIds));
      }
      of[i] = ji;
    } else {
      of[i] = judgements.length;
      let j = judge(c, i, cands, pc, ps, classIds);
      // A port some negotiation granted, that no catalog rule documents: say which answer granted it.
      if (j.verdict === 'undocumented' && own) j = withUndocumentedGrant(j, i, granted!, strong);
      judgements.push(j);
    }
  }
  return new JudgedFlows(c, judgements, of);
}

function withUndocumentedGrant(j: Judgement, i: number, granted: GrantIndex, strong: boolean): Judgement {
  // The latest grant that covers the flow as recorded or, without a handshake, the other way round.
  const recorded = granted.latestAt(i, false, null);
  const k = Math.max(recorded, strong ? -1 : granted.latestAt(i, true, null));
  if (k >= 0) {
    const g = granted.grant(k);
    const asRecorded = k === recorded;
    return {
      ...j,
      // Without a handshake the grant knows better who listens.
      ...(asRecorded ? {} : { swapped: true, clientRoles: j.serverRoles, serverRoles: j.clientRoles, clientRolesFrom: j.serverRolesFrom, serverRolesFrom: j.clientRolesFrom }),
      grant: { reason: g.reason, host: g.host, port: g.port, at: formatIso(g.fromSec, g.fromNs, 6), detail: g.evidence.detail },
      detail: `${g.transport}/${g.port ?? 'any'} was granted by ${g.reason} (frame ${g.evidence.record}), but no catalog rule documents ${g.kind} ports between these hosts`,
    };
  }
  return j;
}

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
  const stateOf = (flows: number[]): AltState => {
    if (flows.length === 0) return { state: 'missing', flows };
    const ok = flows.filter((i) => {
      if (c.proto[i] !== TCP) return true;
      const o = judged.outcome(i);
      return o === 'established' || (o === 'partial' && c.serverPackets[i]! > 0 && c.clientPackets[i]! > 0);
    });
    return ok.length ? { state: 'satisfied', flows: ok } : { state: 'failing', flows };
  };
  const label = (i: number) => flowLabel(judged, i);
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
  const out: RequirementFinding[] = [];
  for (const cat of ctx.catalogs) {
    const ruleById = new Map(cat.rules.map((r) => [r.id, r]));
    for (const req of cat.requirements) {
      // Requirements that expect a grant refine the follow-up check of every negotiation (followups.ts).
      if (req.expect.some((e) => 'grant' in e)) continue;
      const expectRules = req.expect.flatMap((e) => ('rule' in e ? [ruleById.get(e.rule)!] : []));
      const proto = [...new Set(expectRules.flatMap((r) => r.transport))].join('/') || 'tcp';
      const ports = [...new Set(expectRules.flatMap((r) => displayPorts(r)))];
      const period = req.period;
      const key = `${req.catalog}:${req.id}`;
      // A rule keeps the id of the catalog that declared it (a site catalog's inherited rules are the base's).
      const ruleKey = (id: string) => `${ruleById.get(id)!.catalog}:${id}`;
      const finding = (from: string, to: string | null, alt: AltState, what: string, extraPorts?: Array<number | string>): RequirementFinding => {
        let status: RequirementState = alt.state;
        let detail = what;
        if (status === 'missing') {
          const span = captureSpanFrom(firstSeen(from), captureEnd, captureStart);
          if (period !== null && span < period) {
            status = 'inconclusive';
            detail += `; the capture covers ${span.toFixed(0)} s of this host, shorter than the documented period of ${period} s`;
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
          evidence: alt.flows.map(label),
        };
      };
      const describeAlternatives = (from: string, to: string | null) =>
        req.expect
          .map((e) => {
            if ('grant' in e) return `a connection to the port granted by ${e.grant}`;
            const r = ruleById.get(e.rule)!;
            const ps = displayPorts(r).join(',');
            const dir = e.reverse ? `from ${to ?? 'the server'} to ${from}` : `from ${from}${to ? ` to ${to}` : ''}`;
            return `${r.transport.join('/')}/${ps} ${dir} (${r.id}${r.service ? `, ${r.service}` : ''})`;
          })
          .join(' or ');

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
              ? `seen: ${alt.flows.slice(0, 3).map(label).join('; ')}`
              : alt.state === 'failing'
                ? `attempted but never established: ${describeAlternatives(client, server)}`
                : `${client} reached ${server} on ${req.when.rule}, but there is no ${describeAlternatives(client, server)}`;
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
              ? `seen: ${alt.flows.slice(0, 3).map(label).join('; ')}`
              : alt.state === 'failing'
                ? `attempted but never established: ${alt.flows.slice(0, 3).map(label).join('; ')}`
                : `${host} (${req.forEach}) shows no ${describeAlternatives(host, null)}`;
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
