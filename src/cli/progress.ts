import { SingleBar } from 'cli-progress';
import { statSync } from 'node:fs';
import { terminalSafe } from '../report/escape.js';

/**
 * A progress bar on stderr for long reads, only when stderr is a terminal (silent in pipes, CI and
 * tests). Progress is in bytes of the capture files; stdin and gzip advance by what was read.
 */
export function progressFor(paths: string[]): { onProgress?: (file: string, bytes: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { stop: () => {} };
  let total = 0;
  for (const p of paths) {
    try {
      if (p !== '-') total += statSync(p).size;
    } catch {
      // A file that cannot be read is reported by the reader itself.
    }
  }
  if (total < 64 * 1024 * 1024) return { stop: () => {} };
  const bar = new SingleBar({ format: 'reading {bar} {percentage}% | {value}/{total} MB | {file}', stream: process.stderr, hideCursor: true, clearOnComplete: true }, undefined);
  const mb = (b: number) => Math.round(b / 1e6);
  bar.start(mb(total), 0, { file: '' });
  const done = new Map<string, number>();
  return {
    onProgress: (file, bytes) => {
      done.set(file, bytes);
      let sum = 0;
      for (const v of done.values()) sum += v;
      bar.update(Math.min(mb(sum), mb(total)), { file: terminalSafe(file) });
    },
    stop: () => bar.stop(),
  };
}
