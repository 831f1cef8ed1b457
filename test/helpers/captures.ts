/**
 * Where the tests find what the repository does not hold: the shared folder of real captures (see its
 * MANIFEST.md) and tshark, the reference for differential tests. Under CI=true a missing one is a broken
 * setup and fails the run; elsewhere the tests that need it are skipped with a warning that says why.
 *
 *   describe.skipIf(skipWithoutCaptures('pcapng conformance'))('…', () => { … listCaptures('pcapng-test-suite') … });
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const CAPTURE_EXTENSIONS = ['.pcap', '.pcapng', '.cap'] as const;

function underCi(): boolean {
  return process.env.CI === 'true';
}

/** The folder the tests look in: FLOWAUDIT_CAPTURES (relative to the repository root) or ../shared/captures. */
export function capturesLocation(): string {
  const configured = process.env.FLOWAUDIT_CAPTURES;
  if (configured === undefined || configured === '') return resolve(repositoryRoot, '..', 'shared', 'captures');
  return isAbsolute(configured) ? configured : resolve(repositoryRoot, configured);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The shared captures folder, or null when it is not there. */
export function capturesDir(): string | null {
  const dir = capturesLocation();
  return isDirectory(dir) ? dir : null;
}

function capturesMissing(): string {
  return `captures folder ${capturesLocation()} not found (set FLOWAUDIT_CAPTURES to the folder that holds MANIFEST.md)`;
}

/** The shared captures folder; throws when it is missing. */
export function requireCaptures(): string {
  const dir = capturesDir();
  if (dir === null) throw new Error(capturesMissing());
  return dir;
}

const warned = new Set<string>();

/**
 * The CI rule for one prerequisite: false when present; when absent, throws under CI=true and
 * otherwise warns (once per test group) and returns true, for `describe.skipIf` / `it.skipIf`.
 */
function skipWhenMissing(present: boolean, what: string, missing: () => string): boolean {
  if (present) return false;
  if (underCi()) throw new Error(`${what}: ${missing()}; CI=true requires it`);
  const message = `${what} skipped: ${missing()}`;
  if (!warned.has(message)) {
    warned.add(message);
    console.warn(`[flowaudit tests] ${message}`);
  }
  return true;
}

/** True when tests that read the shared captures must be skipped; throws instead under CI=true. */
export function skipWithoutCaptures(what: string): boolean {
  return skipWhenMissing(capturesDir() !== null, what, capturesMissing);
}

let tsharkChecked: boolean | undefined;

/** Whether `tshark -v` runs. */
export function tsharkAvailable(): boolean {
  if (tsharkChecked === undefined) {
    const run = spawnSync('tshark', ['-v'], { stdio: 'ignore', timeout: 30_000 });
    tsharkChecked = run.error === undefined && run.status === 0;
  }
  return tsharkChecked;
}

/** True when tests that compare with tshark must be skipped; throws instead under CI=true. */
export function skipWithoutTshark(what: string): boolean {
  return skipWhenMissing(tsharkAvailable(), what, () => 'tshark not found on PATH (install the tshark package)');
}

/**
 * Capture files under `subdir` of the captures folder, recursively, sorted, as absolute paths. Empty
 * when the whole folder is missing (the skip helpers have decided what that means); throws when the
 * folder is there but `subdir` is not, which is a mistake in the test.
 */
export function listCaptures(subdir = '', extensions: readonly string[] = CAPTURE_EXTENSIONS): string[] {
  const root = capturesDir();
  if (root === null) return [];
  const start = join(root, subdir);
  if (!isDirectory(start)) throw new Error(`${start}: no such folder in the captures folder`);
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (extensions.some((ext) => entry.name.endsWith(ext))) found.push(path);
    }
  };
  walk(start);
  return found.sort();
}

export interface TsharkFields {
  /** One row per frame, one string per requested field ('' when the frame lacks it). */
  rows: string[][];
  /** tshark's exit status: non-zero for damaged files, whose rows up to the damage are still given. */
  status: number;
  stderr: string;
}

/** `tshark -r file -T fields -e …` with tab-separated fields; `args` go before the field list. */
export function tsharkFields(file: string, fields: readonly string[], args: readonly string[] = []): Promise<TsharkFields> {
  const argv = ['-r', file, ...args, '-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f])];
  return new Promise((resolvePromise, reject) => {
    execFile('tshark', argv, { maxBuffer: 1 << 30, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      const status = error === null ? 0 : (error.code as number);
      const rows = stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n').map((line) => line.split('\t'));
      resolvePromise({ rows, status, stderr });
    });
  });
}

let chromiumChecked: boolean | undefined;

/** Debian's headless Chromium, for the tests that look at the HTML report as a person would. */
export const CHROMIUM_PATH = process.env.FLOWAUDIT_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  if (chromiumChecked === undefined) {
    const run = spawnSync(CHROMIUM_PATH, ['--version'], { stdio: 'ignore', timeout: 30_000 });
    chromiumChecked = run.error === undefined && run.status === 0;
  }
  return chromiumChecked;
}

/** True when browser tests must be skipped; throws instead under CI=true. */
export function skipWithoutChromium(what: string): boolean {
  return skipWhenMissing(chromiumAvailable(), what, () => `${CHROMIUM_PATH} not found (install Debian's chromium package)`);
}

let netnsChecked: boolean | undefined;

/** Root, `ip netns` and the libpcap binding: what the live-capture tests need to make and sniff a veth pair. */
export function netnsAvailable(): boolean {
  if (netnsChecked === undefined) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const ip = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore', timeout: 30_000 });
    const cap = spawnSync(process.execPath, ['-e', "require('cap')"], { cwd: repositoryRoot, stdio: 'ignore', timeout: 30_000 });
    netnsChecked = root && ip.error === undefined && ip.status === 0 && cap.status === 0;
  }
  return netnsChecked;
}

/** True when live-capture tests must be skipped; throws instead under CI=true. */
export function skipWithoutNetns(what: string): boolean {
  return skipWhenMissing(netnsAvailable(), what, () => 'live capture tests need root, iproute2 (ip netns) and the built cap binding (libpcap-dev, then npm rebuild cap)');
}

let tcpdumpChecked: boolean | undefined;

/** Whether `tcpdump --version` runs (the reference for what a damaged gzip stream still holds). */
export function tcpdumpAvailable(): boolean {
  if (tcpdumpChecked === undefined) {
    const run = spawnSync('tcpdump', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    tcpdumpChecked = run.error === undefined && run.status === 0;
  }
  return tcpdumpChecked;
}

/** True when tests that compare with tcpdump must be skipped; throws instead under CI=true. */
export function skipWithoutTcpdump(what: string): boolean {
  return skipWhenMissing(tcpdumpAvailable(), what, () => 'tcpdump not found on PATH (install the tcpdump package)');
}

/** Whether `command -h` starts (nfcapd, nfdump, softflowd: their exit codes for -h differ). */
function commandStarts(command: string): boolean {
  const run = spawnSync(command, ['-h'], { stdio: 'ignore', timeout: 30_000 });
  return run.error === undefined;
}

/** True when tests that need every one of `commands` on PATH must be skipped; throws instead under CI=true. The last argument says what needs them. */
export function skipWithoutCommand(...args: string[]): boolean {
  const what = args.at(-1)!;
  const missing = args.slice(0, -1).filter((c) => !commandStarts(c));
  return skipWhenMissing(missing.length === 0, what, () => `${missing.join(', ')} not found on PATH (install Debian's package for it)`);
}
