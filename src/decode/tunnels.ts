import { decodeEthernet, decodePpp } from './link.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { dispatchEthertype } from './tables.js';
import { PacketView, Tunnel, u16 } from './view.js';

/**
 * GRE (RFC 2784/2890) and PPTP's enhanced GRE (version 1). Protocol 0x88be is ERSPAN type II (type I
 * when no sequence number is present), 0x22eb ERSPAN type III; both carry an Ethernet frame.
 */
export function decodeGre(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('gre-truncated');
  const flags = u16(buf, off);
  const proto = u16(buf, off + 2);
  const version = flags & 7;
  if (flags & 0x4000) return v.fail('gre-source-routing-unsupported');
  let p = off + 4;
  if (flags & 0x8000) p += 4; // checksum + reserved
  if (flags & 0x2000) p += 4; // key (payload length + call id in version 1)
  if (flags & 0x1000) p += 4; // sequence number
  if (version === 1 && flags & 0x0080) p += 4; // acknowledgement number (PPTP)
  if (p > end) return v.fail('gre-truncated');
  v.ipTunnel(Tunnel.gre, false);
  if (version === 1) {
    if (proto !== 0x880b) return v.notIp(proto);
    // PPP inside PPTP: optional address/control (FF 03), then a 1- or 2-byte protocol.
    if (end - p >= 2 && buf[p] === 0xff && buf[p + 1] === 0x03) p += 2;
    if (end - p < 1) return v.fail('gre-truncated');
    if (buf[p]! & 1) return decodePpp(buf[p]!, buf, p + 1, end, v);
    if (end - p < 2) return v.fail('gre-truncated');
    return decodePpp(u16(buf, p), buf, p + 2, end, v);
  }
  if (proto === 0x88be) {
    v.tunnel |= Tunnel.erspan;
    if (!(flags & 0x1000)) return decodeEthernet(buf, p, end, v); // ERSPAN type I: no header
    if (end - p < 8) return v.fail('erspan-truncated');
    return decodeEthernet(buf, p + 8, end, v);
  }
  if (proto === 0x22eb) {
    v.tunnel |= Tunnel.erspan;
    if (end - p < 12) return v.fail('erspan-truncated');
    // The O flag (lowest bit of the last 16-bit word) announces an 8-byte platform sub-header.
    const hasPlatform = buf[p + 11]! & 1;
    return decodeEthernet(buf, p + 12 + (hasPlatform ? 8 : 0), end, v);
  }
  if (proto === 0x6558) return decodeEthernet(buf, p, end, v); // transparent Ethernet bridging
  if (proto === 0x883e) {
    // WCCP redirection: a 4-byte redirect header before the original IPv4 packet.
    if (end - p < 4) return v.fail('gre-truncated');
    return decodeIPv4(buf, p + 4, end, v);
  }
  dispatchEthertype(proto, buf, p, end, v);
}

/** Cisco FabricPath (0x8903): a 2-byte FTag/TTL after the outer header, then the original frame. */
export function decodeFabricPath(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 2) return v.fail('fabricpath-truncated');
  decodeEthernet(buf, off + 2, end, v);
}

/** Provider backbone bridging (802.1ah, 0x88e7): a 4-byte I-TAG, then the customer's frame. */
export function decodePbb(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('pbb-truncated');
  decodeEthernet(buf, off + 4, end, v);
}

/** Cisco VN-Tag (0x8926): a 4-byte tag, then the next ethertype. */
export function decodeVnTag(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 6) return v.fail('vntag-truncated');
  dispatchEthertype(u16(buf, off + 4), buf, off + 6, end, v);
}

/** VXLAN (RFC 7348, UDP 4789): 8-byte header, then an Ethernet frame. */
export function decodeVxlan(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 8 || !(buf[off]! & 0x08)) return; // not VXLAN after all: keep the UDP flow
  v.ipTunnel(Tunnel.vxlan, true);
  decodeEthernet(buf, off + 8, end, v);
}

/** Geneve (RFC 8926, UDP 6081): 8-byte header plus options, then the protocol it names. */
export function decodeGeneve(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 8 || buf[off]! >> 6 !== 0) return;
  const optLen = (buf[off]! & 0x3f) * 4;
  const proto = u16(buf, off + 2);
  const p = off + 8 + optLen;
  if (p > end) return v.fail('geneve-truncated');
  v.ipTunnel(Tunnel.geneve, true);
  if (proto === 0x6558) return decodeEthernet(buf, p, end, v);
  dispatchEthertype(proto, buf, p, end, v);
}

/**
 * Teredo (RFC 4380, UDP 3544): optional authentication and origin indications, then IPv6. Only an
 * IPv6 header that fits is followed; anything else stays the UDP flow it is.
 */
export function decodeTeredo(buf: Buffer, off: number, end: number, v: PacketView): void {
  let p = off;
  if (end - p >= 4 && buf[p] === 0 && buf[p + 1] === 1) {
    // Authentication: id length and auth length, 8-byte nonce, 1-byte confirmation.
    const len = 4 + buf[p + 2]! + buf[p + 3]! + 9;
    p += len;
  }
  if (end - p >= 8 && buf[p] === 0 && buf[p + 1] === 0) p += 8; // origin indication
  if (end - p < 40 || buf[p]! >> 4 !== 6) return;
  // The inner header must fit in the datagram (a bubble may carry trailing bytes), or this is not Teredo.
  if (p + 40 + u16(buf, p + 4) > end) return;
  v.ipTunnel(Tunnel.teredo, true);
  decodeIPv6(buf, p, end, v);
}
