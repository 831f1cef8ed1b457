import { InputError } from '../core/errors.js';

export const WORKERS_FLAG = '--workers <n>';
export const WORKERS_HELP = 'worker threads per large file: a number, or auto (one per core)';

/** `--workers 2` or `--workers auto`. */
export function parseWorkers(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new InputError(`--workers ${text}: expected a number from 1 to 64, or auto`);
  return Number(text);
}

export const MAX_FLOWS_FLAG = '--max-flows <n>';
export const MAX_FLOWS_HELP = 'most flows held at once (k, M allowed); past it finished and idle flows leave the table, scans are folded per scanner and port, and the report says so';
export const MAX_FLOWS_DEFAULT = '1000000';

/** `--max-flows 50000`, `--max-flows 2M`: from 1000 to 100 million. */
export function parseMaxFlows(text: string): number {
  const m = /^(\d+)([kKmM])?$/.exec(text.trim());
  const n = m ? Number(m[1]) * (m[2] === undefined ? 1 : m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : NaN;
  if (!Number.isInteger(n) || n < 1000 || n > 100_000_000) throw new InputError(`--max-flows ${text}: expected a whole number from 1000 to 100000000 (k and M allowed)`);
  return n;
}
