/**
 * A flow as reports see it, and the spelling of its values: the leaf every flow, audit and report
 * module reads the record's shape from (it imports nothing of the flow stage).
 */

export type TcpOutcome = 'established' | 'attempted' | 'rejected' | 'partial';

/** What decides which side of a flow is the client, as the flow table records it (weakest first). */
export const DIRECTION_EVIDENCE = ['first-packet', 'port-rank', 'epb-flags', 'icmp-type', 'syn-ack', 'syn'] as const;
/**
 * 'catalog-port' is set by the audit when only the catalog's documented port shows who listens;
 * 'zeek-flipped' comes with a Zeek record whose sides Zeek exchanged by its own heuristics (history `^`,
 * no lone SYN-ACK to show it: its likely server ports), src/ingest/zeek/conn-log.ts directionOf.
 */
export const RECORD_DIRECTION_EVIDENCE = ['zeek-flipped'] as const;
export type DirectionEvidence = (typeof DIRECTION_EVIDENCE)[number] | (typeof RECORD_DIRECTION_EVIDENCE)[number] | 'catalog-port';

/**
 * An input file of flow records (not packets), as the capture section lists it: lines read, records
 * made, lines that could not be read (each counted by reason in the run's damage, with file:line),
 * records without a time (masked or unset ts), records inside a tunnel (Zeek's tunnel_parents).
 */
export interface RecordFileFacts {
  file: string;
  gzip: boolean;
  format: 'zeek-tsv' | 'zeek-json';
  lines: number;
  records: number;
  unreadable: number;
  untimed: number;
  tunnelled: number;
  /**
   * A log read beside the conn logs for what it tells of their connections (`dce_rpc`: its records
   * are calls, put on the connection they were made on); absent for a conn log.
   */
  log?: 'dce_rpc';
}

/**
 * DCE/RPC calls made on a connection, as Zeek's dce_rpc.log logged them: each distinct RPC interface
 * (Zeek's endpoint name, e.g. `epmapper`, `drsuapi`) and operation (`ept_map`, `DRSGetNCChanges`),
 * how many calls, and the first one's time (null when the log has none).
 */
export interface DceRpcCall {
  endpoint: string;
  operation: string;
  calls: number;
  first: string | null;
}

/**
 * A source of flow export (IPFIX, NetFlow v9, v5): an IPFIX file (`analyze --input ipfix`) or the
 * UDP listener of `collect` (`file` is then `udp:HOST:PORT`). Messages read (datagrams for the
 * listener), flow records decoded from them, options records, the conversations stitched from the
 * records, the places that could not be read (each counted by reason in the run's damage, with its
 * message number and byte offset), conversations without a time, and each exporter's observation
 * domain: what its sequence numbers say was lost, and the sampling it stated.
 */
export interface ExportSourceFacts {
  file: string;
  format: 'ipfix' | 'udp';
  messages: number;
  records: number;
  optionsRecords: number;
  conversations: number;
  unreadable: number;
  untimed: number;
  /** Templates sent again under the same id with other fields and no withdrawal first (RFC 7011 §8.1): the new fields are used. */
  templateChanges: number;
  /** Datagrams whose first bytes are no NetFlow v5, v9 or IPFIX header (collect's listener only). */
  garbage?: number;
  /** Datagrams this host dropped before they were read, its socket's receive buffer full (collect's listener, where /proc/net/udp says). */
  socketDrops?: number;
  domains: ExportDomainFacts[];
}

/** One exporter's observation domain (IPFIX's Observation Domain ID, v9's Source ID, v5's engine). */
export interface ExportDomainFacts {
  exporter: string;
  version: 5 | 9 | 10;
  domain: number;
  messages: number;
  records: number;
  /** Lost before the collector by the sequence numbers, in `lostUnit`: IPFIX counts data records, v9 export packets, v5 flows. */
  lost: number;
  lostUnit: 'records' | 'packets' | 'flows';
  /** Messages whose sequence number went backwards (reordered, or the exporter restarted). */
  sequenceBackwards: number;
  /** 1 in `sampling` packets was metered (1: none stated), and where the exporter said so. */
  sampling: number;
  samplingSource: 'v5-header' | 'options-record' | 'data-record' | null;
}

/** Tunnels by bit of the table's tunnel word (bit 0, a VLAN tag, is not a tunnel). */
export const TUNNEL_NAMES = ['vlan', 'mpls', 'pppoe', 'gre', 'erspan', 'vxlan', 'geneve', 'ip-in-ip', 'teredo'];

/** The tunnel names of a tunnel word. */
export function tunnelNames(t: number): string[] {
  return TUNNEL_NAMES.filter((_, i) => t & (1 << i));
}

const FLAG_LETTERS: Array<[number, string]> = [
  [0x02, 'S'], [0x10, 'A'], [0x01, 'F'], [0x04, 'R'], [0x08, 'P'], [0x20, 'U'], [0x40, 'E'], [0x80, 'C'],
];
function flagLetters(flags: number): string {
  let s = '';
  for (const [bit, letter] of FLAG_LETTERS) if (flags & bit) s += letter;
  return s;
}
/** The letters of every TCP flags byte, made once: records share them instead of making two strings a flow. */
export const FLAG_TEXT = Array.from({ length: 256 }, (_, n) => flagLetters(n));

/** A flow as reports see it: made once per flow at export, never per packet. */
export interface FlowRecord {
  proto: string;
  protoNumber: number;
  ipVersion: 4 | 6;
  client: string;
  clientPort: number | null;
  server: string;
  serverPort: number | null;
  packets: number;
  bytes: number;
  clientPackets: number;
  clientBytes: number;
  serverPackets: number;
  serverBytes: number;
  start: string | null;
  end: string | null;
  /** Seconds between the first and the last packet. */
  duration: number;
  /** TCP: how the connection went; UDP: 'rejected' when only a port unreachable answered; null otherwise. */
  outcome: TcpOutcome | null;
  /** What decided which side is the client. */
  direction: DirectionEvidence;
  /**
   * Where the flow's packets are: the input file (0-based, the index in the capture's `files`) and
   * frame number (1-based, as tshark numbers frames: every record of the file) of its first packet in
   * input order, and of its last. A flow seen in two files starts in the first and ends in the last.
   * A folded record spans the first and last frame of the flows it holds.
   */
  firstFile: number;
  firstFrame: number;
  lastFile: number;
  lastFrame: number;
  /**
   * The tshark display filter that selects exactly the flow's packets (filter.ts displayFilter); a
   * folded record of flows from many client ports names the server port only. Absent where the
   * flows did not come from packets (flow records from other tools).
   */
  filter?: string;
  /** TCP flags seen from each side, as letters (S A F R P U E C). */
  clientFlags?: string;
  serverFlags?: string;
  icmpType?: number;
  icmpCode?: number;
  /** ICMP errors (unreachable, time exceeded, …) that quoted this flow's packets, and the last one's type and code. */
  icmpErrors?: number;
  icmpErrorType?: number;
  icmpErrorCode?: number;
  vlan?: number;
  /** Tagged with a VLAN in one direction only. */
  vlanAsymmetric?: boolean;
  tunnel?: string[];
  /**
   * A tunnelled flow's outer IP header (of its first tunnelled packet): the outer address on the
   * client's side and on the server's, and for a tunnel over UDP (VXLAN, Geneve, Teredo) the outer
   * ports. What a firewall between the tunnel's ends sees.
   */
  outerClient?: string;
  outerServer?: string;
  outerClientPort?: number;
  outerServerPort?: number;
  /**
   * The sensors that saw the flow, by the names `analyze --sensor` gave them, in command-line order.
   * Present only when an audit names its sensors (src/flow/sensors.ts).
   */
  sensors?: string[];
  /** Zeek's uid of the connection (flows read from Zeek's conn.log). */
  uid?: string;
  /** Zeek's tunnel_parents: the uids of the connections that carried this one (its tunnels' outer connections). */
  tunnelParents?: string[];
  /** The DCE/RPC calls Zeek's dce_rpc.log shows on this connection (flows read from Zeek's logs). */
  dceRpc?: DceRpcCall[];
  /** For sorting and later stages: the start time as numbers. */
  startSec: number;
  startNs: number;
}
