import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { sanitizeForTerminal } from "../src/base/sanitize.ts";
import { test } from "./harness.ts";
import { seededRandom } from "./fixtures.ts";

/** The forbidden set, spelled out independently of the implementation's regex. */
function isForbidden(code: number): boolean {
  return code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069);
}

test("sanitize: ANSI escape sequences lose their ESC and BEL", () => {
  strictEqual(sanitizeForTerminal("a\x1b[31mred\x1b[0m"), "a[31mred[0m");
  strictEqual(sanitizeForTerminal("\x1b]0;title\x07x"), "]0;titlex");
  strictEqual(sanitizeForTerminal("\x1b[2Jcleared"), "[2Jcleared");
  strictEqual(sanitizeForTerminal("\x1b"), "");
});

test("sanitize: CR, LF, NUL, DEL and C1 controls are removed; TAB becomes a space", () => {
  strictEqual(sanitizeForTerminal("line1\r\nline2\rfake"), "line1line2fake");
  strictEqual(sanitizeForTerminal("a\x00b\x7fc"), "abc");
  strictEqual(sanitizeForTerminal("\x9b31mx\x85\x80\x9f"), "31mx");
  strictEqual(sanitizeForTerminal("a\tb"), "a b");
});

test("sanitize: bidi overrides, isolates and line separators are removed", () => {
  const bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069";
  strictEqual(sanitizeForTerminal(`ad${bidi}min`), "admin");
  strictEqual(sanitizeForTerminal("x\u2028y\u2029z"), "xyz");
  // Neighbours of the ranges are ordinary characters.
  strictEqual(
    sanitizeForTerminal("\u2027\u202f\u2065\u206a\xa0 ~"),
    "\u2027\u202f\u2065\u206a\xa0 ~",
  );
});

test("sanitize: CJK, emoji and combining marks pass unchanged (same string)", () => {
  const samples = [
    "",
    "hello, world",
    "\u4f60\u597d\uff0c\u6597\u9c7c\uff01", // CJK with full-width punctuation
    "\u{1f600}\u{1f680}\u{1f468}\u200d\u{1f469}\u200d\u{1f467}", // emoji incl. ZWJ family
    "\u{1f1e8}\u{1f1f3} \u{1f44d}\u{1f3fd}", // flag, skin tone
    "e\u0301 n\u0303 \u0915\u094d\u0937", // combining marks, Devanagari conjunct
    "\u00e9\u00df\u00fe \u0627\u0644\u0639\u0631\u0628\u064a\u0629", // Latin-1, Arabic
  ];
  for (const s of samples) strictEqual(sanitizeForTerminal(s), s);
});

test("sanitize: the fast path returns the input itself", () => {
  const long = "\u5f39\u5e55 danmaku ".repeat(10_000);
  strictEqual(sanitizeForTerminal(long), long);
  // A match at the very end must still be found after the fast-path test.
  strictEqual(sanitizeForTerminal(`${long}\x1b`), long);
  // Repeated calls give the same answer (no regex lastIndex state leaks between calls).
  for (let i = 0; i < 3; i++) strictEqual(sanitizeForTerminal("ab\x1bcd\x1bef"), "abcdef");
});

test("sanitize: random strings keep allowed characters in order and lose every forbidden one", () => {
  const random = seededRandom(0x5eed);
  // Weighted towards the edges of the forbidden ranges.
  const interesting = [
    0x00,
    0x07,
    0x09,
    0x0a,
    0x0d,
    0x1b,
    0x1f,
    0x20,
    0x7e,
    0x7f,
    0x80,
    0x9b,
    0x9f,
    0xa0,
    0x2027,
    0x2028,
    0x2029,
    0x202a,
    0x202e,
    0x202f,
    0x2065,
    0x2066,
    0x2069,
    0x206a,
    0x4e2d,
    0xfeff,
    0x1f600,
    0x0301,
  ];
  for (let round = 0; round < 2000; round++) {
    const codes: number[] = [];
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) {
      const pick = random();
      codes.push(
        pick < 0.5
          ? interesting[Math.floor(random() * interesting.length)]
          : pick < 0.8
          ? Math.floor(random() * 0x300)
          : Math.floor(random() * 0x10ffff),
      );
    }
    const input = String.fromCodePoint(...codes);
    const output = sanitizeForTerminal(input);
    for (const ch of output) {
      const code = ch.codePointAt(0)!;
      if (isForbidden(code)) {
        throw new Error(`U+${code.toString(16)} survived in ${JSON.stringify(input)}`);
      }
    }
    // Work on UTF-16 units: lone surrogates from the random range are allowed characters too.
    const expected = input.split("")
      .filter((c) => c === "\t" || !isForbidden(c.charCodeAt(0)))
      .map((c) => (c === "\t" ? " " : c))
      .join("");
    deepStrictEqual(output, expected, `input ${JSON.stringify(input)}`);
    if (expected === input) strictEqual(output, input);
  }
});
