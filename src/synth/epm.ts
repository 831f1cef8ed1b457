import { bind, bindAck, eptMapRequest, eptMapResponse } from './dcerpc.js';
import type { PacketSpec } from './frames.js';

/**
 * A whole endpoint-mapper call from `a` to `b` on TCP 135: handshake, bind, ept_map request, the
 * answer naming `towers` (on `b` unless a tower says otherwise), and the close.
 */
export function epmExchange(a: string, b: string, clientPort: number, towers: Array<{ port: number; ip?: string }>): PacketSpec[] {
  let cseq = 1000;
  let sseq = 9000;
  const c = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: a, dst: b, srcPort: clientPort, dstPort: 135, flags, seq: cseq, ack: sseq, ...(payload ? { payload } : {}) });
  const s = (flags: string, payload?: Buffer): PacketSpec => ({ proto: 'tcp', src: b, dst: a, srcPort: 135, dstPort: clientPort, flags, seq: sseq, ack: cseq, ...(payload ? { payload } : {}) });
  const out: PacketSpec[] = [c('S')];
  cseq++;
  out.push(s('SA'));
  sseq++;
  out.push(c('A'));
  const answer = eptMapResponse(2, towers.map((t) => ({ port: t.port, ip: t.ip ?? b })));
  for (const [who, pdu] of [['c', bind(1)], ['s', bindAck(1)], ['c', eptMapRequest(2)], ['s', answer]] as const) {
    if (who === 'c') {
      out.push(c('PA', pdu));
      cseq += pdu.length;
    } else {
      out.push(s('PA', pdu));
      sseq += pdu.length;
    }
  }
  out.push(c('FA'), s('FA'), c('A'));
  return out;
}
