import type { AuditReport } from '../../audit/index.js';
import { DEFAULT_REPORT_OPTIONS, ReportOptions } from '../options.js';

/** What the text report's sections are laid out by: the report options' width and rows per section. */
export type TextView = ReportOptions;

export const DEFAULT_VIEW: TextView = DEFAULT_REPORT_OPTIONS;

/** A section of the text report: its lines (without newlines), the first one blank when it follows others. */
export type TextSection = (r: AuditReport, view: TextView) => Iterable<string>;
