/**
 * How a report is laid out for its reader, from the command line (cli/report-options.ts) to every
 * writer: the width the text must fit and how many rows a section lists. Writers that have no use
 * for one (JSON, CSV) ignore it.
 */
export interface ReportOptions {
  /** Columns: no line of the text report is longer. */
  width: number;
  /** Rows (host pairs, groups) a section lists before "… and N more"; null lists them all (--all). */
  limit: number | null;
}

export const DEFAULT_WIDTH = 100;
/** A screenful per section. */
export const DEFAULT_LIMIT = 20;

export const DEFAULT_REPORT_OPTIONS: ReportOptions = { width: DEFAULT_WIDTH, limit: DEFAULT_LIMIT };
