/**
 * Timestamps are kept as whole seconds (a double: exact far beyond year 275000) plus nanoseconds
 * (0..999_999_999). pcapng gives a 64-bit tick count; nanoseconds since 1970 do not fit a double,
 * so the split is done by long division over 16-bit limbs, each step exact in a double.
 */
export interface SplitTime {
  sec: number;
  ns: number;
}

/**
 * Splits the 64-bit tick count hi:lo (ticks of 1/ticksPerSec s) into seconds and nanoseconds.
 * Writes into `out` so the hot path allocates nothing.
 */
export function splitTicks(hi: number, lo: number, ticksPerSec: number, out: SplitTime): void {
  if (ticksPerSec === 1_000_000 && hi < 0x200000) {
    // Fast path: microseconds below 2^53 are exact in a double.
    const v = hi * 4294967296 + lo;
    const sec = Math.floor(v / 1_000_000);
    out.sec = sec;
    out.ns = (v - sec * 1_000_000) * 1000;
    return;
  }
  // Long division of the 64-bit value by ticksPerSec. With 16-bit limbs the running remainder times
  // 2^16 stays below 2^53 while ticksPerSec < 2^37; larger divisors use 8-bit limbs.
  const d = ticksPerSec;
  let q = 0;
  let r = 0;
  if (d < 137438953472) {
    const limbs = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
    for (let i = 0; i < 4; i++) {
      const cur = r * 65536 + limbs[i]!;
      const qd = Math.floor(cur / d);
      r = cur - qd * d;
      q = q * 65536 + qd;
    }
  } else {
    for (let i = 0; i < 8; i++) {
      const byte = i < 4 ? (hi >>> (24 - 8 * i)) & 0xff : (lo >>> (24 - 8 * (i - 4))) & 0xff;
      const cur = r * 256 + byte;
      const qd = Math.floor(cur / d);
      r = cur - qd * d;
      q = q * 256 + qd;
    }
  }
  out.sec = q;
  // r < d: convert the remainder to nanoseconds (exact for 10^-k with k <= 9; floored otherwise). For
  // 10^-k with k > 9, r * 1e9 passes 2^53 and rounds, so divide by the ticks per nanosecond instead.
  if (d <= 1e9 && 1e9 % d === 0) out.ns = r * (1e9 / d);
  else if (d % 1e9 === 0) out.ns = Math.floor(r / (d / 1e9));
  else out.ns = Math.floor((r * 1e9) / d);
}

/** Decimal digits of fraction a resolution of 1/ticksPerSec seconds deserves (µs → 6, ns → 9). */
export function digitsForTicks(ticksPerSec: number): number {
  if (ticksPerSec <= 1) return 0;
  return Math.min(9, Math.ceil(Math.log10(ticksPerSec) - 1e-9));
}

/** Compares two (sec, ns) times. */
export function compareTime(aSec: number, aNs: number, bSec: number, bNs: number): number {
  return aSec !== bSec ? aSec - bSec : aNs - bNs;
}

/**
 * The latest (and, negated, the earliest) second a timestamp may have: ECMAScript's time range,
 * 100 000 000 days either side of 1970 (years -271821 to 275760). Every time in it has one ISO 8601
 * text that Date, and so every JSON reader in JavaScript, parses back; a capture's timestamps beyond it
 * (a 64-bit pcapng tick count in seconds, a huge if_tsoffset) are garbage, clamped by the readers and
 * counted as `timestamp-out-of-range`.
 */
export const MAX_TS_SEC = 8.64e12;

/** Whether a capture's second lies outside what the reports can represent (see MAX_TS_SEC). */
export function outOfTimeRange(sec: number): boolean {
  return !(sec <= MAX_TS_SEC && sec >= -MAX_TS_SEC);
}

/** The nearest representable second: out-of-range and NaN times go to the limits. */
export function clampSec(sec: number): number {
  return sec > MAX_TS_SEC ? MAX_TS_SEC : sec >= -MAX_TS_SEC ? sec : -MAX_TS_SEC;
}

/**
 * ISO 8601 in UTC with `digits` fractional digits (0..9), e.g. 2009-11-18T20:58:56.123456Z. Years
 * beyond 0000..9999 take ISO 8601's expanded form with a sign and six digits, as Date writes them
 * (+033658-09-12T01:46:40Z, -000001-12-31T00:00:00Z). Seconds outside MAX_TS_SEC are clamped to it.
 */
let cachedDay = NaN;
let cachedDate = '';
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
// The text down to the second of the last two seconds asked for (a flow's start and end alternate).
let secA = NaN;
let textA = '';
let secB = NaN;
let textB = '';

export function formatIso(sec: number, ns: number, digits: number): string {
  if (outOfTimeRange(sec)) sec = clampSec(sec);
  let base: string;
  if (sec === secA) base = textA;
  else if (sec === secB) base = textB;
  else {
    // Many stamps share a day: build the date part once per day and the time of day by arithmetic,
    // rather than a Date object for every stamp.
    const day = Math.floor(sec / 86400);
    if (day !== cachedDay) {
      const iso = new Date(day * 86400000).toISOString();
      cachedDate = iso.slice(0, iso.indexOf('T'));
      cachedDay = day;
    }
    const t = sec - day * 86400;
    base = `${cachedDate}T${TWO[Math.floor(t / 3600)]}:${TWO[Math.floor((t % 3600) / 60)]}:${TWO[t % 60]}`;
    secB = secA;
    textB = textA;
    secA = sec;
    textA = base;
  }
  if (digits <= 0) return `${base}Z`;
  // 1e9 + ns has ten digits, a 1 and the nine of ns with their leading zeros.
  const frac = Number.isInteger(ns) && ns >= 0 && ns < 1e9 ? String(1e9 + ns).slice(1, 1 + digits) : String(ns).padStart(9, '0').slice(0, digits);
  return `${base}.${frac}Z`;
}

