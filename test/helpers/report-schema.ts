/**
 * The published report contract (schema/*.schema.json) as a check for tests: every JSON report a
 * test makes can be held to it in one line.
 *
 *   const doc = checkReport('analyze', JSON.parse(stdout));   // throws with ajv's errors listed
 *   const problems = reportProblems('flows', doc);            // [] when the report fits
 *
 * The schemas are draft 2020-12 (ajv's Ajv2020, from the ajv the project already depends on): the
 * judged flow extends the flow record with `unevaluatedProperties`, which draft-07 does not have.
 * They are compiled in strict mode, so a typo in a schema (an unknown keyword) fails at once instead
 * of silently admitting everything (all but strictRequired: a `required` in an if/then names
 * properties declared beside it, not in it).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditReport } from '../../src/audit/index.js';
import { auditJson } from '../../src/report/audit.js';

export const schemaDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

/** The report kinds, each with its schema file. */
export const REPORT_SCHEMAS = {
  flows: 'flows-report.schema.json',
  analyze: 'analyze-report.schema.json',
  live: 'live-report.schema.json',
  collect: 'collect-report.schema.json',
  'catalog-list': 'catalog-list.schema.json',
  'catalog-show': 'catalog-show.schema.json',
  firewall: 'firewall-report.schema.json',
} as const;

export type ReportKind = keyof typeof REPORT_SCHEMAS;

type AjvLike = { addSchema(s: object): unknown; getSchema(id: string): ValidateFunction | undefined };
let ajv: AjvLike | undefined;
const validators = new Map<ReportKind, ValidateFunction>();

function validator(kind: ReportKind): ValidateFunction {
  let v = validators.get(kind);
  if (v !== undefined) return v;
  if (ajv === undefined) {
    const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as { Ajv2020: new (o: object) => AjvLike };
    ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
    for (const f of readdirSync(schemaDir).filter((n) => n.endsWith('.schema.json')).sort()) ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, f), 'utf8')) as object);
  }
  v = ajv.getSchema(REPORT_SCHEMAS[kind]);
  if (v === undefined) throw new Error(`no schema ${REPORT_SCHEMAS[kind]} in ${schemaDir}`);
  validators.set(kind, v);
  return v;
}

/** At most this many problems are listed (a broken field of every flow would list thousands). */
const SHOWN = 20;

function shortJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** One ajv error as a line: where, what, and the value found there. */
function problemLine(e: ErrorObject): string {
  const at = e.instancePath === '' ? '(the report)' : e.instancePath;
  const p = e.params as Record<string, unknown>;
  let what = e.message ?? e.keyword;
  if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') what = `has the unexpected property ${JSON.stringify(p.additionalProperty ?? p.unevaluatedProperty)}`;
  else if (e.keyword === 'enum') what = `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  else if (e.keyword === 'const') what = `must be ${JSON.stringify(p.allowedValue)}`;
  else if (e.keyword === 'false schema') what = 'must not be there';
  const found = e.keyword === 'required' || e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties' || e.keyword === 'false schema' ? '' : `, found ${shortJson(e.data)}`;
  return `${at} ${what}${found} (schema ${e.schemaPath})`;
}

/** What is wrong with a report against its kind's schema, one line a problem (at most `shown`); [] when it fits. */
export function reportProblems(kind: ReportKind, doc: unknown, shown = SHOWN): string[] {
  const v = validator(kind);
  if (v(doc)) return [];
  const errors = v.errors ?? [];
  // anyOf and if/then report each branch that failed as well: the lines that say the most come first.
  // A property that broke its part of the schema also makes unevaluatedProperties name every other
  // property of its object (they count as evaluated only where the part held): those lines are noise.
  const broken = errors.filter((e) => e.keyword !== 'unevaluatedProperties' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const inBroken = (e: ErrorObject) => broken.some((b) => b.instancePath === e.instancePath || b.instancePath.startsWith(`${e.instancePath}/`));
  const lines = [...new Set(errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if' && !(e.keyword === 'unevaluatedProperties' && inBroken(e))).map(problemLine))];
  if (lines.length === 0) lines.push(...errors.map(problemLine));
  return lines.length > shown ? [...lines.slice(0, shown), `… and ${lines.length - shown} more`] : lines;
}

/** The report itself when it fits its schema; otherwise throws an error listing the problems. */
export function checkReport<T = any>(kind: ReportKind, doc: T, what = `the ${kind} report`): T {
  const problems = reportProblems(kind, doc);
  if (problems.length > 0) throw new Error(`${what} does not fit schema/${REPORT_SCHEMAS[kind]}:\n  ${problems.join('\n  ')}`);
  return doc;
}

/** An audit made in the test's own process, held to the schema as its JSON (live's when it has `live`); the report itself. */
export function checkAuditReport<R extends AuditReport>(r: R): R {
  checkReport(r.live ? 'live' : r.collect ? 'collect' : 'analyze', JSON.parse(auditJson(r)) as unknown, 'the audit report');
  return r;
}
