/**
 * What `analyze --input KIND` can read: one row per input kind, from which the option's choices, its
 * help and the reader come. A row reads its paths and audits them (`pcap`: packets, with the payload
 * inspectors and worker threads; a row of flow records: a RecordRun, src/ingest/record-run.ts, which
 * the audit reads in place of a flow table). A new kind is its reader in src/ingest/ and one row
 * here. Each row loads its modules only when it runs.
 */
import type { AuditOptions, AuditReport } from '../audit/index.js';
import type { ShardedOptions } from '../worker/sharded.js';

export type AuditInputs = Omit<AuditOptions, 'grants' | 'failed' | 'inspectorStats'>;

export interface InputKind {
  name: string;
  /** What the paths are, for --help. */
  paths: string;
  /** Standard input (-) can be one of the paths. */
  stdin: boolean;
  analyze(paths: string[], inputs: AuditInputs, read: ShardedOptions): Promise<AuditReport>;
}

export const INPUT_KINDS: readonly InputKind[] = [
  {
    name: 'pcap',
    paths: 'capture files (pcap, pcapng, gzip), or - for standard input',
    stdin: true,
    analyze: async (paths, inputs, read) => (await import('./capture-input.js')).analyzeCaptures(paths, inputs, read),
  },
  {
    name: 'zeek',
    paths: "Zeek conn.log files (TSV or JSON lines, gzip), or folders of rotated logs (every conn*.log[.gz])",
    stdin: false,
    analyze: async (paths, inputs, read) => {
      const [{ readZeekLogs }, { audit }] = await Promise.all([import('../ingest/zeek/index.js'), import('../audit/index.js')]);
      const run = await readZeekLogs(paths, read.maxFlows === undefined ? {} : { maxFlows: read.maxFlows });
      // Flow records carry no payload: no negotiation is read, so no grant is made.
      return audit(run, { ...inputs, grants: [] });
    },
  },
  {
    name: 'ipfix',
    paths: 'IPFIX files (RFC 5655: IPFIX messages one after another)',
    stdin: false,
    analyze: async (paths, inputs, read) => {
      const [{ readIpfixRun }, { audit }] = await Promise.all([import('../ingest/ipfix/run.js'), import('../audit/index.js')]);
      const run = await readIpfixRun(paths, read.maxFlows === undefined ? {} : { maxFlows: read.maxFlows });
      return audit(run, { ...inputs, grants: [] });
    },
  },
];

export const INPUT_DEFAULT = 'pcap';

/** The row of --input's value (commander has checked it is one of the names). */
export function inputKind(name: string): InputKind {
  return INPUT_KINDS.find((k) => k.name === name) ?? INPUT_KINDS[0]!;
}

/** --help's words for the paths of every kind. */
export function inputPathsHelp(): string {
  return INPUT_KINDS.map((k) => `${k.name}: ${k.paths}`).join('; ');
}
