/**
 * Writers of JSON text straight into bytes, for the reports' flow lines (report/json-lines.ts) and the
 * flow table's own export (flow/table.ts). Each takes the buffer and a position and returns the new
 * position; the caller has made room for the worst case, so they do not check.
 */

/** The bytes of ASCII text (keys, punctuation), made once. */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export function key(b: Buffer, p: number, k: Uint8Array): number {
  for (let i = 0; i < k.length; i++) b[p++] = k[i]!;
  return p;
}

/** A JSON string: printable ASCII is copied as is; anything else goes through JSON.stringify (6 bytes a character at most). */
export function str(b: Buffer, p: number, s: string): number {
  const start = p;
  b[p++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return start + b.write(JSON.stringify(s), start);
    b[p++] = c;
  }
  b[p++] = 0x22;
  return p;
}

/** A number as JSON.stringify writes it: non-negative integers below 2^31 digit by digit (at most 24 bytes). */
export function num(b: Buffer, p: number, n: number): number {
  if (n >= 0 && n < 0x80000000 && (n | 0) === n) {
    let end = p + 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) end++;
    let q = end;
    let x = n;
    do {
      const d = (x / 10) | 0;
      b[--q] = 0x30 + x - d * 10;
      x = d;
    } while (x > 0);
    return end;
  }
  return p + b.write(Number.isFinite(n) ? String(n) : 'null', p);
}
