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

/** "90", "90s", "500ms", "10m", "2h", "1d" → seconds; more than zero unless `zero` allows it. */
export function parseDuration(flag: string, text: string, zero = false): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new InputError(`${flag} ${text}: expected a duration such as 30s, 10m, 2h`);
  const n = Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  if (!(n > 0) && !(zero && n === 0)) throw new InputError(`${flag} ${text}: must be more than zero`);
  return n;
}

export const MIN_SPAN_FLAG = '--min-span <duration>';
export const MIN_SPAN_HELP = 'how long a host must be watched before a required flow without a documented period is reported missing (shorter: inconclusive); 0 turns it off';
export const MIN_SPAN_DEFAULT_TEXT = '10m';

export const SENSOR_FLAG = '--sensor <name=kind:path>';
export const SENSOR_HELP = 'a sensor of the site (repeatable; the same NAME again adds a path): its name, its kind (default --input\'s) and a path of it; several sensors are audited as one site, a conversation two sensors saw counted once';
export const SENSOR_SLACK_FLAG = '--sensor-slack <duration>';
export const SENSOR_SLACK_HELP = 'how far the sensors\' clocks may differ: two sensors\' flows of one conversation overlap within it';
export const SENSOR_SLACK_DEFAULT_TEXT = '2s';
