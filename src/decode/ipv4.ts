import { byIpProto } from './tables.js';
import { PacketView, u16, u32 } from './view.js';

/**
 * IPv4 with options and fragments. The packet ends at the IP total length (Ethernet padding is not
 * payload), or at the captured end when the capture was cut short. A later fragment has no transport
 * header: the flow table attributes it to the flow of its first fragment.
 */
export function decodeIPv4(buf: Buffer, off: number, end: number, v: PacketView): void {
  if (++v.hops > 64) return v.fail('encapsulation-too-deep');
  if (end - off < 20) return v.fail('ipv4-truncated');
  const b0 = buf[off]!;
  if (b0 >> 4 !== 4) return v.fail('ipv4-bad-version');
  const ihl = (b0 & 15) * 4;
  if (ihl < 20) return v.fail('ipv4-bad-header-length');
  if (end - off < ihl) return v.fail('ipv4-truncated');
  const total = u16(buf, off + 2);
  // total 0 happens with TCP segmentation offload on the capturing host: trust the capture.
  if (total !== 0 && total < ihl) return v.fail('ipv4-bad-total-length');
  const ipEnd = total === 0 ? end : Math.min(end, off + total);
  v.ipVersion = 4;
  v.ipDepth++;
  v.src[0] = u32(buf, off + 12);
  v.dst[0] = u32(buf, off + 16);
  v.src[1] = v.src[2] = v.src[3] = 0;
  v.dst[1] = v.dst[2] = v.dst[3] = 0;
  const proto = buf[off + 9]!;
  v.proto = proto;
  v.srcPort = -1;
  v.dstPort = -1;
  const frag = u16(buf, off + 6);
  const fragOffset = frag & 0x1fff;
  if (fragOffset !== 0) {
    v.fragment = 2;
    v.fragId = u16(buf, off + 4);
    return;
  }
  if (frag & 0x2000) {
    v.fragment = 1;
    v.fragId = u16(buf, off + 4);
  } else v.fragment = 0;
  const next = byIpProto.get(proto);
  if (next !== undefined) next(buf, off + ihl, ipEnd, v);
}
