import { PacketView, u16, u32 } from './view.js';

/**
 * The packet an ICMP error quotes (RFC 792: destination unreachable 3, time exceeded 11, parameter
 * problem 12 carry the internet header plus the first 64 bits of the original datagram; RFC 4443 3:
 * ICMPv6 1 to 4 carry as much of the invoking packet as fits): its addresses, protocol and, for TCP
 * and UDP, its ports (the first 4 of those 8 bytes), written into the view's `quoted…` fields so the
 * flow table can count the error on the flow it answers. Only TCP and UDP are read: their ports name
 * one flow. Anything else, or a quote cut short, leaves `quoted` 0 and the error is a flow of its own.
 */

/** ICMPv4 types whose body quotes the offending datagram and that say it went wrong. */
const V4_ERRORS = new Uint8Array(256);
V4_ERRORS[3] = V4_ERRORS[11] = V4_ERRORS[12] = 1;
/** ICMPv6 error messages (types 0-127 are errors; 1-4 are the ones RFC 4443 defines). */
const V6_ERRORS = new Uint8Array(256);
V6_ERRORS[1] = V6_ERRORS[2] = V6_ERRORS[3] = V6_ERRORS[4] = 1;

/** Reads the quoted packet of an ICMP error whose message starts at `off` (type, code, checksum, 4 unused bytes, then the quote). */
export function decodeQuoted(buf: Buffer, off: number, end: number, v: PacketView): void {
  v.quoted = 0;
  const q = off + 8;
  if (v.ipVersion === 4 ? V4_ERRORS[v.icmpType] !== 1 : V6_ERRORS[v.icmpType] !== 1) return;
  let t: number;
  if (v.ipVersion === 4) {
    if (end - q < 20 || buf[q]! >> 4 !== 4) return;
    const ihl = (buf[q]! & 15) * 4;
    // A later fragment quotes no ports.
    if (ihl < 20 || (u16(buf, q + 6) & 0x1fff) !== 0) return;
    v.quotedProto = buf[q + 9]!;
    v.quotedSrc[0] = u32(buf, q + 12);
    v.quotedDst[0] = u32(buf, q + 16);
    v.quotedSrc[1] = v.quotedSrc[2] = v.quotedSrc[3] = 0;
    v.quotedDst[1] = v.quotedDst[2] = v.quotedDst[3] = 0;
    t = q + ihl;
  } else {
    // The next header straight after the fixed header: a quote behind extension headers is not read.
    if (end - q < 40 || buf[q]! >> 4 !== 6) return;
    v.quotedProto = buf[q + 6]!;
    for (let i = 0; i < 4; i++) {
      v.quotedSrc[i] = u32(buf, q + 8 + 4 * i);
      v.quotedDst[i] = u32(buf, q + 24 + 4 * i);
    }
    t = q + 40;
  }
  if ((v.quotedProto !== 6 && v.quotedProto !== 17) || end - t < 4) return;
  v.quotedSrcPort = u16(buf, t);
  v.quotedDstPort = u16(buf, t + 2);
  v.quoted = 1;
}
