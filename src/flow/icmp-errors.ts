/**
 * What the ICMP errors counted on a flow (table.ts countQuotedError, layout.ts Meta.IcmpErrors) say
 * of it: how many, the last one's type and code, and whether a UDP flow was refused.
 */
import { Hot, isV4, Key, Meta, type FlowWords } from './layout.js';

/** The number of ICMP errors that quoted flow f. */
export function icmpErrorCount(t: FlowWords, f: number): number {
  return t.meta[f * Meta.W + Meta.IcmpErrors]! >>> 16;
}

/** The last such error as `type << 8 | code`. */
export function lastIcmpError(t: FlowWords, f: number): number {
  return t.meta[f * Meta.W + Meta.IcmpErrors]! & 0xffff;
}

/**
 * A UDP flow refused: the last error that quoted it is port unreachable (ICMP 3/3, ICMPv6 1/4) and
 * only one side ever sent, so nothing but the error answered (RFC 1122 4.1.3.1: a host with no
 * listener on the port answers a datagram with port unreachable).
 */
export function udpRejected(t: FlowWords, f: number): boolean {
  if (icmpErrorCount(t, f) === 0) return false;
  const last = lastIcmpError(t, f);
  const unreachable = isV4(t.keys[f * Key.W + Key.Meta]!) ? last === 0x0303 : last === 0x0104;
  return unreachable && (t.hot[f * Hot.W + Hot.PacketsA] === 0 || t.hot[f * Hot.W + Hot.PacketsB] === 0);
}
