import type { PacketRecord } from '../capture/record.js';
import type { PacketView } from '../decode/view.js';
import { DceRpcInspector, EPM_PORT } from './dcerpc-inspector.js';
import type { FailedNegotiation, Grant, InspectorStats } from './grants.js';
import { GrantSink, Inspector } from './inspector.js';
import { SsrpInspector, SSRP_PORT } from './ssrp.js';
import { ReassemblyLimits, StreamReassembler } from './tcp-stream.js';
import { TftpInspector, TFTP_PORT } from './tftp.js';

/**
 * The inspectors, one row each: what it is called, the transport and ports it reads, and how to make
 * it. A new negotiation (FTP PASV, the SunRPC portmapper) is one file and one row here; the port
 * tables workers filter with, the reassembler's dispatch and the statistics all come from these rows.
 */
export interface InspectorRow {
  name: string;
  transport: 'tcp' | 'udp';
  /** Ports the negotiation's server listens on; packets to or from them are the inspector's. */
  ports: readonly number[];
  create(sink: GrantSink): Inspector;
}

export const INSPECTOR_ROWS: readonly InspectorRow[] = [
  // Endpoint mapper and DCOM activation/OXID resolution: one row, the two share connections and binds.
  { name: 'dcerpc', transport: 'tcp', ports: [EPM_PORT], create: (sink) => new DceRpcInspector(sink) },
  { name: 'ssrp', transport: 'udp', ports: [SSRP_PORT], create: (sink) => new SsrpInspector(sink) },
  { name: 'tftp', transport: 'udp', ports: [TFTP_PORT], create: (sink) => new TftpInspector(sink) },
];

/** Port → 1 + index of the row that reads it (0: nobody), per transport. */
const TCP_OWNER = new Uint8Array(65536);
const UDP_OWNER = new Uint8Array(65536);
INSPECTOR_ROWS.forEach((row, i) => {
  for (const port of row.ports) (row.transport === 'tcp' ? TCP_OWNER : UDP_OWNER)[port] = i + 1;
});

const TCP_FIN_SYN_RST = 0x07;

/**
 * Whether the inspectors look at this packet: a port check against the registry's tables, so other
 * traffic costs nothing. TCP segments count when they carry payload or open or close a connection
 * (the reassembler frees state on FIN and RST). Workers use it to pick the packets they hand over.
 */
export function inspectorWants(v: PacketView): boolean {
  if (v.fragment === 2) return false;
  if (v.proto === 6) return (TCP_OWNER[v.srcPort] ?? 0) + (TCP_OWNER[v.dstPort] ?? 0) !== 0 && (v.payloadLen > 0 || (v.tcpFlags & TCP_FIN_SYN_RST) !== 0);
  if (v.proto === 17) return (UDP_OWNER[v.srcPort] ?? 0) + (UDP_OWNER[v.dstPort] ?? 0) !== 0 && v.payloadLen > 0;
  return false;
}

/**
 * The payload inspectors of one analysis: every row of the registry, one shared TCP reassembler, one
 * sink of grants and refusals. Called for every IP packet; nothing here throws on bad bytes.
 */
export class Inspectors {
  private readonly sink = new GrantSink();
  readonly grants: Grant[] = this.sink.grants;
  readonly failed: FailedNegotiation[] = this.sink.failed;
  private readonly inspectors: Inspector[];
  /** Every inspector's statistics, in registry order: dcerpc-epm, dcom, ssrp, tftp. */
  readonly stats: InspectorStats[];
  private readonly reassembler: StreamReassembler;

  constructor(limits: Partial<ReassemblyLimits> = {}) {
    this.inspectors = INSPECTOR_ROWS.map((row) => row.create(this.sink));
    this.stats = this.inspectors.flatMap((i) => i.stats);
    this.reassembler = new StreamReassembler(
      (owner, conn) => this.inspectors[owner]!.openStream!(conn),
      (owner) => this.inspectors[owner]!.streamDropped?.(),
      limits,
    );
  }

  /** Connections the reassembler follows now, and the bytes it holds for them. */
  get openStreams(): number {
    return this.reassembler.size;
  }
  get bufferedBytes(): number {
    return this.reassembler.bufferedBytes;
  }
  /** Bytes the reassembler has copied into its buffers (its work: linear in the TCP payload it read). */
  get copiedBytes(): number {
    return this.reassembler.copiedBytes;
  }

  onPacket(v: PacketView, rec: PacketRecord, file: string): void {
    if (!inspectorWants(v)) return;
    const tcp = v.proto === 6;
    const table = tcp ? TCP_OWNER : UDP_OWNER;
    // The destination's port first: a request to a listener is the listener's, whatever its source port.
    const onDst = table[v.dstPort]! !== 0;
    const owner = (onDst ? table[v.dstPort]! : table[v.srcPort]!) - 1;
    const ins = this.inspectors[owner]!;
    try {
      if (tcp) this.reassembler.segment(v, rec, file, owner, onDst ? v.dstPort : v.srcPort);
      else ins.datagram?.(v, rec, file);
    } catch {
      // A decoder bug must not end the analysis: the packet counts as one the inspector could not read.
      ins.stats[0]!.malformed++;
    }
  }
}

export type { FailedNegotiation, Grant, InspectorStats } from './grants.js';
