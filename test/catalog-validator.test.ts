/**
 * The build precompiles the catalog schema's validator (dist/catalog/catalog-validator.js, ajv's
 * standalone code) so the CLI does not compile it at every start. It must judge every document as the
 * validator compiled from the sources does, errors and all: on the bundled catalogs, the test
 * fixtures and thousands of mutated catalogs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import type { ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileCatalogValidator } from '../src/catalog/validator.js';

const root = resolve(__dirname, '..');
const built = join(root, 'dist/catalog/catalog-validator.js');

describe('the precompiled catalog validator', () => {
  it('is built by npm run build, and judges every document as the compiled one does', async () => {
    expect(existsSync(built), `${built} (npm run build makes it)`).toBe(true);
    const pre = ((await import(pathToFileURL(built).href)) as { validate: ValidateFunction }).validate;
    const compiled = compileCatalogValidator();
    const same = (doc: unknown) => {
      const a = pre(doc);
      const b = compiled(doc);
      expect(a).toBe(b);
      expect(pre.errors ?? null).toEqual(compiled.errors ?? null);
      return a;
    };
    const docs = [
      ...readdirSync(join(root, 'rules')).filter((f) => f.endsWith('.yaml')).map((f) => join(root, 'rules', f)),
      ...readdirSync(join(root, 'test/fixtures')).filter((f) => f.endsWith('.yaml')).map((f) => join(root, 'test/fixtures', f)),
    ].map((f) => parse(readFileSync(f, 'utf8')) as Record<string, unknown>);
    expect(docs.length).toBeGreaterThanOrEqual(6);
    for (const d of docs) expect(same(d), String(d.id)).toBe(true);
    // Mutations: a key of the document, of a rule or of a role set to an arbitrary JSON value.
    let invalid = 0;
    fc.assert(
      fc.property(fc.nat(docs.length - 1), fc.nat(), fc.constantFrom('top', 'rule', 'role'), fc.jsonValue(), (di, k, where, value) => {
        const doc = structuredClone(docs[di]!) as Record<string, unknown>;
        const list = where === 'rule' ? doc.rules : where === 'role' ? doc.roles : null;
        const target = Array.isArray(list) && list.length ? (list[k % list.length] as Record<string, unknown>) : doc;
        const keys = Object.keys(target);
        target[keys[k % keys.length] ?? 'x'] = value;
        if (!same(doc)) invalid++;
      }),
      { numRuns: 2000, seed: 6 },
    );
    expect(invalid).toBeGreaterThan(500);
  });
});
