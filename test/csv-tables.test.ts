/**
 * CSV is one table a stream: standard output gets the judged flows, or the table `--table` names;
 * `--out FILE` gets the flows and FILE.requirements.csv the requirements (or the one --table asked
 * for). Every output is read back with fast-csv's parser: one header, rows of its width. Also
 * `catalog list --format csv`, and `--help`'s examples (run as written) and exit codes (the README's).
 */
import { parseString } from 'fast-csv';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capturesDir, repositoryRoot, skipWithoutCaptures } from './helpers/captures.js';
import { run } from './helpers/run.js';
import { scratch } from './helpers/scratch.js';

const cli = join(repositoryRoot, 'dist/cli/main.js');
const sample = (f: string) => join(repositoryRoot, 'samples', f);
const tmp = scratch('fa-csv-tables-');

async function flowaudit(args: string[]) {
  const r = await run(process.execPath, [cli, ...args], { timeout: 60_000, cwd: repositoryRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The rows of a CSV text, the header first; rejects a row whose width differs from the header's. */
function rows(text: string): Promise<string[][]> {
  return new Promise((done, fail) => {
    const out: string[][] = [];
    parseString(text, { headers: false })
      .on('data', (r: string[]) => {
        if (out.length && r.length !== out[0]!.length) fail(new Error(`row ${out.length} has ${r.length} fields, the header ${out[0]!.length}: ${r.join(',')}`));
        out.push(r);
      })
      .on('error', fail)
      .on('end', () => done(out));
  });
}

const FLOW_HEADER = ['verdict', 'rule', 'proto', 'client', 'clientPort', 'server', 'serverPort'];
const REQ_HEADER = ['rule', 'status', 'from', 'to', 'proto', 'ports', 'rolesFrom', 'detail', 'waived', 'cite', 'negotiation'];

describe('analyze --format csv to standard output: one table', () => {
  const args = [sample('bmc-cm-site.pcapng'), '--catalog', 'bmc-cm', '--roles', sample('bmc-cm-roles.yaml'), '--format', 'csv'];

  it('the flows by default: one header and a row per judged flow', async () => {
    const r = await flowaudit(['analyze', ...args]);
    expect(r.code).toBe(0);
    const t = await rows(r.stdout);
    expect(t[0]!.slice(0, FLOW_HEADER.length)).toEqual(FLOW_HEADER);
    expect(t).toHaveLength(1 + 11);
    expect(t.filter((row) => row[0] === 'rule')).toEqual([]);
  });

  it('--table requirements: the requirement findings alone', async () => {
    const r = await flowaudit(['analyze', ...args, '--table', 'requirements']);
    expect(r.code).toBe(0);
    const t = await rows(r.stdout);
    expect(t[0]).toEqual(REQ_HEADER);
    expect(t.slice(1).map((row) => row[1]).sort()).toEqual(['failing', 'missing', 'missing', 'satisfied', 'satisfied', 'satisfied', 'satisfied']);
  });

  it('--out with --table writes that table to FILE and nothing beside it', async () => {
    const dir = join(tmp.dir, 'one');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    const r = await flowaudit(['analyze', ...args, '--table', 'requirements', '--out', join(dir, 'req.csv')]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toEqual(['req.csv']);
    expect((await rows(readFileSync(join(dir, 'req.csv'), 'utf8')))[0]).toEqual(REQ_HEADER);
  });

  it('refuses --table with a format of one document, and an unknown table, before reading', async () => {
    const text = await flowaudit(['analyze', ...args.slice(0, -2), '--table', 'requirements']);
    expect(text.code).toBe(2);
    expect(text.stderr).toBe('flowaudit: --table requirements: only --format csv has tables (--format text is one document)\n');
    const bad = await flowaudit(['analyze', ...args, '--table', 'grants']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('flowaudit: --table grants: expected one of flows, requirements\n');
    expect(existsSync(join(tmp.dir, 'x.csv'))).toBe(false);
  });
});

describe.skipIf(skipWithoutCaptures('csv of a real capture'))('a real Windows capture as CSV', () => {
  it('parses as one table whose rows are the report\'s flows', async () => {
    const file = join(capturesDir()!, 'windows/corelight-zerologon/CVE-2020-1472_exploit_win2016.pcap');
    const csv = await flowaudit(['analyze', file, '--catalog', 'bmc-cm', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const json = await flowaudit(['analyze', file, '--catalog', 'bmc-cm', '--format', 'json']);
    const report = JSON.parse(json.stdout) as { flows: unknown[]; requirements: unknown[] };
    const t = await rows(csv.stdout);
    expect(t.length - 1).toBe(report.flows.length);
    const req = await rows((await flowaudit(['analyze', file, '--catalog', 'bmc-cm', '--format', 'csv', '--table', 'requirements'])).stdout);
    expect(req.length - 1).toBe(report.requirements.length);
  });
});

describe('catalog list --format csv', () => {
  it('one row per bundled catalog, the same as the JSON list', async () => {
    const csv = await flowaudit(['catalog', 'list', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const json = JSON.parse((await flowaudit(['catalog', 'list', '--format', 'json'])).stdout) as Array<Record<string, string | number>>;
    const t = await rows(csv.stdout);
    expect(t[0]).toEqual(['id', 'name', 'rules', 'requirements', 'documents']);
    expect(t.slice(1)).toEqual(json.map((c) => [c.id, c.name, c.rules, c.requirements, c.documents].map(String)));
  });
});

describe('--help', () => {
  const readmeCodes = () => {
    const readme = readFileSync(join(repositoryRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Exit codes'), readme.indexOf('## Performance'));
    return [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => m[1]);
  };

  for (const command of ['analyze', 'flows', 'live']) {
    it(`${command} --help shows examples and every exit code of the README`, async () => {
      const r = await flowaudit([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('\nExamples:\n  flowaudit ');
      const codes = r.stdout.slice(r.stdout.indexOf('Exit codes:'));
      for (const code of readmeCodes()) expect(codes).toMatch(new RegExp(`\\b${code}\\b`));
    });
  }

  it("analyze's first example runs as written on the bundled sample", async () => {
    const help = (await flowaudit(['analyze', '--help'])).stdout;
    const example = help.slice(help.indexOf('Examples:')).split('\n')[1]!.trim();
    expect(example).toMatch(/^flowaudit analyze samples\//);
    const r = await flowaudit(example.split(' ').slice(1));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Required flows: 7');
  });
});
