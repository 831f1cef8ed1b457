import type { AuditReport } from '../../audit/index.js';

/** The counts of every verdict and status, before any list. */
export function* summarySection(r: AuditReport): Generator<string> {
  const s = r.summary;
  yield '';
  yield `Flows: ${s.flows} — ${s.expected} expected, ${s.undocumented} undocumented, ${s.roleMismatch} role mismatch${s.waived ? `; ${s.waived} findings waived` : ''}`;
  yield `Required flows: ${s.requirements} — ${s.satisfied} satisfied, ${s.missing} missing, ${s.failing} failing, ${s.inconclusive} inconclusive`;
}
