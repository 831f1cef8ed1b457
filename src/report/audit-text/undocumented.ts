import type { AuditReport } from '../../audit/index.js';
import { humanBytes } from '../flows.js';

/** Flows no catalog explains (unwaived), one line per protocol and server port, the most bytes first. */
export function* undocumentedSection(r: AuditReport): Generator<string> {
  if (!r.flows.anyWithVerdict('undocumented', false)) return;
  yield '';
  yield 'UNDOCUMENTED SERVICES (grouped by port)';
  const groups = new Map<string, { flows: number; bytes: number; servers: Set<string>; clients: Set<string>; granted: Set<string> }>();
  for (const f of r.flows.eachWithVerdict('undocumented', false)) {
    const k = f.serverPort === null ? `${f.proto}${f.icmpType !== undefined ? ` type ${f.icmpType}` : ''}` : `${f.proto}/${f.serverPort}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { flows: 0, bytes: 0, servers: new Set(), clients: new Set(), granted: new Set() }));
    if (f.grant) g.granted.add(f.grant.reason);
    g.flows++;
    g.bytes += f.bytes;
    g.servers.add(f.server);
    g.clients.add(f.client);
  }
  for (const [k, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes)) {
    const servers = [...g.servers];
    const clients = [...g.clients];
    yield `  ${k.padEnd(14)} ${g.flows} flows, ${humanBytes(g.bytes)}; servers ${servers.slice(0, 4).join(' ')}${servers.length > 4 ? ` (+${servers.length - 4})` : ''}; clients ${clients.slice(0, 4).join(' ')}${clients.length > 4 ? ` (+${clients.length - 4})` : ''}${g.granted.size ? `; granted by ${[...g.granted].join(', ')}` : ''}`;
  }
}
