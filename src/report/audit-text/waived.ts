import type { AuditReport } from '../../audit/index.js';
import { terminalSafe } from '../escape.js';
import { plural } from '../../core/human.js';
import { hanging, moreLine, paragraph, shown } from './layout.js';
import type { TextView } from './view.js';

/**
 * The waived findings, one line per finding kind (verdict or status, rule or port) and waiver, with
 * the count and the first host pairs: what was accepted stays in the report, and why. Then the
 * waivers that have expired.
 */
export function* waivedSection(r: AuditReport, view: TextView): Generator<string> {
  const groups = new Map<string, { what: string; why: string; pairs: string[]; n: number }>();
  const add = (what: string, w: { reason: string; expires?: string }, pair: string) => {
    const why = `${terminalSafe(w.reason)}${w.expires ? ` (until ${w.expires})` : ''}`;
    const k = `${what}\u0000${why}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { what, why, pairs: [], n: 0 }));
    g.n++;
    if (g.pairs.length < 3 && !g.pairs.includes(pair)) g.pairs.push(pair);
  };
  for (const f of r.flows.waivedFlows()) add(`${f.verdict} ${f.rule ?? (f.serverPort === null ? f.proto : `${f.proto}/${f.serverPort}`)}`, f.waived!, `${f.client} → ${f.server}`);
  for (const x of r.requirements) if (x.waived) add(`${x.status} ${x.rule}`, x.waived, `${x.from}${x.to ? ` → ${x.to}` : ''}`);
  if (groups.size > 0) {
    const n = [...groups.values()].reduce((t, g) => t + g.n, 0);
    yield '';
    yield `WAIVED (${plural(n, 'finding')})`;
    const list = [...groups.values()];
    for (const g of list.slice(0, shown(list.length, view))) {
      yield* hanging(`${g.what}: ${g.n} (${g.pairs.join(', ')}${g.n > g.pairs.length ? ', …' : ''})`, view.width, '  ');
      yield* paragraph(`waived: ${g.why}`, view.width, '      ');
    }
    yield* moreLine(list.length, view, '  ', 'waivers');
  }
  for (const w of r.waivers.expired) yield* hanging(`! expired waiver (line ${w.line}, ${w.rule ?? w.port}, expired ${w.expires}): ${terminalSafe(w.reason)}`, view.width, '  ');
}
