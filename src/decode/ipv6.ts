import { byIpProto } from './tables.js';
import { PacketView, u16, u32 } from './view.js';

/**
 * IPv6 and its extension headers (hop-by-hop 0, routing 43, fragment 44, destination options 60,
 * authentication 51). Mobility (135) and no-next-header (59) end the chain.
 */
export function decodeIPv6(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (++v.hops > 64) return v.fail('encapsulation-too-deep');
  if (end - off < 40) return v.fail('ipv6-truncated');
  if (buf[off]! >> 4 !== 6) return v.fail('ipv6-bad-version');
  const payloadLen = u16(buf, off + 4);
  // Payload length 0 means a jumbogram (or offload): trust the capture.
  const ipEnd = payloadLen === 0 ? end : Math.min(end, off + 40 + payloadLen);
  v.ipVersion = 6;
  v.ipDepth++;
  for (let i = 0; i < 4; i++) {
    v.src[i] = u32(buf, off + 8 + 4 * i);
    v.dst[i] = u32(buf, off + 24 + 4 * i);
  }
  v.srcPort = -1;
  v.dstPort = -1;
  v.fragment = 0;
  let next = buf[off + 6]!;
  let p = off + 40;
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60) {
      if (ipEnd - p < 8) return v.fail('ipv6-extension-truncated');
      const len = (buf[p + 1]! + 1) * 8;
      next = buf[p]!;
      p += len;
    } else if (next === 51) {
      if (ipEnd - p < 8) return v.fail('ipv6-extension-truncated');
      const len = (buf[p + 1]! + 2) * 4;
      next = buf[p]!;
      p += len;
    } else if (next === 44) {
      if (ipEnd - p < 8) return v.fail('ipv6-extension-truncated');
      const offFlags = u16(buf, p + 2);
      v.fragId = u32(buf, p + 4);
      next = buf[p]!;
      p += 8;
      if (offFlags >> 3 !== 0) {
        v.proto = next;
        v.fragment = 2;
        return;
      }
      v.fragment = offFlags & 1 ? 1 : 0;
    } else break;
  }
  if (p > ipEnd) return v.fail('ipv6-extension-truncated');
  v.proto = next;
  const decoder = byIpProto.get(next);
  if (decoder !== undefined) decoder(buf, p, ipEnd, v);
}
