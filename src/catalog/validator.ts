/**
 * The one place ajv is loaded, for every schema a user's file is checked against (catalogs here,
 * waiver files in audit/waivers.ts) and for the build's precompiled catalog validator. ajv is
 * CommonJS: it is required synchronously when a validator is first made, so a command that checks no
 * file does not load it.
 */
import type { Ajv, Options, ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import { catalogSchema, type RawCatalog } from './schema.js';

/** How files are validated: every error (not just the first), with the data and schema at each. */
const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false } as const;

/** An ajv instance with AJV_OPTIONS and `extra` (the build adds the options for standalone code). */
export function newAjv(extra: Options = {}): Ajv {
  const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as { Ajv: new (o: Options) => Ajv };
  return new AjvClass({ ...AJV_OPTIONS, ...extra });
}

/** A schema's validator compiled now; T is what the schema admits, which a passing value is. */
export function compileValidator<T>(schema: object): ValidateFunction<T> {
  return newAjv().compile<T>(schema);
}

/** The catalog validator compiled now (about 100 ms): what runs from the sources, and the fallback. */
export function compileCatalogValidator(): ValidateFunction<RawCatalog> {
  return compileValidator<RawCatalog>(catalogSchema);
}
