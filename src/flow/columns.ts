import { DIRECTION_EVIDENCE, RECORD_DIRECTION_EVIDENCE, type DirectionEvidence, type FlowRecord, type TcpOutcome } from './record.js';

/** TCP outcomes by index in `FlowColumns.outcome`; 0 is none (not TCP). */
export const OUTCOMES: ReadonlyArray<TcpOutcome | null> = [null, 'established', 'attempted', 'rejected', 'partial'];
/** A TCP outcome's index in OUTCOMES. */
export const OUTCOME_INDEX = new Map<TcpOutcome | null, number>(OUTCOMES.map((o, i) => [o, i]));
/** Direction evidence by index in `FlowColumns.direction` (the table's, the audit's 'catalog-port', then flow records' own). */
export const DIRECTIONS: readonly DirectionEvidence[] = [...DIRECTION_EVIDENCE, 'catalog-port', ...RECORD_DIRECTION_EVIDENCE];
const DIRECTION_INDEX = new Map<string, number>(DIRECTIONS.map((d, i) => [d, i]));
/** A port column's value as records have it: -1 is none. */
export function portOrNull(p: number): number | null {
  return p < 0 ? null : p;
}

/**
 * IP protocols by number, spelt as tshark's and Wireshark's filters spell them (lower case; IANA's
 * keyword where they have none): what a report names instead of a bare number. Any other protocol is
 * its number. The JSON Schema's `proto` lists the same names (schema/definitions.schema.json).
 */
export const IP_PROTOCOL_KEYWORDS: Readonly<Record<number, string>> = {
  1: 'icmp', 2: 'igmp', 4: 'ipip', 6: 'tcp', 8: 'egp', 9: 'igp', 17: 'udp', 27: 'rdp', 33: 'dccp', 41: 'ipv6', 46: 'rsvp',
  47: 'gre', 50: 'esp', 51: 'ah', 58: 'icmpv6', 88: 'eigrp', 89: 'ospf', 94: 'ipip94', 97: 'etherip', 103: 'pim',
  108: 'ipcomp', 112: 'vrrp', 115: 'l2tp', 124: 'isis', 132: 'sctp', 136: 'udplite', 137: 'mpls-in-ip',
};

/** Protocol names as records spell them, by number. */
export const PROTO_NAMES: readonly string[] = Array.from({ length: 256 }, (_, n) => IP_PROTOCOL_KEYWORDS[n] ?? String(n));

/**
 * The flows of a run as columns, in export order (by first packet): what the audit reads to judge
 * hundreds of thousands of flows without making an object a flow. Hosts are numbered (each address
 * text made once); a flow's record is made only when a report asks for it.
 */
export interface FlowColumns {
  readonly n: number;
  /** Address text by host id. */
  readonly hosts: string[];
  readonly client: Int32Array;
  readonly server: Int32Array;
  readonly proto: Uint8Array;
  /** -1: the protocol has no ports. */
  readonly clientPort: Int32Array;
  readonly serverPort: Int32Array;
  /** -1: not ICMP. */
  readonly icmpType: Int16Array;
  /** Index in DIRECTIONS. */
  readonly direction: Uint8Array;
  /** Index in OUTCOMES. */
  readonly outcome: Uint8Array;
  readonly clientPackets: Float64Array;
  readonly serverPackets: Float64Array;
  /** 0 when the flow has no time, as in its record. */
  readonly startSec: Float64Array;
  readonly startNs: Float64Array;
  /** 1: tagged with a VLAN in one direction only. */
  readonly vlanAsymmetric: Uint8Array;
  /** The plain record of flow i (a new object each call). */
  record(i: number): FlowRecord;
  /**
   * Where the source can write a flow's JSON line as bytes without its record: `swap` writes the
   * sides exchanged and the direction as 'catalog-port' (as the audit's judged record has them), no
   * closing brace. Returns the new position; the caller has made LINE_ROOM (json.ts) bytes of room.
   */
  readonly line?: (b: Buffer, p: number, i: number, swap: boolean) => number;
}

/** `FlowColumns` for n flows, the arrays zeroed, for a source to fill. */
export function emptyColumns(n: number, hosts: string[], record: (i: number) => FlowRecord, line?: FlowColumns['line']): FlowColumns {
  return {
    n,
    hosts,
    client: new Int32Array(n),
    server: new Int32Array(n),
    proto: new Uint8Array(n),
    clientPort: new Int32Array(n),
    serverPort: new Int32Array(n),
    icmpType: new Int16Array(n),
    direction: new Uint8Array(n),
    outcome: new Uint8Array(n),
    clientPackets: new Float64Array(n),
    serverPackets: new Float64Array(n),
    startSec: new Float64Array(n),
    startNs: new Float64Array(n),
    vlanAsymmetric: new Uint8Array(n),
    record,
    ...(line ? { line } : {}),
  };
}

/** Columns of plain records (flows folded by a live capture, tests): records keep their own objects. */
export function columnsOfRecords(records: readonly FlowRecord[]): FlowColumns {
  const ids = new Map<string, number>();
  const hosts: string[] = [];
  const id = (addr: string) => {
    let h = ids.get(addr);
    if (h === undefined) {
      ids.set(addr, (h = hosts.length));
      hosts.push(addr);
    }
    return h;
  };
  const c = emptyColumns(records.length, hosts, (i) => ({ ...records[i]! }));
  for (let i = 0; i < records.length; i++) {
    const f = records[i]!;
    c.client[i] = id(f.client);
    c.server[i] = id(f.server);
    c.proto[i] = f.protoNumber;
    c.clientPort[i] = f.clientPort ?? -1;
    c.serverPort[i] = f.serverPort ?? -1;
    c.icmpType[i] = f.icmpType ?? -1;
    c.direction[i] = DIRECTION_INDEX.get(f.direction)!;
    c.outcome[i] = OUTCOME_INDEX.get(f.outcome)!;
    c.clientPackets[i] = f.clientPackets;
    c.serverPackets[i] = f.serverPackets;
    c.startSec[i] = f.startSec;
    c.startNs[i] = f.startNs;
    c.vlanAsymmetric[i] = f.vlanAsymmetric ? 1 : 0;
  }
  return c;
}

/**
 * The flows of two sources as one set of columns in order of first packet, records of `first` before
 * those of `second` at the same time (as a stable sort of first's records, then second's, would have
 * them): a bounded table's records folded away, merged with the table's own columns without making a
 * record of every flow still in the table. Hosts are renumbered into one list.
 */
export function mergeColumns(first: FlowColumns, second: FlowColumns): FlowColumns {
  const n = first.n + second.n;
  const hosts = [...first.hosts];
  const ids = new Map<string, number>();
  for (let h = 0; h < hosts.length; h++) ids.set(hosts[h]!, h);
  const secondHost = second.hosts.map((addr) => {
    let h = ids.get(addr);
    if (h === undefined) {
      ids.set(addr, (h = hosts.length));
      hosts.push(addr);
    }
    return h;
  });
  const fromSecond = new Uint8Array(n);
  const at = new Uint32Array(n);
  const c = emptyColumns(n, hosts, (i) => (fromSecond[i] ? second.record(at[i]!) : first.record(at[i]!)));
  let i = 0;
  let j = 0;
  for (let k = 0; k < n; k++) {
    const takeFirst = j >= second.n || (i < first.n && (first.startSec[i]! < second.startSec[j]! || (first.startSec[i] === second.startSec[j] && first.startNs[i]! <= second.startNs[j]!)));
    const src = takeFirst ? first : second;
    const s = takeFirst ? i++ : j++;
    fromSecond[k] = takeFirst ? 0 : 1;
    at[k] = s;
    c.client[k] = takeFirst ? src.client[s]! : secondHost[src.client[s]!]!;
    c.server[k] = takeFirst ? src.server[s]! : secondHost[src.server[s]!]!;
    c.proto[k] = src.proto[s]!;
    c.clientPort[k] = src.clientPort[s]!;
    c.serverPort[k] = src.serverPort[s]!;
    c.icmpType[k] = src.icmpType[s]!;
    c.direction[k] = src.direction[s]!;
    c.outcome[k] = src.outcome[s]!;
    c.clientPackets[k] = src.clientPackets[s]!;
    c.serverPackets[k] = src.serverPackets[s]!;
    c.startSec[k] = src.startSec[s]!;
    c.startNs[k] = src.startNs[s]!;
    c.vlanAsymmetric[k] = src.vlanAsymmetric[s]!;
  }
  return c;
}
