/**
 * Where reports go: a report is written whole or not at all, a write error is one line and exit 2,
 * an input is never overwritten, a signal leaves nothing half-written at the target.
 */
import { execFileSync, spawn, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, createReadStream, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePcap } from '../src/capture/writer.js';
import { frame } from '../src/synth/frames.js';
import { checkOutputs, OutputError, writeOutput, writeOutputs, writeText } from '../src/cli/output.js';
import { formatNames } from '../src/report/formats.js';
import { scratch } from './helpers/scratch.js';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const s = scratch('fa-outputs-');
// The smallest catalog and its sample: most of a run here is Node starting and loading the catalog.
const CAPTURE = join(s.dir, 'site.pcapng');
copyFileSync(join(root, 'samples/cam-site.pcapng'), CAPTURE);
const ROLES = s.write('roles.yaml', readFileSync(join(root, 'samples/cam-roles.yaml')));
const CATALOG = s.write('catalog.yaml', readFileSync(join(root, 'rules/cam.yaml')));
const WAIVERS = s.write('waivers.yaml', 'waivers:\n  - port: tcp/3389\n    hosts: [10.10.0.10]\n    reason: admin RDP\n    expires: 2099-01-01\n');
const isRoot = process.getuid?.() === 0;
symlinkSync(CAPTURE, join(s.dir, 'link-to-capture.pcapng'));
linkSync(CAPTURE, join(s.dir, 'hard-link-to-capture.pcapng'));

/** Every command and format that writes a report from a capture (the formats from the registry), on the bundled sample. */
const COMMANDS = [
  ...formatNames('flows').map((f) => ({ name: `flows ${f}`, format: f, args: (cap: string) => ['flows', cap, '--format', f] })),
  ...formatNames('analyze').map((f) => ({
    name: `analyze ${f}`,
    format: f,
    args: (cap: string) => ['analyze', cap, '--catalog', CATALOG, '--roles', ROLES, '--waivers', WAIVERS, '--format', f],
  })),
];

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; with `sh`, through a shell line (`$CLI` is the command) for redirections and limits. */
function run(args: string[], opts: { stdio?: StdioOptions; sh?: string; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Result> {
  const child = opts.sh
    ? spawn('sh', ['-c', opts.sh.replace('$CLI', [process.execPath, cli, ...args].map((a) => `'${a}'`).join(' '))], { stdio: opts.stdio ?? 'pipe' })
    : spawn(process.execPath, [cli, ...args], { stdio: opts.stdio ?? 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  opts.onStart?.(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout, stderr });
  }));
}

/** Exit 2 and exactly one readable line on stderr, no stack trace. */
function expectOneLineFailure(r: Result, line: RegExp): void {
  expect(r.stderr).toMatch(/^flowaudit: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+|node:internal|Error:/);
  expect(r.stderr).toMatch(line);
  expect(r.code).toBe(2);
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Temporary files the output module leaves beside a target (`.name.<pid>.<rand>.tmp`). */
const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the output module', () => {
  const older = 'OLDER REPORT\n';
  const fresh = (name: string) => {
    const dir = join(s.dir, `unit-${name}`);
    mkdirSync(dir);
    return dir;
  };
  const failure = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as Error);

  it('writes a file whole, through a temporary file that does not stay', async () => {
    const dir = fresh('whole');
    const target = join(dir, 'r.json');
    await writeOutput(target, async (out) => {
      for (let i = 0; i < 1000; i++) await writeText(out, `${'x'.repeat(1000)}\n`);
    });
    expect(readFileSync(target, 'utf8')).toBe(`${'x'.repeat(1000)}\n`.repeat(1000));
    expect(readdirSync(dir)).toEqual(['r.json']);
  });

  it('a writer that fails half-way leaves the older report as it was', async () => {
    const dir = fresh('half');
    const target = join(dir, 'r.json');
    writeFileSync(target, older);
    const bug = new Error('writer bug');
    const e = await failure(writeOutput(target, async (out) => {
      await writeText(out, 'half a report');
      throw bug;
    }));
    expect(e).toBe(bug); // the writer's own error passes unchanged: main calls it a bug (exit 70)
    expect(readFileSync(target, 'utf8')).toBe(older);
    expect(readdirSync(dir)).toEqual(['r.json']);
  });

  it('a writer waiting for drain on a failing device gets an OutputError instead of hanging', async () => {
    const e = await failure(writeOutput('/dev/full', async (out) => {
      for (;;) if (!out.write(Buffer.alloc(1 << 16))) await new Promise((r) => out.once('drain', r));
    }));
    expect(e).toBeInstanceOf(OutputError);
    expect(e!.message).toBe('cannot write report /dev/full: no space left on device');
  });

  it('writing through a symlink replaces the file it points to and keeps the symlink', async () => {
    const dir = fresh('symlink');
    const real = join(dir, 'real.txt');
    writeFileSync(real, older);
    symlinkSync(real, join(dir, 'link.txt'));
    await writeOutput(join(dir, 'link.txt'), (out) => writeText(out, 'new\n'));
    expect(readFileSync(real, 'utf8')).toBe('new\n');
    expect(lstatSync(join(dir, 'link.txt')).isSymbolicLink()).toBe(true);
  });

  it('a FIFO is written directly, not renamed over', async () => {
    const dir = fresh('fifo');
    const fifo = join(dir, 'report.fifo');
    execFileSync('mkfifo', [fifo]);
    const read = new Promise<string>((resolve) => {
      let text = '';
      createReadStream(fifo, 'utf8').on('data', (d) => (text += d)).on('end', () => resolve(text));
    });
    await writeOutput(fifo, (out) => writeText(out, 'through the pipe\n'));
    expect(await read).toBe('through the pipe\n');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir)).toEqual(['report.fifo']);
  });

  it('outputs that belong together are renamed only when all are complete', async () => {
    const dir = fresh('together');
    const [a, b] = [join(dir, 'a.csv'), join(dir, 'a.requirements.csv')];
    writeFileSync(a, older);
    const e = await failure(writeOutputs([
      { path: a, write: (out) => writeText(out, 'new flows\n') },
      { path: b, write: async () => { throw new OutputError(b, 'no space left on device'); } },
    ]));
    expect(e).toBeInstanceOf(OutputError);
    expect(readFileSync(a, 'utf8')).toBe(older);
    expect(readdirSync(dir)).toEqual(['a.csv']);
  });

  it('concurrent writers to one file: the last rename wins, whole', async () => {
    const dir = fresh('concurrent');
    const target = join(dir, 'r.txt');
    const texts = Array.from({ length: 8 }, (_, i) => `${String(i).repeat(200_000)}\n`);
    await Promise.all(texts.map((t) => writeOutput(target, async (out) => {
      for (let k = 0; k < t.length; k += 10_000) await writeText(out, t.slice(k, k + 10_000));
    })));
    expect(texts).toContain(readFileSync(target, 'utf8'));
    expect(readdirSync(dir)).toEqual(['r.txt']);
  });

  mkdirSync(join(s.dir, 'existing-dir'));
  mkdirSync(join(s.dir, 'read-only'));
  chmodSync(join(s.dir, 'read-only'), 0o555);
  const plainFile = s.write('plain.txt', 'not a directory\n');
  it.each([
    { what: 'a missing directory', path: join(s.dir, 'no-such-dir', 'r.out'), reason: 'no such directory' },
    { what: 'a directory', path: join(s.dir, 'existing-dir'), reason: 'is a directory' },
    { what: 'a path under a file', path: join(plainFile, 'r.out'), reason: 'a part of the path is not a directory' },
    // Root is not stopped by permissions; /proc/self takes no new files whoever asks.
    { what: '/proc/self', path: '/proc/self/flowaudit.out', reason: 'cannot create a file in that directory' },
    ...(isRoot ? [] : [{ what: 'a read-only directory', path: join(s.dir, 'read-only', 'r.out'), reason: 'permission denied' }]),
  ])('$what is refused with a reason', async ({ path, reason }) => {
    const e = await failure(writeOutput(path, (out) => writeText(out, 'report\n')));
    expect(e).toBeInstanceOf(OutputError);
    expect(e!.message).toBe(`cannot write report ${path}: ${reason}`);
    expect(leftovers(join(s.dir, 'existing-dir'))).toEqual([]);
  });

  it('an input is recognised by real path and by device and inode', () => {
    const dir = fresh('inputs');
    const input = join(dir, 'capture.pcap');
    writeFileSync(input, 'capture');
    symlinkSync(input, join(dir, 'symlink.pcap'));
    linkSync(input, join(dir, 'hardlink.pcap'));
    for (const out of [input, join(dir, 'symlink.pcap'), join(dir, 'hardlink.pcap'), join(dir, '..', 'unit-inputs', 'capture.pcap')]) {
      expect(() => checkOutputs([out], ['-', 'bmc-cm', input])).toThrow(`cannot write report ${out}: it is the input ${input}; refusing to overwrite it`);
    }
    expect(() => checkOutputs([join(dir, 'report.json'), '/dev/null', undefined], [input])).not.toThrow();
  });
});

describe.concurrent('every command: a report that cannot be written is one line and exit 2', () => {
  for (const c of COMMANDS) {
    it(`${c.name} --out into a missing directory`, async () => {
      const path = join(s.dir, 'no-such-dir', 'report.out');
      const r = await run([...c.args(CAPTURE), '--out', path]);
      expectOneLineFailure(r, new RegExp(`^flowaudit: cannot write report ${escape(path)}: no such directory\n$`));
      expect(existsSync(join(s.dir, 'no-such-dir'))).toBe(false);
    });
    it(`${c.name} --out /dev/full`, async () => {
      const r = await run([...c.args(CAPTURE), '--out', '/dev/full']);
      expectOneLineFailure(r, /^flowaudit: cannot write report \/dev\/full: no space left on device\n$/);
    });
    it(`${c.name} to standard output on /dev/full`, async () => {
      const full = openSync('/dev/full', 'w');
      const r = await run(c.args(CAPTURE), { stdio: ['ignore', full, 'pipe'] });
      closeSync(full);
      expectOneLineFailure(r, /^flowaudit: cannot write report to standard output: no space left on device\n$/);
    });
    it(`${c.name} with standard output closed`, async () => {
      const r = await run(c.args(CAPTURE), { sh: 'exec $CLI >&-' });
      expectOneLineFailure(r, /^flowaudit: cannot write report to standard output: standard output is closed\n$/);
    });
    it(`${c.name} --out the capture it reads`, async () => {
      const before = sha(CAPTURE);
      const r = await run([...c.args(CAPTURE), '--out', CAPTURE]);
      expectOneLineFailure(r, /it is the input .*site\.pcapng; refusing to overwrite it\n$/);
      expect(sha(CAPTURE)).toBe(before);
    });
  }
});

describe.concurrent('some commands: other targets, links to inputs, devices', () => {
  const byName = (name: string) => COMMANDS.find((c) => c.name === name)!;
  it.each([
    { cmd: 'flows csv', what: 'a directory', path: () => join(s.dir, 'existing-dir'), reason: /is a directory/ },
    { cmd: 'analyze html', what: 'a directory', path: () => join(s.dir, 'existing-dir'), reason: /is a directory/ },
    { cmd: 'flows text', what: 'a path under a file', path: () => join(s.dir, 'plain.txt', 'r.out'), reason: /not a directory/ },
    { cmd: 'analyze text', what: '/proc/self', path: () => '/proc/self/flowaudit.out', reason: /cannot create a file in that directory/ },
    { cmd: 'flows json', what: 'a symlink to the capture', path: () => join(s.dir, 'link-to-capture.pcapng'), reason: /it is the input/ },
    { cmd: 'analyze json', what: 'a hard link to the capture', path: () => join(s.dir, 'hard-link-to-capture.pcapng'), reason: /it is the input/ },
    { cmd: 'analyze json', what: 'the role map', path: () => ROLES, reason: /it is the input .*roles\.yaml/ },
    { cmd: 'analyze csv', what: 'the catalog file', path: () => CATALOG, reason: /it is the input .*catalog\.yaml/ },
    { cmd: 'analyze text', what: 'the waiver file', path: () => WAIVERS, reason: /it is the input .*waivers\.yaml/ },
  ])('$cmd --out $what', async ({ cmd, path, reason }) => {
    const inputs = [CAPTURE, ROLES, CATALOG, WAIVERS].map(sha);
    const r = await run([...byName(cmd).args(CAPTURE), '--out', path()]);
    expectOneLineFailure(r, reason);
    expect([CAPTURE, ROLES, CATALOG, WAIVERS].map(sha)).toEqual(inputs);
    expect(leftovers(s.dir)).toEqual([]);
  });

  it('analyze --format csv whose requirements table would land on the capture', async () => {
    const cap = join(s.dir, 'audit.requirements.csv');
    copyFileSync(CAPTURE, cap);
    const before = sha(cap);
    const r = await run([...byName('analyze csv').args(cap), '--out', join(s.dir, 'audit.csv')]);
    expectOneLineFailure(r, /cannot write report .*audit\.requirements\.csv: it is the input/);
    expect(sha(cap)).toBe(before);
    expect(existsSync(join(s.dir, 'audit.csv'))).toBe(false);
  });

  it('live --out its own --write file, refused before any interface is opened', async () => {
    const pcap = s.write('live-copy.pcapng', 'an earlier live capture');
    const r = await run(['live', '--interface', 'no-such-if0', '--catalog', 'bmc-cm', '--write', pcap, '--out', pcap]);
    expectOneLineFailure(r, /it is the input .*live-copy\.pcapng/);
    expect(readFileSync(pcap, 'utf8')).toBe('an earlier live capture');
  });

  for (const cmd of ['flows json', 'analyze csv']) {
    it(`${cmd} --out over an older report on a file system that fills up keeps the older report`, async () => {
      const dir = join(s.dir, `full-${cmd.replace(' ', '-')}`);
      mkdirSync(dir);
      const target = join(dir, 'report.csv');
      writeFileSync(target, 'OLDER REPORT\n');
      // A file-size limit of 1 KiB stands in for a full disk (EFBIG where a disk says ENOSPC).
      const r = await run([...byName(cmd).args(CAPTURE), '--out', target], { sh: 'ulimit -f 1; exec $CLI' });
      expectOneLineFailure(r, /^flowaudit: cannot write report .*report\.(requirements\.)?csv: file too large\n$/);
      expect(readFileSync(target, 'utf8')).toBe('OLDER REPORT\n');
      expect(readdirSync(dir)).toEqual(['report.csv']);
    });
  }

  for (const cmd of ['flows csv']) {
    it(`${cmd} into a pipe whose reader went away (EPIPE)`, async () => {
      const r = await run(byName(cmd).args(CAPTURE), { onStart: (child) => child.stdout!.destroy() });
      expectOneLineFailure(r, /^flowaudit: cannot write report to standard output: the reader closed the pipe\n$/);
    });
  }

  for (const cmd of ['flows text', 'analyze json']) {
    it(`${cmd} --out /dev/null and --out /dev/stdout are written directly`, async () => {
      const args = byName(cmd).args(CAPTURE);
      const [plain, devNull, devStdout] = await Promise.all([run(args), run([...args, '--out', '/dev/null']), run([...args, '--out', '/dev/stdout'])]);
      expect(plain.code).toBe(0);
      expect(devNull).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(devStdout).toMatchObject({ code: 0, stderr: '', stdout: plain.stdout });
      expect(plain.stdout.length).toBeGreaterThan(1000);
    });
  }
});

/**
 * Real file systems that refuse: a read-only tmpfs (EROFS) and a tmpfs of 64 KiB that fills up
 * (ENOSPC). Mounting needs root, which CI has; elsewhere the permission and file-size cases above
 * stand in, and under CI=true a mount that fails is a failure, not a skip.
 */
describe.runIf(isRoot || process.env.CI === 'true')('real file systems: read-only and full', () => {
  const mounts: string[] = [];
  const mount = (name: string, options: string): string => {
    const dir = join(s.dir, name);
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const m of mounts) execFileSync('umount', [m]);
  });
  const byName = (name: string) => COMMANDS.find((c) => c.name === name)!;

  for (const cmd of ['flows text', 'analyze html']) {
    it(`${cmd} --out on a read-only file system`, async () => {
      const dir = mount(`ro-${cmd.replace(' ', '-')}`, 'ro,size=64k');
      const r = await run([...byName(cmd).args(CAPTURE), '--out', join(dir, 'report.out')]);
      expectOneLineFailure(r, /^flowaudit: cannot write report .*report\.out: read-only file system\n$/);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  for (const cmd of ['flows json', 'analyze text', 'analyze csv']) {
    it(`${cmd} --out over an older report on a file system that is full keeps the older report`, async () => {
      const dir = mount(`full-fs-${cmd.replace(' ', '-')}`, 'size=64k');
      const target = join(dir, 'report.csv');
      writeFileSync(target, 'OLDER REPORT\n');
      // Every block taken: the report's first write finds no room.
      const ballast = openSync(join(dir, 'ballast'), 'w');
      try {
        for (;;) writeSync(ballast, Buffer.alloc(4096));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(ballast);
      }
      const r = await run([...byName(cmd).args(CAPTURE), '--out', target]);
      expectOneLineFailure(r, /^flowaudit: cannot write report .*report\.(requirements\.)?csv: no space left on device\n$/);
      expect(readFileSync(target, 'utf8')).toBe('OLDER REPORT\n');
      expect(readdirSync(dir).sort()).toEqual(['ballast', 'report.csv']);
    });
  }
});

describe('signals and concurrent writers', () => {
  /** Many one-packet UDP flows: a JSON report of several MB, long enough to be caught mid-write. */
  function manyFlows(name: string, n: number): string {
    const template = Buffer.from(frame({ proto: 'udp', src: '10.0.0.1', dst: '10.200.0.1', srcPort: 1024, dstPort: 1610, payload: 8 }));
    const packets = Array.from({ length: n }, (_, i) => {
      const data = Buffer.from(template);
      data[28] = (i >> 8) & 255; // source address 10.0.x.y (checksums are not checked: a flow is a flow)
      data[29] = i & 255;
      data.writeUInt16BE(1024 + (i % 50000), 34);
      return { data, tsSec: 1_732_000_000 + Math.floor(i / 1000), tsNs: (i % 1000) * 1000 };
    });
    return s.write(name, writePcap(packets, { linkType: 1 }));
  }
  let big: string;
  let bigger: string;
  beforeAll(() => {
    big = manyFlows('many-flows.pcap', 30_000);
    bigger = manyFlows('more-flows.pcap', 35_000);
  });

  /** Signals the run as soon as its temporary file appears beside the target, that is mid-write. */
  async function signalMidWrite(args: string[], dir: string, signal: NodeJS.Signals): Promise<{ r: Result; sawTemporary: boolean }> {
    let sawTemporary = false;
    const r = await run(args, {
      onStart: (child) => {
        const poll = setInterval(() => {
          if (leftovers(dir).length > 0) {
            sawTemporary = true;
            child.kill(signal);
            clearInterval(poll);
          }
        }, 2);
        child.on('close', () => clearInterval(poll));
      },
    });
    return { r, sawTemporary };
  }

  for (const [cmd, format, signal, code] of [
    ['flows', 'json', 'SIGTERM', 143],
    ['analyze', 'json', 'SIGINT', 130],
  ] as const) {
    it(`${cmd} --format ${format}: ${signal} mid-write leaves the older report and no temporary file, exit ${code}`, async () => {
      const dir = join(s.dir, `signal-${cmd}-${format}`);
      mkdirSync(dir);
      const target = join(dir, 'report.out');
      writeFileSync(target, 'OLDER REPORT\n');
      const args = cmd === 'flows' ? ['flows', big, '--format', format] : ['analyze', big, '--catalog', 'bmc-cm', '--format', format];
      const { r, sawTemporary } = await signalMidWrite([...args, '--workers', '1', '--out', target], dir, signal);
      expect(sawTemporary).toBe(true);
      expect(r.stderr).toBe(`flowaudit: stopped by ${signal}; no report written\n`);
      expect(r.code).toBe(code);
      expect(readdirSync(dir)).toEqual(['report.out']);
      expect(readFileSync(target, 'utf8')).toBe('OLDER REPORT\n');
    });
  }

  it('SIGTERM while standard output is a full pipe nobody reads: exit 143, one line', async () => {
    const r = await run(['flows', big, '--format', 'json', '--workers', '1'], {
      onStart: (child) => {
        // Nothing is read: the pipe fills and the writer waits for it to drain.
        child.stdout!.pause();
        child.stdout!.once('readable', () => setTimeout(() => child.kill('SIGTERM'), 50));
      },
    });
    expect(r.stderr).toBe('flowaudit: stopped by SIGTERM; no report written\n');
    expect(r.code).toBe(143);
  });

  it('two runs writing the same --out at once leave one whole report', async () => {
    const target = join(s.dir, 'shared.json');
    const [a, b] = await Promise.all([
      run(['flows', big, '--format', 'json', '--workers', '1', '--out', target]),
      run(['flows', bigger, '--format', 'json', '--workers', '1', '--out', target]),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    const report = checkReport('flows', JSON.parse(readFileSync(target, 'utf8')));
    // One file's report, not a mix: its own packet count, and as many flows as that run wrote.
    expect([30_000, 35_000]).toContain(report.capture.packets);
    expect(report.flows.length).toBeGreaterThan(report.capture.packets - 10);
    expect(leftovers(s.dir)).toEqual([]);
  });
});
