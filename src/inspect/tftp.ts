import type { PacketRecord } from '../capture/record.js';
import type { PacketView } from '../decode/view.js';
import { TFTP } from './bounds.js';
import { destinationAddress, GrantSink, Inspector, newStats, overBound, sourceAddress } from './inspector.js';

export const TFTP_PORT = 69;

const RRQ = 1;
const WRQ = 2;
/** A repeat later than this is a new request that happens to reuse the port, not a retransmission. */
const RETRANSMIT_WINDOW_SEC = 60;

/**
 * TFTP read and write requests (RFC 1350): the server answers from a fresh port (its transfer id) to
 * the client's request port, so a request grants any UDP port of the server towards that client port.
 * Every request counts, malformed ones too (an empty file name, a missing terminator): a server may
 * still answer them. A request repeated byte for byte from the same client port is the same negotiation.
 */
export class TftpInspector implements Inspector {
  private readonly counts = newStats('tftp');
  readonly stats = [this.counts];
  /** Last request bytes per client address, port and server (RFC 1350: the client repeats on timeout). */
  private readonly recent = new Map<string, { bytes: string; sec: number }>();

  constructor(private readonly sink: GrantSink) {}

  datagram(v: PacketView, rec: PacketRecord, file: string): void {
    if (v.dstPort !== TFTP_PORT) return;
    const b = rec.buf;
    const p = v.payloadOff;
    const end = p + v.payloadLen;
    if (v.payloadLen < 2) {
      this.counts.malformed++;
      return;
    }
    const op = (b[p]! << 8) | b[p + 1]!;
    if (op !== RRQ && op !== WRQ) return; // DATA, ACK, ERROR to port 69 negotiate nothing
    const client = sourceAddress(v);
    const server = destinationAddress(v);
    const key = `${client}|${v.srcPort}|${server}`;
    const bytes = b.toString('latin1', p, Math.min(end, p + 600));
    const last = this.recent.get(key);
    if (last !== undefined && last.bytes === bytes && rec.tsSec - last.sec <= RETRANSMIT_WINDOW_SEC) {
      this.counts.retransmitted++;
      return;
    }
    this.recent.delete(key);
    if (this.recent.size >= TFTP.maxRemembered) {
      this.recent.delete(this.recent.keys().next().value as string);
      overBound(this.counts, 'requests-remembered');
    }
    this.recent.set(key, { bytes, sec: rec.tsSec });
    let nul = b.indexOf(0, p + 2);
    if (nul < 0 || nul >= end) {
      this.counts.malformed++; // no terminator: still a request the server may answer
      nul = end;
    }
    const name = b.toString('latin1', p + 2, Math.min(nul, p + 2 + 200));
    this.counts.read++;
    this.sink.grant({
      host: server,
      transport: 'udp',
      port: null,
      peer: client,
      peerPort: v.srcPort,
      fromSec: rec.tsSec,
      fromNs: rec.tsNs,
      reason: 'tftp',
      negotiation: this.sink.nextNegotiation(),
      kind: 'tftp-transfer',
      subject: name,
      evidence: { file, record: rec.recordNo, client, clientPort: v.srcPort, server, serverPort: TFTP_PORT, detail: `TFTP ${op === RRQ ? 'RRQ' : 'WRQ'} ${name}` },
    }, this.counts);
  }
}
