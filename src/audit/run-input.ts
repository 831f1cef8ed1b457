/**
 * What the audit reads of one input, whatever it is: the flows as columns, the capture summary and
 * its quality, the time span, and the negotiations the payload inspectors read. A packet run (a
 * capture, a live interface) and a run of flow records (Zeek's conn.log) each have theirs here; a
 * site of several sensors (site.ts) is made of its sensors' own.
 */
import { compareTime } from '../core/time.js';
import { columnsOfRecords, FlowColumns, mergeColumns } from '../flow/columns.js';
import { CaptureSummary, FlowRun, summarise } from '../flow/pipeline.js';
import type { FlowRecord } from '../flow/record.js';
import type { RecordRun } from '../ingest/record-run.js';
import type { FailedNegotiation, InspectorStats } from '../inspect/grants.js';
import { assessQuality, CaptureQuality } from './quality.js';
import { RpcCallIndex } from './rpc-calls.js';
import type { GrantLike } from './types.js';

/** What one read gave besides its run: the inspectors' findings, and the flows a bounded read folded away. */
export interface ReadFindings {
  grants: GrantLike[];
  /** Negotiations the inspectors read whose answer refused (nothing granted). */
  failed?: FailedNegotiation[];
  /** What each payload inspector read and could not read. */
  inspectorStats?: InspectorStats[];
  /** Flows that already left the flow table (a long live capture, a read past --max-flows), by start. */
  foldedFlows?: FlowRecord[];
}

/** A read of one sensor: its run (packets or flow records) and what was found beside the flows. */
export interface SensorRead extends ReadFindings {
  run: FlowRun | RecordRun;
}

export interface AuditInput {
  flows: FlowColumns;
  capture: CaptureSummary;
  quality: CaptureQuality;
  /** The first and last packet's (or record's) time; null when none has one. */
  first: { sec: number; ns: number } | null;
  last: { sec: number; ns: number } | null;
  grants: GrantLike[];
  failed: FailedNegotiation[];
  inspectorStats: InspectorStats[];
  /** false: flow records carry no payload, so no negotiation could be read (see readings.ts). */
  grantsObservable: boolean;
  /** The DCE/RPC calls Zeek's dce_rpc.log shows on the flows (flow records read with it), or null. */
  rpc: RpcCallIndex | null;
}

export function isRecordRun(run: FlowRun | RecordRun): run is RecordRun {
  return 'kind' in run && run.kind === 'records';
}

function span(run: FlowRun | RecordRun): Pick<AuditInput, 'first' | 'last'> {
  return Number.isFinite(run.firstSec) ? { first: { sec: run.firstSec, ns: run.firstNs }, last: { sec: run.lastSec, ns: run.lastNs } } : { first: null, last: null };
}

function findings(read: ReadFindings): Pick<AuditInput, 'grants' | 'failed' | 'inspectorStats'> {
  return { grants: read.grants, failed: read.failed ?? [], inspectorStats: read.inspectorStats ?? [] };
}

/** The flows, capture summary and quality of a packet run (`live`: a live capture's folded flows are merged by start). */
export function packetInput(run: FlowRun, read: ReadFindings, live = false): AuditInput {
  // Flows as columns: straight from the table, or with the flows a live capture folded away, by start.
  // A bounded read's folded records (already by start) merge with the table's columns, no record made
  // of the flows still in the table.
  const flows = read.foldedFlows?.length
    ? live
      ? columnsOfRecords([...read.foldedFlows, ...run.table.export()].sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs)))
      : mergeColumns(columnsOfRecords(read.foldedFlows), run.table.columns())
    : run.table.columns();
  const capture = summarise(run);
  const quality = assessQuality(capture, flows, run.firstSec, run.firstNs, run.lastSec, run.lastNs);
  return { flows, capture, quality, ...span(run), ...findings(read), grantsObservable: true, rpc: null };
}

/** The flows, capture summary and quality of a run of flow records: no packet facts, what the records say instead. */
export function recordInput(run: RecordRun, read: ReadFindings): AuditInput {
  const records = run.records();
  const flows = columnsOfRecords(records);
  const capture = run.summary();
  const quality = assessQuality(capture, flows, run.firstSec, run.firstNs, run.lastSec, run.lastNs);
  // Records without any time (Zeek's test baselines mask them): the span is unknown, not zero.
  if (!Number.isFinite(run.firstSec)) quality.notes[0] = 'the records have no time: the span they cover is unknown';
  const said = run.qualityNotes();
  quality.notes.push(...said.notes);
  // What the records say of their own loss (unreadable lines, sequence gaps, sampling) comes before
  // what their shape suggests (one-sided flows): it is the cause, where both hold.
  quality.loss = said.loss ?? quality.loss;
  return { flows, capture, quality, ...span(run), ...findings(read), grantsObservable: false, rpc: RpcCallIndex.of(flows, records) };
}

/** One sensor's input, packets or records. */
export function sensorInput(read: SensorRead): AuditInput {
  return isRecordRun(read.run) ? recordInput(read.run, read) : packetInput(read.run, read);
}

/** A sensor's flows as records in order of first packet (the table's and those folded away), for merging with other sensors'. */
export function sensorRecords(read: SensorRead): FlowRecord[] {
  if (isRecordRun(read.run)) return read.run.records();
  const table = read.run.table.export();
  if (!read.foldedFlows?.length) return table;
  return [...read.foldedFlows, ...table].sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
}
