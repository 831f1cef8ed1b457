import type { RequirementFinding } from '../../audit/types.js';
import { plural } from '../../core/human.js';
import { terminalSafe } from '../escape.js';
import { rolesFromNote, withNote } from '../text.js';
import { fit, moreLine, paragraph, shown, table } from './layout.js';
import type { TextView } from './view.js';

/**
 * Requirement findings grouped for the text report: one head line per group with its counts, what
 * the group has in common said once (the requirement, the likely cause, the vendor's words), then its
 * host pairs as a table. A firewall that fails one required flow for three thousand agents is one
 * group of three thousand rows, of which the view shows the first.
 */

/** Findings in groups by `key`, groups and findings in the order first met. */
export function groupBy<T>(items: Iterable<T>, key: (x: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const x of items) {
    const k = key(x);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(x);
  }
  return [...groups.values()];
}

/** The hosts a group of findings names. */
function hostCount(list: RequirementFinding[]): number {
  const hosts = new Set<string>();
  for (const x of list) {
    hosts.add(x.from);
    if (x.to) hosts.add(x.to);
  }
  return hosts.size;
}

/** How a group says it rests on guessed roles: the one note all its findings share, else "partly". */
function groupRolesNote(list: RequirementFinding[]): string {
  const kinds = new Set(list.map((x) => x.rolesFrom));
  if (kinds.size === 1) return rolesFromNote(list[0]!.rolesFrom);
  return kinds.has('inferred') || kinds.has('mixed') ? rolesFromNote('mixed') : '';
}

export const portsOf = (x: RequirementFinding): string => `${x.proto}/${x.ports.join(',')}`;

/** What a finding's row says it rests on: the negotiation's answer, else the first flow that decided it. */
export function findingEvidence(x: RequirementFinding): string {
  const f = x.followUp;
  if (f && f.frame !== null) return `${f.reason} answer, frame ${f.frame}${f.refused ? `, refused (${f.refused})` : ''}`;
  if (f && f.unanswered) return `${f.reason} call unanswered${x.evidence[0] ? `: ${x.evidence[0]}` : ''}`;
  if (x.evidence.length === 0) return 'no flow seen';
  return `${x.evidence[0]}${x.evidence.length > 1 ? ` +${x.evidence.length - 1}` : ''}`;
}

export interface FindingGroupText {
  /** What precedes the counts on the head line: "MISSING  bmc-cm:client-reaches-parent  tcp/1610". */
  title: string;
  /** Paragraphs the group's findings share, each printed once under the head line. */
  shared: string[];
  /** Lines after the host pairs (the first finding's evidence and the tshark command for its packets), as they are. */
  after?: string[];
}

/** One group: its head line with counts, the shared paragraphs, its host pairs (as many as the view shows). */
export function* findingGroupLines(list: RequirementFinding[], text: FindingGroupText, view: TextView): Generator<string> {
  // One row per host pair and ports: a client that looked up the same endpoint 286 times is one row
  // with its first evidence and the count.
  const pairs = groupBy(list, (x) => `${x.from}\u0000${x.to ?? ''}\u0000${portsOf(x)}`);
  const counts = `${plural(list.length, 'finding')}, ${plural(hostCount(list), 'host')}${pairs.length !== list.length ? `, ${plural(pairs.length, 'host pair')}` : ''}`;
  yield fit(withNote(`  ${text.title}: ${counts}`, groupRolesNote(list)), view.width);
  for (const p of text.shared) yield* paragraph(p, view.width, '      ');
  const rows = pairs.slice(0, shown(pairs.length, view)).map((g) => {
    const x = g[0]!;
    return [x.from, x.to ?? '-', portsOf(x), `${terminalSafe(findingEvidence(x))}${g.length > 1 ? ` (+${g.length - 1} more)` : ''}`];
  });
  yield* table(['from', 'to', 'proto/ports', 'evidence'], rows, '      ', view.width);
  yield* moreLine(pairs.length, view, '      ', 'host pairs');
  if (text.after) yield* text.after;
}

/** The detail of a group: said once when every finding says the same, else the first as an example. */
export function sharedDetail(list: RequirementFinding[]): string {
  const first = terminalSafe(list[0]!.detail);
  return list.every((x) => x.detail === list[0]!.detail) ? first : `e.g. ${first}`;
}

/** A section of finding groups: its title, then the groups the view shows, then how many it left out. */
export function* findingSection(title: string, groups: RequirementFinding[][], text: (g: RequirementFinding[]) => FindingGroupText, view: TextView): Generator<string> {
  if (groups.length === 0) return;
  yield '';
  yield fit(title, view.width);
  for (const g of groups.slice(0, shown(groups.length, view))) yield* findingGroupLines(g, text(g), view);
  yield* moreLine(groups.length, view, '  ', 'groups');
}
