/** Where a piece of damage was found: enough for a person to open the file at that spot. */
export interface DamagePlace {
  file: string;
  /** 1-based packet (record) number, or 0 when the damage is in a header before any packet. */
  record: number;
  /** Byte offset from the start of the (decompressed) capture stream. */
  offset: number;
}

/**
 * Counts problems by reason and keeps the first few places of each. Reasons are short kebab-case
 * constants (no string building on the hot path); places are only allocated for the first few.
 */
export class DamageTally {
  readonly counts = new Map<string, number>();
  readonly places = new Map<string, DamagePlace[]>();
  constructor(readonly keepPlaces = 5) {}

  add(reason: string, file: string, record: number, offset: number, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
    let list = this.places.get(reason);
    if (list === undefined) {
      list = [];
      this.places.set(reason, list);
    }
    if (list.length < this.keepPlaces) list.push({ file, record, offset });
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  /** Adds another tally; `recordOffset` renumbers its places (a shard numbers its records from 1). */
  merge(other: { counts: Map<string, number>; places: Map<string, DamagePlace[]> }, recordOffset = 0): void {
    for (const [reason, n] of other.counts) {
      this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
      const mine = this.places.get(reason) ?? [];
      for (const p of other.places.get(reason) ?? []) {
        if (mine.length < this.keepPlaces) mine.push({ ...p, record: p.record === 0 ? 0 : p.record + recordOffset });
      }
      this.places.set(reason, mine);
    }
  }

  toJSON(): Record<string, { count: number; first: DamagePlace[] }> {
    const out: Record<string, { count: number; first: DamagePlace[] }> = {};
    for (const reason of [...this.counts.keys()].sort()) {
      out[reason] = { count: this.counts.get(reason)!, first: this.places.get(reason) ?? [] };
    }
    return out;
  }
}

/** An input the tool cannot use at all (missing file, not a capture, bad arguments): exit code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** An input error whose message already names the file and line (a catalog, a role map): printed as is. */
export class LocatedInputError extends InputError {}

/**
 * A piece of a user's file quoted in an error message: in double quotes, and cut to its first `max`
 * characters with the full length named, so that one bad 4000-character entry stays a readable line.
 */
export function quoted(text: string, max = 60): string {
  const flat = text.replace(/[\r\n\t]/g, ' ');
  return flat.length <= max ? `"${flat}"` : `"${flat.slice(0, max)}…" (${text.length} characters)`;
}

/** A value of a user's file shown as JSON in an error message, cut like `quoted`. */
export function shownJson(value: unknown, max = 60): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= max ? json : `${json.slice(0, max)}… (${json.length} characters)`;
}

/** A list of names in an error message ("declared: a, b, c"), the first `max` of them and how many more. */
export function someOf(names: Iterable<string>, max = 12): string {
  const all = [...names];
  const shown = all.slice(0, max).map((n) => (n.length > 60 ? `${n.slice(0, 60)}…` : n));
  return all.length > max ? `${shown.join(', ')}, … (${all.length - max} more)` : shown.join(', ');
}
