import type { AuditReport } from '../audit/index.js';
import { terminalSafe } from './escape.js';
import { humanBytes } from './flows.js';
import { endLines } from './write.js';

/** The text header's word on the background catalog: which one, or that it is off. */
export function backgroundHeader(r: AuditReport): string {
  const b = r.background;
  return b ? `background: ${b.id} (${b.rules} rules${b.id === 'background' ? '' : `, ${terminalSafe(b.file)}`})` : 'no background catalog (--no-background)';
}

/** At most this many hosts are named on a side of a line; the rest are counted. */
const HOSTS_SHOWN = 4;

function hostList(hosts: Set<string>): string {
  const list = [...hosts];
  return `${list.slice(0, HOSTS_SHOWN).join(' ')}${list.length > HOSTS_SHOWN ? ` (+${list.length - HOSTS_SHOWN})` : ''}`;
}

/**
 * BACKGROUND SERVICES: the flows the background catalog explains, one line a rule (flows, bytes, the
 * ports or ICMP types seen, the first hosts of each side with the count of the rest, and where the
 * rule is written), so the site's infrastructure is accounted for without standing among the findings.
 */
export function* backgroundLines(r: AuditReport): Generator<string> {
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
  yield* endLines(['', `BACKGROUND SERVICES (${total} flow${total === 1 ? '' : 's'}, grouped by rule of ${r.background?.id ?? 'the background catalog'}: infrastructure, not findings)`]);
  const width = Math.max(...[...groups.keys()].map((k) => k.length));
  for (const [rule, g] of [...groups].sort((a, b) => b[1].flows - a[1].flows || b[1].bytes - a[1].bytes || (a[0] < b[0] ? -1 : 1))) {
    const services = [...g.services];
    const shown = `${services.slice(0, 3).join(' ')}${services.length > 3 ? ` (+${services.length - 3})` : ''}`;
    yield* endLines([`  ${rule.padEnd(width)}  ${g.flows} flow${g.flows === 1 ? '' : 's'}, ${humanBytes(g.bytes)}; ${shown}; servers ${hostList(g.servers)}; clients ${hostList(g.clients)}${g.cite ? `  (${terminalSafe(g.cite)})` : ''}`]);
  }
}
