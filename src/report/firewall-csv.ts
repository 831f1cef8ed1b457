/**
 * `flowaudit firewall --format csv`: one line per rule, the columns a firewall change request asks
 * for (source, destination, service, ports, justification, evidence), the product's rules first and
 * the background's after them (`section`). Addresses are the groups' (blocks and hosts, space
 * separated); text cells are guarded against formula injection.
 */
import { format as csvFormat } from 'fast-csv';
import type { Writable } from 'node:stream';
import type { AllowList, AllowRule } from '../firewall/types.js';
import { serviceText } from '../firewall/ports.js';
import { csvText } from './escape.js';
import { plural } from '../core/human.js';

export const FIREWALL_CSV_HEADERS = [
  'section',
  'source',
  'source_addresses',
  'destination',
  'destination_addresses',
  'protocol',
  'direction',
  'ports',
  'service',
  'rule',
  'justification',
  'evidence',
  'flows',
  'first_seen',
  'last_seen',
  'basis',
  'documented_ports',
  'dynamic',
  'baseline',
] as const;

function evidence(r: AllowRule): string {
  const seen = r.flows > 0 ? `${plural(r.flows, 'flow')} from ${r.sourceHosts.join(' ')} to ${r.destinationHosts.join(' ')}${r.unanswered > 0 ? ` (${r.unanswered} never answered)` : ''}` : 'no flow seen';
  return r.requiredBy.length > 0 ? `${seen}; required by ${r.requiredBy.join(' ')} (missing or failing)` : seen;
}

function dynamic(r: AllowRule): string {
  const d = r.dynamic;
  if (!d) return '';
  const opened = d.opened === 'range' ? `; opens the documented range; or ${d.choices[1]}` : `; choose ${d.choices.map((c, i) => `(${i + 1}) ${c}`).join(' or ')}`;
  return `${d.kind}: granted ${d.granted.join(' ') || 'none'}${d.documented ? `; documented ${d.documented}` : ''}${opened}`;
}

export function writeFirewallCsv(list: AllowList, out: Writable): Promise<void> {
  const addresses = new Map(list.groups.map((g) => [g.name, g.addresses.join(' ')]));
  const change = new Map<string, string>();
  if (list.baseline) {
    for (const id of list.baseline.added) change.set(id, 'added');
    for (const c of list.baseline.changed) change.set(c.id, 'changed');
  }
  return new Promise((resolve, reject) => {
    const stream = csvFormat({ headers: [...FIREWALL_CSV_HEADERS] });
    stream.on('error', reject);
    stream.pipe(out, { end: false });
    stream.on('end', () => resolve());
    const row = (section: string, r: AllowRule) =>
      stream.write({
        section,
        source: csvText(r.source),
        source_addresses: addresses.get(r.source) ?? '',
        destination: csvText(r.destination),
        destination_addresses: addresses.get(r.destination) ?? '',
        protocol: r.protocol,
        direction: r.direction,
        ports: r.ports.length > 0 ? r.ports.join(' ') : r.icmpTypes.map((t) => `type ${t}`).join(' '),
        service: csvText(serviceText(r.protocol, r.ports, r.icmpTypes) + (r.service ? ` ${r.service}` : '')),
        rule: r.rule,
        justification: csvText(r.cite ? `${r.cite.section}: “${r.cite.text}”` : ''),
        evidence: csvText(evidence(r)),
        flows: r.flows,
        first_seen: r.firstSeen ?? '',
        last_seen: r.lastSeen ?? '',
        basis: r.basis,
        documented_ports: r.documentedPorts.join(' '),
        dynamic: csvText(dynamic(r)),
        baseline: list.baseline ? (change.get(r.id) ?? 'unchanged') : '',
      });
    for (const r of list.rules) row('allow', r);
    for (const r of list.background) row('background', r);
    stream.end();
  });
}
