import { closeSync, constants, createWriteStream, fsync, fsyncSync, open, openSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, Stats } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { Writer } from '../report/formats.js';
import type { ReportOptions } from '../report/options.js';

/*
 * Where every report and table goes: standard output, a device or FIFO (written directly), or a file,
 * which is written to a temporary file beside it, flushed to disk and renamed over the target only
 * when complete. A failure, a signal or a crash leaves the target as it was (an older report stays),
 * and two runs writing the same file never mix: the last rename wins, whole. Report writers only see
 * a Writable; this module owns opening, backpressure failures, flushing, committing and cleaning up.
 */

/** A report could not be written: exit code 2, one line naming the path and the reason. */
export class OutputError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`cannot write report ${where}: ${reason}`);
    this.name = 'OutputError';
  }
}

export const STDOUT_LABEL = 'to standard output';

/** The exit code when a report could not be written: the same 2 as for unusable input. */
export const EXIT_UNWRITABLE = 2;

/** An errno as a reader-facing reason. */
function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'no such directory';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    case 'EISDIR': return 'is a directory';
    case 'EROFS': return 'read-only file system';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EFBIG': return 'file too large';
    case 'EIO': return 'input/output error';
    case 'ENXIO': return 'no such device or address';
    case 'EPIPE': return 'the reader closed the pipe';
    case 'EBADF': return 'standard output is closed';
    case 'ERR_STREAM_DESTROYED': return 'the output was closed';
    case 'EXDEV': return 'the temporary file and the target are on different file systems';
    default: return err.code !== undefined ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '')}` : err.message;
  }
}

const openFd = promisify(open);
const fsyncFd = promisify(fsync);

/**
 * No path, `-`, or a name of this process's own standard output: standard output. /dev/stdout opened
 * by name fails where it is a socket (ENXIO) and would truncate a file the shell opened for appending.
 */
export const isStandardOutput = (path: string | undefined): path is undefined | '-' | '/dev/stdout' =>
  path === undefined || path === '-' || path === '/dev/stdout' || path === '/dev/fd/1' || path === '/proc/self/fd/1';

/**
 * Node reopens a closed standard output on /dev/null (read-write, where a shell's `>/dev/null` is
 * write-only) so that its own writes do not land in some other file: a report written there would be
 * lost without a word. Linux only (it reads /proc); elsewhere a closed stdout is not detected.
 */
function stdoutIsClosed(): boolean {
  try {
    if (readlinkSync('/proc/self/fd/1') !== '/dev/null') return false;
    const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/1', 'utf8'));
    return flags !== null && (parseInt(flags[1]!, 8) & 3) === constants.O_RDWR;
  } catch {
    return false;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new OutputError(path, reasonOf(e));
  }
}

/**
 * Refuses, before anything is read, an output that cannot work or would destroy an input: a target
 * that is an input file (by real path or by device and inode, so symlinks and hard links count), a
 * directory, a missing or read-only directory, a closed standard output. Inputs that do not exist (a
 * bundled catalog id, `-`) are skipped.
 */
export function checkOutputs(paths: Array<string | undefined>, inputs: Array<string | undefined>): void {
  const known = inputs.flatMap((p) => {
    if (p === undefined || p === '-') return [];
    try {
      const st = statSync(p);
      return st.isFile() ? [{ path: p, real: realpathSync(p), dev: st.dev, ino: st.ino }] : [];
    } catch {
      return [];
    }
  });
  for (const path of paths) {
    if (isStandardOutput(path)) {
      if (stdoutIsClosed()) throw new OutputError(STDOUT_LABEL, 'standard output is closed');
      continue;
    }
    const st = statOrNull(path);
    if (st?.isDirectory()) throw new OutputError(path, 'is a directory');
    if (st !== null && !st.isFile()) continue; // a device or FIFO: written directly
    if (st !== null) {
      const real = realpathSync(path);
      const input = known.find((k) => k.real === real || (k.dev === st.dev && k.ino === st.ino));
      if (input) throw new OutputError(path, `it is the input ${input.path}; refusing to overwrite it`);
    }
    const dir = dirname(resolve(path));
    const dirStat = statOrNull(dir);
    if (dirStat === null) throw new OutputError(path, 'no such directory');
    if (!dirStat.isDirectory()) throw new OutputError(path, 'a part of the path is not a directory');
  }
}

/** Temporary files not yet committed, removed on failure, on a signal and at exit. */
const pending = new Set<string>();

/** Removes every uncommitted temporary file (synchronously: it runs from signal and exit handlers). */
export function removeTemporaryFiles(): void {
  for (const p of pending) rmSync(p, { force: true });
  pending.clear();
}
process.on('exit', removeTemporaryFiles);

/** Rejects when the stream fails, so a writer waiting for 'drain' on a dead stream does not hang. */
function failureOf(out: Writable): { failed: Promise<never>; dispose(): void } {
  let onError: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onError = reject;
    out.on('error', onError);
    if (out.errored) reject(out.errored);
  });
  failed.catch(() => {});
  return { failed, dispose: () => out.removeListener('error', onError) };
}

/** True while a report is being written to standard output: its failures are that report's. */
let stdoutInUse = false;
/** The first failure of standard output: it fails once ('error' is emitted once), later reports must know. */
let stdoutBroken: Error | null = null;
/** Set by guardStandardOutput: a failure outside any report ends the process. */
let exitOnStrayFailure = false;

process.stdout.on('error', (e) => {
  const stray = !stdoutInUse && stdoutBroken === null;
  stdoutBroken ??= e;
  if (!stray || !exitOnStrayFailure) return;
  removeTemporaryFiles();
  process.stderr.write(`flowaudit: ${new OutputError(STDOUT_LABEL, reasonOf(e)).message}\n`);
  process.exit(EXIT_UNWRITABLE);
});

/**
 * Standard output as a report writer sees it. process.stdout on a file writes synchronously and can
 * throw from write() (EFBIG, ENOSPC), which inside a pipe from another stream would escape as an
 * uncaught exception; here every failure arrives as this stream's 'error', and 'finish' means all of
 * it was taken by the file, pipe or terminal.
 */
class StandardOutput extends Writable {
  constructor() {
    super({ highWaterMark: 1 << 16 });
    const onError = (e: Error) => this.destroy(e);
    process.stdout.on('error', onError);
    this.once('close', () => process.stdout.removeListener('error', onError));
    // An earlier report already found standard output broken: it emits no second 'error'.
    const broken = stdoutBroken ?? (process.stdout.destroyed ? Object.assign(new Error('standard output is closed'), { code: 'EBADF' }) : null);
    if (broken) process.nextTick(onError, broken);
  }

  private readonly failed = (e?: Error | null) => {
    if (!e) return;
    stdoutBroken ??= e;
    this.destroy(e);
  };

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.forward(chunk, done);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (e?: Error | null) => void): void {
    this.forward(Buffer.concat(chunks.map((c) => c.chunk)), done);
  }

  /** 'finish' waits until process.stdout has written everything before (its callbacks run in order). */
  override _final(done: (e?: Error | null) => void): void {
    try {
      process.stdout.write('', (e) => done(e ?? null));
    } catch (e) {
      done(e as Error);
    }
  }

  /** Passes data on with process.stdout's own backpressure; its failures reach us as 'error' (above). */
  private forward(data: Buffer, done: (e?: Error | null) => void): void {
    try {
      if (process.stdout.write(data, this.failed)) done();
      else process.stdout.once('drain', () => done());
    } catch (e) {
      done(e as Error);
    }
  }
}

/** One output being written: standard output, a device written directly, or a temporary file beside its target. */
class OpenOutput {
  private constructor(
    readonly where: string,
    readonly out: Writable,
    /** The file descriptor of a file or device (standard output is not ours to close). */
    private fd: number | null,
    /** The temporary file and the real path it is renamed to, for a regular file. */
    private readonly tmp: string | null,
    private readonly target: string | null,
  ) {}

  static async open(path: string | undefined): Promise<OpenOutput> {
    if (isStandardOutput(path)) {
      if (stdoutIsClosed()) throw new OutputError(STDOUT_LABEL, 'standard output is closed');
      return new OpenOutput(STDOUT_LABEL, new StandardOutput(), null, null, null);
    }
    try {
      const st = statOrNull(path);
      if (st?.isDirectory()) throw new OutputError(path, 'is a directory');
      if (st !== null && !st.isFile()) {
        // /dev/null, /dev/stdout, a FIFO: there is nothing to rename onto, so write in place.
        const fd = await openFd(path, 'w');
        return new OpenOutput(path, createWriteStream('', { fd, autoClose: false }), fd, null, null);
      }
      // Through a symlink the file it points to is replaced, and the symlink stays.
      const target = st !== null ? realpathSync(path) : join(realpathSync(dirname(resolve(path))), basename(path));
      const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      pending.add(tmp);
      const fd = await openFd(tmp, 'wx', st !== null ? st.mode & 0o777 : 0o666);
      return new OpenOutput(path, createWriteStream('', { fd, autoClose: false }), fd, tmp, target);
    } catch (e) {
      if (e instanceof OutputError) throw e;
      // ENOENT from creating a file in a directory that exists: /proc, a directory deleted meanwhile.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && statOrNull(dirname(resolve(path)))?.isDirectory()) throw new OutputError(path, 'cannot create a file in that directory');
      throw new OutputError(path, reasonOf(e));
    }
  }

  /** Runs the writer; any failure of the stream ends it with an OutputError (the writer's own bugs pass as they are). */
  async write(writer: (out: Writable) => Promise<void>): Promise<void> {
    const { failed, dispose } = failureOf(this.out);
    const toStdout = this.out instanceof StandardOutput;
    if (toStdout) stdoutInUse = true;
    try {
      await Promise.race([writer(this.out), failed]);
      this.out.end();
      await Promise.race([once(this.out, 'finish'), failed]);
      if (this.fd !== null) {
        // A full disk or a failing device may only tell at fsync (NFS, quotas): the rename waits for it.
        if (this.tmp !== null) await fsyncFd(this.fd);
        // The stream owns the descriptor and closes it (destroy() would close it again if we did).
        const closed = once(this.out, 'close');
        this.out.destroy();
        await Promise.race([closed, failed]);
        this.fd = null;
      }
    } catch (e) {
      if (this.out.errored === e || (e as NodeJS.ErrnoException).syscall !== undefined) throw new OutputError(this.where, reasonOf(e));
      throw e;
    } finally {
      if (toStdout) stdoutInUse = false;
      dispose();
    }
  }

  /** Renames the complete temporary file over the target. */
  async commit(): Promise<void> {
    if (this.tmp === null || this.target === null) return;
    try {
      await rename(this.tmp, this.target);
      pending.delete(this.tmp);
      syncDirectory(dirname(this.target));
    } catch (e) {
      throw new OutputError(this.where, reasonOf(e));
    }
  }

  async abort(): Promise<void> {
    // Destroying a file stream also closes its descriptor.
    const closed = this.fd !== null && !this.out.closed ? once(this.out, 'close').catch(() => {}) : null;
    this.out.destroy();
    await closed;
    this.fd = null;
    if (this.tmp !== null) {
      await rm(this.tmp, { force: true }).catch(() => {});
      pending.delete(this.tmp);
    }
  }
}

/** Makes the rename itself durable; a file system that cannot sync a directory is left as it is. */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the data itself is already on disk.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export interface OutputPart {
  /** A file, `-` or undefined for standard output. */
  path: string | undefined;
  write: (out: Writable) => Promise<void>;
}

/**
 * Writes outputs that belong together (csv's flows and requirements tables): each completely to its
 * temporary file, then all are renamed, so a failure in any leaves every target as it was.
 */
export async function writeOutputs(parts: OutputPart[]): Promise<void> {
  const opened: OpenOutput[] = [];
  try {
    for (const part of parts) {
      const o = await OpenOutput.open(part.path);
      opened.push(o);
      await o.write(part.write);
    }
    for (const o of opened) await o.commit();
  } catch (e) {
    for (const o of opened) await o.abort();
    throw e;
  }
}

/** The files a report goes to: the target alone, or with --out FILE and a writer that splits, FILE and the files beside it. */
function reportParts<R>(writer: Writer<R>, target: string | undefined): Array<{ path: string | undefined; write: (r: R, out: Writable, opts?: ReportOptions) => Promise<void> }> {
  if (writer.split === undefined || isStandardOutput(target)) return [{ path: target, write: writer.write }];
  return [{ path: target, write: writer.split.main }, ...writer.split.beside.map((b) => ({ path: b.path(target), write: b.write }))];
}

/** Every path a report in this format writes to, for checkOutputs before anything is read. */
export function reportPaths<R>(writer: Writer<R>, target: string | undefined): Array<string | undefined> {
  return reportParts(writer, target).map((p) => p.path);
}

/** A report through its format's writer (src/report/formats.ts) to standard output or a file, its files written together. */
export function writeReport<R>(writer: Writer<R>, report: R, target: string | undefined, opts?: ReportOptions): Promise<void> {
  return writeOutputs(reportParts(writer, target).map((p) => ({ path: p.path, write: (out: Writable) => p.write(report, out, opts) })));
}

/** Writes one output: `writeOutput(opts.out, async (out) => writeFlowsCsv(…, out))`. */
export function writeOutput(path: string | undefined, write: (out: Writable) => Promise<void>): Promise<void> {
  return writeOutputs([{ path, write }]);
}

/** A whole text into a stream, waiting for it to drain. */
export async function writeText(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/**
 * `flows` and `analyze` stop at SIGINT or SIGTERM: uncommitted temporary files are removed (an older
 * report at the target stays), one line says so, and the exit code is 128 + the signal's number.
 */
export function stopOnSignals(): void {
  const stop = (signal: 'SIGINT' | 'SIGTERM', code: number) => () => {
    removeTemporaryFiles();
    process.stderr.write(`flowaudit: stopped by ${signal}; no report written\n`);
    process.exit(code);
  };
  process.once('SIGINT', stop('SIGINT', 130));
  process.once('SIGTERM', stop('SIGTERM', 143));
}

/**
 * Standard output failing outside a report (a reader that went away, a full disk): one line and exit
 * 2, never an unhandled 'error' event. A report being written handles its own errors first.
 */
export function guardStandardOutput(): void {
  exitOnStrayFailure = true;
}
