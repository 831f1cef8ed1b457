/**
 * Every report byte for byte: the samples in every format, every capture of the shared corpus, and a
 * bench capture give the reports pinned in test/golden/reports.json (a digest of each report, its
 * requirements table and its stderr, with the exit code). A change that is meant to change no output
 * (a restructuring) must pass it unchanged. Every JSON report of the run must also fit its published
 * schema (schema/): the cases that do not are listed with their problems. And every run, on every
 * capture of the corpus (fuzz-found crashers among them), ends as any run must: exit 0 or 2 with a
 * one-line reason, no stack trace, within 30 s, every decoded IP packet in a flow.
 *
 * A change that is meant to change reports updates the pins in the same commit, and the commit says why:
 *   FLOWAUDIT_GOLDEN=update npx vitest run test/golden.test.ts
 * To see what changed, keep the reports of both builds and compare them:
 *   npx tsx test/support/golden-run.ts ../shared/captures /tmp/scratch /tmp/after    (and /tmp/before
 *   from a worktree of the previous commit), then diff -r /tmp/before /tmp/after
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';

const run = promisify(execFile);
const pinsFile = join(repositoryRoot, 'test/golden/reports.json');

describe.skipIf(skipWithoutCaptures('golden reports'))('reports are byte-identical to the pinned ones', () => {
  it('on the samples, the shared corpus and a bench capture', { timeout: 300_000 }, async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'flowaudit-golden-'));
    // A child process: the runs are synchronous work for seconds at a time, which must not block this
    // worker's event loop (vitest's RPC to its workers times out on that).
    const { stdout, stderr, code } = await run(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'test/support/golden-run.ts'), capturesDir()!, scratch], {
      cwd: repositoryRoot,
      maxBuffer: 64 << 20,
    })
      .then((r) => ({ ...r, code: 0 }))
      // golden-run.ts exits 1 when a JSON report does not fit its schema, naming each on stderr.
      .catch((e: { stdout?: string; stderr?: string; code?: number }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? -1 }))
      .finally(() => rmSync(scratch, { recursive: true, force: true }));
    const misfits = stderr.split('\n').filter((l) => l.startsWith('schema: '));
    expect(misfits, 'JSON reports that do not fit their schema (schema/), a line a problem').toEqual([]);
    const failed = stderr.split('\n').filter((l) => l.startsWith('check: '));
    expect(failed, 'runs that ended badly (an exit code other than 0 or 2, a stack trace, over 30 s, packets unaccounted for)').toEqual([]);
    expect(code, `golden-run.ts failed: ${stderr}`).toBe(0);
    const actual = JSON.parse(stdout) as Record<string, string>;
    if (process.env.FLOWAUDIT_GOLDEN === 'update') {
      writeFileSync(pinsFile, JSON.stringify(actual, null, 1) + '\n');
      return;
    }
    const pinned = JSON.parse(readFileSync(pinsFile, 'utf8')) as Record<string, string>;
    const changed = Object.keys({ ...pinned, ...actual })
      .filter((k) => pinned[k] !== actual[k])
      .map((k) => `${k}: pinned ${pinned[k] ?? '(none)'}, now ${actual[k] ?? '(none)'}`);
    expect(changed, `${changed.length} of ${Object.keys(pinned).length} reports differ`).toEqual([]);
    expect(Object.keys(actual).length).toBeGreaterThan(900);
  });
});
