/**
 * Two captures of the same site, before and after a change: `--baseline OLD.json` (an earlier
 * `flowaudit firewall --format json`) against the allow-list of this run. Rules are matched by id
 * (source group, destination group, protocol, catalog rule); a matched rule whose ports or ICMP types
 * differ is changed.
 */
import { InputError } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import type { AllowList, BaselineDiff } from './types.js';

/** What a baseline must hold: its capture span and its rules' ids, ports and ICMP types. */
export interface BaselineList {
  file: string;
  first: string | null;
  last: string | null;
  rules: Array<{ id: string; ports: string[]; icmpTypes: number[] }>;
}

/** Reads an earlier allow-list; anything that is not one is one line naming the file. */
export function readBaseline(file: string): BaselineList {
  const text = readUserFile(file, 'baseline allow-list');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not JSON (${(e as Error).message}): --baseline takes an earlier \`flowaudit firewall --format json\``);
  }
  const d = doc as Partial<AllowList> | null;
  if (d === null || typeof d !== 'object' || d.tool?.command !== 'firewall' || !Array.isArray(d.rules)) throw new InputError(`${file}: not an allow-list of \`flowaudit firewall --format json\` (no tool.command "firewall" and rules)`);
  const rules = d.rules.map((r, i) => {
    if (typeof r?.id !== 'string' || !Array.isArray(r.ports) || !Array.isArray(r.icmpTypes)) throw new InputError(`${file}: rules.${i} has no id, ports and icmpTypes`);
    return { id: r.id, ports: r.ports.map(String), icmpTypes: r.icmpTypes.map(Number) };
  });
  return { file, first: d.capture?.first ?? null, last: d.capture?.last ?? null, rules };
}

/** This list's rules against the baseline's. */
export function diffBaseline(old: BaselineList, now: Pick<AllowList, 'rules'>): BaselineDiff {
  const before = new Map(old.rules.map((r) => [r.id, r]));
  const after = new Map(now.rules.map((r) => [r.id, r]));
  const minus = <T>(a: readonly T[], b: readonly T[]) => a.filter((x) => !b.includes(x));
  const changed: BaselineDiff['changed'] = [];
  let unchanged = 0;
  for (const [id, r] of after) {
    const o = before.get(id);
    if (!o) continue;
    const c = { id, portsAdded: minus(r.ports, o.ports), portsRemoved: minus(o.ports, r.ports), icmpAdded: minus(r.icmpTypes, o.icmpTypes), icmpRemoved: minus(o.icmpTypes, r.icmpTypes) };
    if (c.portsAdded.length + c.portsRemoved.length + c.icmpAdded.length + c.icmpRemoved.length > 0) changed.push(c);
    else unchanged++;
  }
  return {
    file: old.file,
    first: old.first,
    last: old.last,
    added: [...after.keys()].filter((id) => !before.has(id)),
    removed: [...before.keys()].filter((id) => !after.has(id)),
    changed,
    unchanged,
  };
}
