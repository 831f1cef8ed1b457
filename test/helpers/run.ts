/**
 * A child process run to its end without blocking the test's event loop: what spawnSync returns
 * (status, signal, stdout, stderr, error), as a promise. A test worker whose loop is blocked for a
 * minute loses vitest's RPC (`Timeout calling "onTaskUpdate"`), and the run fails though every test
 * passed; long commands (the CLI on a capture, tshark, generators) go through this instead.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunOptions {
  input?: string | Uint8Array;
  /** Milliseconds before the child is killed (SIGTERM), as spawnSync's `timeout`. */
  timeout?: number;
  /** Bytes of stdout or stderr before the child is killed, as spawnSync's `maxBuffer`; default 1 GiB. */
  maxBuffer?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult<T> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: T;
  stderr: T;
  error?: Error;
}

export function run(command: string, args: string[], opts: RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
export function run(command: string, args: string[], opts?: RunOptions & { encoding?: 'utf8' }): Promise<RunResult<string>>;
export function run(command: string, args: string[], opts: RunOptions & { encoding?: 'utf8' | 'buffer' } = {}): Promise<RunResult<string | Buffer>> {
  const max = opts.maxBuffer ?? 1 << 30;
  return new Promise((resolve) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) };
    const child = spawn(command, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let error: Error | undefined;
    const take = (into: Buffer[]) => (b: Buffer) => {
      size += b.length;
      if (size > max) {
        error ??= new Error(`${command}: output over ${max} bytes`);
        child.kill('SIGTERM');
        return;
      }
      into.push(b);
    };
    child.stdout!.on('data', take(out));
    child.stderr!.on('data', take(err));
    const timer = opts.timeout ? setTimeout(() => {
      error ??= new Error(`${command}: timed out after ${opts.timeout} ms`);
      child.kill('SIGTERM');
    }, opts.timeout) : null;
    child.on('error', (e) => {
      error ??= e;
    });
    // The child may exit before reading its input (an early error): that is its answer, not ours.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? undefined);
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      const as = (bs: Buffer[]) => (opts.encoding === 'buffer' ? Buffer.concat(bs) : Buffer.concat(bs).toString('utf8'));
      resolve({ status, signal, stdout: as(out), stderr: as(err), ...(error ? { error } : {}) });
    });
  });
}

/** The built CLI (dist/, which the global setup builds before any test runs). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `flowaudit ARGS…` run to its end (2 min, 256 MiB of output at most unless opts say otherwise): its exit code and output as text. */
export async function flowaudit(args: string[], opts: RunOptions & { nodeArgs?: string[] } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { nodeArgs = [], ...rest } = opts;
  const r = await run(process.execPath, [...nodeArgs, CLI, ...args], { timeout: 120_000, maxBuffer: 1 << 28, ...rest, encoding: 'buffer' });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
