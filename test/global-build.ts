/**
 * The CLI tests and the shard workers run the compiled `dist/`. So that `npx vitest run test/x.test.ts`
 * after an edit never tests the previous build, the build runs first whenever a file it is made from
 * (src/, tsconfig.json, package.json) is newer than the stamp the build leaves (dist/.built).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}

export default function setup(): void {
  let built = -Infinity;
  try {
    built = statSync(join(root, 'dist/.built')).mtimeMs;
  } catch {
    // never built here
  }
  const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'tsconfig.json')), newest(join(root, 'package.json')));
  if (sources <= built) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed: the tests run dist/ and cannot run on a stale or broken build');
}
