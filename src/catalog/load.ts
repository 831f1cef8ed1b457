import type { ValidateFunction } from 'ajv';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, LocatedInputError, quoted, someOf } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { parseYamlFile, YamlFileError, type YamlFile } from '../core/yaml-file.js';
import { checkActsAs } from './acts-as.js';
import { fmt, mergeRanges, paramRanges, parseDuration, parseParamValue, parseRange, sameRanges } from './ports.js';
import type { RawCatalog, RawCite } from './schema.js';
import { schemaProblems } from './schema-problems.js';
import type { Alternative, Catalog, Cite, Expectation, Param, PortRanges, Requirement, Role, Rule } from './types.js';

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

/**
 * The catalog schema's validator: precompiled by the build (dist/catalog/catalog-validator.js, see
 * build-validator.ts), or compiled here when running from the sources.
 */
const validate: ValidateFunction = await import(new URL('./catalog-validator.js', import.meta.url).href)
  .then((m: { validate: ValidateFunction }) => m.validate)
  .catch(async () => (await import('./validator.js')).compileCatalogValidator());


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

  const cite = (c: RawCite, path: Array<string | number>): Cite => {
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

