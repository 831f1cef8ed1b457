import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import { terminalSafe } from '../escape.js';
import { humanBytes } from '../flows.js';
import { firstFew, fit, hanging, moreLine, shown } from './layout.js';
import type { TextView } from './view.js';

/** The header's word on the background catalog: which one, or that it is off. */
export function backgroundHeader(r: AuditReport): string {
  const b = r.background;
  return b ? `background: ${b.id} (${plural(b.rules, 'rule')}${b.id === 'background' ? '' : `, ${terminalSafe(b.file)}`})` : 'no background catalog (--no-background)';
}

/**
 * BACKGROUND SERVICES: the flows the background catalog explains, one line a rule (flows, bytes, the
 * ports or ICMP types seen, the first hosts of each side with the count of the rest, and where the
 * rule is written), so the site's infrastructure is accounted for without standing among the findings.
 */
export function* backgroundSection(r: AuditReport, view: TextView): Generator<string> {
  if (!r.flows.anyWithVerdict('background')) return;
  const groups = new Map<string, { flows: number; bytes: number; services: Set<string>; servers: Set<string>; clients: Set<string>; cite: string }>();
  for (const f of r.flows.eachWithVerdict('background')) {
    let g = groups.get(f.rule!);
    if (!g) groups.set(f.rule!, (g = { flows: 0, bytes: 0, services: new Set(), servers: new Set(), clients: new Set(), cite: f.cite ? `${f.cite.document} ${f.cite.section}` : '' }));
    g.flows++;
    g.bytes += f.bytes;
    g.services.add(f.serverPort === null ? `${f.proto}${f.icmpType !== undefined ? ` type ${f.icmpType}` : ''}` : `${f.proto}/${f.serverPort}`);
    g.servers.add(f.server);
    g.clients.add(f.client);
  }
  const total = [...groups.values()].reduce((n, g) => n + g.flows, 0);
  yield '';
  yield fit(`BACKGROUND SERVICES (${plural(total, 'flow')}, grouped by rule of ${r.background?.id ?? 'the background catalog'}: infrastructure, not findings)`, view.width);
  const list = [...groups].sort((a, b) => b[1].flows - a[1].flows || b[1].bytes - a[1].bytes || (a[0] < b[0] ? -1 : 1));
  const width = Math.min(36, Math.max(...list.map(([k]) => k.length)));
  for (const [rule, g] of list.slice(0, shown(list.length, view))) {
    const services = [...g.services];
    yield* hanging(`${rule.padEnd(width)}  ${plural(g.flows, 'flow')}, ${humanBytes(g.bytes)}; ${firstFew(services, 3)}; ${plural(g.servers.size, 'server')} ${firstFew([...g.servers], 3)}; ${plural(g.clients.size, 'client')} ${firstFew([...g.clients], 3)}${g.cite ? `  (${terminalSafe(g.cite)})` : ''}`, view.width, '  ', ' '.repeat(width + 4));
  }
  yield* moreLine(list.length, view, '  ', 'rules');
}
