/**
 * The STT format: writing it (escape, encode) and reading it the plain way
 * (unescape, split into pairs, first key wins), for any text at any escape
 * level. `./stt_fast.ts` reads typical bodies faster, and falls
 * back on the plain decoder here for anything unusual; `./stt.ts` puts the
 * two together.
 *
 * @module
 */

/** Character codes of the STT syntax (identical in UTF-8 and UTF-16). */
export const AT = 0x40, EQ = 0x3d, SLASH = 0x2f, LETTER_A = 0x41, LETTER_S = 0x53;

/** A value {@linkcode encodeStt} can write: scalars, arrays and plain maps. */
export type SttValue =
  | string
  | number
  | boolean
  | readonly SttValue[]
  | { readonly [key: string]: SttValue | undefined };

/**
 * Escapes one key or value: `@` → `@A`, then `/` → `@S`.
 *
 * @example
 * ```ts
 * import { escapeStt } from "@x/douyu";
 *
 * console.log(escapeStt("a@b/c")); // "a@Ab@Sc"
 * ```
 */
export function escapeStt(text: string): string {
  if (text.indexOf("@") === -1 && text.indexOf("/") === -1) return text;
  return text.replaceAll("@", "@A").replaceAll("/", "@S");
}

/**
 * Reverses {@linkcode escapeStt}: `@S` → `/`, then `@A` → `@`. Unknown
 * escapes are left as they are.
 *
 * @example
 * ```ts
 * import { unescapeStt } from "@x/douyu";
 *
 * console.log(unescapeStt("a@Ab@Sc")); // "a@b/c"
 * ```
 */
export function unescapeStt(text: string): string {
  let at = text.indexOf("@");
  if (at === -1) return text;
  // One left-to-right pass (equivalent to `@S` then `@A`), building from
  // slices: cheaper than two replaceAll passes on the hot path.
  let out = "";
  let last = 0;
  while (at !== -1) {
    const next = text.charCodeAt(at + 1);
    if (next === 0x53 /* S */ || next === 0x41 /* A */) {
      out += text.slice(last, at) + (next === 0x53 ? "/" : "@");
      last = at + 2;
      at = text.indexOf("@", last);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * Serializes a map, an array or a scalar. Nested maps and arrays are escaped
 * once more per level, as Douyu does; `undefined` map values are skipped.
 *
 * @param value What to write.
 * @returns STT text, e.g. `type@=loginreq/roomid@=9999/`.
 *
 * @example Messages and nested values
 * ```ts
 * import { encodeStt } from "@x/douyu";
 *
 * console.log(encodeStt({ type: "joingroup", rid: 9999, gid: -9999 }));
 * // "type@=joingroup/rid@=9999/gid@=-9999/"
 * console.log(encodeStt({ el: [{ eid: "1", etp: "2" }] }));
 * // "el@=eid@AA=1@ASetp@AA=2@AS@S/"
 * ```
 */
export function encodeStt(value: SttValue): string {
  if (Array.isArray(value)) {
    let out = "";
    for (const item of value as readonly SttValue[]) out += encodeNested(item) + "/";
    return out;
  }
  if (typeof value === "object" && value !== null) {
    let out = "";
    for (const key of Object.keys(value)) {
      const item = (value as { readonly [key: string]: SttValue | undefined })[key];
      if (item === undefined) continue;
      out += escapeStt(key) + "@=" + encodeNested(item) + "/";
    }
    return out;
  }
  return escapeStt(String(value));
}

function encodeNested(value: SttValue): string {
  return typeof value === "object" && value !== null
    ? escapeStt(encodeStt(value))
    : escapeStt(String(value));
}

/**
 * Which keys of a message keep their raw (still escaped) value, by type, so
 * a nested value can be decoded straight from the wire text.
 */
export type RawKeys = (type: string) => ReadonlySet<string> | undefined;

/**
 * Decodes a nested value from its raw wire text in a body, `text` at
 * `from..to` (escaped once more than plain STT: level 1).
 */
export type NestedDecoder = (text: string, from: number, to: number) => unknown;

/** The nested keys of a message type, with their decoders. */
export type NestedKeys = (type: string) => ReadonlyMap<string, NestedDecoder> | undefined;

/** Scratch space of one decode: keys and values to store, in the order read. */
const scratchKeys: string[] = [];
const scratchValues: string[] = [];
const scratchEscaped: boolean[] = [];

/**
 * {@linkcode decodeMapAt} without the fast path, for tests comparing the two.
 *
 * @internal
 */
export function decodeMapGeneral(text: string, level: number): Record<string, string> {
  return decodeGeneral(text, level, undefined) as Record<string, string>;
}

/*
 * The general path: any text, any level. Pairs are collected in the scratch
 * arrays, then the object is built key by key, first wins.
 */

export function decodeGeneral(
  text: string,
  level: number,
  nestedKeys: NestedKeys | undefined,
): Record<string, unknown> {
  const count = scan(text, level);
  let nested: ReadonlyMap<string, NestedDecoder> | undefined;
  if (nestedKeys !== undefined) {
    const at = scratchKeys.indexOf("type");
    if (at !== -1 && at < count) nested = nestedKeys(valueAt(at, level, undefined));
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const key = scratchKeys[i]!;
    if (out[key] === undefined && key !== "__proto__") {
      out[key] = valueAt(i, level, nested);
    } else if (!Object.hasOwn(out, key)) {
      defineOwn(out, key, valueAt(i, level, nested));
    } // else a duplicate: the first one wins
  }
  if (scratchKeys.length > 1024) {
    scratchKeys.length = 0;
    scratchValues.length = 0;
    scratchEscaped.length = 0;
  }
  if (nested !== undefined) {
    // Decoded now that the scratch space is free.
    for (const [key, decode] of nested) {
      const raw = out[key];
      if (Object.hasOwn(out, key) && typeof raw === "string") out[key] = decode(raw, 0, raw.length);
    }
  }
  return out;
}

/**
 * Walks the pairs of a map escaped `level` more times than plain STT, in one
 * pass over the characters: a pair ends at `/` escaped `level` times (at
 * level 0 `/` itself, else `@` + (level-1)×`A` + `S`) and splits at its first
 * `@` + level×`A` + `=`; any other `@…` is an escape inside a key or value.
 * Pairs go to the scratch arrays.
 *
 * @returns The number of pairs.
 */
export function scan(text: string, level: number): number {
  const length = text.length;
  let count = 0;
  let start = 0;
  let eq = -1;
  let valueStart = 0;
  let keyEscaped = false;
  let escaped = false;
  for (let i = 0; i <= length; i++) {
    let next = i + 1; // where the following pair starts, if this one ends here
    if (i < length) {
      const c = text.charCodeAt(i);
      if (c === SLASH) {
        if (level !== 0) continue; // a plain character there (not seen in real traffic)
      } else if (c !== AT) {
        continue;
      } else if (level === 0) {
        if (eq === -1 && text.charCodeAt(i + 1) === EQ) {
          eq = i++;
          valueStart = i + 1;
          keyEscaped = escaped;
          escaped = false;
        } else {
          escaped = true;
        }
        continue;
      } else {
        let j = i + 1;
        while (text.charCodeAt(j) === LETTER_A) j++;
        const run = j - i - 1;
        const after = text.charCodeAt(j);
        if (after === EQ && run === level && eq === -1) {
          eq = i;
          valueStart = j + 1;
          keyEscaped = escaped;
          escaped = false;
          i = j;
          continue;
        }
        if (after !== LETTER_S || run !== level - 1) {
          escaped = true;
          i = j - 1;
          continue;
        }
        next = j + 1;
      }
    }
    if (eq !== -1) {
      const key = text.slice(start, eq);
      scratchKeys[count] = keyEscaped ? unescapeTimes(key, level + 1) : key;
      scratchValues[count] = text.slice(valueStart, i);
      scratchEscaped[count] = escaped;
      count++;
    }
    start = next;
    i = next - 1;
    eq = -1;
    escaped = false;
  }
  return count;
}

/** The value of scanned pair `index`: unescaped, unless its key is in `raw`. */
export function valueAt(
  index: number,
  level: number,
  raw: ReadonlyMap<string, unknown> | undefined,
): string {
  const value = scratchValues[index]!;
  if (!scratchEscaped[index] || raw?.has(scratchKeys[index]!)) return value;
  return unescapeTimes(value, level + 1);
}

/**
 * Stores `key` as a plain own property even when it is `__proto__` or shadows
 * an inherited name: assignment would call the `__proto__` setter instead.
 */
export function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** `/` escaped `level` times: the end of a pair or item at that level. */
export function structuralToken(level: number): string {
  return STRUCTURAL_TOKENS[level] ?? "@" + "A".repeat(level - 1) + "S";
}

const STRUCTURAL_TOKENS = ["/", "@S", "@AS", "@AAS", "@AAAS"];

/**
 * Unescapes `times` times in one pass. Each pass turns `@A` into `@`, so a
 * run `@` + k×`A` + X loses min(k, times) of its `A`s, and once none are left
 * the remaining passes turn `@S` into `/`.
 */
export function unescapeTimes(text: string, times: number): string {
  let at = text.indexOf("@");
  if (at === -1) return text;
  if (times === 1) return unescapeStt(text);
  let out = "";
  let last = 0;
  while (at !== -1) {
    let j = at + 1;
    while (text.charCodeAt(j) === LETTER_A) j++;
    const run = j - at - 1;
    let replacement = "@";
    if (run >= times) {
      replacement = "@" + "A".repeat(run - times);
    } else if (text.charCodeAt(j) === LETTER_S) {
      replacement = "/";
      j++;
    }
    out += text.slice(last, at) + replacement;
    last = j;
    at = text.indexOf("@", j);
  }
  return out + text.slice(last);
}

/**
 * Decodes one level of an STT array: `a/b/c/` → `["a", "b", "c"]`, each item
 * unescaped once. A final item without its `/` is kept; an empty string is
 * an empty array.
 *
 * @example
 * ```ts
 * import { decodeSttList } from "./stt.ts";
 *
 * console.log(decodeSttList("2614/1446/a@Sb/")); // ["2614", "1446", "a/b"]
 * ```
 */
export function decodeSttList(text: string): string[] {
  return decodeListAt(text, 0);
}

/** {@linkcode decodeSttList} for a list escaped `level` more times (see {@linkcode decodeMapAt}). */
export function decodeListAt(text: string, level: number): string[] {
  return decodeListRange(text, 0, text.length, level);
}

/** {@linkcode decodeListAt} for the list at `from..to` of `text`. */
export function decodeListRange(text: string, from: number, to: number, level: number): string[] {
  const end = structuralToken(level);
  const out: string[] = [];
  let start = from;
  while (start < to) {
    let stop = text.indexOf(end, start);
    if (stop === -1 || stop > to) stop = to;
    out.push(unescapeTimes(text.slice(start, stop), level + 1));
    start = stop + end.length;
  }
  return out;
}

/**
 * Every `[key, value]` pair of one STT level in wire order, duplicates
 * included, for callers who need more than {@linkcode decodeStt}'s first-wins
 * view.
 *
 * @example
 * ```ts
 * import { decodeSttPairs } from "./stt.ts";
 *
 * console.log(decodeSttPairs("rid@=1/type@=rri/rid@=-1/"));
 * // [["rid", "1"], ["type", "rri"], ["rid", "-1"]]
 * ```
 */
export function decodeSttPairs(text: string): Array<[key: string, value: string]> {
  const out: Array<[string, string]> = [];
  const count = scan(text, 0);
  for (let i = 0; i < count; i++) out.push([scratchKeys[i]!, valueAt(i, 0, undefined)]);
  return out;
}

export const TYPE_KEY = "type@=";

/**
 * The message type of an STT body without decoding the rest: the value of
 * the first `type` key, or `undefined`. Costs a substring search.
 *
 * @example
 * ```ts
 * import { peekType } from "@x/douyu";
 *
 * console.log(peekType("rid@=1/type@=rri/")); // "rri"
 * ```
 */
export function peekType(body: string): string | undefined {
  let at: number;
  if (body.startsWith(TYPE_KEY)) {
    at = 0;
  } else {
    at = body.indexOf("/" + TYPE_KEY);
    if (at === -1) return undefined;
    at += 1;
  }
  const from = at + TYPE_KEY.length;
  let end = body.indexOf("/", from);
  if (end === -1) end = body.length;
  return unescapeStt(body.slice(from, end));
}

// "type@=" as bytes: t y p e @ =
const T0 = 0x74, T1 = 0x79, T2 = 0x70, T3 = 0x65;
const utf8 = new TextDecoder();

/**
 * {@linkcode peekType} on a body's UTF-8 bytes, before any text decoding, so a
 * type filter can drop a packet for the price of a byte scan.
 *
 * @example
 * ```ts
 * import { peekTypeBytes } from "@x/douyu";
 *
 * console.log(peekTypeBytes(new TextEncoder().encode("type@=dgb/gfid@=1/"))); // "dgb"
 * ```
 */
export function peekTypeBytes(body: Uint8Array): string | undefined {
  const n = body.length;
  for (let i = 0; i + 6 <= n; i++) {
    if (
      body[i] === T0 && (i === 0 || body[i - 1] === SLASH) && body[i + 1] === T1 &&
      body[i + 2] === T2 && body[i + 3] === T3 && body[i + 4] === AT && body[i + 5] === EQ
    ) {
      const from = i + 6;
      let end = body.indexOf(SLASH, from);
      if (end === -1) end = n;
      return unescapeStt(utf8.decode(body.subarray(from, end)));
    }
    // Skip to the next segment: a key starts only after "/".
    const next = body.indexOf(SLASH, i);
    if (next === -1) return undefined;
    i = next;
  }
  return undefined;
}
