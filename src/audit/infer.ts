import type { FlowColumns } from '../flow/columns.js';
import { learningReadings } from './orientation.js';
import { classIdsOf } from './profiles.js';
import { Candidate, Readings } from './readings.js';
import type { Catalog } from '../catalog/types.js';
import type { RoleResolver } from './roles.js';

function sidesOf(cands: Candidate[], classIds: Set<string>): { to: Set<string>; from: Set<string> } {
  return {
    to: new Set(cands.flatMap((c) => c.rule.to).filter((r) => !classIds.has(r))),
    from: new Set(cands.flatMap((c) => c.rule.from).filter((r) => !classIds.has(r))),
  };
}

/**
 * Roles no map gave, read off traffic that only one documented reading explains. A few passes: a role
 * learnt in one pass rules out readings in the next (the host that clients reach on 1433 is the
 * database server, so its clients on 1610 are agents, not parents). A pass that learns nothing ends
 * the passes: the next one would see the same roles and learn nothing either. The roles learnt are
 * handed to `roles`.
 */
export function inferRoles(c: FlowColumns, readings: Readings, catalogs: Catalog[], roles: RoleResolver): void {
  const classIds = classIdsOf(catalogs);
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
    // (Kept only for readings learnt as recorded: then the flow's direction evidence plays no part,
    // and the same readings are the same lesson.)
    let lastFirst: Candidate[] | null = null;
    let lastCands: Candidate[] = [];
    let lastLesson: ReturnType<typeof lessonOf> | null = null;
    for (let i = 0; i < c.n; i++) {
      const first = readings.of(i, false);
      let cands: Candidate[];
      let lesson: ReturnType<typeof lessonOf>;
      if (first === lastFirst) {
        if (!lastLesson!.usable) continue;
        cands = lastCands;
        lesson = lastLesson!;
      } else {
        const learning = learningReadings(readings, c, i, first);
        cands = learning.cands;
        lesson = lessonOf(cands);
        if (learning.asRecorded) {
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
