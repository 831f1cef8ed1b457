/*
 * Fuzz targets for the files a user hands over: catalogs, role maps and waiver files. Valid files are
 * mutated (ranges cut, duplicated, YAML's special tokens and hostile bytes spliced in); loading one
 * must end in a catalog/role map/waiver list or in an InputError whose message names the file, never
 * in another exception, and in bounded time. Inputs that once broke a loader are kept in
 * test/corpus/yaml/ (KIND-name.yaml, KIND one of catalog, roles, waivers) and run first.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadRoleMap } from '../src/audit/roles.js';
import { loadWaivers } from '../src/audit/waivers.js';
import { loadCatalog } from '../src/catalog/index.js';
import type { Catalog } from '../src/catalog/types.js';
import { InputError } from '../src/core/errors.js';
import { scratch } from './helpers/scratch.js';

const root = resolve(__dirname, '..');
const corpus = join(root, 'test/corpus/yaml');

type Kind = 'catalog' | 'roles' | 'waivers';

const bmc = loadCatalog('bmc-cm');
const LOADERS: Record<Kind, (file: string) => unknown> = {
  catalog: (file) => loadCatalog(file),
  roles: (file) => loadRoleMap(file, [bmc] as Catalog[]),
  waivers: (file) => loadWaivers(file, [bmc] as Catalog[]),
};

const SEEDS: Record<Kind, string> = {
  catalog: readFileSync(join(root, 'rules/bmc-cm.yaml'), 'utf8'),
  roles: readFileSync(join(root, 'samples/bmc-cm-roles.yaml'), 'utf8'),
  waivers:
    'waivers:\n  - port: tcp/3389\n    hosts: [10.10.0.10, 10.20.0.0/24]\n    reason: admin RDP, change 1234\n    expires: 2099-01-01\n' +
    '  - rule: bmc-cm:agent-to-parent\n    reason: old exception\n    expires: 2025-01-01\n',
};

// YAML's structure and its traps: anchors, aliases, merge keys, tags, directives, flow collections,
// quotes, tabs, document markers, control and bidi characters, long runs.
const TOKENS = [
  '&a ', '*a', '*missing', '<<: *a\n', '!!binary ', '!!js/function ', '!!int ', '%YAML 1.1\n', '---\n', '...\n',
  '[', ']', '{', '}', ', ', ': ', '- ', '? ', '#', "'", '"', '\\', '|\n', '>-\n', '\t', '\r', '\n', '  ', '\u0000',
  '\u001b[31m', '\u202e', '\ufeff', '~', 'null', '.nan', '1e999', '0x10', '65536', '-1', '10.0.0.0/33', '::/129',
  'extends: bmc-cm\n', 'extends: ./self.yaml\n', 'x'.repeat(5000), '['.repeat(200), '- '.repeat(200),
];

const mutation = fc.oneof(
  fc.record({ op: fc.constant('cut' as const), at: fc.nat(), len: fc.nat({ max: 400 }) }),
  fc.record({ op: fc.constant('copy' as const), at: fc.nat(), len: fc.nat({ max: 400 }), to: fc.nat() }),
  fc.record({ op: fc.constant('token' as const), at: fc.nat(), token: fc.constantFrom(...TOKENS) }),
  fc.record({ op: fc.constant('byte' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(seed: string, ms: Mutation[]): Buffer {
  let b = Buffer.from(seed, 'utf8');
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'cut') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    else if (m.op === 'copy') {
      const piece = b.subarray(at, at + m.len);
      const to = m.to % (b.length + 1);
      b = Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
    } else if (m.op === 'token') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.token, 'utf8'), b.subarray(at)]);
    else if (at < b.length) b[at] = m.byte;
  }
  return b;
}

// A loader speaks only through its result or its InputError: a library's warning on stderr (the yaml
// package warns when it stringifies a collection used as a key) reaches the user's terminal raw.
const warnings = vi.spyOn(process, 'emitWarning');
afterAll(() => warnings.mockRestore());

/** Loads one file; returns null when it loaded, the message when it was refused; throws anything else. */
function load(kind: Kind, file: string): string | null {
  warnings.mockClear();
  try {
    LOADERS[kind](file);
    return null;
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`${kind} ${file}: not an InputError: ${(e as Error)?.stack ?? String(e)}`);
    return e.message;
  } finally {
    if (warnings.mock.calls.length > 0) throw new Error(`${kind} ${file}: the loader warned: ${String(warnings.mock.calls[0]![0])}`);
  }
}

function checkRefusal(message: string | null, file: string): void {
  if (message === null) return;
  expect(message.length).toBeGreaterThan(0);
  // Every refusal names the file it is about (catalog errors may name the catalog a file extends).
  expect(message).toMatch(/\.yaml/);
  expect(message.split('\n')[0]!.length).toBeLessThan(600);
  void file;
}

describe('fuzz: catalogs, role maps and waiver files', () => {
  it('keeps the seeds valid (a fuzz of broken seeds proves nothing)', () => {
    const dir = scratch('fuzz-yaml-seed-').dir;
    for (const kind of Object.keys(SEEDS) as Kind[]) {
      const file = join(dir, `${kind}.yaml`);
      writeFileSync(file, SEEDS[kind]);
      expect(load(kind, file)).toBeNull();
    }
  });

  it('loads every kept regression case without an exception other than InputError', () => {
    let names: string[] = [];
    try {
      names = readdirSync(corpus).filter((n) => n.endsWith('.yaml'));
    } catch {
      names = [];
    }
    for (const name of names) {
      const kind = name.split('-')[0] as Kind;
      expect(Object.keys(LOADERS)).toContain(kind);
      checkRefusal(load(kind, join(corpus, name)), name);
    }
  });

  // FUZZ_RUNS=N FUZZ_SEED=S widen a run by hand; CI runs the fixed seeds below.
  const wide = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : null;
  for (const [kind, fixed] of [['catalog', 120], ['roles', 300], ['waivers', 300]] as const) {
    const runs = wide ?? fixed;
    it(`${kind}: mutated files load or are refused with an InputError naming the file`, () => {
      const dir = scratch(`fuzz-yaml-${kind}-`).dir;
      let refused = 0;
      let n = 0;
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => {
          const file = join(dir, `${kind}-${n++}.yaml`);
          writeFileSync(file, mutate(SEEDS[kind], ms));
          const t0 = Date.now();
          const message = load(kind, file);
          // Generous: a seed loads in milliseconds; a loader that explodes on a mutation takes far longer.
          expect(Date.now() - t0).toBeLessThan(5000);
          checkRefusal(message, file);
          if (message !== null) refused++;
        }),
        { numRuns: runs, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 1612 + kind.length },
      );
      // The mutations reach the validators: most mutated files are refused, some still load.
      expect(refused).toBeGreaterThan(runs / 4);
      expect(refused).toBeLessThan(runs);
    });
  }
});
