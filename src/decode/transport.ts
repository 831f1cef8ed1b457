import { decodeQuoted } from './icmp-error.js';
import { byUdpPort } from './tables.js';
import { PacketView, u16 } from './view.js';

/**
 * TCP. Ports and flags are all a flow needs: 14 bytes give both (a capture cut inside the options
 * still counts); a header cut after the ports still names the conversation, without flags.
 */
export function decodeTcp(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('tcp-truncated');
  if (end - off < 14) {
    v.srcPort = u16(buf, off);
    v.dstPort = u16(buf, off + 2);
    v.tcpFlags = 0;
    v.payloadOff = end;
    v.payloadLen = 0;
    return;
  }
  v.srcPort = u16(buf, off);
  v.dstPort = u16(buf, off + 2);
  v.tcpFlags = buf[off + 13]! | ((buf[off + 12]! & 1) << 8);
  v.tcpSeq = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const hdr = (buf[off + 12]! >> 4) * 4;
  v.payloadOff = Math.min(end, off + Math.max(hdr, 20));
  v.payloadLen = end - v.payloadOff;
}

/** UDP; a tunnel port (VXLAN, Geneve, Teredo) hands the payload to the inner decoder. */
export function decodeUdp(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 8) return v.fail('udp-truncated');
  const sp = u16(buf, off);
  const dp = u16(buf, off + 2);
  v.srcPort = sp;
  v.dstPort = dp;
  v.payloadOff = off + 8;
  v.payloadLen = end - off - 8;
  if (v.fragment !== 0) return; // the inner packet of a fragmented tunnel datagram is incomplete
  const tunnel = byUdpPort.get(dp) ?? byUdpPort.get(sp);
  if (tunnel !== undefined) tunnel(buf, off + 8, end, v);
}

/** ICMP and ICMPv6: type and code are kept; the flow has no ports. An error's quoted packet is read (icmp-error.ts). */
export function decodeIcmp(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 2) return v.fail('icmp-truncated');
  v.icmpType = buf[off]!;
  v.icmpCode = buf[off + 1]!;
  if (v.fragment === 0) decodeQuoted(buf, off, end, v);
}
