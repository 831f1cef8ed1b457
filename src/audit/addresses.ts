import { isIP } from 'node:net';
import { formatIPv6, parseIPv4 } from '../core/addr.js';

/** An address or a CIDR block as a numeric interval, for both families (IPv6 as BigInt). */
export interface AddressBlock {
  text: string;
  family: 4 | 6;
  lo: bigint;
  hi: bigint;
  prefix: number;
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
  const fast = parseIPv4(addr);
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

/**
 * The blocks that hold an address, found without scanning them all: one Map per prefix length in use,
 * keyed by the block's first address. A lookup asks each length in use once (at most 33 for IPv4, 129
 * for IPv6), so a million exact hosts cost one Map lookup, and a host's covering prefixes a few more.
 */
export class BlockIndex {
  private readonly v4 = new Map<number, Map<number, number | number[]>>();
  private readonly v6 = new Map<number, Map<bigint, number | number[]>>();
  private lengths4: number[] = [];
  private lengths6: number[] = [];

  /** Files a block under a value (a small integer: the index of what the block stands for). */
  add(block: AddressBlock, value: number): void {
    const byLength = block.family === 4 ? this.v4 : this.v6;
    let table = byLength.get(block.prefix) as Map<number | bigint, number | number[]> | undefined;
    if (!table) {
      byLength.set(block.prefix, (table = new Map()) as never);
      if (block.family === 4) this.lengths4 = [...this.v4.keys()].sort((a, b) => a - b);
      else this.lengths6 = [...this.v6.keys()].sort((a, b) => a - b);
    }
    const key = block.family === 4 ? Number(block.lo) : block.lo;
    // One value per block is the rule (a host of one role): stored as is, a list only for more.
    const had = table.get(key);
    table.set(key, had === undefined ? value : typeof had === 'number' ? [had, value] : (had.push(value), had));
  }

  /** Calls `found` for every value whose block holds the address, with the block's prefix length and first address. */
  forEach(addr: { family: 4 | 6; value: bigint }, found: (value: number, prefix: number, lo: bigint) => void): void {
    const each = (x: number | number[] | undefined, len: number, lo: bigint) => {
      if (typeof x === 'number') found(x, len, lo);
      else if (x) for (const v of x) found(v, len, lo);
    };
    if (addr.family === 4) {
      const v = Number(addr.value);
      for (const len of this.lengths4) {
        const size = 2 ** (32 - len);
        const lo = v - (v % size);
        const x = this.v4.get(len)!.get(lo);
        if (x !== undefined) each(x, len, BigInt(lo));
      }
      return;
    }
    for (const len of this.lengths6) {
      const shift = BigInt(128 - len);
      const lo = (addr.value >> shift) << shift;
      each(this.v6.get(len)!.get(lo), len, lo);
    }
  }
}

/**
 * The default site space: what is inside a site when nobody says more. RFC 1918, the shared address
 * space of carrier-grade NAT (RFC 6598: never routed on the Internet, so never a vendor's cloud, and
 * used inside sites for VPN overlays and container networks), IPv6 unique local addresses, and the
 * link-local blocks (169.254/16, fe80::/10: by definition on the capture's own link).
 */
const DEFAULT_INSIDE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'].map((b) => parseBlock(b)!);
const LINK_LOCAL = ['169.254.0.0/16', 'fe80::/10'].map((b) => parseBlock(b)!);
const MULTICAST = ['224.0.0.0/4', 'ff00::/8'].map((b) => parseBlock(b)!);
/** The host itself: neither inside the site nor outside it. */
const LOOPBACK = ['127.0.0.0/8', '::1/128'].map((b) => parseBlock(b)!);
/** "This host on this network" (RFC 1122 3.2.1.3: a source only, e.g. a DHCP client before its lease) and "::". */
const UNSPECIFIED = ['0.0.0.0/8', '::/128'].map((b) => parseBlock(b)!);

// IPv4 blocks as plain numbers: a dotted quad is checked without BigInt (the class checks run once for
// each of hundreds of thousands of hosts).
const v4Ranges = (blocks: AddressBlock[]) => blocks.filter((b) => b.family === 4).map((b) => [Number(b.lo), Number(b.hi)] as const);
const MULTICAST_V4 = v4Ranges(MULTICAST);
const LOOPBACK_V4 = v4Ranges(LOOPBACK);
const UNSPECIFIED_V4 = v4Ranges(UNSPECIFIED);
const LINK_LOCAL_V4 = v4Ranges(LINK_LOCAL);

/** The last dotted quad parsed by the class checks below (they ask about one host in a row). */
let lastV4Text = '';
let lastV4 = -1;
function v4Of(addr: string): number {
  if (addr !== lastV4Text) {
    lastV4 = parseIPv4(addr);
    lastV4Text = addr;
  }
  return lastV4;
}

/**
 * What an address is to the site. `inside`: the default site space, the site's own prefixes and the
 * role map's addresses; `external`: any other unicast address (the Internet, a vendor's cloud).
 * `link-local` is inside too. Broadcast, multicast, loopback and unspecified addresses are neither.
 */
export type AddressKind = 'inside' | 'link-local' | 'external' | 'broadcast' | 'multicast' | 'loopback' | 'unspecified' | 'unknown';

export interface AddressSpaceOptions {
  /** Prefixes inside the site beyond the default space (a role map's `site:`, `--site`). */
  site?: AddressBlock[];
  /** The role map's blocks: inside the site, and a block's top address is its subnet's broadcast. */
  subnets?: AddressBlock[];
  /**
   * Whether the capture shows the address is a host: it sent a packet, or it is an end of a TCP
   * connection (TCP is unicast only). A broadcast address does neither.
   */
  seenAsHost?: (addr: string) => boolean;
}

/** Sorted intervals of one family, overlaps merged (a role map may list thousands), searched by bisection. */
class Intervals<T extends number | bigint> {
  private readonly lo: T[] = [];
  private readonly hi: T[] = [];
  constructor(pairs: Array<[T, T]>, sorted = false) {
    if (!sorted) pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [l, h] of pairs) {
      const n = this.hi.length;
      if (n > 0 && l <= this.hi[n - 1]!) {
        if (h > this.hi[n - 1]!) this.hi[n - 1] = h;
      } else {
        this.lo.push(l);
        this.hi.push(h);
      }
    }
  }

  /**
   * IPv4 blocks as intervals. A block is one number (first address × 64 + prefix length) in a typed
   * array sorted natively: a role map of a million hosts sorts in a tenth of the time pairs take.
   */
  static ofV4Blocks(blocks: Iterable<AddressBlock>): Intervals<number> {
    const keys: number[] = [];
    for (const b of blocks) if (b.family === 4) keys.push(Number(b.lo) * 64 + b.prefix);
    const sorted = Float64Array.from(keys).sort();
    const pairs: Array<[number, number]> = [];
    for (const k of sorted) {
      const prefix = k % 64;
      const lo = (k - prefix) / 64;
      pairs.push([lo, lo + 2 ** (32 - prefix) - 1]);
    }
    return new Intervals(pairs, true);
  }
  has(v: T): boolean {
    let a = 0;
    let b = this.lo.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (v < this.lo[m]!) b = m - 1;
      else if (v > this.hi[m]!) a = m + 1;
      else return true;
    }
    return false;
  }
}

/**
 * The site's address space: which addresses are inside (that decides what `external` means), which
 * are broadcasts, and which may be given roles learnt from traffic.
 *
 * Broadcasts: 255.255.255.255; the top address of a role-map block or site prefix (its mask is known,
 * /30 or wider); and, where no mask is known, an address inside the site whose last octet is 255 (the
 * all-ones host of every /8 to /24 that holds it) that the capture never shows as a host: it never
 * sends a packet and is never an end of a TCP connection. A broadcast address is never a source
 * (RFC 1122 3.2.1.3, RFC 1812 5.3.7) and TCP is unicast only (RFC 1122 4.2.3.10), while a host that
 * happens to end in .255 in a /23 or wider subnet sends (a SPAN port that shows one direction only
 * still shows its TCP). A role map entry naming the address itself (/31,
 * /32) makes it a host. The broadcasts of subnets narrower than /24 (x.y.z.127 of a /25) are known
 * only from a role map's or site's prefix.
 */
export class AddressSpace {
  private readonly inside4: Intervals<number>;
  private readonly inside6: Intervals<bigint>;
  /** Top addresses of the blocks whose mask is known (IPv4, /30 or wider). */
  private readonly tops = new Set<number>();
  /** IPv4 addresses a role map names as hosts (/31, /32), sorted: searched by bisection. */
  private readonly named: Float64Array;
  private readonly seenAsHost: (addr: string) => boolean;
  private lastText = '';
  private lastKind: AddressKind = 'unknown';

  constructor(opts: AddressSpaceOptions = {}) {
    const site = opts.site ?? [];
    const subnets = opts.subnets ?? [];
    const all = [DEFAULT_INSIDE, site, subnets].flat();
    this.inside4 = Intervals.ofV4Blocks(all);
    this.inside6 = new Intervals(all.filter((b) => b.family === 6).map((b) => [b.lo, b.hi] as [bigint, bigint]));
    const named: number[] = [];
    for (const list of [site, subnets]) {
      for (const b of list) {
        if (b.family !== 4) continue;
        if (b.prefix <= 30) this.tops.add(Number(b.hi));
        else if (list === subnets) for (let v = Number(b.lo), hi = Number(b.hi); v <= hi; v++) named.push(v);
      }
    }
    this.named = Float64Array.from(named).sort();
    this.seenAsHost = opts.seenAsHost ?? (() => false);
  }

  private isNamed(v: number): boolean {
    let a = 0;
    let b = this.named.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const x = this.named[m]!;
      if (x === v) return true;
      if (x < v) a = m + 1;
      else b = m - 1;
    }
    return false;
  }

  /** What the address is to the site (the audit asks about one host several times in a row). */
  kindOf(addr: string): AddressKind {
    if (addr === this.lastText) return this.lastKind;
    const kind = this.classify(addr);
    this.lastText = addr;
    this.lastKind = kind;
    return kind;
  }

  private classify(addr: string): AddressKind {
    const v = v4Of(addr);
    if (v >= 0) {
      if (UNSPECIFIED_V4.some(([lo, hi]) => v >= lo && v <= hi)) return 'unspecified';
      if (LOOPBACK_V4.some(([lo, hi]) => v >= lo && v <= hi)) return 'loopback';
      if (MULTICAST_V4.some(([lo, hi]) => v >= lo && v <= hi)) return 'multicast';
      if (v === 0xffffffff) return 'broadcast';
      const inside = this.inside4.has(v);
      if (!this.isNamed(v) && (this.tops.has(v) || (inside && v % 256 === 255 && !this.seenAsHost(addr)))) return 'broadcast';
      if (LINK_LOCAL_V4.some(([lo, hi]) => v >= lo && v <= hi)) return 'link-local';
      return inside ? 'inside' : 'external';
    }
    const a = addressToBigInt(addr);
    if (!a) return 'unknown';
    if (a.family === 4) return this.classify(canonicalAddress(addr));
    if (UNSPECIFIED.some((b) => inBlock(b, a))) return 'unspecified';
    if (LOOPBACK.some((b) => inBlock(b, a))) return 'loopback';
    if (MULTICAST.some((b) => inBlock(b, a))) return 'multicast';
    if (LINK_LOCAL.some((b) => inBlock(b, a))) return 'link-local';
    return this.inside6.has(a.value) ? 'inside' : 'external';
  }

  /**
   * Whether roles may be learnt for the address from traffic: not for broadcasts, multicast groups,
   * loopback, unspecified or link-local addresses (a link-local address is one more address of a
   * machine that has another, or one without a lease), nor for an address outside the site that ends
   * in .255 and is never seen as a host (it may be the broadcast of a subnet the site did not declare).
   */
  mayInfer(addr: string): boolean {
    const kind = this.kindOf(addr);
    if (kind === 'inside') return true;
    if (kind !== 'external') return false;
    const v = v4Of(addr);
    return !(v >= 0 && v % 256 === 255 && !this.seenAsHost(addr));
  }

  /** Broadcast and multicast addresses are nobody's host: they play only their address class. */
  isHostless(addr: string): boolean {
    const kind = this.kindOf(addr);
    return kind === 'broadcast' || kind === 'multicast';
  }
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
