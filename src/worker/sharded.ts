import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CaptureHeader, joinedFacts, RangeFacts, readCaptureHeader, readRange } from '../capture/reader.js';
import type { PacketRecord } from '../capture/record.js';
import { DamageTally } from '../core/errors.js';
import { decodePacket } from '../decode/index.js';
import { PacketView, Status } from '../decode/view.js';
import { FlowRunOptions, runCapture } from '../flow/pipeline.js';
import { FlowRun, mergePart, newFlowRun, startFile } from '../flow/run.js';
import { inspectorWants } from '../inspect/index.js';
import { replayKept } from './kept-packets.js';
import { runShard } from './run-shard.js';
import type { ShardJob, ShardResult } from './shard-protocol.js';

export interface ShardedOptions extends FlowRunOptions {
  /** Worker threads per file; 'auto' = the machine's parallelism. */
  workers: number | 'auto';
  /** Files smaller than this are read in one pass: starting threads costs more than it saves. */
  minShardBytes?: number;
  /** Bytes of the inspectors' packets a worker keeps at most (tests set it small). */
  maxKeptBytes?: number;
}

const WORKER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'worker', 'shard-worker.js');

function runInWorker(job: ShardJob): Promise<ShardResult> {
  return new Promise((resolvePromise, reject) => {
    const w = new Worker(WORKER_SCRIPT, { workerData: job });
    w.once('message', (m: ShardResult) => resolvePromise(m));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`shard worker exited with code ${code}`));
    });
  });
}

/**
 * Like buildFlows, but a large plain file is cut into byte ranges that worker threads decode in
 * parallel. Each worker finds the first record boundary of its range; the main thread checks that the
 * ranges chain exactly (each starts where the previous stopped) and re-reads any gap itself, so the
 * result is the same as one pass. Compressed files, stdin and pcapng files whose interface
 * descriptions are not all at the start fall back to one pass.
 */
export async function buildFlowsSharded(paths: string[], opts: ShardedOptions): Promise<FlowRun> {
  const workers = opts.workers === 'auto' ? availableParallelism() : Math.max(1, opts.workers);
  const minBytes = opts.minShardBytes ?? 64 * 1024 * 1024;
  const run = newFlowRun(opts);
  const view = new PacketView();
  for (const path of paths) {
    const label = path === '-' ? '<stdin>' : path;
    const header = workers > 1 && path !== '-' ? await readCaptureHeader(path).catch(() => null) : null;
    const dataStart = header?.bytes.length ?? 0;
    if (header === null || header.fileSize - dataStart < minBytes * 2 || workers < 2) {
      await runCapture(run, path, view, opts);
      continue;
    }
    const n = Math.min(workers, Math.floor((header.fileSize - dataStart) / minBytes));
    const size = header.fileSize - dataStart;
    const jobs: ShardJob[] = [];
    for (let i = 0; i < n; i++) {
      const start = dataStart + Math.floor((i * size) / n);
      const end = i === n - 1 ? header.fileSize : dataStart + Math.floor(((i + 1) * size) / n);
      jobs.push({ path, label, header, start, end, knownBoundary: i === 0, vlanInKey: opts.vlanInKey ?? false, keepInspected: opts.onIpPacket !== undefined, ...(opts.maxFlows !== undefined ? { maxFlows: opts.maxFlows } : {}), ...(opts.maxKeptBytes !== undefined ? { maxKeptBytes: opts.maxKeptBytes } : {}) });
    }
    let finished = 0;
    const results = await Promise.all(
      jobs.map((j) =>
        runInWorker(j).then((r) => {
          finished += j.end - j.start;
          opts.onProgress?.(label, finished);
          return r;
        }),
      ),
    );
    if (results.some((r) => r.range.structural)) {
      // A section header or interface description in the middle: only one pass knows the interfaces.
      // (The workers have reported the file's progress already.)
      await runCapture(run, path, view, { ...(opts.onIpPacket ? { onIpPacket: opts.onIpPacket } : {}) });
      continue;
    }
    // Chain the ranges: each must start exactly where the previous one stopped. A range that does not
    // (its boundary search was fooled, or damage made the previous range run on) is read again here
    // from the known boundary.
    const incoming = results.reduce((n, r) => n + r.table.size, 0);
    run.table.reserve(run.bound === null ? incoming : Math.min(incoming, run.bound.trimAt));
    startFile(run);
    let expected = dataStart;
    let recordOffset = 0;
    let prevLast: [number, number] | null = null;
    let facts: RangeFacts | null = null;
    for (let i = 0; i < n; i++) {
      let r = results[i]!;
      if (r.range.first !== expected) {
        if (expected >= jobs[i]!.end) continue; // the previous range already read past this one
        r = await runShard({ ...jobs[i]!, start: expected, knownBoundary: true });
      }
      mergePart(run, r, recordOffset, prevLast);
      if (r.lastTs) prevLast = r.lastTs;
      if (r.kept && opts.onIpPacket) {
        const onIp = opts.onIpPacket;
        replayKept(r.kept, recordOffset, view, (v, rec) => onIp(v, rec, label));
        if (r.kept.resume) await inspectRest(path, header, r.kept.resume, r.range.stop, recordOffset, view, (v, rec) => onIp(v, rec, label));
      }
      recordOffset += r.range.records;
      expected = r.range.stop;
      facts = facts === null ? { ...r.range.facts } : joinedFacts(facts, r.range.facts);
    }
    run.captures.push({ file: label, gzip: false, ...facts! });
  }
  return run;
}

/**
 * The inspectors' packets of a range past what its worker kept: read here, from the first packet not
 * kept to the range's end, decoded and handed over as the replay would have (record numbers shifted by
 * the records before). The worker already counted the range's flows and damage.
 */
async function inspectRest(path: string, header: CaptureHeader, from: { fileOffset: number; recordNo: number }, stop: number, recordOffset: number, view: PacketView, onIp: (v: PacketView, rec: PacketRecord) => void): Promise<void> {
  const shift = recordOffset + from.recordNo - 1;
  await readRange(
    path,
    header,
    from.fileOffset,
    stop,
    true,
    (rec) => {
      rec.recordNo += shift;
      try {
        decodePacket(rec, view);
      } catch {
        return; // counted as damage by the worker that read it
      }
      if (view.status === Status.Ip && inspectorWants(view)) onIp(view, rec);
    },
    { damage: new DamageTally(), label: path },
  );
}
