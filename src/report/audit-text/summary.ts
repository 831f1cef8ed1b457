import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import { fit } from './layout.js';
import type { TextView } from './view.js';

/** The counts of every verdict and status, before any list. */
export function* summarySection(r: AuditReport, view: TextView): Generator<string> {
  const s = r.summary;
  yield '';
  yield fit(`Flows: ${s.flows} — ${s.expected} expected, ${s.background} background, ${s.undocumented} undocumented, ${s.roleMismatch} role mismatch${s.waived ? `; ${plural(s.waived, 'finding')} waived` : ''}`, view.width);
  yield fit(`Required flows: ${s.requirements} — ${s.satisfied} satisfied, ${s.missing} missing, ${s.failing} failing, ${s.inconclusive} inconclusive`, view.width);
}
