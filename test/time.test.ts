import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digitsForTicks, formatIso, splitTicks } from '../src/core/time.js';
import { formatIPv6 } from '../src/core/addr.js';

describe('64-bit pcapng timestamps', () => {
  it('split exactly into seconds and nanoseconds for every resolution, beyond 2^53', () => {
    const resolutions = [1, 10, 1000, 1_000_000, 1_000_000_000, 1e12, 2 ** 10, 2 ** 20, 2 ** 30, 2 ** 40];
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(...resolutions), (ticks, tps) => {
        const out = { sec: 0, ns: 0 };
        splitTicks(Number(ticks >> 32n), Number(ticks & 0xffffffffn), tps, out);
        const d = BigInt(tps);
        expect(out.sec).toBe(Number(ticks / d));
        expect(out.ns).toBe(Number(((ticks % d) * 1_000_000_000n) / d));
      }),
      { numRuns: 5000, seed: 42 },
    );
  });

  it('nanoseconds since 1970 survive (they do not fit a double)', () => {
    const ns = 1_700_000_000_123_456_789n;
    const out = { sec: 0, ns: 0 };
    splitTicks(Number(ns >> 32n), Number(ns & 0xffffffffn), 1e9, out);
    expect(formatIso(out.sec, out.ns, digitsForTicks(1e9))).toBe('2023-11-14T22:13:20.123456789Z');
  });

  it('ISO text equals Date.toISOString with the fraction cut to its digits, whatever order times come in', () => {
    // A few seconds repeat (the formatter keeps the text of the last two seconds), the rest are spread
    // from before 1970 to 2100 and over the whole of Date's range (expanded years past 9999 and before 0).
    const sec = fc.oneof(
      fc.constantFrom(1_700_000_000, 1_700_000_001, 1_700_003_600, 0, 86_399, 253_402_300_799, 253_402_300_800, -62_167_219_201, 8.64e12, -8.64e12),
      fc.integer({ min: -2_000_000_000, max: 4_102_444_800 }),
      fc.integer({ min: -8.64e12, max: 8.64e12 }),
    );
    const ns = fc.oneof(fc.constantFrom(0, 999_999_999, 5, 100_000_000), fc.integer({ min: 0, max: 999_999_999 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(sec, ns, fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 40 }), (stamps) => {
        for (const [s, n, digits] of stamps) {
          const iso = new Date(s * 1000).toISOString();
          const want = `${iso.slice(0, iso.lastIndexOf('.'))}${digits ? `.${String(n).padStart(9, '0').slice(0, digits)}` : ''}Z`;
          expect(formatIso(s, n, digits)).toBe(want);
        }
      }),
      { numRuns: 300 },
    );
    // Beyond Date's range a time is clamped to its ends (the readers count such stamps).
    expect(formatIso(1e15, 5, 6)).toBe('+275760-09-13T00:00:00.000000Z');
    expect(formatIso(-1e15, 0, 0)).toBe('-271821-04-20T00:00:00Z');
    expect(formatIso(253_402_300_799, 999_999_999, 9)).toBe('9999-12-31T23:59:59.999999999Z');
    expect(formatIso(253_402_300_800, 0, 3)).toBe('+010000-01-01T00:00:00.000Z');
    expect(formatIso(1e12, 0, 0)).toBe('+033658-09-27T01:46:40Z');
  });

  it('digits follow the resolution', () => {
    expect([1e6, 1e9, 1e3, 2 ** 20, 2 ** 30, 1].map(digitsForTicks)).toEqual([6, 9, 3, 7, 9, 0]);
  });
});

describe('IPv6 text', () => {
  it('is RFC 5952 compressed', () => {
    expect(formatIPv6(0x20010db8, 0, 0, 1)).toBe('2001:db8::1');
    expect(formatIPv6(0, 0, 0, 1)).toBe('::1');
    expect(formatIPv6(0x20010db8, 0x00000001, 0x00010001, 0x00010001)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6(0xfe800000, 0, 0x02000000, 0)).toBe('fe80::200:0:0:0'); // equal runs: the first is compressed
    expect(formatIPv6(0, 0, 0xffff, 0x0a000001)).toBe('::ffff:10.0.0.1');
  });
});
