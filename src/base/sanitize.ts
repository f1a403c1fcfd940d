/**
 * Making server-supplied text safe to print. Chat messages, nicknames and room
 * titles come from strangers; printed raw, an escape sequence in one of them
 * can recolour, clear or retitle the user's terminal, and bidi overrides can
 * make a line read differently from what it contains.
 *
 * @module
 */

// The set is spelled with \u escapes so the source stays ASCII. No `u` flag:
// every forbidden character is in the BMP, and matching UTF-16 code units is
// faster and leaves surrogate pairs (emoji) alone since none fall in a range.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const FORBIDDEN_GLOBAL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// A separate non-global copy for the fast-path test: `test()` on a global
// regex mutates `lastIndex`, which would make the replace start mid-string.
// deno-lint-ignore no-control-regex -- same set as above
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Removes every character that could control a terminal: C0 controls
 * (U+0000-U+001F, which includes ESC, BEL, CR and LF), DEL, C1 controls
 * (U+0080-U+009F, e.g. the 8-bit CSI U+009B), the bidi embeddings, overrides
 * and isolates (U+202A-U+202E, U+2066-U+2069) and the line and paragraph
 * separators U+2028/U+2029. A TAB becomes a space, so tab-separated words do
 * not run together. Everything else (CJK, emoji, combining marks) is kept, in
 * order.
 *
 * Removing the ESC of an escape sequence leaves its printable tail (`[31m`)
 * behind; that text is harmless, and keeping it shows the reader that the
 * message contained something odd.
 *
 * Returns `text` itself when there is nothing to remove, so the common case
 * allocates nothing.
 *
 * @param text Untrusted text, e.g. a chat message or nickname.
 * @returns The text without control characters.
 *
 * @example Printing a chat message safely
 * ```ts
 * import { sanitizeForTerminal } from "@x/douyu";
 *
 * const txt = "hi\x1b[2J\x1b]0;pwned\x07 there";
 * console.log(sanitizeForTerminal(txt)); // "hi[2J]0;pwned there"
 * ```
 */
export function sanitizeForTerminal(text: string): string {
  if (!FORBIDDEN.test(text)) return text;
  return text.replace(FORBIDDEN_GLOBAL, replacement);
}

function replacement(char: string): string {
  return char === "\t" ? " " : "";
}
