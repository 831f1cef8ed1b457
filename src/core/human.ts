/**
 * Numbers as a person reads them in a report: a count with its noun in the right number, a length of
 * time in the largest units that fit (a capture of 0.3 s, of 2 h 05 min, or of 56 years when one
 * timestamp is bogus).
 */

/** "1 flow", "3 flows", "1 host"; `many` for nouns whose plural is not noun+s. */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`;
}

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;
const YEAR = 365.25 * DAY;

/** Seconds → "0.3 s", "42.0 s", "4 min 05 s", "2 h 05 min", "3 days 4 h", "56 years". */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < MINUTE) return `${s.toFixed(1)} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min ${String(Math.floor(s % MINUTE)).padStart(2, '0')} s`;
  if (s < DAY) return `${Math.floor(s / HOUR)} h ${String(Math.floor((s % HOUR) / MINUTE)).padStart(2, '0')} min`;
  if (s < YEAR) return `${plural(Math.floor(s / DAY), 'day')} ${Math.floor((s % DAY) / HOUR)} h`;
  return plural(Math.floor(s / YEAR), 'year');
}
