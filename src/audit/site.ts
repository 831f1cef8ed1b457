/**
 * Several sensors judged as one site (`analyze --sensor NAME=KIND:PATH …`): each sensor is read as
 * it would be alone (its capture summary and quality are its own), then their flows are merged so
 * that a conversation two sensors saw counts once (flow/sensors.ts), and the negotiations two
 * sensors read (the same endpoint-mapper answer on two SPAN ports) count once too.
 *
 * The capture section lists every sensor: its kind, files, packets or records, span, drops and what
 * it could not read. Absence is proof only where every sensor could have seen it: a sensor that lost
 * packets or records makes absence unproven site-wide (a sensor cannot say which conversations it
 * would have seen). One-sidedness is judged on the merged flows, since two taps of an asymmetric
 * route each see one direction and together both.
 */
import { compareTime } from '../core/time.js';
import { humanDuration, plural } from '../core/human.js';
import type { FlowTableBound } from '../flow/bound.js';
import { columnsOfRecords } from '../flow/columns.js';
import type { CaptureSummary } from '../flow/pipeline.js';
import { mergeSensorFlows } from '../flow/sensors.js';
import type { FlowRecord } from '../flow/record.js';
import type { FailedNegotiation, InspectorStats } from '../inspect/grants.js';
import { RpcCallIndex } from './rpc-calls.js';
import { assessQuality } from './quality.js';
import { AuditInput, isRecordRun, sensorInput, sensorRecords, type SensorRead } from './run-input.js';
import type { GrantLike } from './types.js';

/**
 * A sensor once read, kept as what the site needs of it: its capture summary, quality and the
 * inspectors' findings, and its flows as records. Its run (the flow table) is not kept, so sensors
 * read one after the other hold one table at a time.
 */
export interface Sensor {
  /** As the command line names it: what every flow's `sensors` lists. */
  name: string;
  /** Its input kind (a row of cli/inputs.ts INPUT_KINDS: pcap, zeek, …). */
  kind: string;
  input: Omit<AuditInput, 'flows'>;
  /** Its flows in order of first packet; the site's merge takes them over (and changes them). */
  records: FlowRecord[];
  /** Flow records read (a sensor of flow records), or null (a capture). */
  recordCount: number | null;
  /** Why it cannot prove absence for the site (sensorLoss). */
  loss: string | null;
}

/** A read sensor, reduced to a Sensor: the run can go once this returns. */
export function readSensor(name: string, kind: string, read: SensorRead): Sensor {
  const { flows: _flows, ...input } = sensorInput(read);
  const records = isRecordRun(read.run) ? read.run.files.reduce((n, f) => n + f.records, 0) : null;
  return { name, kind, input, records: sensorRecords(read), recordCount: records, loss: sensorLoss(read, input) };
}

/** The sensors of one audit; `slack`: seconds the sensors' clocks may differ by. */
export interface SiteRun {
  readonly kind: 'site';
  sensors: Sensor[];
  slack: number;
}

/** One sensor as the capture section lists it. */
export interface SensorSummary {
  name: string;
  kind: string;
  files: string[];
  packets: number;
  bytes: number;
  /** Flow records read (a sensor of flow records), or null (a capture). */
  records: number | null;
  first: string | null;
  last: string | null;
  durationSeconds: number;
  droppedByInterface: number;
  droppedByOs: number;
  decodeErrors: number;
  /** Its flows, and those of them no other sensor saw. */
  flows: number;
  alone: number;
  notes: string[];
  /** Why this sensor cannot prove absence (its drops, its unreadable records), or null. */
  loss: string | null;
  flowTable?: FlowTableBound;
}

export interface SiteSummary {
  sensors: SensorSummary[];
}

export function isSiteRun(run: object): run is SiteRun {
  return 'kind' in run && run.kind === 'site';
}

function fileName(f: CaptureSummary['files'][number]): string {
  return f.file;
}

/** Numbers of two records (damage, link types, non-IP frames) added key by key. */
function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

function siteBound(bounds: FlowTableBound[]): FlowTableBound | undefined {
  if (bounds.length === 0) return undefined;
  const sum = (k: 'active' | 'expired' | 'evicted' | 'scanFlows' | 'scanRecords' | 'foldedFlows' | 'foldedRecords' | 'dropped' | 'scannersMore') => bounds.reduce((s, b) => s + b[k], 0);
  const scanners = bounds.flatMap((b) => b.scanners).sort((a, b) => b.flows - a.flows);
  return {
    limit: bounds[0]!.limit,
    active: sum('active'), expired: sum('expired'), evicted: sum('evicted'),
    scanFlows: sum('scanFlows'), scanRecords: sum('scanRecords'), foldedFlows: sum('foldedFlows'), foldedRecords: sum('foldedRecords'),
    dropped: sum('dropped'),
    scanners: scanners.slice(0, 20),
    scannersMore: sum('scannersMore') + Math.max(0, scanners.length - 20),
  };
}

/** The sensors' capture summaries as the site's: every file, the counts added, the span of all. */
function siteCapture(inputs: ReadonlyArray<Omit<AuditInput, 'flows'>>): CaptureSummary {
  const decodeErrors: CaptureSummary['decodeErrors'] = {};
  for (const i of inputs) {
    for (const [reason, d] of Object.entries(i.capture.decodeErrors)) {
      const into = (decodeErrors[reason] ??= { count: 0, first: [] });
      into.count += d.count;
      into.first.push(...d.first);
    }
  }
  const linkTypes: Record<string, number> = {};
  const notIp: Record<string, number> = {};
  for (const i of inputs) {
    addCounts(linkTypes, i.capture.linkTypes);
    addCounts(notIp, i.capture.notIp);
  }
  const timed = inputs.filter((i) => i.first !== null);
  const earliest = timed.reduce<Omit<AuditInput, 'flows'> | null>((a, i) => (a === null || compareTime(i.first!.sec, i.first!.ns, a.first!.sec, a.first!.ns) < 0 ? i : a), null);
  const latest = timed.reduce<Omit<AuditInput, 'flows'> | null>((a, i) => (a === null || compareTime(i.last!.sec, i.last!.ns, a.last!.sec, a.last!.ns) > 0 ? i : a), null);
  const sum = (k: 'packets' | 'bytes' | 'ipPackets' | 'decodeErrorCount' | 'orphanFragments' | 'fragmentOverflow' | 'timeReversals') => inputs.reduce((s, i) => s + i.capture[k], 0);
  const bound = siteBound(inputs.flatMap((i) => (i.capture.flowTable ? [i.capture.flowTable] : [])));
  return {
    files: inputs.flatMap((i) => i.capture.files),
    packets: sum('packets'),
    bytes: sum('bytes'),
    ipPackets: sum('ipPackets'),
    first: earliest?.capture.first ?? null,
    last: latest?.capture.last ?? null,
    linkTypes,
    notIp,
    decodeErrors,
    decodeErrorCount: sum('decodeErrorCount'),
    orphanFragments: sum('orphanFragments'),
    fragmentOverflow: sum('fragmentOverflow'),
    timeReversals: sum('timeReversals'),
    ...(bound ? { flowTable: bound } : {}),
  };
}

/**
 * Why a sensor cannot prove absence for the site: its drops, or its records' unreadable lines. A
 * sensor's one-sidedness is not: the site judges that on the merged flows.
 */
function sensorLoss(read: SensorRead, input: Pick<AuditInput, 'quality'>): string | null {
  if (isRecordRun(read.run)) return read.run.qualityNotes().loss;
  return input.quality.droppedByInterface + input.quality.droppedByOs > 0 ? input.quality.loss : null;
}

/** A negotiation as two sensors would both see it: what was asked, between whom, on which connection, what was granted. */
function negotiationSignature(g: GrantLike | FailedNegotiation, endpoints: string): string {
  const e = g.evidence;
  return [g.reason, g.kind, g.peer, e.client, e.clientPort, e.server, e.serverPort, g.subject ?? '', endpoints].join('|');
}

/**
 * The sensors' grants and refusals as the site's: a negotiation another sensor already read (the same
 * signature within the slack, each matched once) is left out; the others are renumbered so that two
 * sensors' numbers never meet. Returns how many were left out.
 */
function siteNegotiations(inputs: ReadonlyArray<Omit<AuditInput, 'flows'>>, slack: number): { grants: GrantLike[]; failed: FailedNegotiation[]; duplicates: number; twins: Map<string, { read: number; refused: number }> } {
  const seen = new Map<string, Array<{ t: number; sensor: number; matchedBy: Set<number> }>>();
  const grants: GrantLike[] = [];
  const failed: FailedNegotiation[] = [];
  let next = 0;
  let duplicates = 0;
  // Per inspector (its name is the grant's reason): the twins left out, to take off what it read.
  const twins = new Map<string, { read: number; refused: number }>();
  inputs.forEach((input, k) => {
    const endpoints = new Map<number, string[]>();
    for (const g of input.grants) (endpoints.get(g.negotiation) ?? endpoints.set(g.negotiation, []).get(g.negotiation)!).push(`${g.host} ${g.transport} ${g.port ?? '*'}`);
    const ids = new Map<number, number>();
    const place = (g: GrantLike | FailedNegotiation): number => {
      const known = ids.get(g.negotiation);
      if (known !== undefined) return known;
      const sig = negotiationSignature(g, (endpoints.get(g.negotiation) ?? []).sort().join(','));
      const t = g.fromSec + g.fromNs / 1e9;
      let list = seen.get(sig);
      if (list === undefined) seen.set(sig, (list = []));
      const twin = list.find((x) => x.sensor !== k && !x.matchedBy.has(k) && Math.abs(x.t - t) <= slack);
      if (twin) {
        twin.matchedBy.add(k);
        duplicates++;
        const t = twins.get(g.reason) ?? twins.set(g.reason, { read: 0, refused: 0 }).get(g.reason)!;
        t.read++;
        if ('status' in g) t.refused++;
        ids.set(g.negotiation, -1);
        return -1;
      }
      list.push({ t, sensor: k, matchedBy: new Set() });
      ids.set(g.negotiation, next);
      return next++;
    };
    for (const g of input.grants) {
      const id = place(g);
      if (id >= 0) grants.push({ ...g, negotiation: id });
    }
    for (const f of input.failed) {
      const id = place(f);
      if (id >= 0) failed.push({ ...f, negotiation: id });
    }
  });
  const byTime = (a: { fromSec: number; fromNs: number }, b: { fromSec: number; fromNs: number }) => compareTime(a.fromSec, a.fromNs, b.fromSec, b.fromNs);
  return { grants: grants.sort(byTime), failed: failed.sort(byTime), duplicates, twins };
}

/** The inspectors' statistics of every packet sensor, added per inspector, less the negotiations two sensors read. */
function siteInspectorStats(inputs: ReadonlyArray<Omit<AuditInput, 'flows'>>, twins: Map<string, { read: number; refused: number }>): InspectorStats[] {
  const out = new Map<string, InspectorStats>();
  for (const s of inputs.flatMap((i) => i.inspectorStats)) {
    const into = out.get(s.inspector);
    if (into === undefined) {
      out.set(s.inspector, { ...s, bounds: { ...s.bounds } });
      continue;
    }
    into.read += s.read;
    into.malformed += s.malformed;
    into.refused += s.refused;
    into.retransmitted += s.retransmitted;
    into.streamsDropped += s.streamsDropped;
    for (const [b, n] of Object.entries(s.bounds) as Array<[keyof InspectorStats['bounds'], number]>) into.bounds[b] = (into.bounds[b] ?? 0) + n;
  }
  for (const [inspector, t] of twins) {
    const into = out.get(inspector);
    if (into === undefined) continue;
    into.read -= t.read;
    into.refused -= t.refused;
  }
  return [...out.values()];
}

/** What the audit reads of a site: its sensors' flows merged, every sensor's summary, the site's quality. */
export function siteInput(site: SiteRun): AuditInput & { capture: CaptureSummary & SiteSummary } {
  const inputs = site.sensors.map((s) => s.input);
  let offset = 0;
  const offsets = inputs.map((i) => {
    const at = offset;
    offset += i.capture.files.length;
    return at;
  });
  const merge = mergeSensorFlows(site.sensors.map((s, k) => ({ name: s.name, records: s.records, fileOffset: offsets[k]! })), site.slack);
  const flows = columnsOfRecords(merge.records);
  const capture = siteCapture(inputs);
  const timed = inputs.filter((i) => i.first !== null);
  const first = timed.length ? timed.map((i) => i.first!).reduce((a, b) => (compareTime(b.sec, b.ns, a.sec, a.ns) < 0 ? b : a)) : null;
  const last = timed.length ? timed.map((i) => i.last!).reduce((a, b) => (compareTime(b.sec, b.ns, a.sec, a.ns) > 0 ? b : a)) : null;
  const quality = assessQuality(capture, flows, first?.sec ?? Infinity, first?.ns ?? 0, last?.sec ?? -Infinity, last?.ns ?? 0);
  const negotiations = siteNegotiations(inputs, site.slack);
  const sensors: SensorSummary[] = site.sensors.map((s, k) => {
    const i = inputs[k]!;
    return {
      name: s.name,
      kind: s.kind,
      files: i.capture.files.map(fileName),
      packets: i.capture.packets,
      bytes: i.capture.bytes,
      records: s.recordCount,
      first: i.capture.first,
      last: i.capture.last,
      durationSeconds: i.quality.durationSeconds,
      droppedByInterface: i.quality.droppedByInterface,
      droppedByOs: i.quality.droppedByOs,
      decodeErrors: i.capture.decodeErrorCount,
      flows: merge.perSensor[k]!.flows,
      alone: merge.perSensor[k]!.alone,
      // The span is on the sensor's own line; its other notes follow it.
      notes: i.quality.notes.slice(1),
      loss: s.loss,
      ...(i.capture.flowTable ? { flowTable: i.capture.flowTable } : {}),
    };
  });
  const together = site.sensors.length > 1 ? `the sensors span ${humanDuration(quality.durationSeconds)} together` : `the sensor spans ${humanDuration(quality.durationSeconds)}`;
  const notes = [first === null ? 'no sensor gave a time: the span the site covers is unknown' : together];
  if (site.sensors.length > 1) {
    notes.push(merge.shared === 0
      ? `no conversation was seen by more than one sensor (same protocol and endpoints, times overlapping within ${site.slack} s)`
      : `${plural(merge.shared, 'conversation')} seen by more than one sensor ${merge.shared === 1 ? 'is' : 'are'} counted once (same protocol and endpoints, times overlapping within ${site.slack} s): each side's packets as the sensor that counted most`);
  }
  if (merge.untimedMatches > 0) notes.push(`${plural(merge.untimedMatches, 'of them', 'of them')} matched on protocol and endpoints alone: a sensor's records have no time (masked or unset ts)`);
  const alone = sensors.filter((s) => s.alone > 0);
  if (alone.length > 0 && site.sensors.length > 1) notes.push(`flows seen by one sensor only: ${alone.map((s) => `${s.name} ${s.alone}`).join(', ')} (where the sensors watch different links, that is their placement, not a loss)`);
  if (negotiations.duplicates > 0) notes.push(`${plural(negotiations.duplicates, 'negotiation')} read by more than one sensor ${negotiations.duplicates === 1 ? 'is' : 'are'} counted once (in the grants and in what the inspectors read)`);
  if (quality.oneSidedTcpFlows > 0) notes.push(`${quality.oneSidedTcpFlows} of ${quality.tcpFlows} TCP flows (${(quality.oneSidedTcpShare * 100).toFixed(0)}%) show one direction only on every sensor that saw them`);
  const lossy = sensors.filter((s) => s.loss !== null);
  const oneSided = quality.droppedByInterface + quality.droppedByOs === 0 ? quality.loss : null;
  quality.notes = notes;
  quality.loss = lossy.length > 0
    ? `${lossy.map((s) => `sensor ${s.name}: ${s.loss}`).join('; ')}${site.sensors.length > 1 ? ' (site-wide: a lossy sensor cannot say which conversations it missed)' : ''}`
    : oneSided;
  return {
    flows,
    capture: { ...capture, sensors },
    quality,
    first,
    last,
    grants: negotiations.grants,
    failed: negotiations.failed,
    inspectorStats: siteInspectorStats(inputs, negotiations.twins),
    grantsObservable: site.sensors.some((s) => s.input.grantsObservable),
    // The calls of a Zeek sensor's dce_rpc.log, where its record is the one a merged flow kept.
    rpc: RpcCallIndex.of(flows, merge.records),
  };
}
