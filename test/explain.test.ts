/**
 * `analyze --explain RULE|HOST` on a real Windows capture: a host's view lists every flow the JSON
 * report has for it, each with its frames and a filter tshark selects those frames with; a rule's view
 * prints the catalog's words and the flows judged by it; a target that is neither is an error (exit 2).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capturesDir, repositoryRoot, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';
import { run } from './helpers/run.js';

const cli = join(repositoryRoot, 'dist/cli/main.js');

describe.skipIf(skipWithoutCaptures('--explain') || skipWithoutTshark('--explain'))('analyze --explain', () => {
  const file = join(capturesDir() ?? '', 'windows/arkime/wireshark-smb-on-windows10.pcap');
  const analyze = (...args: string[]) => run(process.execPath, [cli, 'analyze', file, '--catalog', 'sccm2007', ...args]);

  it('a host: every flow of it, with frames and a filter that selects them in tshark', async () => {
    const json = JSON.parse((await analyze('--format', 'json')).stdout) as { flows: Array<{ client: string; server: string; rule: string | null; firstFrame: number; lastFrame: number }> };
    const counts = new Map<string, number>();
    for (const f of json.flows) for (const h of [f.client, f.server]) counts.set(h, (counts.get(h) ?? 0) + 1);
    const host = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const r = await analyze('--explain', host);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`HOST ${host}`);
    expect(lines).toContain(`Flows: ${counts.get(host)}`);
    const flowLines = lines.filter((l) => /^ {2}[A-Z-]+ {2}\w+ /.test(l) && l.includes('#'));
    expect(flowLines.length).toBeGreaterThanOrEqual(counts.get(host)!);
    let checked = 0;
    for (let i = 0; i < lines.length && checked < 5; i++) {
      const m = /#(\d+)(?:-(\d+))?(?: {2}|$)/.exec(lines[i]!);
      if (!m || !/^ {2}[A-Z]/.test(lines[i]!)) continue;
      const filter = lines.slice(i + 1).find((l) => l.startsWith("      tshark -Y '"))!;
      const rows = (await tsharkFields(file, ['frame.number'], ['-Y', /-Y '(.*?)'/.exec(filter)![1]!])).rows.map((x) => Number(x[0]));
      expect([rows[0], rows.at(-1)], lines[i]).toEqual([Number(m[1]), Number(m[2] ?? m[1])]);
      checked++;
    }
    expect(checked).toBe(5);
  });

  it('a rule: the catalog\'s words and the flows judged by it; an unknown target is an error', async () => {
    const json = JSON.parse((await analyze('--format', 'json')).stdout) as { flows: Array<{ rule: string | null }> };
    const rule = json.flows.find((f) => f.rule !== null)!.rule!;
    const r = await analyze('--explain', rule);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^RULE ${rule}: `));
    expect(r.stdout).toContain('vendor: “');
    const judged = json.flows.filter((f) => f.rule === rule).length;
    const shown = Number(/Flows it explains or fits: (\d+)/.exec(r.stdout)![1]);
    expect(shown).toBeGreaterThanOrEqual(judged);
    const bad = await analyze('--explain', 'no-such-rule');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--explain no-such-rule');
  });
});
