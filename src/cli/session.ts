/**
 * A session that reports as it goes (`live` on an interface, `collect` on a listener): a report every
 * --report-every, housekeeping between, and a final report at --duration, on SIGINT or on SIGTERM;
 * --fail-on is read off the final one. Where the reports go (ReportOutput): with --out the file is
 * rewritten atomically at each one; on standard output a format with a tick writer writes every tick
 * (text one report after the other, the screen cleared on a terminal; JSON one report a line, the
 * final one too), the others (csv, html) only the final report.
 */
import { tripsFailOn, type AuditReport, type FailOn } from '../audit/index.js';
import type { LiveWriter } from '../report/formats.js';
import type { ReportOptions } from '../report/options.js';
import { EXIT_FINDINGS } from './analyze.js';
import { EXIT_UNWRITABLE, isStandardOutput, OutputError, STDOUT_LABEL, writeOutput, writeReport, writeText } from './output.js';

export type StoppedBy = 'duration' | 'SIGINT' | 'SIGTERM' | null;

/** What a reporting command runs: its input (a capture, a listener) and the audit of what it has seen. */
export interface ReportingSession {
  /** The audit of everything seen so far; `n` numbers the reports from 1, the final one last. */
  report(n: number, final: boolean, stoppedBy: StoppedBy): AuditReport;
  /** Called every few seconds between reports (old flows fold away, files are flushed). */
  housekeeping(): void;
  /** Stops the input; what it still holds is in the final report. */
  stop(): Promise<void>;
}

export interface SessionSchedule {
  writer: LiveWriter;
  out: string | undefined;
  layout: ReportOptions;
  /** Seconds between reports. */
  reportEvery: number;
  /** Seconds until the final report, or null: until SIGINT or SIGTERM. */
  duration: number | null;
  failOn: FailOn[];
}

/** Runs `session` to its final report; `setExit(1)` when --fail-on matched in it. */
export async function runSession(session: ReportingSession, s: SessionSchedule, setExit: (code: number) => void): Promise<void> {
  const emit = new ReportOutput(s.writer, s.out, s.layout);
  let ticks = 0;
  const tick = setInterval(() => {
    ticks++;
    emit.periodic(session.report(ticks, false, null)).catch((e) => {
      process.stderr.write(`flowaudit: ${(e as Error).message}\n`);
      // A file may be writable again at the next tick (space freed); a standard output that failed
      // (the reader went away, closed, full) will not be, and reports nobody sees are no session.
      if (e instanceof OutputError && e.where === STDOUT_LABEL) process.exit(EXIT_UNWRITABLE);
    });
  }, s.reportEvery * 1000);
  // Housekeeping more often than reports.
  const chores = setInterval(() => session.housekeeping(), Math.min(s.reportEvery, 5) * 1000);
  let timer: NodeJS.Timeout | undefined;
  const onSignal: Record<'SIGINT' | 'SIGTERM', () => void> = { SIGINT: () => {}, SIGTERM: () => {} };
  const stoppedBy = await new Promise<StoppedBy>((resolve) => {
    onSignal.SIGINT = () => resolve('SIGINT');
    onSignal.SIGTERM = () => resolve('SIGTERM');
    process.once('SIGINT', onSignal.SIGINT);
    process.once('SIGTERM', onSignal.SIGTERM);
    if (s.duration !== null) timer = setTimeout(() => resolve('duration'), s.duration * 1000);
  });
  clearTimeout(timer);
  process.removeListener('SIGINT', onSignal.SIGINT);
  process.removeListener('SIGTERM', onSignal.SIGTERM);
  clearInterval(tick);
  clearInterval(chores);
  // A second Ctrl-C while the final report is being made stops at once.
  process.once('SIGINT', () => process.exit(130));
  await session.stop();
  const final = session.report(ticks + 1, true, stoppedBy);
  await emit.final(final);
  if (tripsFailOn(final, s.failOn)) setExit(EXIT_FINDINGS);
  // The input and the timers are closed: nothing keeps the process beyond this point.
}

/** Where the reports go: see the file's comment. */
class ReportOutput {
  constructor(
    private readonly writer: LiveWriter,
    private readonly out: string | undefined,
    private readonly layout: ReportOptions,
  ) {}

  async periodic(report: AuditReport): Promise<void> {
    if (!isStandardOutput(this.out)) return writeReport(this.writer, report, this.out, this.layout);
    const tick = this.writer.tick;
    if (tick === undefined) return;
    await writeOutput(undefined, async (s) => {
      if (tick.clears && process.stdout.isTTY) await writeText(s, '\x1b[2J\x1b[H');
      await tick.write(report, s, this.layout);
    });
  }

  async final(report: AuditReport): Promise<void> {
    const tick = this.writer.tick;
    if (tick?.final && isStandardOutput(this.out)) return writeOutput(undefined, (s) => tick.write(report, s, this.layout));
    return writeReport(this.writer, report, this.out, this.layout);
  }
}
