/**
 * Strings a capture (or an inspector reading one) supplies — file and interface names, DCOM string
 * bindings, SQL instance names, TFTP file names — are hostile until escaped for the medium they go to.
 * One function per medium, used wherever such a value is formatted:
 *
 * - terminal text (flows, analyze and live text reports, messages on stderr): no control character or
 *   invisible formatting reaches the terminal; they are shown as `\x1b`, `\x07`, `\u202e`.
 * - CSV: a cell that a spreadsheet would run as a formula gets the usual `'` in front (OWASP's CSV
 *   injection guard); only text cells go through it, so numbers stay numbers.
 * - HTML: the five characters that could open markup are entities; controls and invisible formatting
 *   (bidi overrides) are shown as escapes, as on a terminal.
 * JSON needs nothing of its own: JSON.stringify and json-lines.ts escape control characters.
 */

/**
 * Code points a terminal would act on or hide: C0 and C1 controls and DEL (`\p{Cc}`, which includes tab
 * and newline: a name with a newline must not forge a report line), format characters such as the bidi
 * overrides U+202A-U+202E and U+2066-U+2069, zero-width spaces and joiners, the BOM (`\p{Cf}`), the line
 * and paragraph separators, lone surrogates, private-use and unassigned code points.
 */
const UNSAFE_FOR_TERMINAL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u;
const UNSAFE_FOR_TERMINAL_ALL = new RegExp(UNSAFE_FOR_TERMINAL.source, 'gu');

function escapeCodePoint(c: string): string {
  const cp = c.codePointAt(0)!;
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  return cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** A capture-derived string as it may be shown on a terminal: unsafe code points written as escapes. */
export function terminalSafe(s: string): string {
  // Printable ASCII is checked by code, and only the other code points one by one against the Unicode
  // classes: a regular expression of those classes over a whole line costs ~100 ns a character.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c < 0xa0) return s.replace(UNSAFE_FOR_TERMINAL_ALL, escapeCodePoint);
    const cp = s.codePointAt(i)!;
    if (UNSAFE_FOR_TERMINAL.test(String.fromCodePoint(cp))) return s.replace(UNSAFE_FOR_TERMINAL_ALL, escapeCodePoint);
    if (cp > 0xffff) i++;
  }
  return s;
}

/** What a spreadsheet reads as the start of a formula (or of a DDE call) when it opens a CSV file. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell of a CSV report: a leading `=`, `+`, `-`, `@`, tab or CR gets a `'` in front. */
export function csvText(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

/**
 * What a page would act on or hide: controls other than tab and line ends, and the invisible
 * formatting characters (bidi overrides such as U+202E reorder the text around them on screen, so a
 * name could show another address than it holds), line and paragraph separators, lone surrogates.
 */
const UNSAFE_FOR_PAGE = /(?![\t\n\r])\p{Cc}|[\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/**
 * Every string from a capture, a catalog or a role map goes through this before it reaches a page: the
 * five characters that could open markup as entities, the code points above as visible escapes.
 */
export function escapeHtml(s: unknown): string {
  const t = String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
  return /[^\x20-\x7e\t\n\r]/.test(t) ? t.replace(UNSAFE_FOR_PAGE, escapeCodePoint) : t;
}
