/**
 * ajv's errors for a catalog as the messages a person reads: one per place, at the path of the value
 * (load.ts turns the path into file:line:col), with what the value may be where ajv's anyOf text says
 * nothing useful.
 */
import type { ErrorObject } from 'ajv';
import { quoted, shownJson } from '../core/errors.js';
import { dottedPath, pointerPath } from '../core/yaml-file.js';

/** What a value at a path should have been, for anyOf failures (ajv's own text is unhelpful there). */
function expectedAt(path: Array<string | number>): string | null {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === 'ports' || parent === 'ports') return 'a port (0-65535), a range "low-high", { param: name }, { dynamic: kind }, or a list of ports, ranges and params';
  if (last === 'from' || last === 'to' || last === 'acts-as') return 'a role id or a list of role ids';
  if (last === 'transport') return 'tcp, udp, icmp, icmpv6, or a list of them';
  if (last === 'period') return 'a duration such as 60s, 5m, 1h, 1d (or a number of seconds)';
  if (path.includes('params') || path.includes('sets')) return 'a port, a range "low-high" or a list of them (or { default: …, description: … })';
  if (path.includes('expect')) return '{ rule: id, reverse?: true } or { grant: dcerpc | sql-named-instance | tftp-transfer | ephemeral }';
  return null;
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'the catalog' : dottedPath(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${where}: missing "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'additionalProperties':
      return `${where}: unknown key ${quoted((e.params as { additionalProperty: string }).additionalProperty)}`;
    case 'enum':
      return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'pattern':
      return where.endsWith('id') || where.includes('role') || /\.(from|to)(\.\d+)?$/.test(where) || where.endsWith('rule') || where.endsWith('for-each')
        ? `${where}: ${quoted(String(e.data))} is not kebab-case (lower-case words joined by -)`
        : `${where}: ${quoted(String(e.data))} ${e.message ?? 'is malformed'}`;
    case 'propertyNames':
      return `${where}: key names must be kebab-case`;
    default:
      return `${where}: ${e.message ?? 'is invalid'}`;
  }
}

/** Reduces ajv's errors to one clear message per place: deepest errors win over anyOf summaries. */
export function schemaProblems(errors: ErrorObject[]): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const seen = new Set<string>();
  const push = (pointer: string, message: string) => {
    const key = `${pointer}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ path: pointerPath(pointer), message });
  };
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  // Under an anyOf, ajv reports every branch's complaint. When some branch got further (an error
  // deeper inside the value), those deeper errors are the useful ones; otherwise one summary of what
  // the value may be says more than the branches' contradicting complaints.
  const hasDeeper = (p: string) => errors.some((o) => o.instancePath.startsWith(p + '/') && o.keyword !== 'type' && o.keyword !== 'anyOf');
  for (const e of errors) {
    const p = e.instancePath;
    if (e.keyword === 'anyOf') {
      if (hasDeeper(p)) continue;
      const what = expectedAt(pointerPath(p));
      const where = p === '' ? 'the catalog' : dottedPath(p);
      push(p, what ? `${where}: expected ${what}, got ${shownJson(e.data)}` : `${where}: ${e.message}`);
      continue;
    }
    if (anyOfPaths.has(p)) continue;
    if (e.keyword === 'type' && [...anyOfPaths].some((a) => p.startsWith(a + '/'))) continue;
    if (e.keyword === 'additionalProperties') {
      push(`${p}/${(e.params as { additionalProperty: string }).additionalProperty}`, describeError(e));
      continue;
    }
    push(p, describeError(e));
  }
  return out;
}
