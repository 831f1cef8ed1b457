/**
 * Loading a catalog: a bundled id or a path, the file parsed and validated against the schema, its
 * sections compiled (sections.ts), the chain of catalogs it extends, and --set overrides. Every
 * problem of a file is reported at once as a CatalogError, each at its file:line:col.
 */
import type { ValidateFunction } from 'ajv';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, LocatedInputError, quoted } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { parseYamlFile, problemText, YamlFileError, type YamlFile, type YamlProblem } from '../core/yaml-file.js';
import { parseParamValue, withParamValues } from './ports.js';
import type { RawCatalog } from './schema.js';
import { schemaProblems } from './schema-problems.js';
import { compileSection, SECTIONS, type Compiling, type Path, type Sections } from './sections.js';
import { compileCatalogValidator } from './validator.js';
import type { Catalog } from './types.js';

/** The bundled background catalog (rules/background.yaml): applied beside the product catalogs, never one of them. */
export const BACKGROUND_ID = 'background';

/** The bundled catalogs: rules/ at the package root, from src/catalog or dist/catalog alike. */
export function rulesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');
}

/** The product catalogs of rules/ (the background catalog is not one: see background.ts). */
export function bundledCatalogIds(): string[] {
  return readdirSync(rulesDir())
    .filter((f) => f.endsWith('.yaml') && f !== `${BACKGROUND_ID}.yaml`)
    .map((f) => f.slice(0, -5))
    .sort();
}

/** One problem of a catalog file, at file:line:col. */
export type CatalogProblem = YamlProblem;

const PROBLEMS_SHOWN = 50;

/** A catalog that cannot be used: every problem with file, line and what is wrong. */
export class CatalogError extends LocatedInputError {
  constructor(readonly problems: CatalogProblem[]) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    // The first PROBLEMS_SHOWN are printed: a generated catalog with a mistake in every row stays readable.
    super(problemText(problems, PROBLEMS_SHOWN));
    this.name = 'CatalogError';
  }
}

/**
 * The catalog schema's validator: precompiled by the build (dist/catalog/catalog-validator.js, see
 * build-validator.ts), or compiled here when running from the sources.
 */
const validate: ValidateFunction<RawCatalog> = await import(new URL('./catalog-validator.js', import.meta.url).href)
  .then((m: { validate: ValidateFunction<RawCatalog> }) => m.validate)
  .catch(() => compileCatalogValidator());

export interface LoadOptions {
  /** Parameter overrides, as given with --set name=value. */
  set?: Record<string, string>;
}

/** The file parsed and as plain values; a YAML problem is a CatalogError like any other. */
function parseCatalogYaml(file: string, text: string): { yaml: YamlFile; raw: unknown } {
  try {
    const yaml = parseYamlFile(file, text);
    return { yaml, raw: yaml.toJS() };
  } catch (e) {
    if (e instanceof YamlFileError) throw new CatalogError([e.problem]);
    throw e;
  }
}

/** Reads and checks one catalog file; `resolveBase` loads the catalog it extends. */
function loadFile(file: string, text: string, resolveBase: (id: string, at: { line: number; col: number }) => Catalog): Catalog {
  const { yaml, raw } = parseCatalogYaml(file, text);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CatalogError([{ file, line: 1, col: 1, message: 'a catalog is a YAML mapping with id, name, roles and rules' }]);
  }
  const problems: Array<{ path: Path; message: string }> = [];
  const fail = () => new CatalogError(problems.map((p) => yaml.problemAt(p.path, p.message)));
  if (!validate(raw)) {
    for (const p of schemaProblems(validate.errors ?? [])) problems.push(p);
    throw fail();
  }
  const problem = (path: Path, message: string) => problems.push({ path, message: path.length ? `${path.join('.')}: ${message}` : message });

  const locate = (path: Path) => yaml.locate(path);
  const base = raw.extends !== undefined ? resolveBase(raw.extends, locate(['extends'])) : undefined;
  if (base === undefined) {
    if (raw.name === undefined) problem([], 'missing "name" (the product)');
    if (raw.documents === undefined || raw.documents.length === 0) problem([], 'missing "documents" (the vendor documents this catalog transcribes)');
  }
  const done: Sections = { documents: [], roles: [], params: {}, alternatives: [], rules: [], requirements: [] };
  const compiling: Compiling = { file, raw, base, done, problem, locate };
  for (const row of SECTIONS) compileSection(row, compiling);

  if (problems.length) throw fail();
  return {
    id: raw.id,
    name: raw.name ?? base?.name ?? raw.id,
    ...(raw.extends ? { extends: raw.extends } : {}),
    file,
    ...done,
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

/** Checks that every --set names a parameter of one of the catalogs. */
export function checkOverrides(catalogs: Catalog[], set: Record<string, string>): void {
  for (const name of Object.keys(set)) {
    if (!catalogs.some((c) => c.params[name])) {
      const known = catalogs.flatMap((c) => Object.keys(c.params));
      throw new InputError(`--set ${name}: no such parameter (known: ${known.join(', ') || 'none'})`);
    }
  }
}

