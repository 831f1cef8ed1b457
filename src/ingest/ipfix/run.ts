/**
 * Flow export as a RecordRun, the audit's input of flow records: `analyze --input ipfix` reads IPFIX
 * files (each stitched as it is read, no record kept), and `collect` feeds its listener's
 * conversations the same way. A conversation is numbered by its source (the file's index) and its
 * first and last messages; each source's facts (ExportSourceFacts: messages, records, damage, the
 * exporters' domains with their loss and sampling) come from its decoder and stitcher.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import type { ExportDomainFacts, ExportSourceFacts, FlowRecord } from '../../flow/record.js';
import { RecordRun } from '../record-run.js';
import type { FlowExportDecoder } from './decoder.js';
import { readIpfixFlows } from './file.js';
import type { FlowStitcher } from './stitch.js';

const LOST_UNIT = { 5: 'flows', 9: 'packets', 10: 'records' } as const;

/** The facts of one source of flow export from its decoder and stitcher; `unreadable`: its damaged places. */
export function exportSourceFacts(
  file: string, format: ExportSourceFacts['format'], decoder: FlowExportDecoder, stitcher: FlowStitcher, unreadable: number, untimed: number,
): ExportSourceFacts {
  const domains: ExportDomainFacts[] = decoder.domainStates().map((d) => {
    const version = d.version as 5 | 9 | 10;
    return {
      exporter: d.exporter, version, domain: d.domain, messages: d.messages, records: d.records, lost: d.lost, lostUnit: LOST_UNIT[version],
      sequenceBackwards: d.sequenceBackwards, sampling: d.sampling,
      samplingSource: d.samplingSource === '' ? null : (d.samplingSource as ExportDomainFacts['samplingSource']),
    };
  });
  return {
    file, format, messages: decoder.stats.messages, records: decoder.stats.records, optionsRecords: decoder.stats.optionsRecords,
    conversations: stitcher.stats.conversations, unreadable, untimed, templateChanges: decoder.stats.templateChanges, domains,
  };
}

/** The time of a conversation's last packet as [sec, ns] (its start when its end cannot be read, [0, 0] without time). */
export function endOf(f: FlowRecord): [number, number] {
  if (f.start === null) return [0, 0];
  const endMs = f.end === null ? NaN : Date.parse(f.end);
  if (Number.isNaN(endMs)) return [f.startSec, f.startNs];
  const endSec = Math.floor(endMs / 1000);
  return [endSec, Math.round((endMs - endSec * 1000) * 1e6)];
}

/** Adds a stitched conversation to the run as one of source `index`'s; returns false when it has no time. */
export function addConversation(run: RecordRun<ExportSourceFacts>, f: FlowRecord, index: number): boolean {
  f.firstFile = index;
  f.lastFile = index;
  const [endSec, endNs] = endOf(f);
  run.add(f, endSec, endNs);
  return f.start !== null;
}

/** The files a list of paths names, each checked to be a readable file (one line when not). */
function ipfixFiles(paths: string[]): string[] {
  for (const p of paths) {
    if (p === '-') throw new InputError('--input ipfix reads files, not standard input');
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
      closeSync(openSync(p, 'r'));
    } catch (e) {
      throw new InputError(`${p}: cannot open: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (dir) throw new InputError(`${p}: a folder; --input ipfix reads IPFIX files (RFC 5655)`);
  }
  return paths;
}

/** Reads every IPFIX file into one run; damage is counted in the run's tally (file, message, byte offset), never thrown. */
export async function readIpfixRun(paths: string[], opts: { maxFlows?: number } = {}): Promise<RecordRun<ExportSourceFacts>> {
  const run = new RecordRun<ExportSourceFacts>('ipfix', opts.maxFlows);
  for (const path of ipfixFiles(paths)) {
    const index = run.files.length;
    const before = run.damage.total;
    const reader = readIpfixFlows(path, { damage: run.damage });
    let untimed = 0;
    for await (const f of reader) if (!addConversation(run, f, index)) untimed++;
    run.files.push(exportSourceFacts(path, 'ipfix', reader.decoder, reader.stitcher, run.damage.total - before, untimed));
  }
  return run;
}
