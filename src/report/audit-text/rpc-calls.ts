import type { AuditReport } from '../../audit/index.js';
import { plural } from '../../core/human.js';
import type { JudgedFlow } from '../../audit/types.js';
import { terminalSafe } from '../escape.js';
import { fit, hanging, moreLine, shown } from './layout.js';
import type { TextView } from './view.js';

function endpoint(addr: string, port: number | null): string {
  if (port === null) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/**
 * DCE/RPC CALLS: with a dce_rpc.log beside the conn logs, each connection it shows calls on (in flow
 * order): the connection, its verdict, the interfaces and operations called. A connection whose
 * verdict links it to an endpoint-mapper call before it says so under it. Zeek logs no granted port:
 * the section says that once.
 */
export function* rpcCallsSection(r: AuditReport, view: TextView): Generator<string> {
  if (!r.capture.files.some((f) => 'log' in f && f.log === 'dce_rpc')) return;
  const withCalls: JudgedFlow[] = [];
  for (const f of r.flows) if (f.dceRpc !== undefined) withCalls.push(f);
  yield '';
  yield fit(`DCE/RPC CALLS (${plural(withCalls.length, 'connection')}, Zeek's dce_rpc.log: the calls, not the granted ports)`, view.width);
  for (const f of withCalls.slice(0, shown(withCalls.length, view))) {
    const calls = f.dceRpc!.map((c) => `${c.endpoint} ${c.operation}${c.calls > 1 ? ` ×${c.calls}` : ''}`).join(', ');
    yield* hanging(terminalSafe(`${f.proto} ${endpoint(f.client, f.clientPort)} → ${endpoint(f.server, f.serverPort)}  ${f.verdict}${f.rule ? ` ${f.rule}` : ''}: ${calls}`), view.width, '  ');
    const link = f.detail.indexOf('endpoint-mapper call seen in dce_rpc.log');
    if (link >= 0) yield* hanging(terminalSafe(f.detail.slice(link)), view.width, '      ');
  }
  yield* moreLine(withCalls.length, view, '  ', 'connections');
}
