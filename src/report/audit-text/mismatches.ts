import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';
import { endpoint, flowRolesNote, withNote, wrap } from '../text.js';

/** Flows on a documented port between the wrong roles or in the wrong direction (unwaived). */
export function* mismatchSection(r: AuditReport): Generator<string> {
  if (!r.flows.anyWithVerdict('role-mismatch', false)) return;
  yield '';
  yield 'ROLE MISMATCHES (documented port, wrong roles or direction)';
  for (const f of r.flows.eachWithVerdict('role-mismatch', false)) {
    yield withNote(`  ${f.proto} ${endpoint(f.client, f.clientPort)} → ${endpoint(f.server, f.serverPort)}  ${f.rule}`, flowRolesNote(f));
    yield* wrap(terminalSafe(f.detail), 100, '      ');
  }
}
