import type { AuditReport } from '../../audit/index.js';
import type { Cite } from '../../catalog/types.js';
import { terminalSafe } from '../escape.js';
import { rolesFromNote, withNote, wrap } from '../text.js';
import { likelyCause } from './cause.js';

// A firewall that eats one required flow fails it for every agent: tens of thousands of findings that
// share a few causes and one citation. Their wrapped lines are made once each.
const causeText = new Map<string, string[]>();
function causeLines(cause: string): string[] {
  let lines = causeText.get(cause);
  if (!lines) causeText.set(cause, (lines = wrap(`likely cause: ${cause}`, 100, '      ')));
  return lines;
}
const citeText = new WeakMap<Cite, string[]>();
function citeLines(cite: Cite): string[] {
  let lines = citeText.get(cite);
  if (!lines) citeText.set(cite, (lines = wrap(`vendor: “${cite.text}” (${cite.section})`, 100, '      ')));
  return lines;
}

/** The required flows that are missing or failing (unwaived), failing first. */
export function* brokenSection(r: AuditReport): Generator<string> {
  const broken = r.requirements.filter((x) => (x.status === 'missing' || x.status === 'failing') && !x.waived);
  if (!broken.length) return;
  yield '';
  yield 'MISSING AND FAILING REQUIRED FLOWS';
  for (const x of [...broken].sort((a, b) => (a.status === b.status ? 0 : a.status === 'failing' ? -1 : 1))) {
    yield withNote(`  ${x.status.toUpperCase()}  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}  ${x.proto}/${x.ports.join(',')}`, rolesFromNote(x.rolesFrom));
    yield* wrap(terminalSafe(x.detail), 100, '      ');
    const cause = likelyCause(x);
    if (cause) yield* causeLines(cause);
    if (x.cite) yield* citeLines(x.cite);
  }
}
