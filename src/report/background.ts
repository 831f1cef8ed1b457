import type { AuditReport } from '../audit/index.js';
import { terminalSafe } from './escape.js';

/** The text header's word on the background catalog: which one, or that it is off. */
export function backgroundHeader(r: AuditReport): string {
  const b = r.background;
  return b ? `background: ${b.id} (${b.rules} rules${b.id === 'background' ? '' : `, ${terminalSafe(b.file)}`})` : 'no background catalog (--no-background)';
}

