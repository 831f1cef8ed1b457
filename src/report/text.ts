import type { JudgedFlow, RequirementFinding } from '../audit/types.js';
import type { FlowRecord } from '../flow/record.js';
import type { InspectorStats } from '../inspect/grants.js';

/** Word-wraps text to `width` columns, each line starting with `indent`. */
export function wrap(text: string, width: number, indent: string): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur.length + w.length + 1 > width && cur) {
      lines.push(indent + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(indent + cur);
  return lines;
}

/** "10.0.0.1:80", "[2001:db8::1]:443", or the bare address when there is no port. */
export function endpoint(addr: string, port: number | null): string {
  if (port === null) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** `via vxlan 192.0.2.1:40000→192.0.2.2:4789`: a tunnelled flow's tunnels and outer ends, as a firewall between them sees it; '' when not tunnelled. */
export function tunnelText(f: Pick<FlowRecord, 'tunnel' | 'outerClient' | 'outerServer' | 'outerClientPort' | 'outerServerPort'>): string {
  if (f.tunnel === undefined) return '';
  const outer = f.outerClient === undefined ? '' : ` ${endpoint(f.outerClient, f.outerClientPort ?? null)}→${endpoint(f.outerServer!, f.outerServerPort ?? null)}`;
  return `via ${f.tunnel.join('+')}${outer}`;
}

/** What the payload inspectors read, for the capture-quality section; null when they read nothing. */
export function negotiationsRead(stats: InspectorStats[]): string | null {
  const over = (x: InspectorStats) => Object.entries(x.bounds ?? {}).map(([bound, n]) => `${bound} ${n}`);
  const inspected = stats.filter((x) => x.read + x.malformed + x.refused + x.streamsDropped > 0 || over(x).length > 0);
  if (inspected.length === 0) return null;
  const extra = (x: InspectorStats) =>
    [
      x.refused ? `${x.refused} refused` : '',
      x.retransmitted ? `${x.retransmitted} retransmitted` : '',
      x.malformed ? `${x.malformed} malformed` : '',
      x.streamsDropped ? `${x.streamsDropped} streams dropped at the bound` : '',
      over(x).length ? `over bounds: ${over(x).join(', ')}` : '',
    ]
      .filter(Boolean)
      .map((t) => ` (${t})`)
      .join('');
  return `negotiations read: ${inspected.map((x) => `${x.inspector} ${x.read}${extra(x)}`).join(', ')}`;
}

/** How a finding says it rests on guessed roles: nothing when the role map gave them all. */
export function rolesFromNote(rolesFrom: RequirementFinding['rolesFrom']): string {
  return rolesFrom === 'inferred' ? '(roles inferred)' : rolesFrom === 'mixed' ? '(roles partly inferred)' : '';
}

/** The same for a flow, side by side: `(client's roles inferred)`, `(roles inferred)`. */
export function flowRolesNote(f: Pick<JudgedFlow, 'clientRolesFrom' | 'serverRolesFrom'>): string {
  const c = f.clientRolesFrom === 'inferred';
  const s = f.serverRolesFrom === 'inferred';
  return c && s ? '(roles inferred)' : c ? "(client's roles inferred)" : s ? "(server's roles inferred)" : '';
}

/** A line with its note two spaces after it, or the line alone. */
export const withNote = (line: string, note: string): string => (note ? `${line}  ${note}` : line);
