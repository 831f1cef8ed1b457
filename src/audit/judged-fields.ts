/**
 * A judged flow's fields beyond its flow's (flow/fields.ts), declared once in the order the JSON lines
 * have them: the judgement's text is written from this list by the judged lists' writer (judged.ts)
 * and the record writer (report/json-lines.ts); `waived` follows, per flow.
 */
import type { Judgement } from './types.js';

export const JUDGED_FIELDS = [
  'clientRoles', 'serverRoles', 'clientRolesFrom', 'serverRolesFrom', 'verdict', 'rule', 'matches', 'cite', 'grant', 'detail',
] as const satisfies ReadonlyArray<keyof Judgement>;

export type JudgedFieldName = (typeof JUDGED_FIELDS)[number];

/** A judgement's fields as JSON text to follow the flow's own (a leading comma, no braces), as JSON.stringify writes them. */
export function judgementText(j: Pick<Judgement, JudgedFieldName>): Buffer {
  const o: Record<string, unknown> = {};
  for (const k of JUDGED_FIELDS) o[k] = j[k];
  return Buffer.from(`,${JSON.stringify(o).slice(1, -1)}`);
}
