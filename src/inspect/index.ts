import type { PacketRecord } from '../capture/record.js';
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import type { PacketView } from '../decode/view.js';
import { eptMapTowers, isEptMapRequest, pduHeader, PTYPE_RESPONSE } from './dcerpc.js';
import type { FailedNegotiation, Grant, InspectorStats } from './grants.js';

const EPM_PORT = 135;
const SSRP_PORT = 1434;
const TFTP_PORT = 69;
const MAX_STREAMS = 4096;
const MAX_STREAM_BYTES = 256 * 1024;

/** One direction of one endpoint-mapper TCP connection, reassembled in sequence order. */
interface Stream {
  next: number;
  data: Buffer;
  /** Call ids of ept_map requests seen from the client (shared by both directions of a connection). */
  eptMapCalls: Set<number>;
  /** Stub of a response that spans several fragments. */
  pending: Map<number, Buffer[]>;
}

function addr(v: PacketView, a: Uint32Array): string {
  return v.ipVersion === 4 ? formatIPv4(a[0]!) : formatIPv6(a[0]!, a[1]!, a[2]!, a[3]!);
}

/**
 * Whether the inspectors look at this packet: TCP payload to or from the endpoint mapper, SQL Browser
 * replies, TFTP requests. Workers use it to pick the packets they hand to the main thread.
 */
export function inspectorWants(v: PacketView): boolean {
  if (v.fragment === 2) return false;
  if (v.proto === 6) return (v.srcPort === EPM_PORT || v.dstPort === EPM_PORT) && v.payloadLen > 0;
  if (v.proto === 17) return v.srcPort === SSRP_PORT || v.dstPort === TFTP_PORT;
  return false;
}

/**
 * The payload inspectors. Called for every IP packet; a couple of port comparisons decide whether
 * a packet is theirs, so other traffic costs nothing. Nothing here throws on bad bytes: malformed
 * PDUs are counted.
 */
export class Inspectors {
  readonly grants: Grant[] = [];
  readonly failed: FailedNegotiation[] = [];
  private negotiations = 0;
  private readonly epm: InspectorStats = { inspector: 'dcerpc-epm', read: 0, malformed: 0, refused: 0, retransmitted: 0, streamsDropped: 0 };
  private readonly ssrpStats: InspectorStats = { inspector: 'ssrp', read: 0, malformed: 0, refused: 0, retransmitted: 0, streamsDropped: 0 };
  private readonly tftpStats: InspectorStats = { inspector: 'tftp', read: 0, malformed: 0, refused: 0, retransmitted: 0, streamsDropped: 0 };
  readonly stats: InspectorStats[] = [this.epm, this.ssrpStats, this.tftpStats];
  private readonly streams = new Map<string, Stream>();
  private readonly calls = new Map<string, Set<number>>();

  onPacket(v: PacketView, rec: PacketRecord, file: string): void {
    if (!inspectorWants(v)) return;
    if (v.proto === 6) {
      try {
        this.epmSegment(v, rec, file);
      } catch {
        this.epm.malformed++;
      }
    } else if (v.proto === 17) {
      if (v.srcPort === SSRP_PORT) this.ssrp(v, rec, file);
      else if (v.dstPort === TFTP_PORT) this.tftp(v, rec, file);
    }
  }

  private epmSegment(v: PacketView, rec: PacketRecord, file: string): void {
    const toServer = v.dstPort === EPM_PORT;
    const client = addr(v, toServer ? v.src : v.dst);
    const server = addr(v, toServer ? v.dst : v.src);
    const clientPort = toServer ? v.srcPort : v.dstPort;
    const conn = `${client}|${clientPort}|${server}`;
    const key = `${conn}|${toServer ? 'c' : 's'}`;
    let calls = this.calls.get(conn);
    if (!calls) {
      calls = new Set();
      this.calls.set(conn, calls);
    }
    let s = this.streams.get(key);
    const payload = rec.buf.subarray(v.payloadOff, v.payloadOff + v.payloadLen);
    if (!s) {
      if (this.streams.size >= MAX_STREAMS) {
        // Bounded state: forget the oldest stream rather than grow without end.
        const first = this.streams.keys().next().value as string;
        this.streams.delete(first);
        this.epm.streamsDropped++;
      }
      s = { next: v.tcpSeq, data: Buffer.alloc(0), eptMapCalls: calls, pending: new Map() };
      this.streams.set(key, s);
    }
    const seq = v.tcpSeq;
    const delta = (seq - s.next) | 0;
    if (delta > 0) {
      // A gap: bytes were not captured. Resynchronise on this segment.
      s.data = Buffer.from(payload);
    } else if (delta < 0) {
      // A retransmission (or overlap): keep only the new bytes.
      if (-delta >= payload.length) return;
      s.data = Buffer.concat([s.data, payload.subarray(-delta)]);
    } else s.data = s.data.length ? Buffer.concat([s.data, payload]) : Buffer.from(payload);
    s.next = (seq + payload.length) >>> 0;
    if (s.data.length > MAX_STREAM_BYTES) s.data = Buffer.alloc(0);
    let p = 0;
    while (p < s.data.length) {
      if (s.data.length - p < 16) break; // the rest of the header is in a later segment
      const h = pduHeader(s.data, p, s.data.length);
      if (!h) {
        this.epm.malformed++;
        s.data = Buffer.alloc(0);
        return;
      }
      if (s.data.length - p < h.fragLength) break;
      const pdu = s.data.subarray(p, p + h.fragLength);
      if (toServer) {
        if (isEptMapRequest(pdu, 0, h)) calls.add(h.callId);
      } else if (h.ptype === PTYPE_RESPONSE && calls.has(h.callId)) {
        const stubEnd = h.fragLength - (h.authLength ? h.authLength + 8 : 0);
        const part = Buffer.from(pdu.subarray(24, Math.max(24, stubEnd)));
        const parts = s.pending.get(h.callId) ?? [];
        parts.push(part);
        if (h.flags & 0x02) {
          s.pending.delete(h.callId);
          calls.delete(h.callId);
          this.eptMapReply(Buffer.concat(parts), h.littleEndian, { client, clientPort, server, rec, file });
        } else s.pending.set(h.callId, parts);
      }
      p += h.fragLength;
    }
    s.data = s.data.subarray(p);
  }

  private eptMapReply(stub: Buffer, le: boolean, at: { client: string; clientPort: number; server: string; rec: PacketRecord; file: string }): void {
    const towers = eptMapTowers(stub, le);
    if (towers === null) {
      this.epm.malformed++;
      return;
    }
    this.epm.read++;
    const negotiation = this.negotiations++;
    for (const t of towers) {
      const host = t.ip === null || t.ip === '0.0.0.0' ? at.server : t.ip;
      this.grants.push({
        host,
        transport: t.transport,
        port: t.port,
        peer: at.client,
        fromSec: at.rec.tsSec,
        fromNs: at.rec.tsNs,
        reason: 'dcerpc-epm',
        negotiation,
        kind: 'dcerpc',
        evidence: {
          file: at.file,
          record: at.rec.recordNo,
          client: at.client,
          clientPort: at.clientPort,
          server: at.server,
          serverPort: EPM_PORT,
          detail: `ept_map reply: ncacn_ip_${t.transport} ${host}[${t.port}]`,
        },
      });
    }
  }

  /** SQL Server Resolution Protocol reply: 0x05, length, then "…;tcp;PORT;…" for each instance. */
  private ssrp(v: PacketView, rec: PacketRecord, file: string): void {
    const b = rec.buf;
    const p = v.payloadOff;
    if (v.payloadLen < 3 || b[p] !== 0x05) {
      this.ssrpStats.malformed++;
      return;
    }
    const len = b.readUInt16LE(p + 1);
    const text = b.toString('latin1', p + 3, p + 3 + Math.min(len, v.payloadLen - 3));
    const server = addr(v, v.src);
    const client = addr(v, v.dst);
    this.ssrpStats.read++;
    const negotiation = this.negotiations++;
    // Instances are separated by ";;"; each is a list of name;value pairs.
    for (const inst of text.split(';;')) {
      const parts = inst.split(';');
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < parts.length; i += 2) fields.set(parts[i]!.toLowerCase(), parts[i + 1]!);
      const port = Number(fields.get('tcp'));
      if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
      this.grants.push({
        host: server,
        transport: 'tcp',
        port,
        peer: client,
        fromSec: rec.tsSec,
        fromNs: rec.tsNs,
        reason: 'ssrp',
        negotiation,
        kind: 'sql-named-instance',
        evidence: { file, record: rec.recordNo, client, clientPort: v.dstPort, server, serverPort: SSRP_PORT, detail: `SQL Browser: instance ${fields.get('instancename') ?? '?'} tcp ${port}` },
      });
    }
  }

  /** A TFTP read or write request: the transfer will come from a new port of the server. */
  private tftp(v: PacketView, rec: PacketRecord, file: string): void {
    const b = rec.buf;
    const p = v.payloadOff;
    if (v.payloadLen < 4) {
      this.tftpStats.malformed++;
      return;
    }
    const op = b.readUInt16BE(p);
    if (op !== 1 && op !== 2) return;
    const end = p + v.payloadLen;
    const nul = b.indexOf(0, p + 2);
    if (nul < 0 || nul >= end) {
      this.tftpStats.malformed++;
      return;
    }
    const name = b.toString('latin1', p + 2, Math.min(nul, p + 2 + 200));
    const client = addr(v, v.src);
    const server = addr(v, v.dst);
    this.tftpStats.read++;
    const negotiation = this.negotiations++;
    this.grants.push({
      host: server,
      transport: 'udp',
      port: null,
      peer: client,
      peerPort: v.srcPort,
      fromSec: rec.tsSec,
      fromNs: rec.tsNs,
      reason: 'tftp',
      negotiation,
      kind: 'tftp-transfer',
      evidence: { file, record: rec.recordNo, client, clientPort: v.srcPort, server, serverPort: TFTP_PORT, detail: `TFTP ${op === 1 ? 'RRQ' : 'WRQ'} ${name}` },
    });
  }
}

export type { FailedNegotiation, Grant, InspectorStats } from './grants.js';
