/**
 * The header of a Zeek ASCII log (the writer's `#` lines: `#separator` with its \x escapes,
 * `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#fields`; `#types`, `#open`, `#close`
 * and btest's `###` lines carry nothing a record needs) and a record's cells read through it. Every
 * Zeek log has this header (logging/writers/ascii), so conn.log and dce_rpc.log read it here.
 */

/** `\x09` → a tab: the escapes of Zeek's #separator line. */
function unescape(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** A field name as Zeek writes it (`id.orig_h`): how zeek-cut's header line (names without `#fields`) is recognised. */
export const FIELD_NAME = /^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$/;

export class ZeekLogHeader {
  sep = '\t';
  setSep = ',';
  empty = '(empty)';
  unset = '-';
  /** The log's `#path` (conn, dce_rpc), null before one is read. */
  path: string | null = null;
  /** The columns of `#fields` (or of zeek-cut's header line), null before they are known. */
  fields: string[] | null = null;
  column = new Map<string, number>();

  /** A `#` line: 'fields' when the columns were declared, 'path' when the path was, else null. */
  directive(text: string): 'fields' | 'path' | null {
    if (text.startsWith('#separator ')) {
      this.sep = unescape(text.slice('#separator '.length));
      if (this.sep === '') this.sep = '\t';
      return null;
    }
    // btest's canonifier writes '#open XXXX' with a space; Zeek writes the separator.
    const cut = text.indexOf(this.sep);
    const sp = text.indexOf(' ');
    const at = cut < 0 ? sp : sp < 0 ? cut : Math.min(cut, sp);
    const key = at < 0 ? text : text.slice(0, at);
    const value = at < 0 ? '' : text.slice(at + 1);
    switch (key) {
      case '#set_separator':
        this.setSep = unescape(value);
        return null;
      case '#empty_field':
        this.empty = value;
        return null;
      case '#unset_field':
        this.unset = value;
        return null;
      case '#path':
        this.path = value;
        return 'path';
      case '#fields':
        this.setFields(value.split(this.sep));
        return 'fields';
      default:
        return null;
    }
  }

  setFields(names: string[]): void {
    this.fields = names;
    this.column = new Map(names.map((n, i) => [n, i]));
  }

  /** Whether the names are the same columns as now. */
  sameFields(names: string[]): boolean {
    return this.fields !== null && names.length === this.fields.length && names.every((n, i) => n === this.fields![i]);
  }

  /** A record's cell by name: text, '' for the empty field, null when unset, undefined without the column. Sets come joined by commas. */
  cell(cells: readonly string[], name: string, set = false): string | null | undefined {
    const i = this.column.get(name);
    if (i === undefined) return undefined;
    const c = cells[i]!;
    if (c === this.unset) return null;
    if (c === this.empty) return '';
    return set && this.setSep !== ',' ? c.split(this.setSep).join(',') : c;
  }
}

/**
 * A JSON-lines log line's fields by name (`id.orig_h` flat, or nested under `id` as Zeek's JSON
 * writer may write it without flattening); null when the line is no JSON object.
 */
export function jsonFields(text: string): { has(name: string): boolean; value(name: string): unknown } | null {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null;
  const obj = o as Record<string, unknown>;
  const id = typeof obj.id === 'object' && obj.id !== null ? (obj.id as Record<string, unknown>) : null;
  const nested = (name: string) => id !== null && name.startsWith('id.') && name.slice(3) in id;
  return {
    has: (name) => name in obj || nested(name),
    value: (name) => (name in obj ? obj[name] : nested(name) ? id![name.slice(3)] : undefined),
  };
}
