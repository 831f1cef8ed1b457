/**
 * `flowaudit analyze … --explain RULE|HOST`: one rule (or requirement) of the catalogs and everything
 * of the capture that bears on it — the flows it explains or that fit it, the grants behind them, the
 * findings it made — or every flow, grant and finding of one host; each flow with its verdict, its
 * frames and its tshark filter, so a person can go from the claim to the packets.
 */
import type { Writable } from 'node:stream';
import type { AuditReport } from '../audit/index.js';
import type { JudgedFlow, RequirementFinding } from '../audit/types.js';
import { InputError } from '../core/errors.js';
import { displayPorts, type Catalog, type Cite } from '../catalog/types.js';
import { bpfFilter, displayFilter } from '../flow/filter.js';
import { terminalSafe } from './escape.js';
import { evidenceLines, framesText, recordFiles } from './evidence.js';
import { endpoint, wrap } from './text.js';
import { endLines, writePieces } from './write.js';

function citeLines(cite: Cite, indent: string): string[] {
  return wrap(`vendor: “${cite.text}” (${cite.document}, ${cite.section})`, 100, indent);
}

function flowLines(f: JudgedFlow, files: readonly string[], records: ReadonlySet<number> = new Set()): string[] {
  const how = f.outcome ?? `${f.packets} packets`;
  const bpf = bpfFilter(f);
  return [
    `  ${f.verdict.toUpperCase()}  ${f.proto} ${endpoint(f.client, f.clientPort)} → ${endpoint(f.server, f.serverPort)}  ${how}, ${f.packets} packets, ${f.start ?? 'no time'}  ${framesText(f, files, records)}${f.rule ? `  ${f.rule}` : ''}${f.waived ? '  (waived)' : ''}`,
    ...wrap(terminalSafe(f.detail), 100, '      '),
    ...(f.grant ? [`      granted by ${f.grant.reason} at ${f.grant.at}: ${terminalSafe(f.grant.detail)}`] : []),
    ...(f.sensors ? [`      seen by ${f.sensors.map(terminalSafe).join(', ')}`] : []),
    `      tshark -Y '${displayFilter(f)}'${bpf ? `   bpf: ${bpf}` : ''}`,
  ];
}

function findingLines(x: RequirementFinding, files: readonly string[], records: ReadonlySet<number> = new Set()): string[] {
  return [
    `  ${x.status.toUpperCase()}  ${x.rule}  ${x.from}${x.to ? ` → ${x.to}` : ''}  ${x.proto}/${x.ports.join(',')}${x.waived ? '  (waived)' : ''}`,
    ...wrap(terminalSafe(x.detail), 100, '      '),
    ...evidenceLines(x, files, '      ', records),
  ];
}

/** The explain view as text pieces; an InputError when `target` is no rule, requirement or host of the report. */
export function* explainPieces(r: AuditReport, catalogs: readonly Catalog[], target: string): Generator<string> {
  const files = r.capture.files.map((f) => f.file);
  const records = recordFiles(r.capture.files);
  const key = (c: { catalog: string; id: string }) => `${c.catalog}:${c.id}`;
  const named = (c: { catalog: string; id: string }) => key(c) === target || c.id === target;
  const rules = catalogs.flatMap((c) => c.rules).filter(named);
  const requirements = catalogs.flatMap((c) => c.requirements).filter(named);
  const uniq = <T extends { catalog: string; id: string }>(xs: T[]) => [...new Map(xs.map((x) => [key(x), x])).values()];
  if (rules.length + requirements.length > 0) {
    for (const rule of uniq(rules)) {
      const k = key(rule);
      yield* endLines([
        `RULE ${k}: ${rule.service || rule.id}`,
        `  ${rule.from.join('|')} → ${rule.to.join('|')} (${rule.direction}), ${rule.transport.join('/')} ${displayPorts(rule).join(',') || (rule.icmp ? `type ${rule.icmp.type}` : '-')}${rule.params.length ? ` (from ${rule.params.join(', ')})` : ''}; ${rule.required}${rule.configurable ? ', configurable' : ''}`,
        ...citeLines(rule.cite, '  '),
        ...(rule.note ? wrap(`note: ${rule.note}`, 100, '  ') : []),
      ]);
      const flows = r.flows.filter((f) => f.rule === k || f.matches.includes(k));
      yield* endLines(['', `Flows it explains or fits: ${flows.length}`]);
      for (const f of flows) yield* endLines(flowLines(f, files, records));
      const findings = r.requirements.filter((x) => x.rule === k || x.followUp?.documentedBy === k);
      if (findings.length) {
        yield* endLines(['', `Findings it documents: ${findings.length}`]);
        for (const x of findings) yield* endLines(findingLines(x, files, records));
      }
      yield* endLines(['']);
    }
    for (const req of uniq(requirements)) {
      const k = key(req);
      yield* endLines([`REQUIREMENT ${k}: ${terminalSafe(req.description)}`, ...(req.cite ? citeLines(req.cite, '  ') : [])]);
      const findings = r.requirements.filter((x) => x.rule === k);
      yield* endLines(['', `Findings: ${findings.length}`]);
      for (const x of findings) yield* endLines(findingLines(x, files, records));
      yield* endLines(['']);
    }
    return;
  }
  const flows = r.flows.filter((f) => f.client === target || f.server === target);
  const grants = r.grants.filter((g) => g.host === target || g.peer === target);
  const findings = r.requirements.filter((x) => x.from === target || x.to === target);
  if (flows.length + grants.length + findings.length === 0) {
    throw new InputError(`--explain ${target}: no rule or requirement of the catalogs (give catalog:id or id) and no host of the capture`);
  }
  yield* endLines([`HOST ${target}`, '', `Flows: ${flows.length}`]);
  for (const f of flows) yield* endLines(flowLines(f, files, records));
  if (grants.length) {
    yield* endLines(['', `Grants: ${grants.length}`]);
    for (const g of grants) yield* endLines([`  ${g.reason} ${g.kind}: ${g.transport}/${g.port ?? 'any'} on ${g.host} for ${g.peer} at ${g.at}, ${terminalSafe(g.file)}#${g.frame}`, ...wrap(terminalSafe(g.detail), 100, '      ')]);
  }
  if (findings.length) {
    yield* endLines(['', `Findings: ${findings.length}`]);
    for (const x of findings) yield* endLines(findingLines(x, files, records));
  }
}

/** Writes the explain view; the target is checked before anything is written. */
export async function writeExplain(r: AuditReport, catalogs: readonly Catalog[], target: string, out: Writable): Promise<void> {
  const pieces = explainPieces(r, catalogs, target);
  const first = pieces.next();
  await writePieces((function* () {
    if (!first.done) yield first.value;
    yield* pieces;
  })(), out);
}
