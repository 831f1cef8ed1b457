/** A catalog after validation and parameter resolution: what the audit and `catalog show` use. */
import type { AddressClass, DynamicKind, Requiredness, Transport } from './schema.js';

export type { AddressClass, DynamicKind, Requiredness, Transport };

/** Where something was written: for error messages and for reviewers. */
export interface SourcePlace {
  file: string;
  line: number;
}

export interface Cite {
  document: string;
  section: string;
  text: string;
}

export interface Role {
  id: string;
  name: string;
  description?: string;
  address?: AddressClass;
  hosts?: string[];
  /**
   * `acts-as`: roles a host of this role also plays when rules are matched (a relay is an agent of its
   * parent), as declared; `playedRoles` gives them transitively.
   */
  actsAs?: string[];
  /** The vendor's words for acts-as. */
  cite?: Cite;
  note?: string;
}

/** A port list as resolved: single ports as [p, p]. */
export type PortRanges = Array<[number, number]>;

export interface Param {
  name: string;
  default: PortRanges;
  value: PortRanges;
  description?: string;
  cite?: Cite;
}

export interface Alternative {
  id: string;
  description?: string;
  sets: Array<Record<string, PortRanges>>;
}

export interface Rule {
  catalog: string;
  id: string;
  from: string[];
  to: string[];
  direction: 'one-way' | 'either';
  transport: Transport[];
  /** Resolved ports, merged and sorted; empty for ICMP and for purely dynamic rules. */
  ranges: PortRanges;
  /** The rule's own fixed ports, without those that come from parameters. */
  fixed: PortRanges;
  /** Parameters the ports came from (so a report can say "agent-port = 1610"). */
  params: string[];
  dynamic?: { kind: DynamicKind; range?: [number, number] };
  icmp?: { type: number; code?: number };
  service: string;
  required: Requiredness;
  condition?: string;
  configurable: boolean;
  /** Seconds, or null where the document gives no period. */
  period: number | null;
  cite: Cite;
  note?: string;
  place: SourcePlace;
}

export type Expectation = { rule: string; reverse: boolean } | { grant: DynamicKind };

export interface Requirement {
  catalog: string;
  id: string;
  description: string;
  when?: { rule: string };
  forEach?: string;
  expect: Expectation[];
  period: number | null;
  cite?: Cite;
  note?: string;
  place: SourcePlace;
}

export interface Catalog {
  id: string;
  name: string;
  extends?: string;
  file: string;
  documents: Array<{ id: string; title: string; url?: string }>;
  roles: Role[];
  params: Record<string, Param>;
  alternatives: Alternative[];
  rules: Rule[];
  requirements: Requirement[];
}

/** Ports as `catalog show` prints them: numbers and "low-high" strings, or the dynamic kind's name. */
export function displayPorts(rule: Rule): Array<number | string> {
  const out: Array<number | string> = rule.ranges.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`));
  if (rule.dynamic) out.push(rule.dynamic.kind);
  return out;
}

/**
 * The ports of a rule under each set of an alternative it takes part in (WSUS 80/443 or 8530/8531):
 * an audit accepts any one set.
 */
export function alternativePorts(catalog: Catalog, rule: Rule): Array<{ alternative: string; ports: PortRanges }> {
  const out: Array<{ alternative: string; ports: PortRanges }> = [];
  for (const alt of catalog.alternatives) {
    if (!alt.sets.some((set) => rule.params.some((p) => p in set))) continue;
    for (const set of alt.sets) {
      const ranges: PortRanges = [...rule.fixed];
      for (const p of rule.params) ranges.push(...(set[p] ?? catalog.params[p]!.value));
      ranges.sort((a, b) => a[0] - b[0]);
      out.push({ alternative: alt.id, ports: ranges });
    }
  }
  return out;
}

/**
 * Role id → every role a host of it also plays through acts-as, transitively, in declaration order
 * (the role itself not included). Roles of several catalogs are merged by id; a cycle (which the
 * loader rejects within one catalog) ends where it comes back.
 */
export function playedRoles(catalogs: Array<Pick<Catalog, 'roles'>>): Map<string, string[]> {
  const direct = new Map<string, string[]>();
  for (const c of catalogs) {
    for (const r of c.roles) {
      if (!r.actsAs?.length) continue;
      const list = direct.get(r.id) ?? [];
      for (const x of r.actsAs) if (!list.includes(x)) list.push(x);
      direct.set(r.id, list);
    }
  }
  const out = new Map<string, string[]>();
  for (const id of direct.keys()) {
    const seen: string[] = [];
    const has = new Set<string>();
    const visit = (role: string) => {
      for (const x of direct.get(role) ?? []) {
        if (x === id || has.has(x)) continue;
        seen.push(x);
        has.add(x);
        visit(x);
      }
    };
    visit(id);
    out.set(id, seen);
  }
  return out;
}
