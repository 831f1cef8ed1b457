import { readCapture } from '../capture/reader.js';
import type { CaptureFacts, PacketRecord, PacketSink } from '../capture/record.js';
import { DamageTally } from '../core/errors.js';
import { compareTime, formatIso } from '../core/time.js';
import { decodePacket, PacketView, Status } from '../decode/index.js';
import type { FlowTableBound } from './bound.js';
import type { ExportSourceFacts, RecordFileFacts } from './record.js';
import { FlowRun, newFlowRun, PartEnds, startFile, widenFirst, widenLast } from './run.js';
import { FlowRecord, FlowTableOptions } from './table.js';

export interface FlowRunOptions extends FlowTableOptions {
  onProgress?: (file: string, bytes: number) => void;
  /** Called for every IP packet after it is counted (payload inspectors hook in here). */
  onIpPacket?: (view: PacketView, rec: PacketRecord, file: string) => void;
  /** `--max-flows`: past it the table retires and folds (see FlowBound); none: unbounded. */
  maxFlows?: number;
}

/** The per-packet work for one file: count, decode, add to the flow table. `done()` flushes counters. */
export function packetSink(run: FlowRun, label: string, view: PacketView, onIp?: FlowRunOptions['onIpPacket']): { sink: PacketSink; done(): void; firstTs(): [number, number] | null; lastTs(): [number, number] | null } {
  let lastLink = -1;
  let linkCount = 0;
  let prevSec = -Infinity;
  let prevNs = 0;
  let firstSec = -Infinity;
  let firstNs = 0;
  const bound = run.bound;
  const sink = (rec: PacketRecord) => {
    run.packets++;
    run.bytes += rec.origLen;
    if (rec.linkType !== lastLink) {
      if (lastLink >= 0) run.linkTypes.set(lastLink, (run.linkTypes.get(lastLink) ?? 0) + linkCount);
      lastLink = rec.linkType;
      linkCount = 0;
    }
    linkCount++;
    if (rec.hasTs) {
      if (compareTime(rec.tsSec, rec.tsNs, prevSec, prevNs) < 0) run.timeReversals++;
      if (prevSec === -Infinity) {
        firstSec = rec.tsSec;
        firstNs = rec.tsNs;
      }
      prevSec = rec.tsSec;
      prevNs = rec.tsNs;
      widenFirst(run, rec.tsSec, rec.tsNs);
      widenLast(run, rec.tsSec, rec.tsNs);
      if (rec.tsDigits > run.tsDigits) run.tsDigits = rec.tsDigits;
    }
    try {
      decodePacket(rec, view);
    } catch {
      // Decoders bounds-check every read; this is the net under the net, never the normal path.
      view.fail('decoder-exception');
    }
    if (view.status === Status.Ip) {
      run.ipPackets++;
      run.table.add(view, rec);
      if (bound !== null && run.table.size > bound.trimAt) bound.trim(run.table, Number.isFinite(run.lastSec) ? run.lastSec : 0);
      if (onIp !== undefined) onIp(view, rec, label);
    } else if (view.status === Status.NotIp) {
      run.notIp.set(view.notIpType, (run.notIp.get(view.notIpType) ?? 0) + 1);
    } else {
      run.damage.add(view.error, label, rec.recordNo, rec.fileOffset);
    }
  };
  return {
    sink,
    done: () => {
      if (lastLink >= 0) run.linkTypes.set(lastLink, (run.linkTypes.get(lastLink) ?? 0) + linkCount);
      lastLink = -1;
      linkCount = 0;
    },
    firstTs: () => (firstSec === -Infinity ? null : [firstSec, firstNs]),
    lastTs: () => (prevSec === -Infinity ? null : [prevSec, prevNs]),
  };
}

/** A stretch of packets run through decode and the flow table: what its reader returned, and its ends. */
export interface PacketPass<T> extends PartEnds {
  read: T;
}

/**
 * The packets `read` delivers (a whole capture with readCapture, a byte range of one with readRange),
 * counted, decoded and added to the flow table of `run` one at a time with one reused view
 * (packetSink); the counters it holds back are flushed at the end. The single pass, the shard workers
 * and the main thread's re-read of a gap between shards all read through here.
 */
export async function runPackets<T>(run: FlowRun, label: string, view: PacketView, onIp: FlowRunOptions['onIpPacket'], read: (sink: PacketSink) => Promise<T>): Promise<PacketPass<T>> {
  const s = packetSink(run, label, view, onIp);
  const result = await read(s.sink);
  s.done();
  return { read: result, firstTs: s.firstTs(), lastTs: s.lastTs() };
}

/** One whole capture (a path, or '-' for stdin) into `run`: its packets through runPackets, its facts onto `captures`. */
export async function runCapture(run: FlowRun, path: string, view: PacketView, opts: Pick<FlowRunOptions, 'onIpPacket' | 'onProgress'> = {}): Promise<void> {
  const label = path === '-' ? '<stdin>' : path;
  const onProgress = opts.onProgress;
  startFile(run);
  const pass = await runPackets(run, label, view, opts.onIpPacket, (sink) => readCapture(path, sink, { damage: run.damage, label, ...(onProgress ? { onProgress: (b: number) => onProgress(label, b) } : {}) }));
  run.captures.push(pass.read);
}

/**
 * Capture → decode → flow table, one packet at a time with one reused record and view. Captures are
 * read one after the other into one table, so a conversation that spans files is one flow.
 */
export async function buildFlows(paths: string[], opts: FlowRunOptions = {}): Promise<FlowRun> {
  const run = newFlowRun(opts);
  const view = new PacketView();
  for (const path of paths) await runCapture(run, path, view, opts);
  return run;
}

const LINK_TYPE_NAMES: Record<number, string> = {
  0: 'null',
  1: 'ethernet',
  12: 'raw',
  14: 'raw',
  101: 'raw',
  108: 'loop',
  113: 'linux-sll',
  228: 'ipv4',
  229: 'ipv6',
  276: 'linux-sll2',
};

export function linkTypeName(lt: number): string {
  return LINK_TYPE_NAMES[lt] ?? `linktype-${lt}`;
}

const ETHERTYPE_NAMES: Record<number, string> = {
  [-1]: 'llc',
  0x0806: 'arp',
  0x8035: 'rarp',
  0x88cc: 'lldp',
  0x8863: 'pppoe-discovery',
  0x8864: 'ppp-control',
  0x888e: 'eapol',
  0x8809: 'slow-protocols',
  0x88e7: 'pbb',
  0x8847: 'mpls-other',
  0x8903: 'fabricpath',
  0x9000: 'loopback',
};

/** The capture part of `flowaudit flows --format json`. */
export interface CaptureSummary {
  /** Packet captures, or sources of flow records (`analyze --input zeek|ipfix`, `collect`'s listener). */
  files: Array<(Omit<CaptureFacts, 'interfaces'> & { interfaces: CaptureFacts['interfaces'] }) | RecordFileFacts | ExportSourceFacts>;
  packets: number;
  bytes: number;
  ipPackets: number;
  first: string | null;
  last: string | null;
  linkTypes: Record<string, number>;
  notIp: Record<string, number>;
  decodeErrors: ReturnType<DamageTally['toJSON']>;
  decodeErrorCount: number;
  orphanFragments: number;
  /** Datagrams whose first fragment was forgotten because 65 536 were waiting (src/flow/fragments.ts). */
  fragmentOverflow: number;
  timeReversals: number;
  /** Only when the --max-flows bound was reached: what left the table and how it was folded. */
  flowTable?: FlowTableBound;
}

export function summarise(run: FlowRun): CaptureSummary {
  const linkTypes: Record<string, number> = {};
  for (const [lt, n] of [...run.linkTypes].sort((a, b) => a[0] - b[0])) linkTypes[`${lt} (${linkTypeName(lt)})`] = n;
  const notIp: Record<string, number> = {};
  for (const [t, n] of [...run.notIp].sort((a, b) => a[0] - b[0])) {
    const hex = t < 0 ? 'none' : `0x${t.toString(16).padStart(4, '0')}`;
    notIp[`${hex} (${ETHERTYPE_NAMES[t] ?? 'other'})`] = n;
  }
  const hasTime = Number.isFinite(run.firstSec);
  return {
    files: run.captures,
    packets: run.packets,
    bytes: run.bytes,
    ipPackets: run.ipPackets,
    first: hasTime ? formatIso(run.firstSec, run.firstNs, run.tsDigits) : null,
    last: hasTime ? formatIso(run.lastSec, run.lastNs, run.tsDigits) : null,
    linkTypes,
    notIp,
    decodeErrors: run.damage.toJSON(),
    decodeErrorCount: run.damage.total,
    orphanFragments: run.table.orphanFragments,
    fragmentOverflow: run.table.fragmentOverflow,
    timeReversals: run.timeReversals,
    ...(run.bound?.reached ? { flowTable: run.bound.summary(run.table.activeFlows) } : {}),
  };
}

/**
 * The flows a report lists, as record batches in order of first packet: the table's, merged with the
 * records folded past the --max-flows bound. `count` is how many there are.
 */
export function flowBatches(run: FlowRun): { count: number; batches: () => Iterable<FlowRecord[]> } {
  const folded = run.bound?.reached ? run.bound.records() : [];
  if (folded.length === 0) return { count: run.table.size, batches: () => run.table.exportBatches() };
  return {
    count: run.table.size + folded.length,
    *batches() {
      let k = 0;
      for (const batch of run.table.exportBatches()) {
        const out: FlowRecord[] = [];
        for (const f of batch) {
          while (k < folded.length && compareTime(folded[k]!.startSec, folded[k]!.startNs, f.startSec, f.startNs) < 0) out.push(folded[k++]!);
          out.push(f);
        }
        yield out;
      }
      if (k < folded.length) yield folded.slice(k);
    },
  };
}

export type { FlowRecord, FlowRun };
