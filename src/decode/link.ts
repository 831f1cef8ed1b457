import { dispatchEthertype } from './tables.js';
import { PacketView, u16, u32 } from './view.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';

/** Ethernet II, and 802.3 frames with an LLC/SNAP header that names an ethertype. */
export function decodeEthernet(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 14) return v.fail('ethernet-truncated');
  typeOrLength(u16(buf, off + 12), buf, off + 14, end, v);
}

/** An ethertype, or an 802.3 length field after which only SNAP (AA AA 03) names an ethertype. */
function typeOrLength(type: number, buf: Buffer, p: number, end: number, v: PacketView): void {
  if (type >= 0x0600) return dispatchEthertype(type, buf, p, end, v);
  if (end - p >= 8 && buf[p] === 0xaa && buf[p + 1] === 0xaa && buf[p + 2] === 0x03) {
    return dispatchEthertype(u16(buf, p + 6), buf, p + 8, end, v);
  }
  v.notIp(-1);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113): 16-byte header, protocol last. */
export function decodeLinuxSll(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 16) return v.fail('linux-sll-truncated');
  dispatchEthertype(u16(buf, off + 14), buf, off + 16, end, v);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): 20-byte header, protocol first. */
export function decodeLinuxSll2(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 20) return v.fail('linux-sll2-truncated');
  dispatchEthertype(u16(buf, off), buf, off + 20, end, v);
}

/** Raw IP (LINKTYPE_RAW 101, and DLT 12/14 on some systems): the version nibble decides. */
export function decodeRawIp(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 1) return v.fail('raw-ip-truncated');
  const version = buf[off]! >> 4;
  if (version === 4) return decodeIPv4(buf, off, end, v);
  if (version === 6) return decodeIPv6(buf, off, end, v);
  v.fail('raw-ip-bad-version');
}

/**
 * BSD loopback. LINKTYPE_NULL (0) holds the address family in the capturing host's byte order,
 * LINKTYPE_LOOP (108) in network order. IPv6 has a different AF_INET6 value on each BSD (24, 28, 30).
 */
function family(af: number, buf: Buffer, off: number, end: number, v: PacketView): void {
  if (af === 2) return decodeIPv4(buf, off, end, v);
  if (af === 24 || af === 28 || af === 30 || af === 10) return decodeIPv6(buf, off, end, v);
  v.notIp(-1);
}

export function decodeNull(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('null-truncated');
  const be = u32(buf, off);
  // A small number in big-endian order is the family; otherwise the capture host was little-endian.
  const af = be <= 0xffff ? be : buf.readUInt32LE(off);
  family(af, buf, off + 4, end, v);
}

export function decodeLoop(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('loop-truncated');
  family(u32(buf, off), buf, off + 4, end, v);
}

/** 802.1Q / 802.1ad tags: the outermost id goes to `vlan`, the next to `innerVlan`. */
export function decodeVlan(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 4) return v.fail('vlan-truncated');
  const vid = u16(buf, off) & 0x0fff;
  if (v.vlan < 0) v.vlan = vid;
  else if (v.innerVlan < 0) v.innerVlan = vid;
  v.tunnel |= 1;
  typeOrLength(u16(buf, off + 2), buf, off + 4, end, v);
}

/**
 * MPLS label stack. The payload type is not signalled: like Wireshark, a first nibble of 4 or 6 is
 * IP, and 0 is a pseudowire control word followed by an Ethernet frame.
 */
export function decodeMpls(buf: Buffer, off: number, end: number, v: PacketView): void {
  let p = off;
  for (;;) {
    if (end - p < 4) return v.fail('mpls-truncated');
    const bottom = buf[p + 2]! & 1;
    p += 4;
    if (bottom) break;
  }
  v.tunnel |= 2;
  if (end - p < 1) return v.fail('mpls-truncated');
  const nibble = buf[p]! >> 4;
  if (nibble === 4) return decodeIPv4(buf, p, end, v);
  if (nibble === 6) return decodeIPv6(buf, p, end, v);
  if (nibble === 0 && end - p >= 4) return decodeEthernet(buf, p + 4, end, v);
  v.notIp(0x8847);
}

/** PPPoE session stage: 6-byte header, then a PPP protocol number. */
export function decodePppoeSession(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (end - off < 8) return v.fail('pppoe-truncated');
  v.tunnel |= 4;
  decodePpp(u16(buf, off + 6), buf, off + 8, end, v);
}

/** A PPP protocol number → IP, or not IP (LCP, IPCP, CHAP …). */
export function decodePpp(proto: number, buf: Buffer, off: number, end: number, v: PacketView): void {
  if (proto === 0x0021) return decodeIPv4(buf, off, end, v);
  if (proto === 0x0057) return decodeIPv6(buf, off, end, v);
  v.notIp(0x8864);
}

