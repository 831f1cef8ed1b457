import type { Command } from 'commander';
import { InputError } from '../core/errors.js';
import { isStandardOutput } from './output.js';
import { DEFAULT_LIMIT, DEFAULT_WIDTH, type ReportOptions } from '../report/options.js';

/*
 * The options of the report's layout (--limit, --all) on `analyze` and `live`, and the width the text
 * follows: the terminal's when standard output is one, else $COLUMNS, else 100.
 */

export interface ReportCliOptions {
  limit?: string;
  all?: boolean;
}

/** Adds --limit and --all to a command. */
export function addReportOptions(cmd: Command): Command {
  return cmd
    .option('--limit <n>', `text: rows (host pairs, groups) each section lists before "… and N more" (default ${DEFAULT_LIMIT})`)
    .option('--all', 'text: list every row of every section');
}

/** The width of a text report: the terminal's (a report to a terminal), else $COLUMNS, else 100. */
export function reportWidth(toTerminal: boolean): number {
  if (toTerminal && process.stdout.isTTY && process.stdout.columns > 0) return process.stdout.columns;
  const cols = Number(process.env.COLUMNS);
  return Number.isInteger(cols) && cols > 0 ? cols : DEFAULT_WIDTH;
}

/** --limit and --all as report options; `out` is --out (a file is not the terminal). */
export function reportOptions(opts: ReportCliOptions & { out?: string }): ReportOptions {
  const toTerminal = isStandardOutput(opts.out);
  if (opts.all) return { width: reportWidth(toTerminal), limit: null };
  if (opts.limit === undefined) return { width: reportWidth(toTerminal), limit: DEFAULT_LIMIT };
  const n = Number(opts.limit);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--limit ${opts.limit}: expected a whole number of rows, 1 or more (or --all)`);
  return { width: reportWidth(toTerminal), limit: n };
}
