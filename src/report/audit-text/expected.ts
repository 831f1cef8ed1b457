import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import { humanBytes } from '../flows.js';
import { firstFew, fit, hanging, moreLine, shown } from './layout.js';
import type { TextView } from './view.js';

/** A side's roles, the first two named: an external host plays every address class (internet, vendor sites …). */
function rolesOf(roles: string[]): string {
  if (roles.length === 0) return '-';
  return roles.length <= 2 ? roles.join('+') : `${roles[0]}+${roles[1]} (+${roles.length - 2})`;
}

interface ExpectedGroup {
  rule: string;
  roles: string;
  flows: number;
  bytes: number;
  clients: Set<string>;
  servers: Set<string>;
}

/**
 * The flows a catalog documents, folded per rule and role pair with counts, bytes and hosts: the half
 * of a compliance report that shows what was proven, not only the exceptions. The most flows first.
 */
export function* expectedSection(r: AuditReport, view: TextView): Generator<string> {
  if (!r.flows.anyWithVerdict('expected', false)) return;
  const groups = new Map<string, ExpectedGroup>();
  for (const f of r.flows.eachWithVerdict('expected', false)) {
    const roles = `${rolesOf(f.clientRoles)} → ${rolesOf(f.serverRoles)}`;
    const k = `${f.rule}\u0000${roles}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { rule: f.rule ?? '-', roles, flows: 0, bytes: 0, clients: new Set(), servers: new Set() }));
    g.flows++;
    g.bytes += f.bytes;
    g.clients.add(f.client);
    g.servers.add(f.server);
  }
  const list = [...groups.values()].sort((a, b) => b.flows - a.flows || b.bytes - a.bytes);
  yield '';
  yield fit('EXPECTED FLOWS (grouped by rule and roles)', view.width);
  for (const g of list.slice(0, shown(list.length, view))) {
    yield* hanging(`${plural(g.flows, 'flow')}, ${humanBytes(g.bytes)}  ${g.rule}  ${g.roles}`, view.width, '  ');
    const clients = [...g.clients];
    const servers = [...g.servers];
    yield* hanging(`${plural(clients.length, 'client')} ${firstFew(clients, 3)}; ${plural(servers.length, 'server')} ${firstFew(servers, 3)}`, view.width, '      ');
  }
  yield* moreLine(list.length, view, '  ', 'groups');
}
