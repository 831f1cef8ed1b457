import type { PacketRecord } from '../capture/record.js';
import type { PacketView } from '../decode/view.js';
import { SSRP } from './bounds.js';
import { destinationAddress, GrantSink, Inspector, newStats, overBound, sourceAddress } from './inspector.js';

export const SSRP_PORT = 1434;

/**
 * SQL Server Resolution Protocol (MC-SQLR) replies from the SQL Server Browser: 0x05 (SVR_RESP), a
 * 16-bit length, then "name;value;…" per instance, instances separated by ";;". Each instance's `tcp`
 * value is the port its named instance listens on. The first 64 instances of an answer are read
 * (SSRP.maxInstancesPerAnswer); the rest are counted under `instances-per-answer`, not read.
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
    let at = 0;
    for (let read = 0; at < text.length; read++) {
      const stop = text.indexOf(';;', at);
      const inst = text.slice(at, stop < 0 ? text.length : stop);
      at = stop < 0 ? text.length : stop + 2;
      if (read === SSRP.maxInstancesPerAnswer) {
        // The rest is not read, only counted: one instance per ";;"-ended run of text.
        let more = inst === '' ? 0 : 1;
        for (let q = at; q < text.length; ) {
          const next = text.indexOf(';;', q);
          if ((next < 0 ? text.length : next) > q) more++;
          q = next < 0 ? text.length : next + 2;
        }
        if (more > 0) overBound(this.counts, 'instances-per-answer', more);
        break;
      }
      const parts = inst.split(';');
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < parts.length; i += 2) fields.set(parts[i]!.toLowerCase(), parts[i + 1]!);
      const port = Number(fields.get('tcp'));
      if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
      const name = fields.get('instancename');
      this.sink.grant({
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
      }, this.counts);
    }
  }
}
