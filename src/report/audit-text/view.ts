/**
 * How the text report is laid out for its reader: the width it must fit and how many rows a section
 * shows. The command line makes one (cli/report-options.ts); a report written without one (a test, a
 * library caller) gets DEFAULT_VIEW.
 */
export interface TextView {
  /** Columns: no line is longer, except a table's rows that say so. */
  width: number;
  /** Rows a section lists before "… and N more"; null lists them all (--all). */
  limit: number | null;
}

export const DEFAULT_WIDTH = 100;
/** A screenful per section. */
export const DEFAULT_LIMIT = 20;

export const DEFAULT_VIEW: TextView = { width: DEFAULT_WIDTH, limit: DEFAULT_LIMIT };

/** A section of the text report: its lines (without newlines), the first one blank when it follows others. */
export type TextSection = (r: import('../../audit/index.js').AuditReport, view: TextView) => Iterable<string>;
