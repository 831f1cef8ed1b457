import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import { terminalSafe } from '../escape.js';
import { endpoint, flowRolesNote, withNote } from '../text.js';
import { fit, moreLine, paragraph, shown, table } from './layout.js';
import type { TextView } from './view.js';

interface MismatchGroup {
  rule: string;
  detail: string;
  note: string;
  flows: number;
  hosts: Set<string>;
  rows: string[][];
}

/**
 * Flows on a documented port between the wrong roles or in the wrong direction (unwaived): one group
 * per rule and reason, the reason said once, then the flows as a table. Only the rows the view shows
 * are kept, so a million misplaced flows cost a few counters.
 */
export function* mismatchSection(r: AuditReport, view: TextView): Generator<string> {
  if (!r.flows.anyWithVerdict('role-mismatch', false)) return;
  const groups = new Map<string, MismatchGroup>();
  const keep = view.limit ?? Infinity;
  for (const f of r.flows.eachWithVerdict('role-mismatch', false)) {
    const k = `${f.rule}\u0000${f.detail}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { rule: f.rule ?? '-', detail: f.detail, note: flowRolesNote(f), flows: 0, hosts: new Set(), rows: [] }));
    g.flows++;
    g.hosts.add(f.client);
    g.hosts.add(f.server);
    if (g.note !== flowRolesNote(f)) g.note = '(roles partly inferred)';
    if (g.rows.length < keep) g.rows.push([endpoint(f.client, f.clientPort), endpoint(f.server, f.serverPort), f.proto, `${f.outcome ?? plural(f.packets, 'packet')}${f.start ? ` at ${f.start}` : ''}`]);
  }
  const list = [...groups.values()];
  yield '';
  yield fit('ROLE MISMATCHES (documented port, wrong roles or direction)', view.width);
  for (const g of list.slice(0, shown(list.length, view))) {
    yield fit(withNote(`  ${g.rule}: ${plural(g.flows, 'flow')}, ${plural(g.hosts.size, 'host')}`, g.note), view.width);
    yield* paragraph(terminalSafe(g.detail), view.width, '      ');
    yield* table(['from', 'to', 'proto', 'evidence'], g.rows, '      ', view.width);
    yield* moreLine(g.flows, view, '      ');
  }
  yield* moreLine(list.length, view, '  ', 'groups');
}
