import { Ajv, type ValidateFunction } from 'ajv';
import { catalogSchema } from './schema.js';

/** How catalogs are validated: every error (not just the first), with the data and schema at each. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false } as const;

/** The catalog validator compiled now (about 100 ms): what runs from the sources, and the fallback. */
export function compileCatalogValidator(): ValidateFunction {
  return new Ajv(AJV_OPTIONS).compile(catalogSchema);
}
