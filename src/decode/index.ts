import { decodeEthernet, decodeLinuxSll, decodeLinuxSll2, decodeLoop, decodeMpls, decodeNull, decodePppoeSession, decodeRawIp, decodeVlan } from './link.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeIcmp, decodeTcp, decodeUdp } from './transport.js';
import { decodeFabricPath, decodeGeneve, decodeGre, decodePbb, decodeTeredo, decodeVnTag, decodeVxlan } from './tunnels.js';
import { byEthertype, byIpProto, byLinkType, byUdpPort } from './tables.js';
import { PacketView, Tunnel } from './view.js';
import type { PacketRecord } from '../capture/record.js';

// Link types (tcpdump.org/linktypes.html) → the first decoder.
byLinkType.set(0, decodeNull); // BSD loopback, host byte order
byLinkType.set(1, decodeEthernet);
byLinkType.set(12, decodeRawIp); // DLT_RAW on some BSDs
byLinkType.set(14, decodeRawIp); // DLT_RAW on OpenBSD
byLinkType.set(101, decodeRawIp);
byLinkType.set(108, decodeLoop); // OpenBSD loopback, network byte order
byLinkType.set(113, decodeLinuxSll);
byLinkType.set(228, decodeIPv4);
byLinkType.set(229, decodeIPv6);
byLinkType.set(276, decodeLinuxSll2);

// Ethertypes → decoder.
byEthertype.set(0x0800, decodeIPv4);
byEthertype.set(0x86dd, decodeIPv6);
byEthertype.set(0x8100, decodeVlan); // 802.1Q
byEthertype.set(0x88a8, decodeVlan); // 802.1ad (QinQ service tag)
byEthertype.set(0x9100, decodeVlan); // pre-standard QinQ
byEthertype.set(0x9200, decodeVlan);
byEthertype.set(0x8847, decodeMpls); // unicast
byEthertype.set(0x8848, decodeMpls); // multicast
byEthertype.set(0x8864, decodePppoeSession);
byEthertype.set(0x8903, decodeFabricPath); // Cisco FabricPath
byEthertype.set(0x88e7, decodePbb); // 802.1ah provider backbone bridging
byEthertype.set(0x8926, decodeVnTag); // Cisco VN-Tag

// IP protocol numbers → decoder. Others become protocol-number flows without ports.
byIpProto.set(1, decodeIcmp);
byIpProto.set(58, decodeIcmp);
byIpProto.set(6, decodeTcp);
byIpProto.set(17, decodeUdp);
byIpProto.set(47, decodeGre);
byIpProto.set(4, ipInIp(decodeIPv4)); // IPv4 in IP
byIpProto.set(41, ipInIp(decodeIPv6)); // IPv6 in IP (6in4, 6to4)

// UDP ports whose payload is a tunnel we follow to the inner flow.
byUdpPort.set(4789, decodeVxlan);
byUdpPort.set(6081, decodeGeneve);
byUdpPort.set(3544, decodeTeredo);

function ipInIp(inner: typeof decodeIPv4): typeof decodeIPv4 {
  return (buf, off, end, v) => {
    v.ipTunnel(Tunnel.ipInIp, false);
    inner(buf, off, end, v);
  };
}

export function isSupportedLinkType(linkType: number): boolean {
  return byLinkType.has(linkType);
}

/** Decodes one record into `v` (reset first). Never throws: damage ends up in v.status / v.error. */
export function decodePacket(rec: PacketRecord, v: PacketView): void {
  v.reset();
  const first = byLinkType.get(rec.linkType);
  if (first === undefined) return v.fail('unsupported-link-type');
  first(rec.buf, rec.off, rec.off + rec.capLen, v);
}

export { PacketView, Status, Tunnel } from './view.js';
