/**
 * `flowaudit firewall --format text`: the allow-list read top-down. The rules a firewall must have
 * (product, then background), the required flows it most likely blocks, the observed flows it should
 * not allow (for review), the documented rules the capture never used, the address groups, and the
 * change against a baseline.
 */
import type { Writable } from 'node:stream';
import { humanDuration, plural } from '../core/human.js';
import type { AllowList, AllowRule } from '../firewall/types.js';
import { serviceText } from '../firewall/ports.js';
import { terminalSafe } from './escape.js';
import { DEFAULT_REPORT_OPTIONS, type ReportOptions } from './options.js';
import { writePieces } from './write.js';
import { hanging } from './audit-text/layout.js';

const hostList = (hosts: string[], max = 4) => (hosts.length <= max ? hosts.join(' ') : `${hosts.slice(0, max).join(' ')} (+${hosts.length - max} more)`);

function span(first: string | null, last: string | null): string {
  return first === null ? 'no time' : first === last ? first : `${first} … ${last}`;
}

function ruleLines(r: AllowRule): string[] {
  const out = [`  ${r.source} → ${r.destination}  ${serviceText(r.protocol, r.ports, r.icmpTypes)}  ${r.rule}${r.service ? `  ${r.service}` : ''}`];
  if (r.flows > 0) {
    const unanswered = r.unanswered > 0 ? ` (${r.unanswered} never answered)` : '';
    out.push(`      ${plural(r.flows, 'flow')}${unanswered}: ${hostList(r.sourceHosts)} → ${hostList(r.destinationHosts)}; ${span(r.firstSeen, r.lastSeen)}`);
  } else out.push('      no flow seen: allowed because a required flow asks for it');
  if (r.requiredBy.length > 0) out.push(`      required by: ${r.requiredBy.join(', ')} (missing or failing)`);
  out.push(`      documented: ${r.protocol}${r.protocol.startsWith('icmp') ? ' ' : '/'}${r.documentedPorts.join(',') || '-'}`);
  if (r.dynamic) {
    const d = r.dynamic;
    const opens = d.opened === 'range' ? `opens the documented range, as asked (--dynamic range)` : 'the granted ports change when the service restarts, so choose';
    out.push(`      dynamic (${d.kind}): granted ${d.granted.length > 0 ? d.granted.join(',') : 'none seen'}${d.documented ? ` of the documented ${d.documented}` : ''}; ${opens}:`);
    d.choices.forEach((c, i) => out.push(`        ${i + 1}. ${c}`));
  }
  if (r.cite) out.push(`      vendor: “${r.cite.text}” (${r.cite.section})`);
  return out;
}

/** The text of an allow-list. */
export function firewallText(list: AllowList, opts: ReportOptions = DEFAULT_REPORT_OPTIONS): string {
  const limit = opts.limit ?? Infinity;
  const cut = <T>(items: T[], line: (x: T) => string[]): string[] => {
    const out = items.slice(0, limit).flatMap(line);
    if (items.length > limit) out.push(`  … and ${items.length - limit} more (--all or --limit)`);
    return out;
  };
  const lines: string[] = [];
  lines.push(`flowaudit firewall — ${list.capture.files.map(terminalSafe).join(' ')}`);
  lines.push(`catalogs: ${list.catalogs.map((c) => `${c.id} (${c.name})`).join(', ')}`);
  lines.push(`roles: ${list.roles === null ? 'no role map: hosts without a role are single addresses' : terminalSafe(list.roles)}; ${list.zones === null ? 'rules per role pair' : `zones: ${terminalSafe(list.zones)}, rules per zone pair`}`);
  const spanText = list.capture.spanSeconds === null ? 'an unknown span' : humanDuration(list.capture.spanSeconds);
  lines.push(`capture: ${span(list.capture.first, list.capture.last)} (${spanText})`);
  lines.push('');
  lines.push(`ALLOW (${plural(list.rules.length, 'rule')}: every expected flow and every required flow; everything else is dropped)`);
  lines.push(...(list.rules.length > 0 ? cut(list.rules, ruleLines) : ['  none']));
  lines.push('');
  lines.push(`BACKGROUND (${plural(list.background.length, 'rule')}: infrastructure the background catalog explains, DNS, Kerberos…; a firewall between these hosts must pass it too)`);
  lines.push(...(list.background.length > 0 ? cut(list.background, ruleLines) : ['  none']));
  lines.push('');
  const { blocked, review, unused } = list.diff;
  lines.push(`REQUIRED FLOWS MISSING OR FAILING (${blocked.length}: a firewall in the path likely blocks them)`);
  lines.push(
    ...(blocked.length > 0
      ? cut(blocked, (b) => [
          `  ${b.status.toUpperCase()}  ${b.rule}  ${b.proto}/${b.ports.join(',')}  ${b.from} → ${b.to ?? '-'}`,
          `      ${b.allowedBy === null ? 'not in the allow-list: no catalog rule documents it for these hosts' : `allowed by ${b.allowedBy}`}`,
        ])
      : ['  none']),
  );
  lines.push('');
  lines.push(`REVIEW (${plural(review.length, 'group')} of observed flows no product rule allows: not in the allow-list)`);
  lines.push(
    ...(review.length > 0
      ? cut(review, (r) => [
          `  ${r.verdict}  ${r.source} → ${r.destination}  ${r.protocol}${r.port === null ? '' : `/${r.port}`}  ${plural(r.flows, 'flow')}: ${hostList(r.sourceHosts)} → ${hostList(r.destinationHosts)}${r.rule ? `  (documented as ${r.rule})` : ''}${r.waived ? `  waived: ${r.waived}` : ''}`,
        ])
      : ['  none']),
  );
  lines.push('');
  lines.push(`DOCUMENTED, NEVER USED in ${spanText} (${plural(unused.length, 'rule')}: candidates to leave closed; the first listed are between roles the site runs)`);
  const sorted = [...unused].sort((a, b) => Number(b.rolesOnSite) - Number(a.rolesOnSite));
  lines.push(...(unused.length > 0 ? cut(sorted, (u) => [`  ${u.rule}  ${u.from.join('|')} → ${u.to.join('|')}  ${u.transport.join(',')}/${u.ports.join(',') || '-'}  ${u.required}${u.rolesOnSite ? '' : '  (roles not on the site)'}`]) : ['  none']));
  lines.push('');
  lines.push(`GROUPS (${list.groups.length})`);
  lines.push(...cut(list.groups, (g) => [`  ${g.name} (${g.kind}): ${hostList(g.addresses, 8)}`]));
  if (list.baseline) {
    const b = list.baseline;
    lines.push('');
    lines.push(`AGAINST THE BASELINE ${terminalSafe(b.file)} (${span(b.first, b.last)}): ${b.added.length} added, ${b.removed.length} removed, ${b.changed.length} changed, ${b.unchanged} unchanged`);
    for (const id of b.added) lines.push(`  + ${id}`);
    for (const id of b.removed) lines.push(`  - ${id}`);
    for (const c of b.changed) lines.push(`  ~ ${c.id}: ports ${[...c.portsAdded.map((p) => `+${p}`), ...c.portsRemoved.map((p) => `-${p}`), ...c.icmpAdded.map((t) => `+icmp ${t}`), ...c.icmpRemoved.map((t) => `-icmp ${t}`)].join(' ')}`);
  }
  // Every line held to the width: what wraps goes on under its own indent and four spaces more.
  const width = opts.width;
  return lines.flatMap((l) => (l === '' ? [''] : hanging(l.trimStart(), width, /^ */.exec(l)![0]))).join('\n') + '\n';
}

export function writeFirewallText(list: AllowList, out: Writable, opts?: ReportOptions): Promise<void> {
  return writePieces([firewallText(list, opts)], out);
}
