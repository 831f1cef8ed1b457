import type { ErrorObject, ValidateFunction } from 'ajv';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, LocatedInputError, quoted, shownJson, someOf } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { parseYamlFile, YamlFileError, type YamlFile } from '../core/yaml-file.js';
import type { Alternative, Catalog, Cite, DynamicKind, Expectation, Param, PortRanges, Requirement, Role, Rule, Transport } from './types.js';

/** The bundled catalogs: rules/ at the package root, from src/catalog or dist/catalog alike. */
export function rulesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');
}

export function bundledCatalogIds(): string[] {
  return readdirSync(rulesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export interface CatalogProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

const PROBLEMS_SHOWN = 50;

/** A catalog that cannot be used: every problem with file, line and what is wrong. */
export class CatalogError extends LocatedInputError {
  constructor(readonly problems: CatalogProblem[]) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    // The first PROBLEMS_SHOWN are printed: a generated catalog with a mistake in every row stays readable.
    const shown = problems.slice(0, PROBLEMS_SHOWN).map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
    if (problems.length > PROBLEMS_SHOWN) shown.push(`${problems[0]!.file}: … and ${problems.length - PROBLEMS_SHOWN} more problems`);
    super(shown.join('\n'));
    this.name = 'CatalogError';
  }
}

// ---- raw shapes, as the schema admits them -------------------------------------------------------
type RawPortItem = number | string | { param: string };
type RawPorts = RawPortItem | RawPortItem[] | { dynamic: DynamicKind; range?: string };
type RawParamValue = number | string | Array<number | string>;
interface RawRule {
  id: string;
  from: string | string[];
  to: string | string[];
  direction?: 'one-way' | 'either';
  transport: Transport | Transport[];
  ports?: RawPorts;
  icmp?: { type: number; code?: number };
  service?: string;
  required: 'required' | 'optional' | 'conditional';
  condition?: string;
  configurable?: boolean;
  period?: number | string;
  cite: { document?: string; section: string; text: string };
  note?: string;
}
interface RawRequirement {
  id: string;
  description: string;
  when?: { rule: string };
  'for-each'?: string;
  expect: Array<{ rule: string; reverse?: boolean } | { grant: DynamicKind }>;
  period?: number | string;
  cite?: { document?: string; section: string; text: string };
  note?: string;
}
interface RawRole {
  id: string;
  name: string;
  description?: string;
  address?: Role['address'];
  hosts?: string[];
  'acts-as'?: string | string[];
  cite?: { document?: string; section: string; text: string };
  note?: string;
}
interface RawCatalog {
  id: string;
  name?: string;
  extends?: string;
  documents?: Array<{ id: string; title: string; url?: string }>;
  roles?: RawRole[];
  params?: Record<string, RawParamValue | { default: RawParamValue; description?: string; cite?: Cite }>;
  alternatives?: Array<{ id: string; description?: string; sets: Array<Record<string, RawParamValue>> }>;
  rules?: RawRule[];
  requirements?: RawRequirement[];
}

/**
 * The catalog schema's validator: precompiled by the build (dist/catalog/catalog-validator.js, see
 * build-validator.ts), or compiled here when running from the sources.
 */
const validate: ValidateFunction = await import(new URL('./catalog-validator.js', import.meta.url).href)
  .then((m: { validate: ValidateFunction }) => m.validate)
  .catch(async () => (await import('./validator.js')).compileCatalogValidator());

/** What a value at a path should have been, for anyOf failures (ajv's own text is unhelpful there). */
function expectedAt(path: Array<string | number>): string | null {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === 'ports' || parent === 'ports') return 'a port (0-65535), a range "low-high", { param: name }, { dynamic: kind }, or a list of ports, ranges and params';
  if (last === 'from' || last === 'to' || last === 'acts-as') return 'a role id or a list of role ids';
  if (last === 'transport') return 'tcp, udp, icmp, icmpv6, or a list of them';
  if (last === 'period') return 'a duration such as 60s, 5m, 1h, 1d (or a number of seconds)';
  if (path.includes('params') || path.includes('sets')) return 'a port, a range "low-high" or a list of them (or { default: …, description: … })';
  if (path.includes('expect')) return '{ rule: id, reverse?: true } or { grant: dcerpc | sql-named-instance | tftp-transfer | ephemeral }';
  return null;
}

function splitPointer(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'the catalog' : e.instancePath.slice(1).replace(/\//g, '.');
  switch (e.keyword) {
    case 'required':
      return `${where}: missing "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'additionalProperties':
      return `${where}: unknown key ${quoted((e.params as { additionalProperty: string }).additionalProperty)}`;
    case 'enum':
      return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'pattern':
      return where.endsWith('id') || where.includes('role') || /\.(from|to)(\.\d+)?$/.test(where) || where.endsWith('rule') || where.endsWith('for-each')
        ? `${where}: ${quoted(String(e.data))} is not kebab-case (lower-case words joined by -)`
        : `${where}: ${quoted(String(e.data))} ${e.message ?? 'is malformed'}`;
    case 'propertyNames':
      return `${where}: key names must be kebab-case`;
    default:
      return `${where}: ${e.message ?? 'is invalid'}`;
  }
}

/** Reduces ajv's errors to one clear message per place: deepest errors win over anyOf summaries. */
function schemaProblems(errors: ErrorObject[]): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const seen = new Set<string>();
  const push = (pointer: string, message: string) => {
    const key = `${pointer}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ path: splitPointer(pointer), message });
  };
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  // Under an anyOf, ajv reports every branch's complaint. When some branch got further (an error
  // deeper inside the value), those deeper errors are the useful ones; otherwise one summary of what
  // the value may be says more than the branches' contradicting complaints.
  const hasDeeper = (p: string) => errors.some((o) => o.instancePath.startsWith(p + '/') && o.keyword !== 'type' && o.keyword !== 'anyOf');
  for (const e of errors) {
    const p = e.instancePath;
    if (e.keyword === 'anyOf') {
      if (hasDeeper(p)) continue;
      const what = expectedAt(splitPointer(p));
      const where = p === '' ? 'the catalog' : p.slice(1).replace(/\//g, '.');
      push(p, what ? `${where}: expected ${what}, got ${shownJson(e.data)}` : `${where}: ${e.message}`);
      continue;
    }
    if (anyOfPaths.has(p)) continue;
    if (e.keyword === 'type' && [...anyOfPaths].some((a) => p.startsWith(a + '/'))) continue;
    if (e.keyword === 'additionalProperties') {
      push(`${p}/${(e.params as { additionalProperty: string }).additionalProperty}`, describeError(e));
      continue;
    }
    push(p, describeError(e));
  }
  return out;
}

function parseRange(s: string): [number, number] {
  const [a, b] = s.split('-').map((x) => Number(x.trim()));
  return [a!, b!];
}

function parseDuration(p: number | string | undefined): number | null {
  if (p === undefined) return null;
  if (typeof p === 'number') return p;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(p)!;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Sorted, merged ranges. */
export function mergeRanges(ranges: PortRanges): PortRanges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: PortRanges = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    // Overlaps merge; neighbours stay apart so that 22, 23 is shown as the document lists it.
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

function paramRanges(v: RawParamValue): PortRanges {
  const items = Array.isArray(v) ? v : [v];
  return mergeRanges(items.map((x) => (typeof x === 'number' ? [x, x] : parseRange(x))));
}

/** Parses a `--set` value: 443, 900-902, or 80,443. */
export function parseParamValue(text: string): PortRanges | null {
  const parts = text.split(',').map((s) => s.trim());
  const out: PortRanges = [];
  for (const p of parts) {
    if (/^\d{1,5}$/.test(p) && Number(p) <= 65535) out.push([Number(p), Number(p)]);
    else if (/^\d{1,5}\s*-\s*\d{1,5}$/.test(p)) {
      const r = parseRange(p);
      if (r[0] > r[1] || r[1] > 65535) return null;
      out.push(r);
    } else return null;
  }
  return mergeRanges(out);
}

function sameRanges(a: PortRanges, b: PortRanges): boolean {
  return a.length === b.length && a.every((r, i) => r[0] === b[i]![0] && r[1] === b[i]![1]);
}

export interface LoadOptions {
  /** Parameter overrides, as given with --set name=value. */
  set?: Record<string, string>;
}

/** Reads and checks one catalog file; `resolveBase` loads the catalog it extends. */
function loadFile(file: string, text: string, resolveBase: (id: string, at: { line: number; col: number }) => Catalog): Catalog {
  const label = file;
  let yaml: YamlFile;
  try {
    yaml = parseYamlFile(label, text);
  } catch (e) {
    if (e instanceof YamlFileError) throw new CatalogError([e.problem]);
    throw e;
  }
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  const locate = (path: Array<string | number>) => yaml.locate(path);
  const fail = () =>
    new CatalogError(
      problems.map((p) => {
        const at = locate(p.path);
        return { file: label, line: at.line, col: at.col, message: p.message };
      }),
    );
  let raw: RawCatalog;
  try {
    raw = yaml.toJS() as RawCatalog;
  } catch (e) {
    if (e instanceof YamlFileError) throw new CatalogError([e.problem]);
    throw e;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CatalogError([{ file: label, line: 1, col: 1, message: 'a catalog is a YAML mapping with id, name, roles and rules' }]);
  }
  if (!validate(raw)) {
    for (const p of schemaProblems(validate.errors ?? [])) problems.push(p);
    throw fail();
  }
  const problem = (path: Array<string | number>, message: string) => problems.push({ path, message: path.length ? `${path.join('.')}: ${message}` : message });

  const base = raw.extends !== undefined ? resolveBase(raw.extends, locate(['extends'])) : undefined;
  if (base === undefined) {
    if (raw.name === undefined) problem([], 'missing "name" (the product)');
    if (raw.documents === undefined || raw.documents.length === 0) problem([], 'missing "documents" (the vendor documents this catalog transcribes)');
  }
  const documents = [...(base?.documents ?? []), ...(raw.documents ?? [])];
  const docIds = new Set<string>();
  (raw.documents ?? []).forEach((d, i) => {
    if (docIds.has(d.id) || base?.documents.some((b) => b.id === d.id)) problem(['documents', i, 'id'], `document id ${quoted(d.id)} is declared twice`);
    docIds.add(d.id);
  });
  const defaultDocument = raw.documents?.[0]?.id ?? base?.documents[0]?.id ?? '';

  const cite = (c: RawRule['cite'], path: Array<string | number>): Cite => {
    const document = c.document ?? defaultDocument;
    if (c.document === undefined && documents.length > 1 && raw.documents && raw.documents.length > 1) problem([...path, 'cite'], 'cite.document is needed: the catalog has several documents');
    if (!documents.some((d) => d.id === document)) problem([...path, 'cite', 'document'], `unknown document ${quoted(document)}`);
    return { document, section: c.section.trim(), text: c.text.replace(/\s+/g, ' ').trim() };
  };

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
      ...(r.cite ? { cite: cite(r.cite, ['roles', i]) } : {}),
      ...(r.note !== undefined ? { note: r.note } : {}),
    });
  });
  let declaredRoles: string | undefined;
  const declared = () => (declaredRoles ??= someOf(roleIds));
  checkActsAs(raw.roles ?? [], roles, problem);

  const params: Record<string, Param> = {};
  for (const [name, p] of Object.entries(base?.params ?? {})) params[name] = { ...p };
  for (const [name, p] of Object.entries(raw.params ?? {})) {
    const isFull = typeof p === 'object' && !Array.isArray(p);
    const value = paramRanges(isFull ? p.default : p);
    for (const [lo, hi] of value) if (lo > hi) problem(['params', name], `range ${lo}-${hi} is reversed`);
    if (base && params[name]) params[name] = { ...params[name]!, value };
    else params[name] = { name, default: value, value, ...(isFull && p.description ? { description: p.description } : {}), ...(isFull && p.cite ? { cite: { document: p.cite.document ?? defaultDocument, section: p.cite.section, text: p.cite.text } } : {}) };
  }

  const alternatives: Alternative[] = [...(base?.alternatives ?? [])];
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
    const ranges: PortRanges = [];
    const fixed: PortRanges = [];
    const usedParams: string[] = [];
    let dynamic: Rule['dynamic'];
    const ports = r.ports;
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
      cite: cite(r.cite, path),
      ...(r.note ? { note: r.note } : {}),
      place: { file: label, line: locate(path).line },
    });
  });

  const requirements: Requirement[] = [...(base?.requirements ?? [])];
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
      ...(q.cite ? { cite: cite(q.cite, path) } : {}),
      ...(q.note ? { note: q.note } : {}),
      place: { file: label, line: locate(path).line },
    });
  });

  if (problems.length) throw fail();
  return {
    id: raw.id,
    name: raw.name ?? base?.name ?? raw.id,
    ...(raw.extends ? { extends: raw.extends } : {}),
    file: label,
    documents,
    roles,
    params,
    alternatives,
    rules,
    requirements,
  };
}

/**
 * acts-as names declared roles of hosts (not address classes), an address class plays no other role,
 * and no role comes back to itself through acts-as (a relay that acts as a client that acts as a relay).
 */
function checkActsAs(rawRoles: RawRole[], roles: Role[], problem: (path: Array<string | number>, message: string) => void): void {
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

function fmt(r: PortRanges): string {
  return r.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

function isPathRef(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || /\.ya?ml$/i.test(ref);
}

/** How many catalogs an `extends:` chain may hold, the first file included. */
export const EXTENDS_DEPTH_LIMIT = 32;

/** A chain of catalogs for an error message: `a.yaml extends b.yaml extends a.yaml`, long ones shortened. */
function chainText(labels: string[]): string {
  const shown = labels.length > 8 ? [...labels.slice(0, 4), `… (${labels.length - 6} more)`, ...labels.slice(-2)] : labels;
  return shown.join(' extends ');
}

/**
 * Loads a bundled catalog by id (`itms8`) or a catalog file by path (`./site-extra.yaml`), validates
 * it, and resolves its parameters (with `--set` overrides applied and re-resolved into the rules).
 */
export function loadCatalog(ref: string, opts: LoadOptions = {}): Catalog {
  const catalog = loadChain(ref, ref, []);
  return opts.set && Object.keys(opts.set).length > 0 ? applyOverrides(catalog, opts.set) : catalog;
}

/**
 * One catalog of an `extends:` chain: `chain` holds the catalogs that extend it, nearest last, and
 * where the nearest names it. A chain that comes back to a file, or grows past EXTENDS_DEPTH_LIMIT
 * catalogs, is refused with the chain named.
 */
function loadChain(ref: string, label: string, chain: Array<{ label: string; real: string; at?: { line: number; col: number } }>): Catalog {
  let file: string;
  if (isPathRef(ref)) {
    file = ref;
    if (!existsSync(file)) throw new InputError(`${label}: cannot open: no such file`);
  } else {
    file = resolve(rulesDir(), `${ref}.yaml`);
    if (!existsSync(file)) throw new InputError(`unknown catalog ${quoted(ref)} (bundled: ${bundledCatalogIds().join(', ')}; or give a path to a .yaml file)`);
    label = `rules/${basename(file)}`;
  }
  const real = realpathSync(file);
  const parent = chain[chain.length - 1];
  const where = parent ? `${parent.label}:${parent.at!.line}:${parent.at!.col}` : label;
  const again = chain.findIndex((c) => c.real === real);
  if (again >= 0) throw new LocatedInputError(`${where}: "extends" forms a cycle: ${chainText([...chain.slice(again).map((c) => c.label), label])}`);
  if (chain.length >= EXTENDS_DEPTH_LIMIT) {
    throw new LocatedInputError(`${where}: "extends" chains more than ${EXTENDS_DEPTH_LIMIT} catalogs: ${chainText([...chain.map((c) => c.label), label])}`);
  }
  const text = readUserFile(file, 'catalog');
  const me = { label, real };
  // `extends` names a bundled id, or a path relative to the extending file.
  return loadFile(label, text, (id, at) => {
    const path = isPathRef(id) ? (isAbsolute(id) ? id : resolve(dirname(file), id)) : id;
    const shown = isPathRef(id) ? (isAbsolute(id) || !isPathRef(ref) ? path : join(dirname(label), id)) : id;
    return loadChain(path, shown, [...chain, { ...me, at }]);
  });
}

/** Applies --set name=value to a loaded catalog: parameter values change, and the rules that use them. */
export function applyOverrides(catalog: Catalog, set: Record<string, string>): Catalog {
  const params = { ...catalog.params };
  for (const [name, text] of Object.entries(set)) {
    const p = params[name];
    if (!p) continue;
    const value = parseParamValue(text);
    if (value === null) throw new InputError(`--set ${name}=${text}: expected a port, a range low-high, or a list such as 80,443`);
    params[name] = { ...p, value };
  }
  return { ...catalog, params, rules: withParamValues(catalog.rules, params) };
}

/** Rules whose ports come from parameters, re-resolved: their own fixed ports plus the parameters' values. */
function withParamValues(rules: Rule[], params: Record<string, Param>): Rule[] {
  return rules.map((r) => (r.params.length === 0 ? r : { ...r, ranges: mergeRanges([...r.fixed, ...r.params.flatMap((n) => params[n]!.value)]) }));
}

/** Checks that every --set names a parameter of one of the catalogs. */
export function checkOverrides(catalogs: Catalog[], set: Record<string, string>): void {
  for (const name of Object.keys(set)) {
    if (!catalogs.some((c) => c.params[name])) {
      const known = catalogs.flatMap((c) => Object.keys(c.params));
      throw new InputError(`--set ${name}: no such parameter (known: ${known.join(', ') || 'none'})`);
    }
  }
}

export type { RawCatalog };
