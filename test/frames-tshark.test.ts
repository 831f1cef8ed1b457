/**
 * From a flow to its packets, held to tshark on real captures: the display filter flowaudit gives a
 * flow selects, in tshark, frames whose first and last are the flow's first and last frame, as many
 * as the flow has packets; read in one pass and in shards, which number frames alike. Captures: real
 * Windows domain traffic (windows/), a multi-interface pcapng (zeek/), pcapng files with three
 * sections and several interfaces, simple packet blocks among them (pcapng-test-suite/), and
 * tunnelled traffic (zeek/tunnels/). A finding's filter selects exactly its evidence flows' packets,
 * and, where no flow shows it (missing), nothing.
 */
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeCaptures, loadAuditInputs } from '../src/cli/analyze.js';
import { auditText } from '../src/report/audit.js';
import { displayFilter } from '../src/flow/filter.js';
import { buildFlows } from '../src/flow/pipeline.js';
import type { FlowRecord } from '../src/flow/record.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { capturesDir, listCaptures, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';

/** Up to `n` flows spread over the capture: the first, the last, the largest, and evenly between. */
function sample(flows: FlowRecord[], n: number): FlowRecord[] {
  if (flows.length <= n) return flows;
  const largest = flows.reduce((a, b) => (b.packets > a.packets ? b : a));
  const picked = new Set<FlowRecord>([flows[0]!, flows.at(-1)!, largest]);
  for (let k = 1; picked.size < n; k++) picked.add(flows[Math.floor((k * flows.length) / (n + 1)) % flows.length]!);
  return [...picked];
}

/** Frames tshark selects with the filter, in order. */
async function tsharkFrames(file: string, filter: string): Promise<number[]> {
  const r = await tsharkFields(file, ['frame.number'], ['-Y', filter]);
  return r.rows.map((row) => Number(row[0]));
}

const frames = (f: FlowRecord) => [f.firstFile, f.firstFrame, f.lastFile, f.lastFrame];

/** Runs `jobs` two at a time. */
async function inPairs<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  const queue = jobs.map((j, i) => [j, i] as const);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) out[next[1]] = await next[0]();
  };
  await Promise.all([worker(), worker()]);
  return out;
}

describe.skipIf(skipWithoutCaptures('frames against tshark') || skipWithoutTshark('frames against tshark'))('a flow\'s filter and frames select its packets in tshark', () => {
  const root = capturesDir()!;
  const files = [
    ...listCaptures('windows'),
    `${root}/zeek/pcapng-multi-interface.pcapng`,
    `${root}/pcapng-test-suite/output_le/difficult/test201.pcapng`,
    `${root}/pcapng-test-suite/output_be/difficult/test202.pcapng`,
    `${root}/pcapng-test-suite/output_le/advanced/test100.pcapng`,
    `${root}/zeek/tunnels/vxlan.pcap`,
    `${root}/zeek/tunnels/gre-sample.pcap`,
    `${root}/zeek/tunnels/6in4.pcap`,
  ];

  it('on windows/, multi-section and tunnelled captures, in one pass and in shards', { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const file of files) {
      const one = (await buildFlows([file])).table.export();
      const sharded = (await buildFlowsSharded([file], { workers: 2, minShardBytes: 4096 })).table.export();
      expect(sharded.map(frames), `${basename(file)}: frames in shards`).toEqual(one.map(frames));
      const picked = sample(one, 8);
      const got = await inPairs(picked.map((f) => () => tsharkFrames(file, f.filter!)));
      picked.forEach((f, k) => {
        const list = got[k]!;
        checked++;
        const want = `frames ${f.firstFrame}…${f.lastFrame}, ${f.packets} packets`;
        const seen = list.length === 0 ? 'nothing' : `frames ${list[0]}…${list.at(-1)}, ${list.length} packets`;
        if (f.firstFile !== 0 || f.lastFile !== 0 || list[0] !== f.firstFrame || list.at(-1) !== f.lastFrame || list.length !== f.packets) {
          failures.push(`${basename(file)}: ${f.filter!}: flowaudit ${want}, tshark ${seen}`);
        }
      });
    }
    expect(checked).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  });

  it('a flow seen in two files starts in the first and ends in the last; each end\'s frame is tshark\'s in its file', { timeout: 120_000 }, async () => {
    const file = `${root}/windows/arkime/tftp_rrq.pcap`;
    const alone = (await buildFlows([file])).table.export();
    const twice = (await buildFlows([file, file])).table.export();
    // UDP flows (no SYN to start a new one) continue into the second copy.
    const both = twice.filter((f) => f.firstFile === 0 && f.lastFile === 1);
    expect(both.length).toBeGreaterThan(0);
    for (const f of both.slice(0, 4)) {
      const list = await tsharkFrames(file, f.filter!);
      expect([f.firstFrame, f.lastFrame], f.filter!).toEqual([list[0], list.at(-1)]);
      expect(f.packets).toBe(2 * list.length);
    }
    expect(twice.filter((f) => f.lastFile === 0).length + both.length).toBeLessThanOrEqual(alone.length);
  });

  it('a finding\'s filter selects its evidence flows\' packets on the Windows captures, whatever the worker count', { timeout: 600_000 }, async () => {
    const inputs = { ...loadAuditInputs({ catalog: ['sccm2007'] }), version: 'test' };
    const failures: string[] = [];
    let checked = 0;
    for (const file of listCaptures('windows')) {
      const one = await analyzeCaptures([file], inputs, { workers: 1 });
      const sharded = await analyzeCaptures([file], inputs, { workers: 2, minShardBytes: 4096 });
      expect(sharded.requirements.map((r) => [r.filter, r.evidenceFlows]), basename(file)).toEqual(one.requirements.map((r) => [r.filter, r.evidenceFlows]));
      // A finding no flow shows names its hosts and ports; with dynamic ports only (a TFTP request
      // nothing answered) that is every datagram between the hosts, the request included: not checked.
      const picked = one.requirements.filter((r) => r.evidence.length <= 16 && (r.evidence.length > 0 || r.ports.some((p) => typeof p === 'number'))).slice(0, 6);
      const got = await inPairs(picked.map((r) => () => tsharkFrames(file, r.filter)));
      picked.forEach((r, k) => {
        checked++;
        const list = got[k]!;
        const want = r.evidenceFlows.reduce((n, f) => n + f.packets, 0);
        const ends = r.evidenceFlows.flatMap((f) => [f.firstFrame, f.lastFrame]);
        if (list.length !== want || !ends.every((n) => list.includes(n))) {
          failures.push(`${basename(file)} ${r.rule} ${r.status}: ${r.filter}: flowaudit ${want} packets (ends ${ends.join(',')}), tshark ${list.length} (${list.slice(0, 6).join(',')}…)`);
        }
      });
    }
    expect(checked).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it('the text report\'s evidence lines name frames its tshark command selects', { timeout: 300_000 }, async () => {
    const inputs = { ...loadAuditInputs({ catalog: ['sccm2007'] }), version: 'test' };
    let checked = 0;
    for (const file of listCaptures('windows')) {
      const lines = auditText(await analyzeCaptures([file], inputs, { workers: 1 })).split('\n');
      for (let i = 0; i < lines.length; i++) {
        const cmd = /^\s+packets: tshark -r (\S+) -Y '(.*)'$/.exec(lines[i]!);
        if (!cmd) continue;
        // The evidence lines just above: `…, FILE#first-last` (or `#frame`).
        const ends: number[] = [];
        for (let k = i - 1; k >= 0 && /^\s+(evidence:|\(\+)/.test(lines[k]!); k--) {
          const m = /#(\d+)(?:-(\d+))?$/.exec(lines[k]!);
          if (m) ends.push(Number(m[1]), Number(m[2] ?? m[1]));
        }
        expect(ends.length, lines[i]).toBeGreaterThan(0);
        const list = await tsharkFrames(cmd[1]!, cmd[2]!.replace(/'\\''/g, "'"));
        expect(ends.filter((n) => !list.includes(n)), `${basename(file)}: ${lines[i]}`).toEqual([]);
        checked++;
      }
    }
    // One command per group of missing or failing findings that flows show.
    expect(checked).toBeGreaterThan(0);
  });
});
