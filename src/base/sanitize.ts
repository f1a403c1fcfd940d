/**
 * Making server-supplied text safe to print. Chat messages, nicknames and room
 * titles come from strangers; printed raw, an escape sequence in one of them
 * can recolour, clear or retitle the user's terminal, bidi overrides can make
 * a line read differently from what it contains, and invisible characters let
 * one name pass for another (`"A\u200Bnn"` prints exactly like `"Ann"`).
 *
 * @module
 */

// Unsafe: the Unicode general categories Cc (controls), Cf (format: zero-width
// characters, bidi marks and overrides, U+FEFF, tag characters, …), Co
// (private use), Cs (surrogates; with the `u` flag only a lone one matches,
// so emoji are untouched), Zl and Zp (line and paragraph separators), plus the
// Hangul fillers, which are letters (Lo) that print as nothing, and the
// unassigned code points among the invisible ones (U+2065 and the rest of the
// Tags block), which a newer Unicode may assign. The property escapes follow
// the runtime's Unicode version, as the tests' oracle does.
const UNSAFE_GLOBAL =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0\u2065\u{e0000}-\u{e007f}]/gu;

/** The same set, to test before replacing (`test()` on a global regex moves `lastIndex`). */
const UNSAFE = new RegExp(UNSAFE_GLOBAL.source, "u");

// The fast path. A `u` class of properties costs V8 about 3 times as much per
// character as a plain class of UTF-16 ranges, so the common case is decided
// by a plain class: the BMP part of the unsafe set, and every surrogate
// (astral characters, emoji among them, and lone surrogates). Only a text it
// matches pays for UNSAFE, which decides. The tests check every code point
// against `\p{…}`, so a newer Unicode that adds BMP characters to the set
// fails them until this class is extended.
const MAYBE_UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ue000-\uf8ff\ufeff\uffa0\ufff9-\ufffb\ud800-\udfff]/;
/** One pictographic code point at `lastIndex` (sticky: no scan, no allocation). */
const PICTOGRAPH = /\p{Extended_Pictographic}/uy;

const ZERO_WIDTH_JOINER = "\u200d";

/** Options of {@linkcode sanitizeForTerminal}. */
export interface SanitizeOptions {
  /**
   * Show each unsafe character as a visible escape, `<U+200B>`, instead of
   * removing it (a TAB too). Meant for names, so that `"A\u200Bnn"` shows as
   * `A<U+200B>nn` and cannot pass for `Ann`. Default false.
   */
  reveal?: boolean;
}

/**
 * Makes untrusted text safe to print to a terminal. Unsafe characters are
 * those of the Unicode general categories
 *
 * - Cc: C0 controls (ESC, BEL, CR, LF, TAB, …), DEL and C1 controls (such as
 *   the 8-bit CSI U+009B);
 * - Cf: invisible format characters: zero-width space, non-joiner and joiner
 *   (U+200B-U+200D), LRM/RLM/ALM, the bidi embeddings, overrides and
 *   isolates, U+2060-U+206F, U+FEFF, U+FFF9-U+FFFB, the soft hyphen, U+180E,
 *   the tag characters U+E0000-U+E007F, …;
 * - Co (private use), Cs (a lone surrogate), Zl and Zp (U+2028, U+2029);
 *
 * plus the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, which print as
 * nothing. By default they are removed, except that a TAB becomes a space so
 * that tab-separated words do not run together. With `{ reveal: true }` each
 * one becomes a visible escape such as `<U+200B>` instead: use it for names,
 * so that an invisible character cannot make one name look like another.
 *
 * One exception keeps emoji whole: a zero-width joiner between two
 * pictographs (an emoji ZWJ sequence such as 👨‍👩‍👧) is kept. Everything
 * else (CJK, emoji, combining marks) is kept, in order.
 *
 * Removing the ESC of an escape sequence leaves its printable tail (`[31m`)
 * behind; that text is harmless, and keeping it shows the reader that the
 * message contained something odd.
 *
 * Returns `text` itself when there is nothing unsafe in it, so the common
 * case allocates nothing and costs one regular expression test (two when
 * the text has characters outside the BMP, such as emoji).
 *
 * @param text Untrusted text, e.g. a chat message or nickname.
 * @param options `reveal`: escape unsafe characters instead of removing them.
 * @returns The text without (or with escaped) unsafe characters.
 *
 * @example Printing a chat message safely
 * ```ts
 * import { sanitizeForTerminal } from "@x/douyu";
 *
 * const txt = "hi\x1b[2J\x1b]0;pwned\x07 there";
 * console.log(sanitizeForTerminal(txt)); // "hi[2J]0;pwned there"
 * ```
 *
 * @example Showing a name so that it cannot impersonate another
 * ```ts
 * import { sanitizeForTerminal } from "@x/douyu";
 *
 * console.log(sanitizeForTerminal("A\u200Bnn")); // "Ann"
 * console.log(sanitizeForTerminal("A\u200Bnn", { reveal: true })); // "A<U+200B>nn"
 * ```
 */
export function sanitizeForTerminal(text: string, options?: SanitizeOptions): string {
  if (!MAYBE_UNSAFE.test(text) || !UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_GLOBAL, options?.reveal ? revealed : removed);
}

function removed(char: string, offset: number, text: string): string {
  if (char === ZERO_WIDTH_JOINER && joinsPictographs(text, offset)) return char;
  return char === "\t" ? " " : "";
}

function revealed(char: string, offset: number, text: string): string {
  if (char === ZERO_WIDTH_JOINER && joinsPictographs(text, offset)) return char;
  return `<U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}>`;
}

/**
 * Whether the joiner at `at` sits inside an emoji ZWJ sequence: a pictograph
 * (optionally with VS16 or a skin-tone modifier) before it, a pictograph after.
 */
function joinsPictographs(text: string, at: number): boolean {
  PICTOGRAPH.lastIndex = at + 1;
  if (!PICTOGRAPH.test(text)) return false;
  let start = codePointBefore(text, at);
  const previous = text.codePointAt(start);
  if (
    previous === 0xfe0f || (previous !== undefined && previous >= 0x1f3fb && previous <= 0x1f3ff)
  ) {
    start = codePointBefore(text, start);
  }
  if (start < 0) return false;
  PICTOGRAPH.lastIndex = start;
  return PICTOGRAPH.test(text);
}

/** Where the code point that ends at `end` starts (-1 at the start of the text). */
function codePointBefore(text: string, end: number): number {
  if (end <= 0) return -1;
  const low = text.charCodeAt(end - 1);
  if (low >= 0xdc00 && low <= 0xdfff && end >= 2) {
    const high = text.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return end - 2;
  }
  return end - 1;
}
