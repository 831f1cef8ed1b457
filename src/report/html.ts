import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow } from '../audit/types.js';
import type { Cite } from '../catalog/types.js';
import { boundText } from '../flow/bound.js';
import { escapeHtml } from './escape.js';
import { humanBytes } from './flows.js';
import { endpoint, negotiationsRead, rolesFromNote } from './text.js';
import { writePieces } from './write.js';

export { escapeHtml };

const VERDICT_RANK: Record<string, number> = { expected: 0, background: 1, 'role-mismatch': 2, undocumented: 3 };
const COLOURS: Record<string, string> = { expected: '#2e7d32', background: '#546e7a', 'role-mismatch': '#ef8f00', undocumented: '#c62828', waived: '#9e9e9e' };


/** Who talks to whom, on what: client roles down, server roles across, coloured by the worst verdict. */
function matrix(flows: Iterable<JudgedFlow>): string {
  const roleOf = (roles: string[]) => roles[0] ?? 'unknown';
  // Per cell what the picture needs, summed as the flows go by: no flow is held.
  interface Cell { flows: number; unwaived: number; worst: string; ports: Set<string> }
  const cells = new Map<string, Cell>();
  const rowSet = new Set<string>();
  const colSet = new Set<string>();
  for (const f of flows) {
    const r = roleOf(f.clientRoles);
    const c = roleOf(f.serverRoles);
    rowSet.add(r);
    colSet.add(c);
    const k = `${r}\u0000${c}`;
    let cell = cells.get(k);
    if (!cell) cells.set(k, (cell = { flows: 0, unwaived: 0, worst: 'expected', ports: new Set() }));
    cell.flows++;
    if (!f.waived) {
      cell.unwaived++;
      if (VERDICT_RANK[f.verdict]! > VERDICT_RANK[cell.worst]!) cell.worst = f.verdict;
    }
    cell.ports.add(f.serverPort === null ? f.proto : `${f.proto}/${f.serverPort}`);
  }
  const rows = [...rowSet].sort();
  const cols = [...colSet].sort();
  const cw = 150;
  const ch = 48;
  const left = 170;
  const top = 40;
  const w = left + cols.length * cw + 10;
  const h = top + rows.length * ch + 10;
  const parts: string[] = [];
  parts.push(`<svg id="matrix" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="role to role matrix">`);
  cols.forEach((c, j) => parts.push(`<text class="col" x="${left + j * cw + cw / 2}" y="${top - 12}" text-anchor="middle">${escapeHtml(c)}</text>`));
  rows.forEach((r, i) => {
    parts.push(`<text class="row" x="${left - 8}" y="${top + i * ch + ch / 2 + 4}" text-anchor="end">${escapeHtml(r)}</text>`);
    cols.forEach((c, j) => {
      const cell = cells.get(`${r}\u0000${c}`);
      const x = left + j * cw;
      const y = top + i * ch;
      if (!cell) {
        parts.push(`<rect class="empty" x="${x + 2}" y="${y + 2}" width="${cw - 4}" height="${ch - 4}" rx="4"/>`);
        return;
      }
      const worst = cell.unwaived ? cell.worst : 'waived';
      const ports = [...cell.ports];
      const label = ports.slice(0, 3).join(' ') + (ports.length > 3 ? ` +${ports.length - 3}` : '');
      const tip = `${r} → ${c}: ${cell.flows} flows; ${ports.join(', ')}; worst: ${worst}`;
      parts.push(`<g class="cell" data-verdict="${worst}"><title>${escapeHtml(tip)}</title><rect x="${x + 2}" y="${y + 2}" width="${cw - 4}" height="${ch - 4}" rx="4" fill="${COLOURS[worst]}"/><text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="#fff">${escapeHtml(label)}</text></g>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A sortable table in pieces: rows are made as they are written. */
function* table(id: string, head: Array<[string, boolean]>, rows: Iterable<string[]>): Generator<string> {
  const th = head.map(([h, num], i) => `<th data-col="${i}"${num ? ' data-num="1"' : ''}>${escapeHtml(h)}</th>`).join('');
  yield `<table id="${id}" class="sortable"><thead><tr>${th}</tr></thead><tbody>\n`;
  let first = true;
  for (const r of rows) {
    yield `${first ? '' : '\n'}<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`;
    first = false;
  }
  yield '\n</tbody></table>';
}

const SORT_SCRIPT = `
for (const table of document.querySelectorAll('table.sortable')) {
  for (const th of table.querySelectorAll('th')) {
    th.addEventListener('click', () => {
      const col = Number(th.dataset.col);
      const num = th.dataset.num === '1';
      const dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
      for (const other of table.querySelectorAll('th')) delete other.dataset.dir;
      th.dataset.dir = dir;
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const key = (r) => r.cells[col].textContent.trim();
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        const c = num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y, undefined, { numeric: true });
        return dir === 'asc' ? c : -c;
      });
      for (const r of rows) body.appendChild(r);
    });
  }
}`;

/** One self-contained page: no server, nothing fetched, every capture string escaped. */
// Thousands of findings of one requirement share its citation: its markup is made once.
const citeMarkup = new WeakMap<Cite, string>();
function citeHtml(cite: Cite): string {
  let html = citeMarkup.get(cite);
  if (html === undefined) citeMarkup.set(cite, (html = `<div class="cite">“${escapeHtml(cite.text)}” — ${escapeHtml(cite.section)}</div>`));
  return html;
}

/** A host's roles, marked when they were inferred (a guess the verdict rests on). */
function rolesCell(roles: string[], from: JudgedFlow['clientRolesFrom']): string {
  return `${escapeHtml(roles.join(' '))}${from === 'inferred' ? ' <span class="inferred">(inferred)</span>' : ''}`;
}

/** The flows table's columns: a judged flow's fields (flow/fields.ts, audit/judged-fields.ts) as markup, escaped; numeric ones sort as numbers. */
const FLOW_HTML_COLUMNS: ReadonlyArray<{ head: string; numeric?: boolean; cell: (f: JudgedFlow) => string }> = [
  { head: 'verdict', cell: (f) => `<span class="badge ${escapeHtml(f.waived ? 'waived' : f.verdict)}">${escapeHtml(f.verdict)}</span>` },
  { head: 'proto', cell: (f) => escapeHtml(f.proto) },
  { head: 'client', cell: (f) => escapeHtml(endpoint(f.client, f.clientPort)) },
  { head: 'client roles', cell: (f) => rolesCell(f.clientRoles, f.clientRolesFrom) },
  { head: 'server', cell: (f) => escapeHtml(endpoint(f.server, f.serverPort)) },
  { head: 'server roles', cell: (f) => rolesCell(f.serverRoles, f.serverRolesFrom) },
  { head: 'packets', numeric: true, cell: (f) => String(f.packets) },
  { head: 'bytes', numeric: true, cell: (f) => String(f.bytes) },
  { head: 'outcome', cell: (f) => escapeHtml(f.outcome ?? '') },
  { head: 'rule', cell: (f) => escapeHtml(f.rule ?? '') },
  { head: 'detail', cell: (f) => `${escapeHtml(f.detail)}${f.grant ? `<div class="cite">granted by ${escapeHtml(f.grant.reason)}: ${escapeHtml(f.grant.detail)}</div>` : ''}` },
];

function rolesMeta(r: AuditReport): string {
  if (r.roles.file) return `from ${r.roles.file}`;
  return r.roles.inference ? 'inferred from traffic (no role map)' : 'none: no role map and no inference (--no-infer)';
}

export function auditHtml(r: AuditReport): string {
  return [...auditHtmlPieces(r)].join('');
}

/** The page written to a stream, piece by piece with backpressure. */
export function writeAuditHtml(r: AuditReport, out: Writable): Promise<void> {
  return writePieces(auditHtmlPieces(r), out);
}

function* mapIter<T, U>(items: Iterable<T>, fn: (t: T) => U): Generator<U> {
  for (const t of items) yield fn(t);
}

/** The page in pieces: the flows are read twice (the matrix, then the table), never held. */
export function* auditHtmlPieces(r: AuditReport): Generator<string> {
  const s = r.summary;
  const q = r.capture.quality;
  const reqRows = [...r.requirements]
    .sort((a, b) => ['failing', 'missing', 'inconclusive', 'satisfied'].indexOf(a.status) - ['failing', 'missing', 'inconclusive', 'satisfied'].indexOf(b.status))
    .map((x) => [
      `<span class="badge ${escapeHtml(x.waived ? 'waived' : x.status)}">${escapeHtml(x.waived ? `${x.status} (waived)` : x.status)}</span>`,
      `${escapeHtml(x.rule)}${rolesFromNote(x.rolesFrom) ? ` <span class="inferred">${escapeHtml(rolesFromNote(x.rolesFrom))}</span>` : ''}`,
      escapeHtml(x.from),
      escapeHtml(x.to ?? ''),
      escapeHtml(`${x.proto}/${x.ports.join(',')}`),
      `${escapeHtml(x.detail)}${x.evidence.length ? `<div class="cite">${escapeHtml(x.evidence.slice(0, 3).join('; '))}${x.evidence.length > 3 ? ` (+${x.evidence.length - 3})` : ''}</div>` : ''}${x.cite ? citeHtml(x.cite) : ''}`,
    ]);
  const flowRows = mapIter(r.flows, (f) => FLOW_HTML_COLUMNS.map((c) => c.cell(f)));
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>flowaudit — ${escapeHtml(r.capture.files.map((f) => f.file).join(', '))}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #555; } .counts span { margin-right: 16px; } .loss { color: #b71c1c; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; cursor: pointer; user-select: none; } th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
.badge { color: #fff; border-radius: 3px; padding: 1px 6px; font-size: 12px; white-space: nowrap; }
.expected, .satisfied { background: #2e7d32; } .background { background: #546e7a; } .role-mismatch, .inconclusive { background: #ef8f00; } .undocumented, .missing, .failing { background: #c62828; } .waived { background: #9e9e9e; }
.cite { color: #555; font-style: italic; margin-top: 2px; } .inferred { color: #8a5a00; font-style: italic; white-space: nowrap; }
svg text { font: 12px system-ui, sans-serif; } svg .empty { fill: #f5f5f5; } .legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: -2px; }
@media print { th { background: none; } }
</style></head><body>
<h1>flowaudit analyze</h1>
<div class="meta">${escapeHtml(r.capture.files.map((f) => f.file).join(', '))} · catalogs ${escapeHtml(r.catalogs.map((c) => `${c.id} (${c.name})`).join(', '))} · background ${escapeHtml(r.background ? `${r.background.id} (${r.background.rules} rules)` : 'none (--no-background)')} · roles ${escapeHtml(rolesMeta(r))}${r.roles.site.length ? ` · site prefixes ${escapeHtml(r.roles.site.join(' '))}` : ''}</div>
<h2>Capture quality</h2>
<p>${escapeHtml(`${r.capture.packets} packets, ${humanBytes(r.capture.bytes)}, ${r.capture.first ?? '-'} … ${r.capture.last ?? '-'}`)}</p>
<ul>${[...q.notes, negotiationsRead(q.inspectors) ?? [], r.capture.flowTable ? boundText(r.capture.flowTable) : []].flat().map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
${q.loss ? `<p class="loss">${escapeHtml(q.loss)}</p>` : ''}
<h2>Summary</h2>
<p class="counts"><span>${s.flows} flows</span><span>${s.expected} expected</span><span>${s.background} background</span><span>${s.undocumented} undocumented</span><span>${s.roleMismatch} role mismatch</span></p>
<p class="counts"><span>${s.requirements} required flows</span><span>${s.satisfied} satisfied</span><span>${s.missing} missing</span><span>${s.failing} failing</span><span>${s.inconclusive} inconclusive</span>${s.waived ? `<span>${s.waived} waived</span>` : ''}</p>
<h2>Who talks to whom</h2>
<p class="legend"><span style="background:${COLOURS.expected}"></span>expected<span style="background:${COLOURS.background}"></span>background<span style="background:${COLOURS['role-mismatch']}"></span>role mismatch<span style="background:${COLOURS.undocumented}"></span>undocumented<span style="background:${COLOURS.waived}"></span>waived</p>
${matrix(r.flows)}
<h2>Required flows</h2>
`;
  yield* table('requirements', [['status', false], ['rule', false], ['from', false], ['to', false], ['ports', false], ['detail and vendor words', false]], reqRows);
  yield '\n<h2>Flows</h2>\n';
  yield* table('flows', FLOW_HTML_COLUMNS.map((c) => [c.head, c.numeric ?? false]), flowRows);
  yield `
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
