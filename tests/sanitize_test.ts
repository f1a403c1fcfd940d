import { ok, strictEqual } from "node:assert/strict";
import { sanitizeForTerminal } from "../src/base/sanitize.ts";
import { test } from "./harness.ts";
import { seededRandom } from "./fixtures.ts";

/**
 * The unsafe set, from the runtime's Unicode data (the implementation keeps a
 * hand-written fast-path class that must agree with it): the general
 * categories, the Hangul fillers, and the unassigned invisible code points.
 */
const CATEGORIES = ["Cc", "Cf", "Co", "Cs", "Zl", "Zp"] as const;
const ORACLES = CATEGORIES.map((category) => new RegExp(`^\\p{${category}}$`, "u"));
const FILLERS = [0x115f, 0x1160, 0x3164, 0xffa0];

function isForbidden(code: number): boolean {
  if (FILLERS.includes(code) || code === 0x2065 || (code >= 0xe0000 && code <= 0xe007f)) {
    return true;
  }
  const char = String.fromCodePoint(code); // a lone surrogate for U+D800-U+DFFF
  return ORACLES.some((oracle) => oracle.test(char));
}

const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;

/**
 * The rule, spelled out code point by code point (a lone surrogate is one): an
 * unsafe character is removed (TAB: a space) or revealed, except a joiner
 * between two pictographs, the first optionally followed by VS16 or a skin tone.
 */
function reference(input: string, reveal: boolean): string {
  const chars = Array.from(input);
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!;
    const code = char.codePointAt(0)!;
    if (!isForbidden(code)) {
      out += char;
      continue;
    }
    if (code === 0x200d) {
      let before = i - 1;
      const previous = chars[before]?.codePointAt(0) ?? 0;
      if (previous === 0xfe0f || (previous >= 0x1f3fb && previous <= 0x1f3ff)) before--;
      if (PICTOGRAPH.test(chars[before] ?? "") && PICTOGRAPH.test(chars[i + 1] ?? "")) {
        out += char;
        continue;
      }
    }
    out += reveal ? escape(code) : code === 9 ? " " : "";
  }
  return out;
}

/** How the revealing mode shows a code point. */
function escape(code: number): string {
  return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
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
    sanitizeForTerminal("\u2027\u202f\u205f\u2070\xa0 ~"),
    "\u2027\u202f\u205f\u2070\xa0 ~",
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

test("sanitize: random strings follow the rule, in both modes", () => {
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
    0x00ad,
    0x200b,
    0x200d,
    0x3164,
    0xd83d,
    0xde00,
    0xe0041,
    0xf0000,
    0x2764,
    0xfe0f,
    0x1f3fd,
    0x1f468,
  ];
  for (let round = 0; round < 4000; round++) {
    const codes: number[] = [];
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) {
      const pick = random();
      codes.push(
        pick < 0.5
          ? interesting[Math.floor(random() * interesting.length)]!
          : pick < 0.8
          ? Math.floor(random() * 0x300)
          : Math.floor(random() * 0x110000),
      );
    }
    const input = String.fromCodePoint(...codes);
    for (const reveal of [false, true]) {
      const output = sanitizeForTerminal(input, { reveal });
      strictEqual(output, reference(input, reveal), `input ${JSON.stringify(input)}`);
    }
  }
});

test("sanitize: every code point of Cc, Cf, Co, Cs, Zl and Zp is removed or revealed, no other", () => {
  const seen = new Map<string, number>(CATEGORIES.map((category) => [category, 0]));
  for (let code = 0; code <= 0x10ffff; code++) {
    const char = String.fromCodePoint(code); // a lone surrogate for U+D800-U+DFFF
    const text = `a${char}b`;
    const category = CATEGORIES.find((_, i) => ORACLES[i]!.test(char));
    if (category !== undefined) seen.set(category, seen.get(category)! + 1);
    const removed = sanitizeForTerminal(text);
    const revealed = sanitizeForTerminal(text, { reveal: true });
    if (isForbidden(code)) {
      if (removed !== (code === 9 ? "a b" : "ab") || revealed !== `a${escape(code)}b`) {
        throw new Error(
          `U+${code.toString(16)} (${category ?? "filler"}): ${
            JSON.stringify([removed, revealed])
          }`,
        );
      }
    } else if (removed !== text || revealed !== text) {
      throw new Error(`U+${code.toString(16)} was changed: ${JSON.stringify([removed, revealed])}`);
    }
  }
  // Every category was met, in full (the counts of Unicode 15 and later).
  ok(seen.get("Cc") === 65, `Cc ${seen.get("Cc")}`);
  ok(seen.get("Cf")! >= 161, `Cf ${seen.get("Cf")}`);
  ok(seen.get("Co") === 137_468, `Co ${seen.get("Co")}`);
  ok(seen.get("Cs") === 2048, `Cs ${seen.get("Cs")}`);
  ok(seen.get("Zl") === 1 && seen.get("Zp") === 1);
});

test("sanitize: each invisible character named in the issue is removed, or revealed", () => {
  const named: [string, number[]][] = [
    ["zero-width space, non-joiner, joiner", [0x200b, 0x200c, 0x200d]],
    ["LRM, RLM, ALM", [0x200e, 0x200f, 0x061c]],
    ["byte order mark / zero-width no-break space", [0xfeff]],
    ["word joiner to nominal digit shapes", range(0x2060, 0x206f)],
    ["interlinear annotation", [0xfff9, 0xfffa, 0xfffb]],
    ["soft hyphen", [0x00ad]],
    ["Mongolian vowel separator", [0x180e]],
    ["Hangul fillers", [0x3164, 0x115f, 0x1160, 0xffa0]],
    ["tag characters", range(0xe0000, 0xe007f)],
    ["bidi embeddings, overrides, isolates", [...range(0x202a, 0x202e), ...range(0x2066, 0x2069)]],
  ];
  for (const [what, codes] of named) {
    for (const code of codes) {
      const char = String.fromCodePoint(code);
      strictEqual(sanitizeForTerminal(`A${char}nn`), "Ann", `${what}: U+${code.toString(16)}`);
      strictEqual(sanitizeForTerminal(`A${char}nn`, { reveal: true }), `A${escape(code)}nn`);
    }
  }
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

test("sanitize: an invisible character cannot make a revealed name pass for another", () => {
  const reveal = { reveal: true };
  strictEqual(sanitizeForTerminal("A\u200bnn", reveal), "A<U+200B>nn");
  strictEqual(sanitizeForTerminal("Ann\u3164", reveal), "Ann<U+3164>");
  strictEqual(sanitizeForTerminal("\u202eAnn", reveal), "<U+202E>Ann");
  strictEqual(sanitizeForTerminal("A\u{e0041}nn", reveal), "A<U+E0041>nn");
  strictEqual(sanitizeForTerminal("Ann\x1b[2J", reveal), "Ann<U+001B>[2J");
  strictEqual(sanitizeForTerminal("A\tnn", reveal), "A<U+0009>nn");
  strictEqual(sanitizeForTerminal("Ann", reveal), "Ann");
  // Removing is for message text: the characters are gone, the text reads as it shows.
  strictEqual(sanitizeForTerminal("A\u200bnn"), "Ann");
  strictEqual(sanitizeForTerminal("A\u200bn\u00adn\u2060"), "Ann");
});

test("sanitize: surrogate pairs and emoji are kept, lone surrogates are not", () => {
  const reveal = { reveal: true };
  const emoji = [
    "\u{1f600}",
    "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}", // family: ZWJ sequence
    "\u{1f469}\u{1f3fd}\u200d\u{1f4bb}", // technologist, skin tone, ZWJ
    "\u{1f3f3}\ufe0f\u200d\u{1f308}", // rainbow flag: VS16 before the joiner
    "\u2764\ufe0f\u200d\u{1f525}", // heart on fire: a BMP pictograph
    "\u{1f1e8}\u{1f1f3}", // regional indicators
    "1\ufe0f\u20e3", // keycap
    "\u{20000}\u{2a6d6}", // CJK extension B
  ];
  for (const text of emoji) {
    strictEqual(sanitizeForTerminal(text), text, JSON.stringify(text));
    strictEqual(sanitizeForTerminal(`Ann ${text}!`, reveal), `Ann ${text}!`, JSON.stringify(text));
  }
  // A joiner that does not join two pictographs is removed like any other.
  strictEqual(sanitizeForTerminal("A\u200d\u{1f600}"), "A\u{1f600}");
  strictEqual(sanitizeForTerminal("\u{1f600}\u200dA"), "\u{1f600}A");
  strictEqual(sanitizeForTerminal("\u200d\u{1f600}"), "\u{1f600}");
  strictEqual(sanitizeForTerminal("\u{1f600}\u200d"), "\u{1f600}");
  strictEqual(sanitizeForTerminal("\u{1f468}\u200d\u200d\u{1f469}"), "\u{1f468}\u{1f469}");
  strictEqual(sanitizeForTerminal("\u{1f468}\u200b\u200d\u{1f469}"), "\u{1f468}\u{1f469}");
  strictEqual(sanitizeForTerminal("A\u200dnn", reveal), "A<U+200D>nn");
  // A subdivision flag's tag characters go: the black flag stays.
  strictEqual(
    sanitizeForTerminal("\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}"),
    "\u{1f3f4}",
  );
  // Lone surrogates, high or low, anywhere, also in reverse order.
  strictEqual(sanitizeForTerminal("a\ud800b"), "ab");
  strictEqual(sanitizeForTerminal("a\udc00b"), "ab");
  strictEqual(sanitizeForTerminal("x\ud83d"), "x");
  strictEqual(sanitizeForTerminal("\ude00x"), "x");
  strictEqual(sanitizeForTerminal("\ude00\ud83d"), "");
  strictEqual(sanitizeForTerminal("\ud83d\ud83d\ude00", reveal), "<U+D83D>\u{1f600}");
  strictEqual(sanitizeForTerminal("a\ud800b", reveal), "a<U+D800>b");
  // Private use, BMP and astral.
  strictEqual(
    sanitizeForTerminal("a\ue000\u{f0000}\u{10fffd}b", reveal),
    "a<U+E000><U+F0000><U+10FFFD>b",
  );
});
