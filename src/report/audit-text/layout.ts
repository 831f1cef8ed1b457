import type { TextView } from './view.js';

/**
 * The text report's shapes, each held to the view's width: a line cut with "…", a paragraph wrapped
 * under a hanging indent, a table whose columns fit the rows shown, a list cut at the limit with the
 * line that says how much was left out.
 */

/** The line itself, or cut to `width` with "…" at its end. */
export function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * `text` wrapped to `width`, every line starting with `indent`; the spaces between words on a line are
 * kept as written (aligned columns stay aligned), and a word longer than a line is cut into pieces.
 */
export function paragraph(text: string, width: number, indent: string): string[] {
  const room = Math.max(10, width - indent.length);
  const lines: string[] = [];
  let cur = '';
  for (const token of text.replace(/\s/g, ' ').match(/ *[^ ]+/g) ?? []) {
    let w = token.trimStart();
    const gap = cur ? token.slice(0, token.length - w.length) || ' ' : '';
    if (cur && cur.length + gap.length + w.length <= room) {
      cur += gap + w;
      continue;
    }
    if (cur) lines.push(indent + cur);
    while (w.length > room) {
      lines.push(indent + w.slice(0, room));
      w = w.slice(room);
    }
    cur = w;
  }
  if (cur) lines.push(indent + cur);
  return lines;
}

/** `text` as a list item: its first line under `indent`, the lines it wraps onto under `indent` and `hang` more. */
export function hanging(text: string, width: number, indent: string, hang = '    '): string[] {
  return paragraph(text, width - hang.length, indent).map((l, i) => (i ? `${hang}${l}` : l));
}

/** How many of `total` rows a section shows under the view. */
export function shown(total: number, view: TextView): number {
  return view.limit === null ? total : Math.min(total, view.limit);
}

/** The line under a list that was cut: nothing when every row was shown. */
export function* moreLine(total: number, view: TextView, indent: string, what = ''): Generator<string> {
  const n = total - shown(total, view);
  if (n > 0) yield fit(`${indent}… and ${n} more${what ? ` ${what}` : ''} (--all or --limit)`, view.width);
}

/**
 * Rows as a table under `indent`: each column as wide as its widest cell (the head counted), the last
 * column cut so that a row fits the width.
 */
export function* table(head: string[], rows: string[][], indent: string, width: number): Generator<string> {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => fit(`${indent}${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd(), width);
  yield line(head);
  for (const r of rows) yield line(r);
}

/** Up to `n` of `items` joined by spaces, then "+K" for the rest. */
export function firstFew(items: string[], n: number): string {
  return `${items.slice(0, n).join(' ')}${items.length > n ? ` +${items.length - n}` : ''}`;
}
