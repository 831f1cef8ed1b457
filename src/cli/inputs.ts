/**
 * What `analyze --input KIND` (and `--sensor NAME=KIND:PATH`) can read: one row per input kind, from
 * which the option's choices, its help and the reader come. A row reads its paths into a SensorRead
 * (audit/run-input.ts): `pcap` a packet run, with the payload inspectors' grants, on worker threads;
 * a row of flow records a RecordRun (src/ingest/record-run.ts), which the audit reads in place of a
 * flow table. One read is audited alone; several, named as sensors, as one site (audit/site.ts), so a
 * row is a sensor kind with nothing more. A new kind is its reader in src/ingest/ and
 * one row here. Each row loads its modules only when it runs.
 */
import type { AuditOptions, AuditReport } from '../audit/index.js';
import type { SensorRead } from '../audit/run-input.js';
import type { ShardedOptions } from '../worker/sharded.js';

export type AuditInputs = Omit<AuditOptions, 'grants' | 'failed' | 'inspectorStats'>;

export interface InputKind {
  name: string;
  /** What the paths are, for --help. */
  paths: string;
  /** Standard input (-) can be one of the paths. */
  stdin: boolean;
  read(paths: string[], read: ShardedOptions): Promise<SensorRead>;
}

export const INPUT_KINDS: readonly InputKind[] = [
  {
    name: 'pcap',
    paths: 'capture files (pcap, pcapng, gzip), or - for standard input',
    stdin: true,
    read: async (paths, read) => (await import('./capture-input.js')).readCaptures(paths, read),
  },
  {
    name: 'zeek',
    paths: "Zeek conn.log files (TSV or JSON lines, gzip), or folders of rotated logs (every conn*.log[.gz]); the dce_rpc*.log[.gz] beside them are read with them",
    stdin: false,
    read: async (paths, read) => {
      const { readZeekLogs } = await import('../ingest/zeek/index.js');
      // Flow records carry no payload: no negotiation is read, so no grant is made.
      return { run: await readZeekLogs(paths, read.maxFlows === undefined ? {} : { maxFlows: read.maxFlows }), grants: [] };
    },
  },
  {
    name: 'ipfix',
    paths: 'IPFIX files (RFC 5655: IPFIX messages one after another)',
    stdin: false,
    read: async (paths, read) => {
      const { readIpfixRun } = await import('../ingest/ipfix/run.js');
      return { run: await readIpfixRun(paths, read.maxFlows === undefined ? {} : { maxFlows: read.maxFlows }), grants: [] };
    },
  },
];

export const INPUT_DEFAULT = 'pcap';

/** The row of a kind's name (commander has checked --input's; --sensor's are checked by cli/sensors.ts). */
export function inputKind(name: string): InputKind {
  return INPUT_KINDS.find((k) => k.name === name) ?? INPUT_KINDS[0]!;
}

/** --help's words for the paths of every kind. */
export function inputPathsHelp(): string {
  return INPUT_KINDS.map((k) => `${k.name}: ${k.paths}`).join('; ');
}

/** The paths read as one input of `kind` and audited: what `analyze` and `firewall` judge without --sensor. */
export async function auditInput(kind: InputKind, paths: string[], inputs: AuditInputs, read: ShardedOptions): Promise<AuditReport> {
  const [{ run, ...found }, { audit }] = await Promise.all([kind.read(paths, read), import('../audit/index.js')]);
  return audit(run, { ...inputs, ...found });
}
