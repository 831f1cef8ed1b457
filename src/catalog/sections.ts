/**
 * One compile function per top-level section of a catalog file: each takes the section as the schema
 * admits it (the Raw types of schema.ts), checks what needs the rest of the file (references, ids
 * declared twice, ranges), and gives the section as the audit uses it (types.ts). SECTIONS runs them
 * in the order their references need: roles and rules name documents, rules name roles and
 * parameters, requirements name rules. A catalog that extends another starts from its sections.
 */
import { quoted, someOf } from '../core/errors.js';
import { checkActsAs } from './acts-as.js';
import { fmt, mergeRanges, paramRanges, parseDuration, parseRange, sameRanges, withParamValues } from './ports.js';
import type { RawCatalog, RawCite, RawRule } from './schema.js';
import type { Catalog, Cite, Expectation, PortRanges, Role, Rule } from './types.js';

export type Path = Array<string | number>;

/** The sections a catalog file compiles into. */
export type Sections = Pick<Catalog, 'documents' | 'roles' | 'params' | 'alternatives' | 'rules' | 'requirements'>;

/** One catalog file being compiled: its raw values, the catalog it extends, and where problems go. */
export interface Compiling {
  file: string;
  raw: RawCatalog;
  base: Catalog | undefined;
  /** The sections compiled so far (those of SECTIONS before the one running). */
  done: Sections;
  /** A problem at a path of the file: the message is prefixed with the dotted path. */
  problem(path: Path, message: string): void;
  locate(path: Path): { line: number; col: number };
}

function compileDocuments({ raw, base, problem }: Compiling): Sections['documents'] {
  const docIds = new Set<string>();
  (raw.documents ?? []).forEach((d, i) => {
    if (docIds.has(d.id) || base?.documents.some((b) => b.id === d.id)) problem(['documents', i, 'id'], `document id ${quoted(d.id)} is declared twice`);
    docIds.add(d.id);
  });
  return [...(base?.documents ?? []), ...(raw.documents ?? [])];
}

/** The document a cite without `document:` names: the file's first, or the base's. */
function defaultDocument({ raw, base }: Compiling): string {
  return raw.documents?.[0]?.id ?? base?.documents[0]?.id ?? '';
}

/** A rule's, role's or requirement's cite: its document known, needed when the file has several. */
function cite(c: Compiling, at: RawCite, path: Path): Cite {
  const { documents } = c.done;
  const document = at.document ?? defaultDocument(c);
  if (at.document === undefined && documents.length > 1 && c.raw.documents && c.raw.documents.length > 1) c.problem([...path, 'cite'], 'cite.document is needed: the catalog has several documents');
  if (!documents.some((d) => d.id === document)) c.problem([...path, 'cite', 'document'], `unknown document ${quoted(document)}`);
  return { document, section: at.section.trim(), text: at.text.replace(/\s+/g, ' ').trim() };
}

function compileRoles(c: Compiling): Sections['roles'] {
  const { raw, base, problem } = c;
  const roles: Role[] = [...(base?.roles ?? [])];
  const roleIds = new Set(roles.map((r) => r.id));
  (raw.roles ?? []).forEach((r, i) => {
    if (roleIds.has(r.id)) problem(['roles', i, 'id'], `role ${quoted(r.id)} is declared twice`);
    roleIds.add(r.id);
    const actsAs = r['acts-as'] === undefined ? undefined : Array.isArray(r['acts-as']) ? r['acts-as'] : [r['acts-as']];
    roles.push({
      id: r.id,
      name: r.name,
      ...(r.description !== undefined ? { description: r.description } : {}),
      ...(r.address ? { address: r.address } : {}),
      ...(r.hosts ? { hosts: r.hosts } : {}),
      ...(actsAs ? { actsAs } : {}),
      ...(r.cite ? { cite: cite(c, r.cite, ['roles', i]) } : {}),
      ...(r.note !== undefined ? { note: r.note } : {}),
    });
  });
  checkActsAs(raw.roles ?? [], roles, problem);
  return roles;
}

function compileParams(c: Compiling): Sections['params'] {
  const { raw, base, problem } = c;
  const params: Sections['params'] = {};
  for (const [name, p] of Object.entries(base?.params ?? {})) params[name] = { ...p };
  for (const [name, p] of Object.entries(raw.params ?? {})) {
    const isFull = typeof p === 'object' && !Array.isArray(p);
    // A site catalog sets the base's parameters by value; a new one is declared in full, so that a
    // misspelt name (`tunnel-prot: 443`) is an error instead of a parameter no rule uses.
    if (base && !params[name] && !isFull) {
      problem(['params', name], `${base.id} has no parameter ${quoted(name)} (it has ${someOf(Object.keys(base.params)) || 'none'}); a new parameter is declared as { default: … }`);
      continue;
    }
    const value = paramRanges(isFull ? p.default : p);
    for (const [lo, hi] of value) if (lo > hi) problem(['params', name], `range ${lo}-${hi} is reversed`);
    if (base && params[name]) params[name] = { ...params[name]!, value };
    else params[name] = { name, default: value, value, ...(isFull && p.description ? { description: p.description } : {}), ...(isFull && p.cite ? { cite: { document: p.cite.document ?? defaultDocument(c), section: p.cite.section, text: p.cite.text } } : {}) };
  }
  return params;
}

function compileAlternatives({ raw, base, problem, done: { params } }: Compiling): Sections['alternatives'] {
  const alternatives: Sections['alternatives'] = [...(base?.alternatives ?? [])];
  (raw.alternatives ?? []).forEach((a, i) => {
    const sets = a.sets.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, paramRanges(v)])));
    sets.forEach((s, j) => {
      for (const k of Object.keys(s)) if (!params[k]) problem(['alternatives', i, 'sets', j, k], `unknown parameter ${quoted(k)}`);
    });
    const first = sets[0]!;
    for (const [k, v] of Object.entries(first)) {
      if (params[k] && !sameRanges(params[k]!.default, v)) problem(['alternatives', i, 'sets', 0, k], `the first set must equal the defaults: ${k} defaults to ${fmt(params[k]!.default)}`);
    }
    alternatives.push({ id: a.id, ...(a.description ? { description: a.description } : {}), sets });
  });
  return alternatives;
}

function compileRules(c: Compiling): Sections['rules'] {
  const { raw, base, problem, done: { params } } = c;
  const roleIds = new Set(c.done.roles.map((r) => r.id));
  let declaredRoles: string | undefined;
  const declared = () => (declaredRoles ??= someOf(roleIds));
  // Inherited rules come resolved with the base's values: the site's own values replace them.
  const rules: Rule[] = base ? withParamValues(base.rules, params) : [];
  const ruleIds = new Set(rules.map((r) => r.id));
  (raw.rules ?? []).forEach((r, i) => {
    const path = ['rules', i];
    if (ruleIds.has(r.id)) problem([...path, 'id'], `rule ${quoted(r.id)} is declared twice`);
    ruleIds.add(r.id);
    const from = Array.isArray(r.from) ? r.from : [r.from];
    const to = Array.isArray(r.to) ? r.to : [r.to];
    for (const [key, list] of [['from', from], ['to', to]] as const) {
      list.forEach((role) => {
        if (!roleIds.has(role)) problem([...path, key], `unknown role ${quoted(role)} (declared: ${declared()})`);
      });
    }
    const transport = Array.isArray(r.transport) ? r.transport : [r.transport];
    const icmpOnly = transport.every((t) => t === 'icmp' || t === 'icmpv6');
    if (icmpOnly && r.ports !== undefined) problem([...path, 'ports'], 'ICMP has no ports: name the message with icmp: { type: … }');
    if (!icmpOnly && r.ports === undefined) problem([...path], `rule ${quoted(r.id)}: missing "ports" for ${transport.join('/')}`);
    if (!icmpOnly && r.icmp !== undefined) problem([...path, 'icmp'], 'icmp: applies only to icmp/icmpv6 rules');
    if (r.required === 'conditional' && !r.condition) problem([...path], `rule ${quoted(r.id)} is conditional: state the condition in "condition"`);
    const { ranges, fixed, usedParams, dynamic } = rulePorts(r.ports, path, params, problem);
    rules.push({
      catalog: raw.id,
      id: r.id,
      from,
      to,
      direction: r.direction ?? 'one-way',
      transport,
      ranges: mergeRanges(ranges),
      fixed: mergeRanges(fixed),
      params: usedParams,
      ...(dynamic ? { dynamic } : {}),
      ...(r.icmp ? { icmp: r.icmp } : {}),
      service: r.service ?? '',
      required: r.required,
      ...(r.condition ? { condition: r.condition } : {}),
      configurable: r.configurable ?? usedParams.length > 0,
      period: parseDuration(r.period),
      cite: cite(c, r.cite, path),
      ...(r.note ? { note: r.note } : {}),
      place: { file: c.file, line: c.locate(path).line },
    });
  });
  return rules;
}

/** A rule's ports resolved: all of them, its own fixed ones, the parameters they came from, or the dynamic kind. */
function rulePorts(ports: RawRule['ports'], path: Path, params: Sections['params'], problem: Compiling['problem']): { ranges: PortRanges; fixed: PortRanges; usedParams: string[]; dynamic: Rule['dynamic'] } {
  const ranges: PortRanges = [];
  const fixed: PortRanges = [];
  const usedParams: string[] = [];
  let dynamic: Rule['dynamic'];
  if (ports !== undefined) {
    if (typeof ports === 'object' && !Array.isArray(ports) && 'dynamic' in ports) {
      dynamic = { kind: ports.dynamic, ...(ports.range ? { range: parseRange(ports.range) } : {}) };
      if (dynamic.range && dynamic.range[0] > dynamic.range[1]) problem([...path, 'ports', 'range'], 'the range is reversed');
    } else {
      const items = Array.isArray(ports) ? ports : [ports];
      items.forEach((it, j) => {
        const at = Array.isArray(ports) ? [...path, 'ports', j] : [...path, 'ports'];
        if (typeof it === 'number') {
          ranges.push([it, it]);
          fixed.push([it, it]);
        } else if (typeof it === 'string') {
          const rg = parseRange(it);
          if (rg[0] > rg[1] || rg[1] > 65535) problem(at, `range ${quoted(it)} is not low-high within 0-65535`);
          ranges.push(rg);
          fixed.push(rg);
        } else {
          const p = params[it.param];
          if (!p) problem(at, `unknown parameter ${quoted(it.param)} (declared: ${someOf(Object.keys(params)) || 'none'})`);
          else {
            ranges.push(...p.value);
            usedParams.push(it.param);
          }
        }
      });
    }
  }
  return { ranges, fixed, usedParams, dynamic };
}

function compileRequirements(c: Compiling): Sections['requirements'] {
  const { raw, base, problem } = c;
  const roleIds = new Set(c.done.roles.map((r) => r.id));
  const ruleIds = new Set(c.done.rules.map((r) => r.id));
  const requirements: Sections['requirements'] = [...(base?.requirements ?? [])];
  const reqIds = new Set(requirements.map((q) => q.id));
  (raw.requirements ?? []).forEach((q, i) => {
    const path = ['requirements', i];
    if (reqIds.has(q.id)) problem([...path, 'id'], `requirement ${quoted(q.id)} is declared twice`);
    reqIds.add(q.id);
    if ((q.when === undefined) === (q['for-each'] === undefined)) problem(path, `requirement ${quoted(q.id)} needs exactly one of "when" and "for-each"`);
    if (q.when && !ruleIds.has(q.when.rule)) problem([...path, 'when', 'rule'], `unknown rule ${quoted(q.when.rule)}`);
    if (q['for-each'] && !roleIds.has(q['for-each'])) problem([...path, 'for-each'], `unknown role ${quoted(q['for-each'])}`);
    const expect: Expectation[] = q.expect.map((e, j) => {
      if ('rule' in e) {
        if (!ruleIds.has(e.rule)) problem([...path, 'expect', j, 'rule'], `unknown rule ${quoted(e.rule)}`);
        return { rule: e.rule, reverse: e.reverse ?? false };
      }
      return { grant: e.grant };
    });
    requirements.push({
      catalog: raw.id,
      id: q.id,
      description: q.description,
      ...(q.when ? { when: q.when } : {}),
      ...(q['for-each'] ? { forEach: q['for-each'] } : {}),
      expect,
      period: parseDuration(q.period),
      ...(q.cite ? { cite: cite(c, q.cite, path) } : {}),
      ...(q.note ? { note: q.note } : {}),
      place: { file: c.file, line: c.locate(path).line },
    });
  });
  return requirements;
}

type SectionRow<K extends keyof Sections> = { key: K; compile: (c: Compiling) => Sections[K] };

/** The sections in the order they compile: a new section is its schema property and one row here. */
export const SECTIONS: Array<{ [K in keyof Sections]: SectionRow<K> }[keyof Sections]> = [
  { key: 'documents', compile: compileDocuments },
  { key: 'roles', compile: compileRoles },
  { key: 'params', compile: compileParams },
  { key: 'alternatives', compile: compileAlternatives },
  { key: 'rules', compile: compileRules },
  { key: 'requirements', compile: compileRequirements },
];

/** Compiles one section into `c.done`. */
export function compileSection<K extends keyof Sections>(row: SectionRow<K>, c: Compiling): void {
  c.done[row.key] = row.compile(c);
}
