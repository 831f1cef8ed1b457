import type { PacketRecord } from '../capture/record.js';
import type { PacketView } from '../decode/view.js';
import { destinationAddress, GrantSink, Inspector, newStats, sourceAddress } from './inspector.js';

export const SSRP_PORT = 1434;

/**
 * SQL Server Resolution Protocol (MC-SQLR) replies from the SQL Server Browser: 0x05 (SVR_RESP), a
 * 16-bit length, then "name;value;…" per instance, instances separated by ";;". Each instance's `tcp`
 * value is the port its named instance listens on.
 */
export class SsrpInspector implements Inspector {
  private readonly counts = newStats('ssrp');
  readonly stats = [this.counts];

  constructor(private readonly sink: GrantSink) {}

  datagram(v: PacketView, rec: PacketRecord, file: string): void {
    if (v.srcPort !== SSRP_PORT) return; // requests name no port
    const b = rec.buf;
    const p = v.payloadOff;
    if (v.payloadLen < 3 || b[p] !== 0x05) {
      this.counts.malformed++;
      return;
    }
    const len = b[p + 1]! | (b[p + 2]! << 8);
    const text = b.toString('latin1', p + 3, p + 3 + Math.min(len, v.payloadLen - 3));
    const server = sourceAddress(v);
    const client = destinationAddress(v);
    this.counts.read++;
    const negotiation = this.sink.nextNegotiation();
    for (const inst of text.split(';;')) {
      const parts = inst.split(';');
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < parts.length; i += 2) fields.set(parts[i]!.toLowerCase(), parts[i + 1]!);
      const port = Number(fields.get('tcp'));
      if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
      const name = fields.get('instancename');
      this.sink.grants.push({
        host: server,
        transport: 'tcp',
        port,
        peer: client,
        fromSec: rec.tsSec,
        fromNs: rec.tsNs,
        reason: 'ssrp',
        negotiation,
        kind: 'sql-named-instance',
        ...(name !== undefined ? { subject: name } : {}),
        evidence: { file, record: rec.recordNo, client, clientPort: v.dstPort, server, serverPort: SSRP_PORT, detail: `SQL Browser: instance ${name ?? '?'} tcp ${port}` },
      });
    }
  }
}
