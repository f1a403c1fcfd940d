/**
 * The archive's search index terms, and what a search means.
 *
 * A search finds every message whose text contains the query, as SQLite's
 * `text LIKE '%query%'` does (with `%` and `_` matching themselves): a
 * substring match, ASCII letters folded to lower case, any other character
 * compared as it is. Chinese has no spaces between words, and a word may be
 * one character (`好`) or two (`主播`), so words cannot be the terms: every
 * character of a text is a term, and so is every pair of adjacent
 * characters (a unigram and bigram index). A query of one character looks
 * up its term; a longer one looks up all its pairs, which every text
 * containing it has; the texts found are then checked for the query itself,
 * so the index narrows and the check decides. Nothing LIKE finds is missed.
 * (The measurements that chose this over trigrams, and the property test
 * against LIKE, are in `docs/archive.md` and `tests/archive/`.)
 *
 * Terms are scoped to a room, so a search in one room reads only that
 * room's entries. A term is ASCII letters and digits only (hexadecimal code
 * points and rooms, with `x`, `y` and `u` between them), so any tokenizer
 * that splits on spaces keeps it whole, and no text can forge another's.
 *
 * @module
 */

const UPPER = /[A-Z]/;
const UPPER_RUNS = /[A-Z]+/g;

/**
 * `text` with ASCII letters in lower case and nothing else changed: how
 * SQLite's `LIKE` compares letters.
 *
 * @example
 * ```ts
 * import { foldCase } from "./terms.ts";
 *
 * console.log(foldCase("GG 主播 ÄB")); // "gg 主播 Äb"
 * ```
 */
export function foldCase(text: string): string {
  return UPPER.test(text) ? text.replace(UPPER_RUNS, (run) => run.toLowerCase()) : text;
}

/**
 * Whether `text` contains `needle` as `LIKE '%needle%'` means it, for a
 * `needle` already folded with {@linkcode foldCase}.
 *
 * @example
 * ```ts
 * import { containsFolded } from "./terms.ts";
 *
 * console.log(containsFolded("主播 GG", "gg"), containsFolded("主播", "主持")); // true false
 * ```
 */
export function containsFolded(text: string, needle: string): boolean {
  return foldCase(text).includes(needle);
}

/** Hexadecimal code points, kept for the characters seen (a few thousand in practice). */
const hexCache = new Map<number, string>();
const MAX_CACHED = 1 << 16;

function hex(codePoint: number): string {
  let text = hexCache.get(codePoint);
  if (text === undefined) {
    text = codePoint.toString(16);
    if (hexCache.size < MAX_CACHED) hexCache.set(codePoint, text);
  }
  return text;
}

/** The prefix of every term of a room: its id in hexadecimal. */
export function roomPrefix(room: number): string {
  return room.toString(16);
}

/**
 * The index terms of a text, space-separated: each character and each pair
 * of adjacent characters (by code point, after {@linkcode foldCase}),
 * scoped to the room. A pair that repeats is listed again; the index keeps
 * one entry per message and term.
 *
 * @param text The message's text, well-formed (see `String.prototype.toWellFormed`).
 * @param prefix {@linkcode roomPrefix} of its room.
 *
 * @example
 * ```ts
 * import { roomPrefix, textTerms } from "./terms.ts";
 *
 * console.log(textTerms("主播A", roomPrefix(1))); // "1x4e3b 1x4e3by64ad 1x64ad 1x64ady61 1x61"
 * ```
 */
export function textTerms(text: string, prefix: string): string {
  const folded = foldCase(text);
  let out = "";
  let previous = "";
  for (let i = 0; i < folded.length; i++) {
    let code = folded.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < folded.length) {
      const low = folded.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = (code - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
        i++;
      }
    }
    const current = hex(code);
    if (previous !== "") out += `${prefix}x${previous}y${current} `;
    out += `${prefix}x${current} `;
    previous = current;
  }
  return out.slice(0, -1);
}

/**
 * The term of a user id in a room: every message with a sender id has it, so
 * one user's messages are found through the same index.
 *
 * @example
 * ```ts
 * import { roomPrefix, userTerm } from "./terms.ts";
 *
 * console.log(userTerm(roomPrefix(9999), 255)); // "270fuff"
 * ```
 */
export function userTerm(prefix: string, uid: number): string {
  return `${prefix}u${uid.toString(16)}`;
}

/**
 * The term of a sender's name in a room (a hash of the name: a match is
 * then checked against the stored name).
 *
 * @example
 * ```ts
 * import { nameTerm, roomPrefix } from "./terms.ts";
 *
 * console.log(nameTerm(roomPrefix(1), "Ann")); // "1n77b5f6b8"
 * ```
 */
export function nameTerm(prefix: string, name: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return `${prefix}n${(hash >>> 0).toString(16)}`;
}

/**
 * How to search for `query` in a room: the terms every matching text has
 * (all of them must be present), and the folded needle each candidate's
 * text is then checked for. `undefined` for an empty query.
 *
 * @example
 * ```ts
 * import { roomPrefix, searchTerms } from "./terms.ts";
 *
 * console.log(searchTerms("主播", roomPrefix(1))); // { terms: [ "1x4e3by64ad" ], needle: "主播" }
 * console.log(searchTerms("GG", roomPrefix(1))?.needle); // "gg"
 * ```
 */
export function searchTerms(
  query: string,
  prefix: string,
): { terms: string[]; needle: string } | undefined {
  const needle = foldCase(query.toWellFormed());
  if (needle === "") return undefined;
  const all = textTerms(needle, prefix).split(" ");
  // One character: its own term. Longer: its pairs (the odd entries), each once.
  const terms = all.length === 1 ? all : [...new Set(all.filter((_, i) => i % 2 === 1))];
  return { terms, needle };
}
