import type { AuditReport } from '../../audit/index.js';
import { findingSection, groupBy, portsOf } from './findings.js';
import type { TextView } from './view.js';

/** The required flows the capture shows, one group per requirement, each row with what proved it. */
export function* satisfiedSection(r: AuditReport, view: TextView): Generator<string> {
  const satisfied = r.requirements.filter((x) => x.status === 'satisfied');
  const groups = groupBy(satisfied, (x) => `${x.rule}\u0000${portsOf(x)}`);
  yield* findingSection('SATISFIED', groups, (g) => ({ title: `${g[0]!.rule}  ${portsOf(g[0]!)}`, shared: [] }), view);
}
