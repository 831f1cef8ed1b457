/** Dotted quad of an IPv4 address held as an unsigned 32-bit number. */
export function formatIPv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text of an IPv6 address held as four big-endian 32-bit words. */
export function formatIPv6(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // IPv4-mapped addresses read better as ::ffff:a.b.c.d (RFC 5952 section 5).
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatIPv4(w3 >>> 0)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/** A dotted quad as an unsigned 32-bit number, or -1: the common case, without a regular expression. */
export function parseIPv4(addr: string): number {
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
      // No leading zeros (node's isIP refuses them too) and at most 255.
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * An address's text (a dotted quad, or IPv6 as RFC 4291 §2.2 writes it: `::` once, an IPv4 tail)
 * into `out` as formatIPv4/formatIPv6 hold it (IPv4 in word 0, IPv6 as four big-endian words).
 * Returns 4 or 6, or 0 when the text is neither.
 */
export function parseAddressWords(addr: string, out: Uint32Array): 0 | 4 | 6 {
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    out[0] = v4;
    out[1] = out[2] = out[3] = 0;
    return 4;
  }
  const halves = addr.split('::');
  if (halves.length > 2) return 0;
  // An IPv4 tail may end the address only (the last group of the tail, or of the whole without `::`).
  const head = groupWords(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groupWords(halves[1]!, true) : [];
  if (head === null || tail === null) return 0;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return 0;
  const groups = new Array<number>(8).fill(0);
  for (let i = 0; i < head.length; i++) groups[i] = head[i]!;
  for (let i = 0; i < tail.length; i++) groups[8 - tail.length + i] = tail[i]!;
  for (let w = 0; w < 4; w++) out[w] = ((groups[2 * w]! << 16) | groups[2 * w + 1]!) >>> 0;
  return 6;
}

/** The 16-bit groups of one side of `::` ('' is none), or null; `ipv4Tail`: the last may be a dotted quad (two groups). */
function groupWords(text: string, ipv4Tail: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (ipv4Tail && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (v4 < 0) return null;
      words.push(v4 >>> 16, v4 & 0xffff);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) words.push(parseInt(p, 16));
    else return null;
  }
  return words;
}
