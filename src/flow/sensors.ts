/**
 * The flows of several sensors as one site's (`analyze --sensor`): the same conversation seen by two
 * sensors is one flow, which names every sensor that saw it.
 *
 * The same conversation: the same protocol and endpoints whatever their order (a SPAN port may see
 * the reply first; Zeek's originator may be the other side), ICMP's type where both have one, and
 * times that overlap within `slack` seconds (the sensors' clocks differ a little). The VLAN is left
 * out: two switches tag one conversation differently. A record without a time (Zeek's test baselines
 * mask `ts`) cannot be placed in time: it is matched on the 5-tuple alone, and counted as such.
 *
 * Each sensor's flow matches at most one site flow, and a site flow at most one flow of each sensor,
 * the earliest that overlaps: two conversations a sensor keeps apart (a port reused after a FIN) stay
 * apart, however another sensor cut them. So the site has at least as many flows as any one sensor.
 *
 * What the merged flow says, from the records of its sensors (counts are never summed: a packet seen
 * twice is one packet):
 * - each side's packets and bytes are the most any sensor counted on that side (two taps of an
 *   asymmetric route each see one direction: together they see both); the place of its packets
 *   (file and frames), VLAN and tunnel are those of the sensor that saw the most packets (the first
 *   on the command line at a tie);
 * - who is the client comes from the strongest direction evidence (a SYN over a first packet), the
 *   first sensor's at a tie; the other records are turned to it;
 * - the TCP outcome is the best any sensor saw (established, rejected, partial, attempted), or
 *   established when one sensor saw the client's SYN and another the server's SYN-ACK;
 * - its TCP flags are both records' flags; its time runs from the first sensor's first packet to the
 *   last one's last.
 */
import { compareTime } from '../core/time.js';
import { DIRECTION_EVIDENCE, type DirectionEvidence, type FlowRecord, type TcpOutcome } from './record.js';

/**
 * One sensor's flows: its records in order of first packet (the merge takes them over: a record
 * that starts a site flow becomes it); `fileOffset`, where its files start in the site's list.
 */
export interface SensorFlows {
  name: string;
  records: Iterable<FlowRecord>;
  fileOffset: number;
}

export interface SensorMerge {
  /** The site's flows by first packet, each with its `sensors`. */
  records: FlowRecord[];
  /** Site flows that two or more sensors saw. */
  shared: number;
  /** Matches made on the 5-tuple alone, a record having no time. */
  untimedMatches: number;
  /** Per sensor, in the order given: its flows, and those no other sensor saw. */
  perSensor: Array<{ flows: number; alone: number }>;
}

/** The default slack for the sensors' clocks, in seconds. */
export const SENSOR_SLACK_SECONDS = 2;

interface SiteFlow {
  rec: FlowRecord;
  /** Sensors by index, in the order they matched (ascending). */
  from: number[];
  startT: number;
  endT: number;
  timed: boolean;
}

const DIRECTION_RANK = new Map<DirectionEvidence, number>([...DIRECTION_EVIDENCE.map((d, i) => [d, i] as const), ['zeek-flipped', 1], ['catalog-port', 0]]);
const OUTCOME_RANK: Record<TcpOutcome, number> = { established: 4, rejected: 3, partial: 2, attempted: 1 };

function endpointText(addr: string, port: number | null): string {
  return port === null ? addr : `${addr}|${port}`;
}

/** Protocol and both endpoints in a fixed order: a conversation whatever its orientation. */
function conversationKey(r: FlowRecord): string {
  const a = endpointText(r.client, r.clientPort);
  const b = endpointText(r.server, r.serverPort);
  return `${r.protoNumber} ${a < b ? `${a} ${b}` : `${b} ${a}`}`;
}

function seconds(sec: number, ns: number): number {
  return sec + ns / 1e9;
}

/** The record with its sides exchanged (its direction evidence kept: the caller decides it). */
function swapped(r: FlowRecord): FlowRecord {
  const s: FlowRecord = {
    ...r,
    client: r.server, clientPort: r.serverPort, server: r.client, serverPort: r.clientPort,
    clientPackets: r.serverPackets, clientBytes: r.serverBytes, serverPackets: r.clientPackets, serverBytes: r.clientBytes,
  };
  const set = <K extends keyof FlowRecord>(k: K, v: FlowRecord[K] | undefined) => {
    if (v === undefined) delete s[k];
    else s[k] = v;
  };
  set('clientFlags', r.serverFlags);
  set('serverFlags', r.clientFlags);
  set('outerClient', r.outerServer);
  set('outerServer', r.outerClient);
  set('outerClientPort', r.outerServerPort);
  set('outerServerPort', r.outerClientPort);
  return s;
}

function unionFlags(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  // In the order the table writes them (S A F R P U E C).
  return 'SAFRPUEC'.split('').filter((l) => a.includes(l) || b.includes(l)).join('');
}

function bestOutcome(a: TcpOutcome | null, b: TcpOutcome | null): TcpOutcome | null {
  if (a === null || b === null) return a ?? b;
  return OUTCOME_RANK[b] > OUTCOME_RANK[a] ? b : a;
}

function overlaps(f: SiteFlow, r: FlowRecord, startT: number, endT: number, slack: number): boolean {
  if (!f.timed || r.start === null) return true;
  return startT <= f.endT + slack && f.startT <= endT + slack;
}

/** Sensor `k`'s record `r` (turned to the flow's orientation) merged into site flow `f`. */
function mergeInto(f: SiteFlow, r: FlowRecord, k: number, startT: number, endT: number): void {
  const mine = f.rec;
  const same = r.client === mine.client && r.clientPort === mine.clientPort;
  const stronger = (DIRECTION_RANK.get(r.direction) ?? 0) > (DIRECTION_RANK.get(mine.direction) ?? 0);
  // The stronger evidence decides the client: the flow turns to the new record, or the record to the flow.
  const base = stronger && !same ? swapped(mine) : mine;
  const other = stronger || same ? r : swapped(r);
  const direction = stronger ? r.direction : mine.direction;
  const rep = other.packets > base.packets ? other : base;
  const out: FlowRecord = { ...rep, direction };
  out.clientPackets = Math.max(base.clientPackets, other.clientPackets);
  out.clientBytes = Math.max(base.clientBytes, other.clientBytes);
  out.serverPackets = Math.max(base.serverPackets, other.serverPackets);
  out.serverBytes = Math.max(base.serverBytes, other.serverBytes);
  out.packets = out.clientPackets + out.serverPackets;
  out.bytes = out.clientBytes + out.serverBytes;
  out.outcome = bestOutcome(base.outcome, other.outcome);
  const clientFlags = unionFlags(base.clientFlags, other.clientFlags);
  const serverFlags = unionFlags(base.serverFlags, other.serverFlags);
  if (clientFlags !== undefined) out.clientFlags = clientFlags;
  if (serverFlags !== undefined) out.serverFlags = serverFlags;
  if (out.protoNumber === 6 && clientFlags?.includes('S') && serverFlags?.includes('S') && serverFlags.includes('A')) out.outcome = 'established';
  const errors = Math.max(base.icmpErrors ?? 0, other.icmpErrors ?? 0);
  if (errors > 0 && out.icmpErrors !== errors) {
    const from = (base.icmpErrors ?? 0) >= (other.icmpErrors ?? 0) ? base : other;
    out.icmpErrors = errors;
    if (from.icmpErrorType !== undefined) out.icmpErrorType = from.icmpErrorType;
    if (from.icmpErrorCode !== undefined) out.icmpErrorCode = from.icmpErrorCode;
  }
  if (r.start !== null) {
    if (!f.timed || startT < f.startT) {
      out.start = r.start;
      out.startSec = r.startSec;
      out.startNs = r.startNs;
    } else {
      out.start = mine.start;
      out.startSec = mine.startSec;
      out.startNs = mine.startNs;
    }
    out.end = !f.timed || endT > f.endT ? r.end : mine.end;
    f.startT = f.timed ? Math.min(f.startT, startT) : startT;
    f.endT = f.timed ? Math.max(f.endT, endT) : endT;
    f.timed = true;
    out.duration = Number((f.endT - f.startT).toFixed(6));
  } else if (f.timed) {
    out.start = mine.start;
    out.startSec = mine.startSec;
    out.startNs = mine.startNs;
    out.end = mine.end;
    out.duration = mine.duration;
  }
  f.rec = out;
  f.from.push(k);
}

/** The sensors' flows as the site's, each conversation once (see the module comment). */
export function mergeSensorFlows(sensors: readonly SensorFlows[], slack = SENSOR_SLACK_SECONDS): SensorMerge {
  const site: SiteFlow[] = [];
  const byKey = new Map<string, number[]>();
  let untimedMatches = 0;
  const perSensor = sensors.map(() => ({ flows: 0, alone: 0 }));
  sensors.forEach((sensor, k) => {
    for (const given of sensor.records) {
      perSensor[k]!.flows++;
      const r = given;
      r.firstFile += sensor.fileOffset;
      r.lastFile += sensor.fileOffset;
      const startT = seconds(r.startSec, r.startNs);
      const endT = startT + r.duration;
      const key = conversationKey(r);
      let list = byKey.get(key);
      if (list === undefined) byKey.set(key, (list = []));
      let match: SiteFlow | undefined;
      for (const i of list) {
        const f = site[i]!;
        if (f.from[f.from.length - 1] === k || !overlaps(f, r, startT, endT, slack)) continue;
        match = f;
        break;
      }
      if (match === undefined) {
        list.push(site.length);
        site.push({ rec: r, from: [k], startT, endT, timed: r.start !== null });
        continue;
      }
      if (!match.timed || r.start === null) untimedMatches++;
      mergeInto(match, r, k, startT, endT);
    }
  });
  let shared = 0;
  const records = site.map((f) => {
    if (f.from.length > 1) shared++;
    else perSensor[f.from[0]!]!.alone++;
    f.rec.sensors = f.from.map((k) => sensors[k]!.name);
    return f.rec;
  });
  records.sort((a, b) => compareTime(a.startSec, a.startNs, b.startSec, b.startNs));
  return { records, shared, untimedMatches, perSensor };
}
