/**
 * The shape of src/ that README's architecture promises: no module imports itself through others (type
 * imports and lazy `import()` count too: a cycle is a cycle to a reader), and no file grows past 500
 * lines unless its header says why (a line starting `Over 500 lines:` in its first comment).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from './helpers/captures.js';

const src = join(repositoryRoot, 'src');
const LINE_LIMIT = 500;

function sources(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sources(path);
      return name.endsWith('.ts') ? [path] : [];
    });
}

const files = sources(src);

/** The files of src/ that `file` imports, by its relative specifiers ('./x.js' → x.ts). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gms),
    ...text.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** Every cycle of the import graph, each as the files along it (found by a depth-first walk). */
function importCycles(): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t !== f)]));
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') cycles.push([...path.slice(path.indexOf(t)), t].map((p) => relative(src, p)));
      else if (state.get(t) === undefined && graph.has(t)) visit(t);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (state.get(f) === undefined) visit(f);
  return cycles;
}

describe('structure of src/', () => {
  it('has no import cycles', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(importCycles().map((c) => c.join(' → '))).toEqual([]);
  });

  it(`has no file over ${LINE_LIMIT} lines without a reason at its top`, () => {
    const long = files
      .map((f) => ({ f, text: readFileSync(f, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > LINE_LIMIT)
      .filter(({ text }) => !/^\s*\/?\*+\s*Over 500 lines:/m.test(text.slice(0, text.indexOf('*/') + 2)))
      .map(({ f, text }) => `${relative(src, f)}: ${text.split('\n').length} lines`);
    expect(long).toEqual([]);
  });
});
