import type { AuditReport } from '../../audit/index.js';
import { rolesFromNote, withNote } from '../text.js';

/** The required flows the capture shows. */
export function* satisfiedSection(r: AuditReport): Generator<string> {
  const satisfied = r.requirements.filter((x) => x.status === 'satisfied');
  if (!satisfied.length) return;
  yield '';
  yield 'SATISFIED';
  for (const x of satisfied) yield withNote(`  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}${x.followUp?.frame != null ? `  (${x.followUp.reason} answer, frame ${x.followUp.frame})` : ''}`, rolesFromNote(x.rolesFrom));
}
