import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import { humanBytes } from '../flows.js';
import { firstFew, fit, hanging, moreLine, shown } from './layout.js';
import { findScans, inScan, scanText } from './scans.js';
import type { TextView } from './view.js';

interface PortGroup {
  flows: number;
  bytes: number;
  servers: Set<string>;
  clients: Set<string>;
  granted: Set<string>;
}

/**
 * Flows no catalog explains (unwaived): first the scans, a line each (scans.ts), then one line per
 * protocol and server port, the most bytes first.
 */
export function* undocumentedSection(r: AuditReport, view: TextView): Generator<string> {
  if (!r.flows.anyWithVerdict('undocumented', false)) return;
  const scans = findScans(r.flows.eachWithVerdict('undocumented', false));
  const groups = new Map<string, PortGroup>();
  for (const f of r.flows.eachWithVerdict('undocumented', false)) {
    if (inScan(f, scans)) continue;
    const k = f.serverPort === null ? `${f.proto}${f.icmpType !== undefined ? ` type ${f.icmpType}` : ''}` : `${f.proto}/${f.serverPort}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { flows: 0, bytes: 0, servers: new Set(), clients: new Set(), granted: new Set() }));
    if (f.grant) g.granted.add(f.grant.reason);
    g.flows++;
    g.bytes += f.bytes;
    g.servers.add(f.server);
    g.clients.add(f.client);
  }
  yield '';
  yield fit('UNDOCUMENTED SERVICES (grouped by port)', view.width);
  const scanList = [...scans.values()].sort((a, b) => b.attempts - a.attempts);
  for (const s of scanList.slice(0, shown(scanList.length, view))) yield* hanging(scanText(s), view.width, '  ');
  yield* moreLine(scanList.length, view, '  ', 'scans');
  const list = [...groups].sort((a, b) => b[1].bytes - a[1].bytes);
  for (const [k, g] of list.slice(0, shown(list.length, view))) {
    const servers = [...g.servers];
    const clients = [...g.clients];
    yield* hanging(`${k.padEnd(14)} ${plural(g.flows, 'flow')}, ${humanBytes(g.bytes)}; ${plural(servers.length, 'server')} ${firstFew(servers, 3)}; ${plural(clients.length, 'client')} ${firstFew(clients, 3)}${g.granted.size ? `; granted by ${[...g.granted].join(', ')}` : ''}`, view.width, '  ', ' '.repeat(15));
  }
  yield* moreLine(list.length, view, '  ', 'ports');
}
