/**
 * `analyze --input zeek`: conn.log files (TSV or JSON lines, plain or gzip) and folders of rotated
 * logs (every conn*.log and conn*.log.gz in it, by name) read into one RecordRun, line by line.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openSource } from '../../capture/source.js';
import { InputError } from '../../core/errors.js';
import { readLines } from '../lines.js';
import type { RecordFileFacts } from '../../flow/record.js';
import { RecordRun } from '../record-run.js';
import { ConnLogReader } from './conn-log.js';

const ROTATED_CONN_LOG = /^conn.*\.log(\.gz)?$/;

/** The files a list of paths names: files as given, folders as their conn logs. */
export function connLogFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') throw new InputError('--input zeek reads files and folders, not standard input');
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      throw new InputError(`${p}: cannot open: no such file`);
    }
    if (!dir) {
      out.push(p);
      continue;
    }
    const logs = readdirSync(p).filter((n) => ROTATED_CONN_LOG.test(n)).sort();
    if (logs.length === 0) throw new InputError(`${p}: a folder with no conn*.log or conn*.log.gz in it`);
    out.push(...logs.map((n) => join(p, n)));
  }
  return out;
}

/** Reads every conn.log into one run; bad lines are counted in the run's damage, never thrown. */
export async function readZeekLogs(paths: string[], opts: { maxFlows?: number } = {}): Promise<RecordRun<RecordFileFacts>> {
  const run = new RecordRun<RecordFileFacts>('zeek conn.log', opts.maxFlows);
  for (const file of connLogFiles(paths)) {
    const source = await openSource(file);
    const reader = new ConnLogReader(file, source.gzip, run.files.length, run.damage, (r, s, ns) => run.add(r, s, ns));
    try {
      const read = await readLines(source, {
        line: (text, no, offset) => reader.line(text, no, offset),
        tooLong: (no, offset) => {
          reader.facts.unreadable++;
          run.damage.add('zeek-line-too-long', file, no, offset);
        },
      });
      reader.facts.lines = read.lines;
      if (read.failure) {
        reader.facts.unreadable++;
        run.damage.add(read.failure.reason, file, read.failure.line, read.failure.offset);
      }
    } finally {
      await source.close();
    }
    run.files.push(reader.facts);
  }
  return run;
}
