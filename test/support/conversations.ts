/**
 * Per-conversation packet and byte counts, from tshark and from flowaudit, in one comparable shape:
 * key "l4 endpointA endpointB" with endpoints sorted, l4 'tcp' | 'udp' | 'ip' (any other protocol,
 * ICMP included, keyed by the address pair).
 */
import { buildFlows } from '../../src/flow/pipeline.js';
import { tsharkFields } from '../helpers/captures.js';

export type Conversations = Map<string, { packets: number; bytes: number }>;

const FIELDS = ['frame.len', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'ip.flags.mf', 'ip.frag_offset', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'icmp.type', 'icmpv6.type'] as const;
/** Layers flowaudit follows to reach an inner packet: after one of these, the outer IP is not the flow. */
const TUNNELS = new Set(['vxlan', 'gre', 'erspan', 'geneve', 'teredo', 'mpls', 'pppoes', 'ppp', 'pptp']);

function endpoint(addr: string, port: string | null): string {
  return port === null ? addr : `${addr}#${port}`;
}

export function convKey(l4: string, a: string, b: string): string {
  return a < b ? `${l4} ${a} ${b}` : `${l4} ${b} ${a}`;
}

function add(m: Conversations, key: string, bytes: number): void {
  const c = m.get(key) ?? { packets: 0, bytes: 0 };
  c.packets++;
  c.bytes += bytes;
  m.set(key, c);
}

export interface TsharkConversations {
  conv: Conversations;
  /** Frames that are IP fragments (left out: tshark does not give their ports without reassembly). */
  fragments: number;
  /** ICMP errors counted on the conversation they quote. */
  quotedErrors: number;
  /** tshark's exit status (non-zero when it stopped at damage). */
  status: number;
  frames: number;
}

/** tshark's view: the innermost IP header before any ICMP (whose quoted packet is not a flow). */
export async function tsharkConversations(file: string): Promise<TsharkConversations> {
  const { rows, status } = await tsharkFields(file, FIELDS, ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-E', 'occurrence=a', '-E', 'aggregator=,']);
  const conv: Conversations = new Map();
  let fragments = 0;
  let quotedErrors = 0;
  for (const r of rows) {
    const [len, protocols, ip4s, ip4d, ip6s, ip6d, tsp, tdp, usp, udp, mf, foff, f6off, f6more, icmpType, icmp6Type] = r as string[];
    const layers = (protocols ?? '').split(':');
    // The innermost IP header flowaudit reaches: it goes on through IP-in-IP, GRE (ERSPAN) and the UDP
    // tunnels it knows, and stops at TCP, other UDP payloads and ICMP (whose quoted packet tshark also
    // dissects as IP, but which is not a flow).
    let ipAt = -1;
    let limit = layers.length;
    const follows = new Set(['ip', 'ipv6', 'gre', 'erspan', 'eth', 'ethertype', 'vlan', 'mpls', 'pppoes', 'ppp', 'vxlan', 'geneve', 'teredo', 'vntag', 'cfp', 'ieee8021ah', 'wccp']);
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i]!;
      if (l === 'ip' || l === 'ipv6') ipAt = i;
      else if (ipAt < 0 || l.startsWith('ipv6.') || follows.has(l)) continue;
      else if (l === 'udp' && ['vxlan', 'geneve', 'teredo'].includes(layers[i + 1] ?? '')) continue;
      else {
        limit = i + 1;
        break;
      }
    }
    if (ipAt < 0) continue;
    // A tunnel after the innermost IP whose payload is not IP: flowaudit goes inside and finds no flow.
    if (layers.slice(ipAt + 1, limit).some((l) => TUNNELS.has(l))) continue;
    const nth = (name: string) => layers.slice(0, ipAt).filter((l) => l === name).length;
    const v6 = layers[ipAt] === 'ipv6';
    const src = (v6 ? ip6s : ip4s)!.split(',')[nth(layers[ipAt]!)];
    const dst = (v6 ? ip6d : ip4d)!.split(',')[nth(layers[ipAt]!)];
    if (!src || !dst) continue;
    // The fragment header that counts is the one of the chosen IP header, not one quoted in ICMP.
    const fragAt = layers.indexOf('ipv6.fraghdr', ipAt);
    const v6frag = fragAt >= 0 && fragAt < limit ? layers.slice(0, fragAt).filter((l) => l === 'ipv6.fraghdr').length : -1;
    const fragOff = v6 ? (v6frag < 0 ? '' : (f6off ?? '').split(',')[v6frag]) : (foff ?? '').split(',')[nth('ip')];
    const more = v6 ? (v6frag < 0 ? '' : (f6more ?? '').split(',')[v6frag]) : (mf ?? '').split(',')[nth('ip')];
    if ((fragOff && fragOff !== '0') || more === '1' || more === 'True') {
      fragments++;
      continue;
    }
    // An ICMP error that quotes a TCP or UDP packet of a conversation already seen counts on that
    // conversation as an error, not as a packet (flowaudit's table.ts countQuotedError).
    const quoted = quotedKey(layers, limit, v6 ? icmp6Type : icmpType, v6, { ip4s, ip4d, ip6s, ip6d, tsp, tdp, usp, udp });
    if (quoted !== null && conv.has(quoted)) {
      quotedErrors++;
      continue;
    }
    const next = layers.slice(ipAt + 1, limit).find((l) => l === 'tcp' || l === 'udp' || l === 'ip' || l === 'ipv6');
    let key: string;
    if (next === 'tcp' || next === 'udp') {
      const idx = layers.slice(0, ipAt).filter((l) => l === next).length;
      const sp = (next === 'tcp' ? tsp : usp)!.split(',')[idx];
      const dp = (next === 'tcp' ? tdp : udp)!.split(',')[idx];
      if (sp === undefined || dp === undefined || sp === '' || dp === '') continue; // transport header cut off
      key = convKey(next, endpoint(src, sp), endpoint(dst, dp));
    } else key = convKey('ip', src, dst);
    add(conv, key, Number(len));
  }
  return { conv, fragments, quotedErrors, status, frames: rows.length };
}

/** ICMP errors flowaudit reads the quote of (decode/icmp-error.ts): ICMP 3, 11, 12; ICMPv6 1 to 4. */
const QUOTING = { icmp: new Set(['3', '11', '12']), icmpv6: new Set(['1', '2', '3', '4']) };

/** The conversation an ICMP error (the last layer before `limit`) quotes, when it quotes TCP or UDP straight after the IP header. */
function quotedKey(layers: string[], limit: number, type: string | undefined, v6: boolean, f: Record<'ip4s' | 'ip4d' | 'ip6s' | 'ip6d' | 'tsp' | 'tdp' | 'usp' | 'udp', string | undefined>): string | null {
  const icmp = v6 ? 'icmpv6' : 'icmp';
  if (layers[limit - 1] !== icmp || !QUOTING[icmp].has((type ?? '').split(',')[0]!)) return null;
  const ip = layers[limit];
  const l4 = layers[limit + 1];
  if (ip !== (v6 ? 'ipv6' : 'ip') || (l4 !== 'tcp' && l4 !== 'udp')) return null;
  const before = (name: string) => layers.slice(0, limit + 1).filter((l) => l === name).length;
  const at = before(ip) - 1;
  const src = (v6 ? f.ip6s : f.ip4s)?.split(',')[at];
  const dst = (v6 ? f.ip6d : f.ip4d)?.split(',')[at];
  const i = layers.slice(0, limit + 1).filter((l) => l === l4).length;
  const sp = (l4 === 'tcp' ? f.tsp : f.usp)?.split(',')[i];
  const dp = (l4 === 'tcp' ? f.tdp : f.udp)?.split(',')[i];
  if (!src || !dst || !sp || !dp) return null;
  return convKey(l4, endpoint(src, sp), endpoint(dst, dp));
}

export interface OurConversations {
  conv: Conversations;
  fragments: number;
  unsupportedLinkType: number;
  packets: number;
}

/** flowaudit's view: the flow table, with the packets of fragmented datagrams taken out again. */
export async function ourConversations(file: string): Promise<OurConversations> {
  const fragKeys: Conversations = new Map();
  const pending = new Map<string, string>();
  let fragments = 0;
  const run = await buildFlows([file], {
    onIpPacket: (v, rec) => {
      if (v.fragment === 0) return;
      fragments++;
      // Follow the flow table's rule (later fragments join their first fragment) to know which
      // conversation each fragment was counted in.
      const words = (a: Uint32Array) => (v.ipVersion === 4 ? String(a[0]) : Array.from(a).join('.'));
      const fk = `${words(v.src)}|${words(v.dst)}|${v.fragId}|${v.proto}`;
      let key: string | undefined;
      if (v.fragment === 1) {
        key = flowKeyOf(v);
        pending.set(fk, key);
      } else key = pending.get(fk) ?? flowKeyOf(v);
      add(fragKeys, key, rec.origLen);
    },
  });
  const conv: Conversations = new Map();
  for (const f of run.table.export()) {
    const l4 = f.proto === 'tcp' || f.proto === 'udp' ? f.proto : 'ip';
    const key = f.clientPort === null || l4 === 'ip' ? convKey(l4 === 'ip' ? 'ip' : l4, f.client, f.server) : convKey(l4, endpoint(f.client, String(f.clientPort)), endpoint(f.server, String(f.serverPort)));
    const c = conv.get(key) ?? { packets: 0, bytes: 0 };
    c.packets += f.packets;
    c.bytes += f.bytes;
    conv.set(key, c);
  }
  for (const [key, fc] of fragKeys) {
    const c = conv.get(key);
    if (!c) continue;
    c.packets -= fc.packets;
    c.bytes -= fc.bytes;
    if (c.packets === 0) conv.delete(key);
  }
  return { conv, fragments, unsupportedLinkType: run.damage.counts.get('unsupported-link-type') ?? 0, packets: run.packets };
}

function addrText(v: { ipVersion: number }, a: Uint32Array): string {
  if (v.ipVersion === 4) return `${a[0]! >>> 24}.${(a[0]! >>> 16) & 255}.${(a[0]! >>> 8) & 255}.${a[0]! & 255}`;
  const g: string[] = [];
  for (let i = 0; i < 4; i++) g.push((a[i]! >>> 16).toString(16), (a[i]! & 0xffff).toString(16));
  return canonical6(g);
}

function canonical6(groups: string[]): string {
  // RFC 5952: longest run of zero groups (length ≥ 2) becomes ::, the first one on ties.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function flowKeyOf(v: { ipVersion: number; src: Uint32Array; dst: Uint32Array; proto: number; srcPort: number; dstPort: number }): string {
  const s = addrText(v, v.src);
  const d = addrText(v, v.dst);
  const l4 = v.proto === 6 ? 'tcp' : v.proto === 17 ? 'udp' : 'ip';
  if (l4 === 'ip' || v.srcPort < 0) return convKey(l4, s, d);
  return convKey(l4, endpoint(s, String(v.srcPort)), endpoint(d, String(v.dstPort)));
}
