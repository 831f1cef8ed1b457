/**
 * The text report's evidence lines of a finding: which connections decided it (client:port →
 * server:port), how each went (refused, unanswered, established), when, where its packets are
 * (file#first-last frame, as tshark numbers frames) and the tshark command that shows them (for a
 * finding no flow shows, `look for:` the command that would).
 *
 *   evidence: tcp 10.10.0.11:50005 → 10.20.0.23:1610 unanswered (3 packets) at 2024-11-19T07:06:40.123000Z, site.pcapng#41-43
 *   packets: tshark -r site.pcapng -Y 'ip.addr==10.10.0.11 && ip.addr==10.20.0.23 && tcp.port==50005 && tcp.port==1610 && !icmp'
 */
import type { EvidenceFlow, RequirementFinding } from '../audit/types.js';
import { terminalSafe } from './escape.js';
import { endpoint } from './text.js';

/** Evidence flows a finding's lines name one by one; the rest are counted. */
const SHOWN = 3;

const HOW: Record<string, string> = { attempted: 'unanswered', rejected: 'refused (reset)', established: 'established', partial: 'partial (no handshake seen)' };

const NONE: ReadonlySet<number> = new Set();

/** Which of a report's input files (by index) hold flow records, not packets: a Zeek sensor's logs among captures. */
export function recordFiles(files: ReadonlyArray<object>): ReadonlySet<number> {
  const out = new Set<number>();
  files.forEach((f, i) => {
    if ('records' in f) out.add(i);
  });
  return out;
}

/**
 * Where a flow's packets are: `file#first-last`, or both ends' files when it spans two. A flow record
 * (`analyze --input zeek`; a file in `records`) is a line of its log: `file:line`.
 */
export function framesText(f: Pick<EvidenceFlow, 'firstFile' | 'firstFrame' | 'lastFile' | 'lastFrame'>, files: readonly string[], records = NONE): string {
  const name = (i: number) => terminalSafe(files[i] ?? `file ${i}`);
  if (records.has(f.firstFile)) return `${name(f.firstFile)}:${f.firstFrame}`;
  if (f.firstFile !== f.lastFile) return `${name(f.firstFile)}#${f.firstFrame} … ${name(f.lastFile)}#${f.lastFrame}`;
  return `${name(f.firstFile)}#${f.firstFrame}${f.lastFrame !== f.firstFrame ? `-${f.lastFrame}` : ''}`;
}

/** One evidence flow as the text names it. */
export function evidenceFlowText(f: EvidenceFlow, files: readonly string[], records = NONE): string {
  const how = f.outcome === null ? `${f.packets} packets` : `${HOW[f.outcome] ?? f.outcome} (${f.packets} packets)`;
  return `${f.proto} ${endpoint(f.client, f.clientPort)} → ${endpoint(f.server, f.serverPort)} ${how}${f.start ? ` at ${f.start}` : ''}, ${framesText(f, files, records)}`;
}

/** A shell word: as it is when it is plain, else in single quotes (a quote inside closed and escaped). */
function quoted(s: string): string {
  return /^[\w./@:+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * The evidence lines of a finding under `indent`: its first evidence flows, then the tshark command
 * for its packets (in the file of its first evidence flow, or the first file when none shows it).
 * Flow records (files in `records`) have no packets to show: their evidence is the log's lines, no command.
 */
export function evidenceLines(x: RequirementFinding, files: readonly string[], indent: string, records = NONE): string[] {
  const out = x.evidenceFlows.slice(0, SHOWN).map((f) => `${indent}evidence: ${evidenceFlowText(f, files, records)}`);
  const more = x.evidence.length - Math.min(SHOWN, x.evidenceFlows.length);
  if (more > 0) out.push(`${indent}          (+${more} more flows)`);
  const at = x.evidenceFlows[0]?.firstFile ?? 0;
  const file = files[at];
  // With no flow, the filter names the hosts and ports where the flow would be: it selects nothing here.
  const label = x.evidenceFlows.length > 0 ? 'packets' : 'look for';
  if (file !== undefined && !records.has(at)) out.push(`${indent}${label}: tshark -r ${quoted(terminalSafe(file))} -Y ${quoted(x.filter)}`);
  return out;
}
