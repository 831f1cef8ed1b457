import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';
import { rolesFromNote, withNote, wrap } from '../text.js';

/** Required flows the capture cannot decide (unwaived). */
export function* inconclusiveSection(r: AuditReport): Generator<string> {
  const inconclusive = r.requirements.filter((x) => x.status === 'inconclusive' && !x.waived);
  if (!inconclusive.length) return;
  yield '';
  yield 'INCONCLUSIVE';
  for (const x of inconclusive) {
    yield withNote(`  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}`, rolesFromNote(x.rolesFrom));
    yield* wrap(terminalSafe(x.detail), 100, '      ');
  }
}
