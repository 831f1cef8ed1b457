/** What a decoder concluded about one packet. */
export const Status = {
  /** An IP packet whose flow key is complete. */
  Ip: 0,
  /** A frame that is well formed but carries no IP (ARP, LLDP, STP …): not an error. */
  NotIp: 1,
  /** Something could not be decoded; `error` says what. */
  Error: 2,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** Bits of `PacketView.tunnel`: what was peeled off to reach the innermost IP header. */
export const Tunnel = {
  vlan: 1,
  mpls: 2,
  pppoe: 4,
  gre: 8,
  erspan: 16,
  vxlan: 32,
  geneve: 64,
  ipInIp: 128,
  teredo: 256,
} as const;

/**
 * The decoded facts of one packet, overwritten in place for every packet (one object per reader, as
 * gopacket's DecodingLayer does): no allocation on the per-packet path.
 */
export class PacketView {
  status: Status = Status.Ip;
  /** A short kebab-case reason when status is Error (a constant string, never built per packet). */
  error = '';
  /** Ethertype (or -1 for frames without one) when status is NotIp. */
  notIpType = -1;
  ipVersion = 0;
  /** Source and destination: IPv4 in word 0 (others 0); IPv6 as four big-endian words. */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** IP protocol number of the innermost transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 …). */
  proto = -1;
  /** -1 where the protocol has no ports (or they are in a later fragment). */
  srcPort = -1;
  dstPort = -1;
  tcpFlags = 0;
  /** TCP sequence number (for the few inspectors that reassemble a stream). */
  tcpSeq = 0;
  icmpType = -1;
  icmpCode = -1;
  /**
   * 1 when the packet is an ICMP error whose quoted TCP or UDP packet was read (icmp-error.ts): the
   * quoted packet's protocol, addresses (as src/dst) and ports, the flow the error answers.
   */
  quoted = 0;
  quotedProto = -1;
  readonly quotedSrc = new Uint32Array(4);
  readonly quotedDst = new Uint32Array(4);
  quotedSrcPort = -1;
  quotedDstPort = -1;
  /** Offset and length of the transport payload (after the TCP/UDP header). */
  payloadOff = 0;
  payloadLen = 0;
  /** Outermost and second 802.1Q VLAN ids (-1 where untagged). */
  vlan = -1;
  innerVlan = -1;
  /** Bit set of Tunnel: the encapsulations that were decoded. */
  tunnel = 0;
  /**
   * The outermost IP header that carried a tunnel (GRE, IP-in-IP, VXLAN, Geneve, Teredo): its IP
   * version (0: none), addresses, and for a tunnel over UDP its ports (-1 otherwise). What a firewall
   * between the tunnel's ends sees.
   */
  outerVersion = 0;
  readonly outerSrc = new Uint32Array(4);
  readonly outerDst = new Uint32Array(4);
  outerSrcPort = -1;
  outerDstPort = -1;
  /** 0 not a fragment, 1 first fragment (offset 0, more follow), 2 a later fragment. */
  fragment = 0;
  /** IP identification of a fragment (16 bits in IPv4, 32 in IPv6). */
  fragId = 0;
  /** How many IP headers were seen (2 or more means IP-in-IP or a tunnel). */
  ipDepth = 0;
  /** Headers dispatched so far: bounds crafted frames that nest encapsulations without end. */
  hops = 0;

  reset(): void {
    this.status = Status.Ip;
    this.error = '';
    this.notIpType = -1;
    this.ipVersion = 0;
    this.proto = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.quoted = 0;
    this.payloadOff = 0;
    this.payloadLen = 0;
    this.vlan = -1;
    this.innerVlan = -1;
    this.tunnel = 0;
    this.outerVersion = 0;
    this.fragment = 0;
    this.fragId = 0;
    this.ipDepth = 0;
    this.hops = 0;
  }

  /**
   * Marks an encapsulation carried in IP (Tunnel bit `bit`): the first keeps the IP header it arrived
   * in, and with `udp` that header's UDP ports, as the outer endpoints; the decoders then overwrite
   * src/dst with the inner packet's.
   */
  ipTunnel(bit: number, udp: boolean): void {
    this.tunnel |= bit;
    if (this.outerVersion !== 0) return;
    this.outerVersion = this.ipVersion;
    this.outerSrc.set(this.src);
    this.outerDst.set(this.dst);
    this.outerSrcPort = udp ? this.srcPort : -1;
    this.outerDstPort = udp ? this.dstPort : -1;
  }

  fail(reason: string): void {
    this.status = Status.Error;
    this.error = reason;
  }

  notIp(type: number): void {
    this.status = Status.NotIp;
    this.notIpType = type;
  }
}

/**
 * A header decoder: reads its header at buf[off, end), writes what it learns into the view and hands
 * the rest to the next decoder through a table in ./tables.ts. Never throws, never allocates.
 */
export type Decoder = (buf: Buffer, off: number, end: number, v: PacketView) => void;

/** Network byte order, as every header the decoders read. */
export { u16be as u16, u32be as u32 } from '../core/bytes.js';
