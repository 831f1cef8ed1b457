import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow, RequirementFinding } from '../audit/types.js';
import type { Cite } from '../catalog/types.js';
import { boundText } from '../flow/bound.js';
import { escapeHtml } from './escape.js';
import { humanBytes } from './flows.js';
import { endpoint, negotiationsRead, rolesFromNote, tunnelText } from './text.js';
import { matrixLegend, matrixSvg } from './html-matrix.js';
import { sensorLines, siteLine } from './sensors.js';
import { writePieces } from './write.js';

export { escapeHtml };

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
  { head: 'proto', cell: (f) => `${escapeHtml(f.proto)}${f.tunnel ? `<div class="cite">${escapeHtml(tunnelText(f))}</div>` : ''}` },
  { head: 'client', cell: (f) => escapeHtml(endpoint(f.client, f.clientPort)) },
  { head: 'client roles', cell: (f) => rolesCell(f.clientRoles, f.clientRolesFrom) },
  { head: 'server', cell: (f) => escapeHtml(endpoint(f.server, f.serverPort)) },
  { head: 'server roles', cell: (f) => rolesCell(f.serverRoles, f.serverRolesFrom) },
  { head: 'packets', numeric: true, cell: (f) => String(f.packets) },
  { head: 'bytes', numeric: true, cell: (f) => String(f.bytes) },
  { head: 'outcome', cell: (f) => escapeHtml(f.outcome ?? '') },
  { head: 'rule', cell: (f) => escapeHtml(f.rule ?? '') },
  { head: 'detail', cell: (f) => `${escapeHtml(f.detail)}${f.grant ? `<div class="cite">granted by ${escapeHtml(f.grant.reason)}: ${escapeHtml(f.grant.detail)}</div>` : ''}${rpcCallsCite(f)}` },
];

/** A flow's DCE/RPC calls (Zeek's dce_rpc.log) under its detail, where the detail does not name them already. */
function rpcCallsCite(f: JudgedFlow): string {
  if (f.dceRpc === undefined || f.detail.includes('DCE/RPC calls on this connection')) return '';
  return `<div class="cite">DCE/RPC calls (dce_rpc.log): ${escapeHtml(f.dceRpc.map((c) => `${c.endpoint} ${c.operation}${c.calls > 1 ? ` ×${c.calls}` : ''}`).join(', '))}</div>`;
}

function rolesMeta(r: AuditReport): string {
  if (r.roles.file) return `from ${r.roles.file}`;
  return r.roles.inference ? 'inferred from traffic (no role map)' : 'none: no role map and no inference (--no-infer)';
}

/** The capture files: the first three, the rest folded (a noisy site can pass a hundred). */
function filesHtml(files: string[]): string {
  const shown = escapeHtml(files.slice(0, 3).join(', '));
  if (files.length <= 3) return shown;
  return `${shown} <details><summary>and ${files.length - 3} more files</summary>${escapeHtml(files.slice(3).join(', '))}</details>`;
}

const STATUS_ORDER = ['failing', 'missing', 'inconclusive', 'satisfied'];

/**
 * The required flows grouped by status and rule, one collapsible group each (open when missing or
 * failing): the description and the vendor's words once, then the host pairs as a table.
 */
function* requirementGroups(requirements: readonly RequirementFinding[]): Generator<string> {
  const groups = new Map<string, RequirementFinding[]>();
  for (const x of requirements) {
    const k = `${x.waived ? 'waived' : x.status}\u0000${x.rule}`;
    const list = groups.get(k);
    if (list) list.push(x);
    else groups.set(k, [x]);
  }
  const rank = (k: string) => {
    const i = STATUS_ORDER.indexOf(k.split('\u0000')[0]!);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  let n = 0;
  for (const [k, list] of [...groups].sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]))) {
    const first = list[0]!;
    const status = k.split('\u0000')[0]!;
    const open = status === 'failing' || status === 'missing' ? ' open' : '';
    const hosts = new Set(list.flatMap((x) => (x.to ? [x.from, x.to] : [x.from])));
    yield `<details class="req-group" data-status="${escapeHtml(status)}"${open}><summary><span class="badge ${escapeHtml(status)}">${escapeHtml(status)}</span> ${escapeHtml(first.rule)} — ${list.length} finding${list.length === 1 ? '' : 's'}, ${hosts.size} host${hosts.size === 1 ? '' : 's'}, ${escapeHtml(`${first.proto}/${first.ports.join(',')}`)}${rolesFromNote(first.rolesFrom) ? ` <span class="inferred">${escapeHtml(rolesFromNote(first.rolesFrom))}</span>` : ''}</summary>\n`;
    yield `<p>${escapeHtml(first.description)}</p>${first.cite ? citeHtml(first.cite) : ''}${first.waived ? `<div class="cite">waived: ${escapeHtml(first.waived.reason)}</div>` : ''}\n`;
    yield* table(`req-${n++}`, [['from', false], ['to', false], ['detail', false], ['evidence', false]], list.map((x) => [
      escapeHtml(x.from),
      escapeHtml(x.to ?? ''),
      escapeHtml(x.detail),
      escapeHtml(x.evidence.slice(0, 3).join('; ') + (x.evidence.length > 3 ? ` (+${x.evidence.length - 3})` : '')),
    ]));
    yield '\n</details>\n';
  }
}

/** The flows folded per verdict, rule (or port, for undocumented ones) and role pair, with counts: what was proven, and what not. */
function* flowGroupRows(flows: Iterable<JudgedFlow>): Generator<string[]> {
  const groups = new Map<string, { verdict: string; what: string; cr: string; sr: string; flows: number; bytes: number; clients: Set<string>; servers: Set<string> }>();
  for (const f of flows) {
    const verdict = f.waived ? 'waived' : f.verdict;
    const what = f.rule ?? (f.serverPort === null ? f.proto : `${f.proto}/${f.serverPort}`);
    const cr = f.clientRoles[0] ?? 'unknown';
    const sr = f.serverRoles[0] ?? 'unknown';
    const k = `${verdict}\u0000${what}\u0000${cr}\u0000${sr}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { verdict, what, cr, sr, flows: 0, bytes: 0, clients: new Set(), servers: new Set() }));
    g.flows++;
    g.bytes += f.bytes;
    g.clients.add(f.client);
    g.servers.add(f.server);
  }
  for (const g of [...groups.values()].sort((a, b) => b.flows - a.flows)) {
    yield [`<span class="badge ${escapeHtml(g.verdict)}">${escapeHtml(g.verdict)}</span>`, escapeHtml(g.what), escapeHtml(g.cr), escapeHtml(g.sr), String(g.flows), String(g.bytes), String(g.clients.size), String(g.servers.size)];
  }
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
  const flowRows = mapIter(r.flows, (f) => FLOW_HTML_COLUMNS.map((c) => c.cell(f)));
  const files = r.capture.files.map((f) => f.file);
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>flowaudit — ${escapeHtml(files[0] ?? '')}${files.length > 1 ? ` (+${files.length - 1})` : ''}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #555; } .counts span { margin-right: 16px; } .loss { color: #b71c1c; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
details { margin: 4px 0; } summary { cursor: pointer; padding: 3px 0; } details > table, details > .cite, details > p { margin-left: 18px; width: calc(100% - 18px); }
.meta details { display: inline; } #matrix { max-width: 100%; height: auto; } svg .axis { fill: #555; font-style: italic; } svg .reqtext { fill: #c62828; font-weight: 600; }
.legend .req { background: none; border: 2px dashed #c62828; width: 10px; height: 10px; }
th { background: #f3f3f3; cursor: pointer; user-select: none; } th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
.badge { color: #fff; border-radius: 3px; padding: 1px 6px; font-size: 12px; white-space: nowrap; }
.expected, .satisfied { background: #2e7d32; } .background { background: #5c7c99; } .role-mismatch, .inconclusive { background: #ef8f00; } .undocumented, .missing, .failing { background: #c62828; } .waived { background: #9e9e9e; }
.cite { color: #555; font-style: italic; margin-top: 2px; } .inferred { color: #8a5a00; font-style: italic; white-space: nowrap; }
svg text { font: 12px system-ui, sans-serif; } svg .empty { fill: #f5f5f5; } .legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: -2px; }
@media print { th { background: none; } }
</style></head><body>
<h1>flowaudit ${r.live ? 'live' : r.collect ? 'collect' : 'analyze'}</h1>
<div class="meta">${filesHtml(files)} · catalogs ${escapeHtml(r.catalogs.map((c) => `${c.id} (${c.name})`).join(', '))} · background ${escapeHtml(r.background ? `${r.background.id} (${r.background.rules} rules)` : 'none (--no-background)')} · roles ${escapeHtml(rolesMeta(r))}${r.roles.site.length ? ` · site prefixes ${escapeHtml(r.roles.site.join(' '))}` : ''}</div>
<h2>Capture quality</h2>
<p>${escapeHtml(r.capture.sensors ? siteLine(r.capture.sensors, r.capture.packets, r.capture.bytes, r.capture.first, r.capture.last) : `${r.capture.packets} packets, ${humanBytes(r.capture.bytes)}${r.capture.files.some((f) => 'records' in f) ? ' (as the flow records count them)' : ''}, ${r.capture.first ?? '-'} … ${r.capture.last ?? '-'}`)}</p>
${r.capture.sensors ? `<ul>${r.capture.sensors.map((x) => sensorLines(x)).map((x) => `<li>${escapeHtml(x.line)}${x.under.length ? `<ul>${x.under.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}</li>`).join('')}</ul>
` : ''}<ul>${[...q.notes, negotiationsRead(q.inspectors) ?? [], r.capture.flowTable ? boundText(r.capture.flowTable) : []].flat().map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
${q.loss ? `<p class="loss">${escapeHtml(q.loss)}</p>` : ''}
<h2>Summary</h2>
<p class="counts"><span>${s.flows} flows</span><span>${s.expected} expected</span><span>${s.background} background</span><span>${s.undocumented} undocumented</span><span>${s.roleMismatch} role mismatch</span></p>
<p class="counts"><span>${s.requirements} required flows</span><span>${s.satisfied} satisfied</span><span>${s.missing} missing</span><span>${s.failing} failing</span><span>${s.inconclusive} inconclusive</span>${s.waived ? `<span>${s.waived} waived</span>` : ''}</p>
<h2>Who talks to whom</h2>
<p class="meta">Rows are client roles (who connects), columns server roles (who listens); a cell's bar is the mix of its flows' verdicts.</p>
${matrixLegend()}
${matrixSvg(r.flows, r.requirements)}
<h2>Required flows</h2>
`;
  yield* requirementGroups(r.requirements);
  yield '\n<h2>Flows</h2>\n';
  yield* table('flow-groups', [['verdict', false], ['rule or port', false], ['client role', false], ['server role', false], ['flows', true], ['bytes', true], ['clients', true], ['servers', true]], flowGroupRows(r.flows));
  yield `\n<details id="all-flows"><summary>every flow (${r.flows.length})</summary>\n`;
  yield* table('flows', FLOW_HTML_COLUMNS.map((c) => [c.head, c.numeric ?? false]), flowRows);
  yield '\n</details>';
  yield `
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
