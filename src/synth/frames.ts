/**
 * Builds well-formed frames for tests, samples and the benchmark generator: Ethernet (with VLAN
 * tags), IPv4/IPv6, TCP/UDP/ICMP, and the tunnels SPAN setups deliver (GRE/ERSPAN, VXLAN). Not on
 * any hot path: clarity over speed. Checksums are computed so that tshark shows no warnings.
 */

export type Address = string; // "10.0.0.1" or "2001:db8::1"

export interface TcpSpec {
  proto: 'tcp';
  src: Address;
  dst: Address;
  srcPort: number;
  dstPort: number;
  /** Letters of TCP flags: S A F R P U. */
  flags?: string;
  seq?: number;
  ack?: number;
  payload?: Uint8Array | number;
}
export interface UdpSpec {
  proto: 'udp';
  src: Address;
  dst: Address;
  srcPort: number;
  dstPort: number;
  payload?: Uint8Array | number;
}
export interface IcmpSpec {
  proto: 'icmp';
  src: Address;
  dst: Address;
  type: number;
  code?: number;
  payload?: Uint8Array | number;
}
export type PacketSpec = TcpSpec | UdpSpec | IcmpSpec;

export interface FrameOptions {
  vlan?: number[];
  srcMac?: string;
  dstMac?: string;
  ipId?: number;
  ttl?: number;
}

export function parseIPv4(a: string): Uint8Array {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`not an IPv4 address: ${a}`);
  return Uint8Array.from(parts);
}

export function parseIPv6(a: string): Uint8Array {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const hs = head ? head.split(':').filter((x) => x !== '') : [];
  const ts = tail ? tail.split(':').filter((x) => x !== '') : [];
  const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${a}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 255;
  });
  return out;
}

function payloadBytes(p: Uint8Array | number | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'number') {
    const b = new Uint8Array(p);
    for (let i = 0; i < p; i++) b[i] = (i * 31 + 7) & 255;
    return b;
  }
  return p;
}

function checksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) | (i + 1 < part.length ? part[i + 1]! : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 255, v & 255);
}
function be32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

const TCP_FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };

/** The transport header and payload of a spec, with its checksum over the pseudo-header. */
function transport(spec: PacketSpec, pseudo: (proto: number, len: number) => Uint8Array, v6: boolean): { proto: number; bytes: Uint8Array } {
  const payload = payloadBytes(spec.payload);
  if (spec.proto === 'tcp') {
    let flags = 0;
    for (const c of spec.flags ?? 'A') flags |= TCP_FLAG_BITS[c] ?? 0;
    const h = concat(be16(spec.srcPort), be16(spec.dstPort), be32(spec.seq ?? 1000), be32(spec.ack ?? 0), Uint8Array.of(0x50, flags), be16(65535), be16(0), be16(0));
    const seg = concat(h, payload);
    const c = checksum(pseudo(6, seg.length), seg);
    seg[16] = c >> 8;
    seg[17] = c & 255;
    return { proto: 6, bytes: seg };
  }
  if (spec.proto === 'udp') {
    const len = 8 + payload.length;
    const seg = concat(be16(spec.srcPort), be16(spec.dstPort), be16(len), be16(0), payload);
    const c = checksum(pseudo(17, seg.length), seg) || 0xffff;
    seg[6] = c >> 8;
    seg[7] = c & 255;
    return { proto: 17, bytes: seg };
  }
  const seg = concat(Uint8Array.of(spec.type, spec.code ?? 0), be16(0), be32(0x00010001), payload);
  const c = v6 ? checksum(pseudo(58, seg.length), seg) : checksum(seg);
  seg[2] = c >> 8;
  seg[3] = c & 255;
  return { proto: v6 ? 58 : 1, bytes: seg };
}

/** An IP packet (v4 or v6 by address form) carrying the spec's transport. */
export function ipPacket(spec: PacketSpec, opts: FrameOptions = {}): Uint8Array {
  const v6 = spec.src.includes(':');
  if (v6) {
    const s = parseIPv6(spec.src);
    const d = parseIPv6(spec.dst);
    const pseudo = (proto: number, len: number) => concat(s, d, be32(len), Uint8Array.of(0, 0, 0, proto));
    const t = transport(spec, pseudo, true);
    const h = concat(Uint8Array.of(0x60, 0, 0, 0), be16(t.bytes.length), Uint8Array.of(t.proto, opts.ttl ?? 64), s, d);
    return concat(h, t.bytes);
  }
  const s = parseIPv4(spec.src);
  const d = parseIPv4(spec.dst);
  const pseudo = (proto: number, len: number) => concat(s, d, Uint8Array.of(0, proto), be16(len));
  const t = transport(spec, pseudo, false);
  return ipv4Wrap(s, d, t.proto, t.bytes, opts);
}

function ipv4Wrap(s: Uint8Array, d: Uint8Array, proto: number, body: Uint8Array, opts: FrameOptions): Uint8Array {
  const h = concat(Uint8Array.of(0x45, 0), be16(20 + body.length), be16(opts.ipId ?? 1), be16(0x4000), Uint8Array.of(opts.ttl ?? 64, proto), be16(0), s, d);
  const c = checksum(h);
  h[10] = c >> 8;
  h[11] = c & 255;
  return concat(h, body);
}

function mac(m: string | undefined, fallback: number): Uint8Array {
  if (m === undefined) return Uint8Array.of(0x02, 0, 0, 0, 0, fallback);
  return Uint8Array.from(m.split(':').map((x) => parseInt(x, 16)));
}

/** An Ethernet II frame around an IP packet, with optional 802.1Q tags (outermost first). */
export function ethernetFrame(ip: Uint8Array, opts: FrameOptions = {}): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  const parts: Uint8Array[] = [mac(opts.dstMac, 2), mac(opts.srcMac, 1)];
  for (const vid of opts.vlan ?? []) parts.push(be16(0x8100), be16(vid & 0xfff));
  parts.push(be16(v6 ? 0x86dd : 0x0800), ip);
  const frame = concat(...parts);
  // Ethernet pads frames to 60 bytes on the wire (without FCS).
  return frame.length >= 60 ? frame : concat(frame, new Uint8Array(60 - frame.length));
}

/** The common case: an Ethernet frame carrying one TCP/UDP/ICMP packet. */
export function frame(spec: PacketSpec, opts: FrameOptions = {}): Uint8Array {
  return ethernetFrame(ipPacket(spec, opts), opts);
}

/** An inner Ethernet frame mirrored through ERSPAN type II (GRE 0x88be) between two IPv4 hosts. */
export function erspanFrame(inner: Uint8Array, outerSrc: string, outerDst: string, session = 1): Uint8Array {
  const gre = concat(be16(0x1000), be16(0x88be), be32(1));
  const erspan = concat(be16(0x1000 | 0), be16(session & 0x3ff), be32(0));
  const ip = ipv4Wrap(parseIPv4(outerSrc), parseIPv4(outerDst), 47, concat(gre, erspan, inner), {});
  return ethernetFrame(ip);
}

/** An inner Ethernet frame carried in VXLAN (UDP 4789) between two IPv4 hosts. */
export function vxlanFrame(inner: Uint8Array, outerSrc: string, outerDst: string, vni = 42): Uint8Array {
  const vx = concat(Uint8Array.of(0x08, 0, 0, 0), be32((vni << 8) >>> 0));
  const body = concat(vx, inner);
  const udp = concat(be16(49152 + (vni % 1000)), be16(4789), be16(8 + body.length), be16(0), body);
  const ip = ipv4Wrap(parseIPv4(outerSrc), parseIPv4(outerDst), 17, udp, {});
  return ethernetFrame(ip);
}

/**
 * A TCP conversation as packets: handshake (or not), data both ways, FIN close. `answer` says how the
 * server responds to the SYN: 'accept' (SYN-ACK), 'reset' (RST), 'silent' (nothing, retransmits).
 */
export function tcpConversation(
  client: string,
  clientPort: number,
  server: string,
  serverPort: number,
  opts: { answer?: 'accept' | 'reset' | 'silent'; exchanges?: number; bytes?: number; noSyn?: boolean } = {},
): TcpSpec[] {
  const c = (flags: string, payload = 0): TcpSpec => ({ proto: 'tcp', src: client, dst: server, srcPort: clientPort, dstPort: serverPort, flags, payload });
  const s = (flags: string, payload = 0): TcpSpec => ({ proto: 'tcp', src: server, dst: client, srcPort: serverPort, dstPort: clientPort, flags, payload });
  const answer = opts.answer ?? 'accept';
  const out: TcpSpec[] = [];
  if (!opts.noSyn) {
    out.push(c('S'));
    if (answer === 'reset') return [...out, s('RA')];
    if (answer === 'silent') return [...out, c('S'), c('S')];
    out.push(s('SA'), c('A'));
  }
  for (let i = 0; i < (opts.exchanges ?? 2); i++) out.push(c('PA', opts.bytes ?? 100), s('PA', (opts.bytes ?? 100) * 4));
  out.push(c('FA'), s('FA'), c('A'));
  return out;
}
