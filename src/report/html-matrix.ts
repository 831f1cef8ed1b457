import type { JudgedFlow, RequirementFinding } from '../audit/types.js';
import { escapeHtml } from './escape.js';

/*
 * The HTML report's role-to-role matrix: client roles down the left (who connects), server roles
 * across the top (who listens). A cell shows the mix of its flows' verdicts as a bar (not only the
 * worst: one RDP flow must not hide a thousand expected 1610s), its ports, and the missing and
 * failing required flows between the two roles as a badge with a dashed outline, also where no flow
 * was seen at all. The picture fits the page: cells narrow down to a floor, then the whole SVG
 * scales to the page's width; every label is cut to its box, whole in the cell's tooltip.
 */

/** Verdicts in the order a cell's bar stacks them, with their colours (the legend's too). */
export const VERDICT_COLOURS: ReadonlyArray<[string, string, string]> = [
  ['expected', '#2e7d32', 'expected'],
  ['background', '#5c7c99', 'background'],
  ['role-mismatch', '#ef8f00', 'role mismatch'],
  ['undocumented', '#c62828', 'undocumented'],
  ['waived', '#9e9e9e', 'waived'],
];
const COLOUR = new Map(VERDICT_COLOURS.map(([v, c]) => [v, c]));
const RANK = new Map(VERDICT_COLOURS.map(([v], i) => [v, i]));
const WORST_RANK: Record<string, number> = { expected: 0, background: 0, 'role-mismatch': 1, undocumented: 2 };

/** About the width of a character of the 12 px labels (system-ui): labels are cut to their box by it. */
const CHAR_PX = 7;
const PAGE_PX = 1300;

interface Cell {
  flows: number;
  verdicts: Map<string, number>;
  worst: string;
  ports: Map<string, number>;
  missing: number;
  failing: number;
}

function fit(text: string, px: number): string {
  const n = Math.max(3, Math.floor(px / CHAR_PX));
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export function matrixLegend(): string {
  return `<p class="legend">${VERDICT_COLOURS.map(([, c, label]) => `<span style="background:${c}"></span>${label}`).join('')}<span class="req"></span>missing or failing required flows between the roles</p>`;
}

/** The matrix as one SVG; the flows are read once and not held. */
export function matrixSvg(flows: Iterable<JudgedFlow>, requirements: readonly RequirementFinding[]): string {
  const roleOf = (roles: readonly string[] | undefined) => roles?.[0] ?? 'unknown';
  const cells = new Map<string, Cell>();
  const rowSet = new Set<string>();
  const colSet = new Set<string>();
  const cellOf = (r: string, c: string): Cell => {
    rowSet.add(r);
    colSet.add(c);
    const k = `${r}\u0000${c}`;
    let cell = cells.get(k);
    if (!cell) cells.set(k, (cell = { flows: 0, verdicts: new Map(), worst: 'expected', ports: new Map(), missing: 0, failing: 0 }));
    return cell;
  };
  for (const f of flows) {
    const cell = cellOf(roleOf(f.clientRoles), roleOf(f.serverRoles));
    cell.flows++;
    const v = f.waived ? 'waived' : f.verdict;
    cell.verdicts.set(v, (cell.verdicts.get(v) ?? 0) + 1);
    if (!f.waived && (WORST_RANK[f.verdict] ?? 0) > (WORST_RANK[cell.worst] ?? 0)) cell.worst = f.verdict;
    const port = f.serverPort === null ? f.proto : `${f.proto}/${f.serverPort}`;
    cell.ports.set(port, (cell.ports.get(port) ?? 0) + 1);
  }
  for (const x of requirements) {
    if (x.waived || (x.status !== 'missing' && x.status !== 'failing')) continue;
    const cell = cellOf(roleOf(x.fromRoles), x.toRoles?.length ? roleOf(x.toRoles) : 'unknown');
    if (x.status === 'missing') cell.missing++;
    else cell.failing++;
  }
  const rows = [...rowSet].sort();
  const cols = [...colSet].sort();
  // The left margin holds the row labels and the client axis's label (28 characters).
  const left = Math.max(200, Math.min(240, 24 + CHAR_PX * Math.max(...rows.map((r) => r.length))));
  const cw = Math.max(90, Math.min(160, Math.floor((PAGE_PX - left) / Math.max(1, cols.length))));
  const ch = 56;
  // Column labels that do not fit their column are set at an angle, with room above for them.
  const slanted = cols.some((c) => c.length * CHAR_PX > cw - 8);
  const colLabel = slanted ? Math.min(160, CHAR_PX * Math.max(...cols.map((c) => c.length))) : 0;
  const top = 60 + (slanted ? Math.ceil(colLabel * 0.6) : 0);
  const w = left + cols.length * cw + 10;
  const h = top + rows.length * ch + 10;
  const parts: string[] = [];
  parts.push(`<svg id="matrix" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="role to role matrix: client roles down, server roles across">`);
  parts.push(`<text class="axis" x="${left}" y="14">server role (who listens) →</text>`);
  parts.push(`<text class="axis" x="4" y="${top - 6}">client role (who connects) ↓</text>`);
  cols.forEach((c, j) => {
    const x = left + j * cw + cw / 2;
    const label = escapeHtml(fit(c, slanted ? colLabel : cw - 8));
    parts.push(
      slanted
        ? `<text class="col" x="${x}" y="${top - 22}" transform="rotate(-35 ${x} ${top - 22})"><title>${escapeHtml(c)}</title>${label}</text>`
        : `<text class="col" x="${x}" y="${top - 22}" text-anchor="middle"><title>${escapeHtml(c)}</title>${label}</text>`,
    );
  });
  rows.forEach((r, i) => {
    parts.push(`<text class="row" x="${left - 8}" y="${top + i * ch + ch / 2 + 4}" text-anchor="end"><title>${escapeHtml(r)}</title>${escapeHtml(fit(r, left - 16))}</text>`);
    cols.forEach((c, j) => {
      const cell = cells.get(`${r}\u0000${c}`);
      const x = left + j * cw + 2;
      const y = top + i * ch + 2;
      const cwi = cw - 4;
      const chi = ch - 4;
      if (!cell) {
        parts.push(`<rect class="empty" x="${x}" y="${y}" width="${cwi}" height="${chi}" rx="4"/>`);
        return;
      }
      const mix = [...cell.verdicts].sort((a, b) => (RANK.get(a[0]) ?? 9) - (RANK.get(b[0]) ?? 9));
      const worst = cell.flows === 0 ? 'none' : mix.every(([v]) => v === 'waived') ? 'waived' : cell.worst;
      const ports = [...cell.ports].sort((a, b) => b[1] - a[1]).map(([p]) => p);
      const reqText = [cell.failing ? `${cell.failing} failing` : '', cell.missing ? `${cell.missing} missing` : ''].filter(Boolean).join(', ');
      const tip = `${r} → ${c}: ${plural(cell.flows, 'flow')}${mix.length ? ` (${mix.map(([v, n]) => `${n} ${v}`).join(', ')})` : ''}${ports.length ? `; ${ports.join(', ')}` : ''}${reqText ? `; required flows ${reqText}` : ''}`;
      const g: string[] = [`<g class="cell" data-verdict="${worst}" data-mix="${escapeHtml(mix.map(([v, n]) => `${v}:${n}`).join(' '))}"${reqText ? ` data-required="${escapeHtml(reqText)}"` : ''}><title>${escapeHtml(tip)}</title>`];
      g.push(`<rect x="${x}" y="${y}" width="${cwi}" height="${chi}" rx="4" fill="#fafafa" stroke="${reqText ? '#c62828' : '#ddd'}"${reqText ? ' stroke-width="2" stroke-dasharray="5 3"' : ''}/>`);
      // The verdict bar: one segment per verdict, its width the verdict's share of the cell's flows.
      let bx = x + 6;
      const bw = cwi - 12;
      for (const [v, n] of mix) {
        const sw = Math.max(2, (bw * n) / cell.flows);
        g.push(`<rect class="seg" data-v="${v}" x="${bx.toFixed(1)}" y="${y + 6}" width="${Math.min(sw, x + 6 + bw - bx).toFixed(1)}" height="12" fill="${COLOUR.get(v) ?? '#777'}"/>`);
        bx += sw;
      }
      const portLabel = ports.length ? fit(ports.slice(0, 3).join(' ') + (ports.length > 3 ? ` +${ports.length - 3}` : ''), cwi - 8) : '';
      if (portLabel) g.push(`<text x="${x + cwi / 2}" y="${y + 32}" text-anchor="middle">${escapeHtml(portLabel)}</text>`);
      if (reqText) g.push(`<text class="reqtext" x="${x + cwi / 2}" y="${y + 46}" text-anchor="middle">${escapeHtml(fit(reqText, cwi - 8))}</text>`);
      g.push('</g>');
      parts.push(g.join(''));
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
