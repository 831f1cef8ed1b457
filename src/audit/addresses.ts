import { isIP } from 'node:net';
import { formatIPv6 } from '../core/addr.js';

/** An address or a CIDR block as a numeric interval, for both families (IPv6 as BigInt). */
export interface AddressBlock {
  text: string;
  family: 4 | 6;
  lo: bigint;
  hi: bigint;
  prefix: number;
}

/** A dotted quad as an unsigned 32-bit number, or -1: the common case, without a regular expression. */
function parseIPv4Fast(addr: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros (isIP refuses them too) and at most 255.
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** The last address parsed: the class checks of one host (private, multicast, broadcast …) ask in a row. */
let lastText = '';
let lastParsed: { family: 4 | 6; value: bigint } | null = null;

/** An address as a number of its family; the result is shared, never to be changed by the caller. */
export function addressToBigInt(addr: string): { family: 4 | 6; value: bigint } | null {
  if (addr === lastText) return lastParsed;
  const parsed = parseAddress(addr);
  lastText = addr;
  lastParsed = parsed;
  return parsed;
}

function parseAddress(addr: string): { family: 4 | 6; value: bigint } | null {
  const fast = parseIPv4Fast(addr);
  if (fast >= 0) return { family: 4, value: BigInt(fast) };
  const kind = isIP(addr);
  if (kind === 4) {
    const v = addr.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    return { family: 4, value: v };
  }
  if (kind === 6) {
    let text = addr;
    // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = parseAddress(v4[1]!)!.value;
      text = text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const hs = head ? head.split(':').filter(Boolean) : [];
    const ts = tail ? tail.split(':').filter(Boolean) : [];
    const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
    const v = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
    return { family: 6, value: v };
  }
  return null;
}

/** Parses "10.0.0.1", "10.20.0.0/24" or "2001:db8::/32"; null when it is neither. */
export function parseBlock(text: string): AddressBlock | null {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined || addr === undefined) return null;
  const a = addressToBigInt(addr);
  if (!a) return null;
  const bits = a.family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : /^\d+$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) return null;
  const hostBits = BigInt(bits - prefix);
  const lo = (a.value >> hostBits) << hostBits;
  const hi = lo | ((1n << hostBits) - 1n);
  return { text: text.trim(), family: a.family, lo, hi, prefix };
}

export function inBlock(block: AddressBlock, addr: { family: 4 | 6; value: bigint }): boolean {
  return block.family === addr.family && addr.value >= block.lo && addr.value <= block.hi;
}

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', 'fc00::/7', 'fe80::/10', '::1/128'].map((b) => parseBlock(b)!);
const MULTICAST = ['224.0.0.0/4', 'ff00::/8'].map((b) => parseBlock(b)!);

// IPv4 blocks as plain numbers: a dotted quad is checked without BigInt (the class checks run once for
// each of hundreds of thousands of hosts).
const PRIVATE_V4 = PRIVATE.filter((b) => b.family === 4).map((b) => [Number(b.lo), Number(b.hi)] as const);
const MULTICAST_V4 = MULTICAST.filter((b) => b.family === 4).map((b) => [Number(b.lo), Number(b.hi)] as const);

/** The last dotted quad parsed by the class checks below (they ask about one host in a row). */
let lastV4Text = '';
let lastV4 = -1;
function v4Of(addr: string): number {
  if (addr !== lastV4Text) {
    lastV4 = parseIPv4Fast(addr);
    lastV4Text = addr;
  }
  return lastV4;
}

export function isPrivate(addr: string): boolean {
  const v = v4Of(addr);
  if (v >= 0) return PRIVATE_V4.some(([lo, hi]) => v >= lo && v <= hi);
  const a = addressToBigInt(addr);
  return a !== null && PRIVATE.some((b) => inBlock(b, a));
}

export function isMulticast(addr: string): boolean {
  const v = v4Of(addr);
  if (v >= 0) return MULTICAST_V4.some(([lo, hi]) => v >= lo && v <= hi);
  const a = addressToBigInt(addr);
  return a !== null && MULTICAST.some((b) => inBlock(b, a));
}

/** The limited broadcast, or the top address of one of the site's subnets (from the role map). */
export function isBroadcast(addr: string, siteBlocks: AddressBlock[]): boolean {
  if (addr === '255.255.255.255') return true;
  // Without site blocks a dotted quad needs no BigInt: x.y.z.255 or not.
  if (siteBlocks.length === 0) {
    const v = v4Of(addr);
    if (v >= 0) return v % 256 === 255;
  }
  const a = addressToBigInt(addr);
  if (!a || a.family !== 4) return false;
  if (siteBlocks.some((b) => b.family === 4 && b.prefix <= 30 && a.value === b.hi)) return true;
  // Without the subnet's mask, x.y.z.255 is the directed broadcast of the /24 (or wider) it ends.
  return (a.value & 0xffn) === 0xffn && !siteBlocks.some((b) => b.family === 4 && b.prefix > 24 && inBlock(b, a));
}

/** The canonical text of an address (as flows print it), or the input when it is not an address. */
export function canonicalAddress(text: string): string {
  const a = addressToBigInt(text);
  if (!a) return text;
  if (a.family === 4) {
    const v = Number(a.value);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const w = [0, 1, 2, 3].map((i) => Number((a.value >> BigInt(96 - 32 * i)) & 0xffffffffn));
  return formatIPv6(w[0]!, w[1]!, w[2]!, w[3]!);
}
