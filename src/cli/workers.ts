import { InputError } from '../core/errors.js';

export const WORKERS_FLAG = '--workers <n>';
export const WORKERS_HELP = 'worker threads per large file: a number, or auto (one per core)';

/** `--workers 2` or `--workers auto`. */
export function parseWorkers(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new InputError(`--workers ${text}: expected a number from 1 to 64, or auto`);
  return Number(text);
}
