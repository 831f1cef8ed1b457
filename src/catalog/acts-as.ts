/**
 * The checks of a catalog's acts-as declarations that need all its roles: targets that exist and are
 * roles of hosts, no cycles, no chain longer than ACTS_AS_DEPTH_LIMIT.
 */
import { quoted, someOf } from '../core/errors.js';
import type { RawRole } from './schema.js';
import type { Role } from './types.js';

/**
 * acts-as names declared roles of hosts (not address classes), an address class plays no other role,
 * and no role comes back to itself through acts-as (a relay that acts as a client that acts as a relay).
 */
export function checkActsAs(rawRoles: RawRole[], roles: Role[], problem: (path: Array<string | number>, message: string) => void): void {
  const byId = new Map(roles.map((r) => [r.id, r]));
  const hostRoles = () => someOf(roles.filter((r) => !r.address).map((r) => r.id));
  rawRoles.forEach((r, i) => {
    const value = r['acts-as'];
    if (value === undefined) return;
    const list = Array.isArray(value) ? value : [value];
    const at = (j: number) => (Array.isArray(value) ? ['roles', i, 'acts-as', j] : ['roles', i, 'acts-as']);
    if (r.address) problem(['roles', i, 'acts-as'], `role ${quoted(r.id)} is an address class (${r.address}): it plays no other role`);
    list.forEach((x, j) => {
      const target = byId.get(x);
      if (!target) problem(at(j), `unknown role ${quoted(x)} (roles of hosts: ${hostRoles()})`);
      else if (target.address) problem(at(j), `role ${quoted(x)} is an address class (${target.address}): a host is in it by its address, not by acting as it`);
    });
  });
  // A cycle is reported once, at the first of its roles this file declares.
  const component = cyclicComponents(byId);
  const reported = new Set<number>();
  rawRoles.forEach((r, i) => {
    const c = component.get(r.id);
    if (c === undefined || reported.has(c)) return;
    reported.add(c);
    problem(['roles', i, 'acts-as'], `acts-as forms a cycle: ${someOf(cycleFrom(r.id, byId, component), 12).replace(/, /g, ' → ')}`);
  });
  if (component.size > 0) return;
  // Without cycles: how many roles each one's acts-as chain holds (itself included), walked without
  // recursion; the audit expands every host's roles through these chains.
  const depth = new Map<string, number>();
  const longest = (start: string): number => {
    const work = [start];
    while (work.length > 0) {
      const id = work[work.length - 1]!;
      const next = (byId.get(id)?.actsAs ?? []).filter((x) => byId.has(x) && !depth.has(x));
      if (next.length > 0) {
        work.push(...next.slice(0, 1));
        continue;
      }
      work.pop();
      depth.set(id, 1 + (byId.get(id)?.actsAs ?? []).reduce((m, x) => Math.max(m, depth.get(x) ?? 0), 0));
    }
    return depth.get(start)!;
  };
  const deep = rawRoles.findIndex((r) => longest(r.id) > ACTS_AS_DEPTH_LIMIT);
  if (deep >= 0) {
    const chain = [rawRoles[deep]!.id];
    for (let at = chain[0]!; chain.length <= ACTS_AS_DEPTH_LIMIT; ) {
      const next = (byId.get(at)?.actsAs ?? []).filter((x) => depth.has(x)).sort((a, b) => depth.get(b)! - depth.get(a)!)[0];
      if (next === undefined) break;
      chain.push((at = next));
    }
    problem(['roles', deep, 'acts-as'], `acts-as chains more than ${ACTS_AS_DEPTH_LIMIT} roles: ${someOf(chain, 6).replace(/, /g, ' → ')}`);
  }
}

/** How many roles one acts-as chain may hold: a relay acts as a client, a client as nothing (2). */
const ACTS_AS_DEPTH_LIMIT = 16;

/**
 * The roles that lie on an acts-as cycle, each with the number of its strongly connected component
 * (Tarjan's algorithm, iterative: a catalog may chain thousands of roles).
 */
function cyclicComponents(byId: Map<string, Role>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out = new Map<string, number>();
  let next = 0;
  let components = 0;
  for (const root of byId.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; edges: string[]; i: number }> = [];
    const enter = (id: string) => {
      index.set(id, next);
      low.set(id, next++);
      stack.push(id);
      onStack.add(id);
      work.push({ id, edges: (byId.get(id)?.actsAs ?? []).filter((x) => byId.has(x)), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.i < top.edges.length) {
        const to = top.edges[top.i++]!;
        if (!index.has(to)) enter(to);
        else if (onStack.has(to)) low.set(top.id, Math.min(low.get(top.id)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(top.id)!));
      if (low.get(top.id) !== index.get(top.id)) continue;
      const members: string[] = [];
      let m: string;
      do {
        m = stack.pop()!;
        onStack.delete(m);
        members.push(m);
      } while (m !== top.id);
      const selfLoop = byId.get(top.id)?.actsAs?.includes(top.id) ?? false;
      if (members.length > 1 || selfLoop) {
        for (const x of members) out.set(x, components);
        components++;
      }
    }
  }
  return out;
}

/** The shortest acts-as path from a role on a cycle back to itself: [relay, client, relay]. */
function cycleFrom(start: string, byId: Map<string, Role>, component: Map<string, number>): string[] {
  const c = component.get(start);
  const from = new Map<string, string>();
  let frontier = [start];
  while (frontier.length > 0) {
    const following: string[] = [];
    for (const id of frontier) {
      for (const x of byId.get(id)?.actsAs ?? []) {
        if (x === start) {
          const path = [start];
          for (let at: string | undefined = id; at !== start && at !== undefined; at = from.get(at)) path.splice(1, 0, at);
          return [...path, start];
        }
        if (component.get(x) !== c || from.has(x)) continue;
        from.set(x, id);
        following.push(x);
      }
    }
    frontier = following;
  }
  return [start, start];
}
