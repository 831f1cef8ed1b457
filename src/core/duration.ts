/**
 * Seconds in the units a person reads: "0.3 s", "42 s", "5 min 03 s", "2 h 05 min", "3 days 4 h",
 * "56 years". Used wherever a report states how long something lasted (the capture span, how long a
 * host was watched, a documented period); JSON keeps the plain seconds.
 */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'an unknown time';
  const s = Math.max(0, seconds);
  if (s < 10) return `${Number(s.toFixed(1))} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(Math.floor(s % 60))} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  const days = Math.floor(s / 86400);
  if (days < 365) return `${plural(days, 'day')}${days < 30 ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
  return plural(Math.floor(days / 365.25), 'year');
}

/** "1 flow", "2 flows"; `many` for irregular plurals. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
