import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';
import { evidenceLines, recordFiles } from '../evidence.js';
import { likelyCause } from './cause.js';
import { findingSection, groupBy, portsOf, sharedDetail } from './findings.js';
import type { TextView } from './view.js';

/**
 * The required flows that are missing or failing (unwaived), failing first: one group per status,
 * requirement and likely cause, the requirement, the cause and the vendor's words said once, then
 * the host pairs and the first finding's evidence with the tshark command for its packets.
 */
export function* brokenSection(r: AuditReport, view: TextView): Generator<string> {
  const broken = r.requirements.filter((x) => (x.status === 'missing' || x.status === 'failing') && !x.waived);
  const sorted = [...broken].sort((a, b) => (a.status === b.status ? 0 : a.status === 'failing' ? -1 : 1));
  const files = r.capture.files.map((f) => f.file);
  const records = recordFiles(r.capture.files);
  const groups = groupBy(sorted, (x) => `${x.status}\u0000${x.rule}\u0000${portsOf(x)}\u0000${likelyCause(x)}`);
  yield* findingSection('MISSING AND FAILING REQUIRED FLOWS', groups, (g) => {
    const x = g[0]!;
    const cause = likelyCause(x);
    return {
      title: `${x.status.toUpperCase()}  ${x.rule}  ${portsOf(x)}`,
      shared: [
        terminalSafe(x.description),
        sharedDetail(g),
        ...(cause ? [`likely cause: ${cause}`] : []),
        ...(x.cite ? [`vendor: “${x.cite.text}” (${x.cite.section})`] : []),
      ],
      // The first finding's connections and the tshark command that shows its packets (one line, to copy).
      after: evidenceLines(x, files, '      ', records),
    };
  }, view);
}
