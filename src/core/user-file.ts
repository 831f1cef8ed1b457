import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { InputError } from './errors.js';

/**
 * The largest catalog, role map or waiver file read: 16 MiB. The YAML library builds about 60 bytes of
 * objects per byte of a large file, so a bigger file would cost gigabytes; a role map of half a
 * million hosts fits.
 */
export const USER_FILE_LIMIT = 16 * 1024 * 1024;

function mib(n: number): string {
  const m = n / (1024 * 1024);
  return `${Number.isInteger(m) ? m : m.toFixed(1)} MiB`;
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'of an unknown kind';
}

function cannotOpen(file: string, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  return new InputError(`${file}: cannot open: ${why}`);
}

/**
 * Reads a text file a user named (a catalog, a role map, a waiver file): a regular file of at most
 * USER_FILE_LIMIT bytes, or an InputError of one line that names the file and says why not. Devices,
 * FIFOs and directories are refused before anything is read (/dev/zero never ends, a FIFO blocks); the
 * limit is checked on the size before reading and again while reading, for a file that grows.
 */
export function readUserFile(file: string, what = 'input file'): string {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw cannotOpen(file, e);
  }
  const refuse = (s: Stats) => new InputError(`${file}: not a regular file (${kindOf(s)}): give the ${what} as a file`);
  if (!st.isFile()) throw refuse(st);
  let fd: number;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not wait for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw cannotOpen(file, e);
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) throw refuse(fst);
    const limit = `the ${mib(USER_FILE_LIMIT)} limit for a ${what}`;
    if (fst.size > USER_FILE_LIMIT) throw new InputError(`${file}: ${fst.size} bytes (${mib(fst.size)}) is over ${limit}`);
    let buf = Buffer.allocUnsafe(Math.min(fst.size + 1, USER_FILE_LIMIT + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length > USER_FILE_LIMIT) throw new InputError(`${file}: grew past ${limit} while it was read`);
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, USER_FILE_LIMIT + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
