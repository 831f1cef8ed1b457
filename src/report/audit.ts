import { format as csvFormat } from 'fast-csv';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow, RequirementFinding } from '../audit/types.js';
import type { Cite } from '../catalog/types.js';
import { boundText } from '../flow/bound.js';
import { FLOW_CSV_FIELDS } from '../flow/fields.js';
import { csvText, terminalSafe } from './escape.js';
import { evidenceLines } from './evidence.js';
import { FOLDED_CSV_COLUMNS, foldedCells, humanBytes, publicFlow, writeJsonWithFlows } from './flows.js';
import { judgedLineChunks } from './json-lines.js';
import { endpoint, flowRolesNote, negotiationsRead, rolesFromNote, wrap } from './text.js';
import { endLines, writePieces } from './write.js';

/** The JSON contract; `indent` 0 puts the whole report on one line (JSON Lines, for live streams). */
export function auditJson(r: AuditReport, indent = 2): string {
  return JSON.stringify({ ...r, flows: r.flows.map((f) => publicFlow(f)) }, null, indent || undefined) + '\n';
}


/**
 * The same document as auditJson, written in pieces with one flow a line, so that hundreds of
 * thousands of judged flows never become one giant string.
 */
export function writeAuditJson(r: AuditReport, out: Writable): Promise<void> {
  return writeJsonWithFlows(r, r.flows.jsonChunks(judgedLineChunks), out);
}

// A firewall that eats one required flow fails it for every agent: tens of thousands of findings that
// share a few causes and one citation. Their wrapped lines are made once each.
const causeText = new Map<string, string[]>();
function causeLines(cause: string): string[] {
  let lines = causeText.get(cause);
  if (!lines) causeText.set(cause, (lines = wrap(`likely cause: ${cause}`, 100, '      ')));
  return lines;
}
const citeText = new WeakMap<Cite, string[]>();
function citeLines(cite: Cite): string[] {
  let lines = citeText.get(cite);
  if (!lines) citeText.set(cite, (lines = wrap(`vendor: “${cite.text}” (${cite.section})`, 100, '      ')));
  return lines;
}

/** What most often makes a required flow missing or failing, from the TCP evidence. */
function likelyCause(r: RequirementFinding): string {
  const f = r.followUp;
  if (f && (r.status === 'failing' || r.status === 'missing')) {
    if (f.refused) return `the server refused the lookup (${f.refused}): the service is stopped or not installed there`;
    if (f.unanswered) return r.evidence.some((e) => e.endsWith(' (rejected)')) ? 'the negotiation port itself refused the call (reset): nothing could be granted' : 'the negotiation port itself never answered: a firewall drops it or the service is down, so nothing could be granted';
    if (r.status === 'failing' && f.kind === 'tftp-transfer') return 'no answer from a new server port: a firewall that opens only UDP 69 drops the transfer, or the server ignored the request';
    if (r.status === 'missing') return 'the requester never used the granted port: it may have fallen back to another transport (named pipes over SMB), or a firewall before the capture point blocks it';
  }
  if (r.status === 'failing') {
    // Evidence labels end in the flow's outcome: reading them is enough (scanning every flow of the
    // capture for each failing finding was quadratic when a firewall fails thousands of agents).
    if (r.evidence.some((e) => e.endsWith(' (rejected)'))) return 'the connection was refused (reset): nothing listens on the port, or a host firewall rejects it';
    return 'the SYN was never answered: a firewall drops it, or the host is down';
  }
  if (r.status === 'missing') return 'never attempted: the feature is not configured, or traffic is blocked before it reaches the capture point';
  return '';
}

function formatElapsed(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${s.toFixed(1)} s`;
}

/** What a live capture says of itself: drops first and loudly, then what it keeps. */
function liveLines(l: NonNullable<AuditReport['live']>): string[] {
  const out: string[] = [];
  const lost = l.droppedByInterface + (l.notDelivered ?? 0);
  if (lost > 0) {
    out.push(`  !!! DROPS: ${lost} packets lost while capturing (${l.droppedByInterface} by the interface, ${l.notDelivered ?? 'unknown'} not delivered to the capture): this report cannot prove absence`);
  }
  const c = l.interfaceCounters;
  out.push(`  captured ${l.captured} packets (${humanBytes(l.capturedBytes)}) on ${terminalSafe(l.interface)}${l.cut ? `, ${l.cut} cut to the snaplen ${l.snaplen}` : ''}; ` +
    (c ? `the interface counted ${c.rxPackets} in, ${c.txPackets} out, ${l.droppedByInterface} dropped` : 'the interface has no counters here') +
    (l.notDelivered === null ? (c ? ' (with a BPF filter, undelivered packets cannot be told from filtered ones)' : '') : `, ${l.notDelivered} not delivered`));
  const t = l.flowTable;
  out.push(`  flow table: ${t.active} active (limit ${t.limit}); ${t.expired} flows ended and ${t.evicted} evicted at the limit, folded into ${t.foldedRecords} conversation records${t.foldedOverflow ? ` (${t.foldedOverflow} flows counted only: the fold store is full)` : ''}`);
  if (l.write) out.push(`  writing the packets to ${terminalSafe(l.write)}`);
  return out;
}

function rolesLine(r: AuditReport): string {
  const given = Object.entries(r.roles.given);
  const inferred = Object.entries(r.roles.inferred);
  const how = r.roles.file
    ? `given by ${r.roles.file} (${given.map(([k, v]) => `${k} ${v.length}`).join(', ')})`
    : r.roles.inference
      ? 'no role map: flows are judged by port'
      : 'no role map and no inference (--no-infer): flows are judged by port and address class';
  const site = r.roles.site.length ? `; site prefixes ${r.roles.site.join(' ')}` : '';
  return `roles: ${how}${inferred.length ? `; inferred from traffic: ${inferred.map(([k, v]) => `${k} ${v.join(' ')}`).join('; ')}` : ''}${site}`;
}

const withNote = (line: string, note: string) => (note ? `${line}  ${note}` : line);

/** The terminal report, read top-down: counts, what is broken, what is unexplained, what is misplaced. */
export function auditText(r: AuditReport): string {
  return [...auditTextPieces(r)].join('');
}

/** The terminal report written to a stream, piece by piece with backpressure. */
export function writeAuditText(r: AuditReport, out: Writable): Promise<void> {
  return writePieces(auditTextPieces(r), out);
}

/** The terminal report as text pieces, each flow's lines made when they are written. */
export function* auditTextPieces(r: AuditReport): Generator<string> {
  const s = r.summary;
  const q = r.capture.quality;
  const live = r.live;
  if (live) {
    const when = live.final ? `final report${live.stoppedBy ? ` (${live.stoppedBy})` : ''}` : `report ${live.report}`;
    yield* endLines([`flowaudit live — ${terminalSafe(live.interface)}${live.bpf ? ` (bpf: ${terminalSafe(live.bpf)})` : ''}, ${when} at ${live.at}, ${formatElapsed(live.elapsedSeconds)} since ${live.started}`]);
  } else yield* endLines([`flowaudit analyze — ${r.capture.files.map((f) => terminalSafe(f.file)).join(', ')}`]);
  yield* endLines([`catalogs: ${r.catalogs.map((c) => `${c.id} (${c.name}, ${c.rules} rules)`).join('; ')}`]);
  yield* endLines([rolesLine(r)]);
  yield* endLines(['']);
  yield* endLines(['Capture quality']);
  yield* endLines([`  ${r.capture.packets} packets, ${humanBytes(r.capture.bytes)}, ${r.capture.first ?? '-'} … ${r.capture.last ?? '-'}`]);
  if (live) yield* endLines(liveLines(live));
  if (r.capture.flowTable) yield* endLines(boundText(r.capture.flowTable).map((l) => `  ${l}`));
  for (const n of q.notes) yield* endLines([`  ${n}`]);
  const read = negotiationsRead(q.inspectors);
  if (read) yield* endLines([`  ${read}`]);
  if (q.loss) yield* endLines([`  ! ${q.loss}`]);
  yield* endLines(['']);
  yield* endLines([`Flows: ${s.flows} — ${s.expected} expected, ${s.undocumented} undocumented, ${s.roleMismatch} role mismatch${s.waived ? `; ${s.waived} findings waived` : ''}`]);
  yield* endLines([`Required flows: ${s.requirements} — ${s.satisfied} satisfied, ${s.missing} missing, ${s.failing} failing, ${s.inconclusive} inconclusive`]);

  const files = r.capture.files.map((f) => f.file);
  const broken = r.requirements.filter((x) => (x.status === 'missing' || x.status === 'failing') && !x.waived);
  if (broken.length) {
    yield* endLines(['', 'MISSING AND FAILING REQUIRED FLOWS']);
    for (const x of [...broken].sort((a, b) => (a.status === b.status ? 0 : a.status === 'failing' ? -1 : 1))) {
      yield* endLines([withNote(`  ${x.status.toUpperCase()}  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}  ${x.proto}/${x.ports.join(',')}`, rolesFromNote(x.rolesFrom))]);
      yield* endLines(wrap(terminalSafe(x.detail), 100, '      '));
      yield* endLines(evidenceLines(x, files, '      '));
      const cause = likelyCause(x);
      if (cause) yield* endLines(causeLines(cause));
      if (x.cite) yield* endLines(citeLines(x.cite));
    }
  }
  if (r.flows.anyWithVerdict('undocumented', false)) {
    yield* endLines(['', 'UNDOCUMENTED SERVICES (grouped by port)']);
    const groups = new Map<string, { flows: number; bytes: number; servers: Set<string>; clients: Set<string>; granted: Set<string> }>();
    for (const f of r.flows.eachWithVerdict('undocumented', false)) {
      const k = f.serverPort === null ? `${f.proto}${f.icmpType !== undefined ? ` type ${f.icmpType}` : ''}` : `${f.proto}/${f.serverPort}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { flows: 0, bytes: 0, servers: new Set(), clients: new Set(), granted: new Set() }));
      if (f.grant) g.granted.add(f.grant.reason);
      g.flows++;
      g.bytes += f.bytes;
      g.servers.add(f.server);
      g.clients.add(f.client);
    }
    for (const [k, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes)) {
      const servers = [...g.servers];
      const clients = [...g.clients];
      yield* endLines([`  ${k.padEnd(14)} ${g.flows} flows, ${humanBytes(g.bytes)}; servers ${servers.slice(0, 4).join(' ')}${servers.length > 4 ? ` (+${servers.length - 4})` : ''}; clients ${clients.slice(0, 4).join(' ')}${clients.length > 4 ? ` (+${clients.length - 4})` : ''}${g.granted.size ? `; granted by ${[...g.granted].join(', ')}` : ''}`]);
    }
  }
  if (r.flows.anyWithVerdict('role-mismatch', false)) {
    yield* endLines(['', 'ROLE MISMATCHES (documented port, wrong roles or direction)']);
    for (const f of r.flows.eachWithVerdict('role-mismatch', false)) {
      yield* endLines([withNote(`  ${f.proto} ${endpoint(f.client, f.clientPort)} → ${endpoint(f.server, f.serverPort)}  ${f.rule}`, flowRolesNote(f))]);
      yield* endLines(wrap(terminalSafe(f.detail), 100, '      '));
    }
  }
  const inconclusive = r.requirements.filter((x) => x.status === 'inconclusive' && !x.waived);
  if (inconclusive.length) {
    yield* endLines(['', 'INCONCLUSIVE']);
    for (const x of inconclusive) {
      yield* endLines([withNote(`  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}`, rolesFromNote(x.rolesFrom))]);
      yield* endLines(wrap(terminalSafe(x.detail), 100, '      '));
    }
  }
  yield* waivedLines(r);
  for (const w of r.waivers.expired) yield* endLines([`  ! expired waiver (line ${w.line}, ${w.rule ?? w.port}, expired ${w.expires}): ${w.reason}`]);
  const satisfied = r.requirements.filter((x) => x.status === 'satisfied');
  if (satisfied.length) {
    yield* endLines(['', 'SATISFIED']);
    for (const x of satisfied) yield* endLines([withNote(`  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}${x.followUp?.frame != null ? `  (${x.followUp.reason} answer, frame ${x.followUp.frame})` : ''}`, rolesFromNote(x.rolesFrom))]);
  }
}

/**
 * The waived findings, one line per finding kind (verdict or status, rule or port) and waiver, with
 * the count and the first host pairs: what was accepted stays in the report, and why.
 */
function* waivedLines(r: AuditReport): Generator<string> {
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
  if (groups.size === 0) return;
  const n = [...groups.values()].reduce((t, g) => t + g.n, 0);
  yield* endLines(['', `WAIVED (${n} finding${n === 1 ? '' : 's'})`]);
  for (const g of groups.values()) {
    yield* endLines([`  ${g.what}: ${g.n} (${g.pairs.join(', ')}${g.n > g.pairs.length ? ', …' : ''})`]);
    yield* endLines(wrap(`waived: ${g.why}`, 100, '      '));
  }
}

/** The judged flows CSV's own cells; the flow's fields take theirs from flow/fields.ts. */
const JUDGED_CSV: Record<string, (f: JudgedFlow) => string | number> = {
  verdict: (f) => f.verdict,
  rule: (f) => f.rule ?? '',
  clientRoles: (f) => f.clientRoles.join(' '),
  serverRoles: (f) => f.serverRoles.join(' '),
  clientRolesFrom: (f) => f.clientRolesFrom,
  serverRolesFrom: (f) => f.serverRolesFrom,
  grant: (f) => (f.grant ? csvText(`${f.grant.reason} ${f.grant.detail}`) : ''),
  waived: (f) => csvText(f.waived?.reason ?? ''),
  detail: (f) => csvText(f.detail),
  cite: (f) => csvText(f.cite?.text ?? ''),
};
const FLOW_CSV = new Map<string, (f: JudgedFlow) => string | number>(FLOW_CSV_FIELDS.map((c) => [c.name, c.csv!]));
const FLOW_COLUMNS = ['verdict', 'rule', 'proto', 'client', 'clientPort', 'server', 'serverPort', 'clientRoles', 'serverRoles', 'clientRolesFrom', 'serverRolesFrom', 'packets', 'bytes', 'outcome', 'start', 'end', 'grant', 'waived', 'detail', 'cite'];
const FLOW_CELLS = FLOW_COLUMNS.map((c) => JUDGED_CSV[c] ?? FLOW_CSV.get(c)!);
const REQ_COLUMNS = ['rule', 'status', 'from', 'to', 'proto', 'ports', 'rolesFrom', 'detail', 'waived', 'cite', 'negotiation'];

/** Rows through fast-csv, one at a time with backpressure: a row is made when it is written. */
async function csvRows(columns: string[], rows: Iterable<Record<string, unknown>>, out: Writable): Promise<void> {
  const stream = csvFormat({ headers: columns });
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    out.on('error', reject);
    stream.on('end', () => resolve());
  });
  stream.pipe(out, { end: false });
  for (const row of rows) if (!stream.write(row)) await once(stream, 'drain');
  stream.end();
  await ended;
}

function* mapIter<T, U>(items: Iterable<T>, fn: (t: T) => U): Generator<U> {
  for (const t of items) yield fn(t);
}

/** The judged flows as CSV; with records folded past --max-flows, the `flows` and `targets` columns too. */
export function writeAuditFlowsCsv(r: AuditReport, out: Writable): Promise<void> {
  const folded = r.capture.flowTable !== undefined;
  return csvRows(
    folded ? [...FLOW_COLUMNS, ...FOLDED_CSV_COLUMNS] : FLOW_COLUMNS,
    mapIter(r.flows, (f) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < FLOW_COLUMNS.length; i++) row[FLOW_COLUMNS[i]!] = FLOW_CELLS[i]!(f);
      return folded ? { ...row, ...foldedCells(f) } : row;
    }),
    out,
  );
}

export function writeAuditRequirementsCsv(r: AuditReport, out: Writable): Promise<void> {
  return csvRows(
    REQ_COLUMNS,
    r.requirements.map((x) => ({ rule: x.rule, status: x.status, from: x.from, to: x.to ?? '', proto: x.proto, ports: x.ports.join(' '), rolesFrom: x.rolesFrom ?? '', detail: csvText(x.detail), waived: csvText(x.waived?.reason ?? ''), cite: csvText(x.cite?.text ?? ''), negotiation: x.followUp?.frame != null ? csvText(`${x.followUp.reason} ${x.followUp.file}#${x.followUp.frame}`) : '' })),
    out,
  );
}
