import type { JudgedFlow } from '../../audit/types.js';
import { isScanAttempt, type FoldedFlow, type ScanRecord } from '../../flow/aggregate.js';

/**
 * Scans among the undocumented flows: a host whose bare attempts (a SYN unanswered or refused, a
 * probe with no reply: flow/aggregate.ts isScanAttempt) reach many ports or many hosts. Its attempts
 * are one line of the report instead of one line per port; what it actually talked to stays listed
 * by port.
 */

/** Distinct ports, or distinct targets on one port, from which a host's bare attempts are a scan. */
export const SCAN_PORTS = 10;
export const SCAN_TARGETS = 20;

export interface Scan {
  proto: string;
  scanner: string;
  attempts: number;
  ports: Set<number>;
  targets: Set<string>;
  /** Targets counted by folded scan records beyond the first one each keeps (--max-flows). */
  moreTargets: number;
  refused: number;
}

const attempts = (f: JudgedFlow) => (f as Partial<FoldedFlow>).flows ?? 1;

/** The hosts whose undocumented bare attempts make a scan, by `proto scanner`. */
export function findScans(flows: Iterable<JudgedFlow>): Map<string, Scan> {
  const all = new Map<string, Scan>();
  for (const f of flows) {
    if (!isScanAttempt(f)) continue;
    const k = `${f.proto} ${f.client}`;
    let s = all.get(k);
    if (!s) all.set(k, (s = { proto: f.proto, scanner: f.client, attempts: 0, ports: new Set(), targets: new Set(), moreTargets: 0, refused: 0 }));
    s.attempts += attempts(f);
    s.ports.add(f.serverPort ?? f.icmpType ?? -1);
    s.targets.add(f.server);
    s.moreTargets += Math.max(0, ((f as Partial<ScanRecord>).targets ?? 1) - 1);
    if (f.outcome === 'rejected') s.refused += attempts(f);
  }
  for (const [k, s] of all) if (s.ports.size < SCAN_PORTS && s.targets.size + s.moreTargets < SCAN_TARGETS) all.delete(k);
  return all;
}

/** Whether a flow is one of a scan's attempts (and so counted on the scan's line, not its port's). */
export function inScan(f: JudgedFlow, scans: Map<string, Scan>): boolean {
  return scans.size > 0 && scans.has(`${f.proto} ${f.client}`) && isScanAttempt(f);
}

/** "tcp scan from 10.0.0.5: 1000 attempts, 998 ports (1-1024), 1 target; 990 refused". */
export function scanText(s: Scan): string {
  const ports = [...s.ports].filter((p) => p >= 0).sort((a, b) => a - b);
  const range = ports.length > 1 ? ` (${ports[0]}-${ports[ports.length - 1]})` : ports.length === 1 ? ` (${ports[0]})` : '';
  const targets = s.targets.size + s.moreTargets;
  const noun = s.proto === 'icmp' || s.proto === 'icmpv6' ? 'types' : 'ports';
  return `${s.proto} scan from ${s.scanner}: ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}, ${ports.length} ${ports.length === 1 ? noun.slice(0, -1) : noun}${range}, ${targets} target${targets === 1 ? '' : 's'}${s.refused ? `; ${s.refused} refused` : ''}`;
}
