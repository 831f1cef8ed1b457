import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';
import { findingSection, groupBy, portsOf, sharedDetail } from './findings.js';
import type { TextView } from './view.js';

/** Required flows the capture cannot decide (unwaived), one group per requirement. */
export function* inconclusiveSection(r: AuditReport, view: TextView): Generator<string> {
  const inconclusive = r.requirements.filter((x) => x.status === 'inconclusive' && !x.waived);
  const groups = groupBy(inconclusive, (x) => `${x.rule}\u0000${portsOf(x)}`);
  yield* findingSection('INCONCLUSIVE', groups, (g) => ({
    title: `${g[0]!.rule}  ${portsOf(g[0]!)}`,
    shared: [terminalSafe(g[0]!.description), sharedDetail(g)],
  }), view);
}
