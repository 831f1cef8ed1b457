/** Port lists as a catalog writes them (443, "900-902", [80, 443]) and as the audit uses them (sorted ranges). */
import type { RawParamValue } from './schema.js';
import type { Param, PortRanges, Rule } from './types.js';

export function parseRange(s: string): [number, number] {
  const [a, b] = s.split('-').map((x) => Number(x.trim()));
  return [a!, b!];
}

export function parseDuration(p: number | string | undefined): number | null {
  if (p === undefined) return null;
  if (typeof p === 'number') return p;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(p)!;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Sorted, merged ranges. */
export function mergeRanges(ranges: PortRanges): PortRanges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: PortRanges = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    // Overlaps merge; neighbours stay apart so that 22, 23 is shown as the document lists it.
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

export function paramRanges(v: RawParamValue): PortRanges {
  const items = Array.isArray(v) ? v : [v];
  return mergeRanges(items.map((x) => (typeof x === 'number' ? [x, x] : parseRange(x))));
}

/** Parses a `--set` value: 443, 900-902, or 80,443. */
export function parseParamValue(text: string): PortRanges | null {
  const parts = text.split(',').map((s) => s.trim());
  const out: PortRanges = [];
  for (const p of parts) {
    if (/^\d{1,5}$/.test(p) && Number(p) <= 65535) out.push([Number(p), Number(p)]);
    else if (/^\d{1,5}\s*-\s*\d{1,5}$/.test(p)) {
      const r = parseRange(p);
      if (r[0] > r[1] || r[1] > 65535) return null;
      out.push(r);
    } else return null;
  }
  return mergeRanges(out);
}

export function sameRanges(a: PortRanges, b: PortRanges): boolean {
  return a.length === b.length && a.every((r, i) => r[0] === b[i]![0] && r[1] === b[i]![1]);
}

/** Ranges as a catalog writes them: 22,900-902. */
export function fmt(r: PortRanges): string {
  return r.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/** Rules whose ports come from parameters, re-resolved: their own fixed ports plus the parameters' values. */
export function withParamValues(rules: Rule[], params: Record<string, Param>): Rule[] {
  return rules.map((r) => (r.params.length === 0 ? r : { ...r, ranges: mergeRanges([...r.fixed, ...r.params.flatMap((n) => params[n]!.value)]) }));
}
