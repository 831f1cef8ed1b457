/**
 * `analyze --input zeek`: conn.log files (TSV or JSON lines, plain or gzip) and folders of rotated
 * logs (every conn*.log and conn*.log.gz in it, by name) read into one RecordRun, line by line. The
 * dce_rpc logs beside them (every dce_rpc*.log[.gz] in the folder of a conn log or in a folder given)
 * are read first, and their calls go on the connections they were made on (dce-rpc-log.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openSource } from '../../capture/source.js';
import { InputError } from '../../core/errors.js';
import type { RecordFileFacts } from '../../flow/record.js';
import { readLines } from '../lines.js';
import { RecordRun } from '../record-run.js';
import { ConnLogReader } from './conn-log.js';
import { DceRpcCalls, DceRpcLogReader } from './dce-rpc-log.js';
import { fillTunnels } from './tunnel-parents.js';

const ROTATED_CONN_LOG = /^conn.*\.log(\.gz)?$/;
const ROTATED_DCE_RPC_LOG = /^dce_rpc.*\.log(\.gz)?$/;
/** Zeek's services of a tunnel's outer conn (its analyzers' names). */
const TUNNEL_SERVICE = /(^|,)(vxlan|geneve|teredo|ayiya|gtpv1)(,|$)/;

/**
 * The conn logs a list of paths names: files as given, folders as their conn logs. A dce_rpc log
 * given by name (a shell's `logs/*.log`) is no conn log: it is read with the dce_rpc logs beside.
 */
export function connLogFiles(paths: string[]): string[] {
  const out: string[] = [];
  let beside = 0;
  for (const p of paths) {
    if (p === '-') throw new InputError('--input zeek reads files and folders, not standard input');
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      throw new InputError(`${p}: cannot open: no such file`);
    }
    if (!dir) {
      if (ROTATED_DCE_RPC_LOG.test(basename(p))) beside++;
      else out.push(p);
      continue;
    }
    const logs = readdirSync(p).filter((n) => ROTATED_CONN_LOG.test(n)).sort();
    if (logs.length === 0) throw new InputError(`${p}: a folder with no conn*.log or conn*.log.gz in it`);
    out.push(...logs.map((n) => join(p, n)));
  }
  if (out.length === 0 && beside > 0) throw new InputError(`${paths[0]}: a dce_rpc log is read beside a conn log: give the conn log (or its folder)`);
  return out;
}

/** The dce_rpc logs beside the conn logs: in each folder given and in the folder of each file given, once. */
export function dceRpcLogFiles(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) dirs.add(statSync(p).isDirectory() ? p : dirname(p));
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    out.push(...names.filter((n) => ROTATED_DCE_RPC_LOG.test(n)).sort().map((n) => join(d, n)));
  }
  return out;
}

/** One log's lines through a reader; a line too long or a broken stream is counted on the reader's facts. */
async function readLog(file: string, run: RecordRun<RecordFileFacts>, open: (gzip: boolean) => { facts: RecordFileFacts; line(text: string, no: number, offset: number): void }): Promise<RecordFileFacts> {
  const source = await openSource(file);
  const reader = open(source.gzip);
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
  return reader.facts;
}

/** Reads every conn.log into one run, with the calls of the dce_rpc logs beside them; bad lines are counted in the run's damage, never thrown. */
export async function readZeekLogs(paths: string[], opts: { maxFlows?: number } = {}): Promise<RecordRun<RecordFileFacts>> {
  const run = new RecordRun<RecordFileFacts>('zeek conn.log', opts.maxFlows);
  const conns = connLogFiles(paths);
  const calls = new DceRpcCalls(opts.maxFlows);
  const beside: RecordFileFacts[] = [];
  const services = new Map<string, string>();
  for (const file of dceRpcLogFiles(paths)) beside.push(await readLog(file, run, (gzip) => new DceRpcLogReader(file, gzip, run.damage, calls)));
  for (const file of conns) {
    const facts = await readLog(file, run, (gzip) =>
      new ConnLogReader(file, gzip, run.files.length, run.damage, (r, s, ns, service) => {
        if (service !== null && r.uid !== undefined && TUNNEL_SERVICE.test(service)) services.set(r.uid, service);
        const made = calls.take(r, r.uid ?? null, s, ns);
        if (made !== undefined) r.dceRpc = made;
        run.add(r, s, ns);
      }),
    );
    run.files.push(facts);
  }
  calls.finish();
  // Past --max-flows the records are folded per conversation and have no uid left to follow.
  if (!run.isFolding) run.tunnelOuters = fillTunnels(run.records(), services);
  // After the conn logs, so that a record's file index is its conn log's.
  run.files.push(...beside);
  if (beside.length > 0) run.dceRpc = calls.join;
  return run;
}
