/**
 * STT, Douyu's text serialization: `key@=value/` maps, `item/` arrays, `@`
 * escaped as `@A` and `/` as `@S`, once more per nesting level. See
 * PROTOCOL.md §2.
 *
 * Decoding is deliberately **one level**: values stay strings, and only
 * fields known to be nested are decoded further (by `parseMessage`).
 * Guessing the shape corrupts text such as `@Alice` and avatar paths.
 *
 * @module
 */

/** Character codes of the STT syntax (identical in UTF-8 and UTF-16). */
const AT = 0x40, EQ = 0x3d, SLASH = 0x2f, LETTER_A = 0x41, LETTER_S = 0x53;

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
 * Decodes one level of an STT map: split on `/`, split each segment at its
 * first `@=`, unescape once. Segments without `@=` are skipped, and the
 * **first** of duplicate keys wins (real `rri` and `qausrespond` messages
 * repeat `rid`; the first is the room). Keys such as `__proto__` are stored
 * as ordinary own properties and never touch a prototype.
 *
 * @param text STT text.
 * @returns Every key with its string value.
 *
 * @example
 * ```ts
 * import { decodeStt } from "@x/douyu";
 *
 * const msg = decodeStt("type@=chatmsg/nn@=@AAlice/ic@=avatar_v3@S2020/rid@=1/rid@=-1/");
 * console.log(msg); // { type: "chatmsg", nn: "@Alice", ic: "avatar_v3/2020", rid: "1" }
 * ```
 */
export function decodeStt(text: string): Record<string, string> {
  return decodeMapAt(text, 0);
}

/**
 * Which keys of a message keep their raw (still escaped) value, by type, so
 * a nested value can be decoded straight from the wire text.
 */
export type RawKeys = (type: string) => ReadonlySet<string> | undefined;

/**
 * Decodes a map whose text is escaped `level` more times than plain STT:
 * level 0 is a body, level 1 the raw wire text of a nested map value. Pairs
 * end with `/` escaped `level` times and split at `@=` escaped `level`
 * times; keys and values are unescaped `level + 1` times.
 *
 * Decoding nested values this way, instead of unescaping a whole value and
 * then splitting it again, touches each character once.
 *
 * @param rawKeys Keys whose value is kept raw, still escaped (for nested
 * values decoded afterwards).
 */
export function decodeMapAt(
  text: string,
  level: number,
  rawKeys?: RawKeys,
): Record<string, string> {
  const templates = templatesFor(rawKeys);
  if (level === 0) {
    const known = decodeKnownLayout(text, templates);
    if (known !== undefined) return known;
  }
  currentTemplates = templates;
  const out = build(scan(text, level), level, rawKeys);
  if (scratchKeys.length > 1024) {
    scratchKeys.length = 0;
    scratchValues.length = 0;
    scratchEscaped.length = 0;
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
function scan(text: string, level: number): number {
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
      const value = text.slice(valueStart, i);
      scratchKeys[count] = keyEscaped
        ? unescapeTimes(text.slice(start, eq), level + 1)
        : predictKey(text, start, eq, count);
      scratchValues[count] = value;
      scratchEscaped[count] = escaped;
      if (count === 0) currentTemplate = selectTemplate(scratchKeys[0]!, value);
      count++;
    }
    start = next;
    i = next - 1;
    eq = -1;
    escaped = false;
  }
  return count;
}

/** Whether the text at `start..eq` is exactly `key`. */
function keyAt(text: string, start: number, eq: number, key: string): boolean {
  if (key.length !== eq - start) return false;
  // A plain loop: keys are short, and V8 inlines this where startsWith is a call.
  for (let k = 0; k < key.length; k++) {
    if (key.charCodeAt(k) !== text.charCodeAt(start + k)) return false;
  }
  return true;
}

/** `/` escaped `level` times: the end of a pair or item at that level. */
function structuralToken(level: number): string {
  return STRUCTURAL_TOKENS[level] ?? "@" + "A".repeat(level - 1) + "S";
}

const STRUCTURAL_TOKENS = ["/", "@S", "@AS", "@AAS", "@AAAS"];

/**
 * Unescapes `times` times in one pass. Each pass turns `@A` into `@`, so a
 * run `@` + k×`A` + X loses min(k, times) of its `A`s, and once none are left
 * the remaining passes turn `@S` into `/`.
 */
function unescapeTimes(text: string, times: number): string {
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
 * The key of the pair at `start..eq` (known to hold no escape). Messages of
 * one kind repeat the same keys in the same order, so the key string seen at
 * this position last time is reused when it matches: that skips a substring
 * and the hashing V8 does to turn it into a property name.
 */
function predictKey(text: string, start: number, eq: number, index: number): string {
  const template = currentTemplate;
  const predicted = template?.keys[index];
  if (predicted !== undefined && keyAt(text, start, eq, predicted)) return predicted;
  const key = text.slice(start, eq);
  if (template !== undefined && index < MAX_TEMPLATE_KEYS) template.keys[index] = key;
  return key;
}

/**
 * Scratch space for one decode (a decode never re-enters itself). Pairs are
 * collected first so the object can be built in one go.
 */
const scratchKeys: string[] = [];
const scratchValues: string[] = [];
const scratchEscaped: boolean[] = [];

/** One key order seen for a kind of message, with a fast-mode object of that shape. */
interface Layout {
  keys: string[];
  shape: Record<string, string>;
  /** Per key: keep the value raw (a nested value, see {@linkcode RawKeys}). */
  raw: boolean[];
}

/** What is remembered of a kind of message (by `type`, or by first key). */
interface Template {
  /** The key order last seen, for predicting keys; only keys without escapes. */
  keys: string[];
  /** Recent distinct key orders, most recent first. */
  layouts: Layout[];
}

/** Bounds on the templates, so hostile traffic cannot grow them without limit. */
const MAX_TEMPLATES = 512;
const MAX_TEMPLATE_KEYS = 128;
const MAX_LAYOUTS = 4;
/** Templates per {@linkcode RawKeys} function: raw keys change the layouts. */
const templateSets = new Map<RawKeys | undefined, Map<string, Template>>();
let currentTemplates = templatesFor(undefined);
let currentTemplate: Template | undefined;

function templatesFor(rawKeys: RawKeys | undefined): Map<string, Template> {
  let set = templateSets.get(rawKeys);
  if (set === undefined) {
    // A caller passing a new function each time must not grow this forever.
    if (templateSets.size >= 16) templateSets.clear();
    set = new Map();
    templateSets.set(rawKeys, set);
  }
  return set;
}

/**
 * The fast path of a body decode: when the body starts like one seen before,
 * copy that layout's fast-mode object and overwrite its values, checking
 * each key against the layout. Returns `undefined` (and the general path
 * runs) as soon as anything differs: another key, a key with escapes, more
 * or fewer pairs. Kept apart from {@linkcode scan}: it is the hottest loop.
 */
function decodeKnownLayout(
  text: string,
  templates: Map<string, Template>,
): Record<string, string> | undefined {
  let id: string;
  if (text.startsWith("type@=")) {
    let end = text.indexOf("/", 6);
    if (end === -1) end = text.length;
    id = text.slice(6, end);
  } else {
    const eq = text.indexOf("@=");
    const end = text.indexOf("/");
    if (eq === -1 || (end !== -1 && end < eq)) return undefined;
    id = "\u0000" + text.slice(0, eq);
  }
  const layout = templates.get(id)?.layouts[0];
  if (layout === undefined) return undefined;
  const keys = layout.keys;
  const raw = layout.raw;
  const out = { ...layout.shape };
  const length = text.length;
  let index = 0;
  let start = 0;
  let eq = -1;
  let keyEscaped = false;
  let escaped = false;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? text.charCodeAt(i) : SLASH;
    if (c === AT) {
      if (eq === -1 && text.charCodeAt(i + 1) === EQ) {
        eq = i++;
        keyEscaped = escaped;
        escaped = false;
      } else {
        escaped = true;
      }
      continue;
    }
    if (c !== SLASH) continue;
    if (eq !== -1) {
      const key = keys[index];
      if (key === undefined || keyEscaped || !keyAt(text, start, eq, key)) return undefined;
      const value = text.slice(eq + 2, i);
      out[key] = escaped && !raw[index] ? unescapeStt(value) : value;
      index++;
    }
    start = i + 1;
    eq = -1;
    escaped = false;
  }
  return index === keys.length ? out : undefined;
}

function selectTemplate(firstKey: string, firstValue: string): Template | undefined {
  const id = firstKey === "type" ? firstValue : "\u0000" + firstKey;
  const templates = currentTemplates;
  let template = templates.get(id);
  if (template === undefined && templates.size < MAX_TEMPLATES) {
    template = { keys: [], layouts: [] };
    templates.set(id, template);
  }
  return template;
}

/**
 * Builds the decoded object from the scratch arrays, first wins. Adding
 * dozens of keys one by one leaves V8 with a slow dictionary-mode object, so
 * the result is also remembered as a layout: the next message of that shape
 * starts as a copy of it (fast properties) and only has its values replaced.
 */
function build(count: number, level: number, rawKeys: RawKeys | undefined): Record<string, string> {
  let raw: ReadonlySet<string> | undefined;
  if (rawKeys !== undefined) {
    const at = scratchKeys.indexOf("type");
    if (at !== -1 && at < count) raw = rawKeys(valueAt(at, level, undefined));
  }
  const template = currentTemplate;
  currentTemplate = undefined;
  if (template !== undefined) {
    const layouts = template.layouts;
    for (let l = 0; l < layouts.length; l++) {
      const layout = layouts[l]!;
      const keys = layout.keys;
      if (keys.length !== count) continue;
      let i = 0;
      while (i < count && keys[i] === scratchKeys[i]) i++;
      if (i !== count) continue;
      // The layout in front is the one the fast path tries next.
      if (l > 0) layouts.unshift(...layouts.splice(l, 1));
      const out = { ...layout.shape };
      for (let j = 0; j < count; j++) out[keys[j]!] = valueAt(j, level, raw);
      return out;
    }
  }
  const out: Record<string, string> = {};
  let unique = true;
  for (let i = 0; i < count; i++) {
    const key = scratchKeys[i]!;
    if (out[key] === undefined && key !== "__proto__") {
      out[key] = valueAt(i, level, raw);
    } else if (!Object.hasOwn(out, key)) {
      defineOwn(out, key, valueAt(i, level, raw));
      unique = false;
    } else {
      unique = false; // the first one wins
    }
  }
  if (template !== undefined && unique && count > 0 && count <= MAX_TEMPLATE_KEYS) {
    const keys = scratchKeys.slice(0, count);
    template.layouts.unshift({
      keys,
      // Spreading a dictionary-mode object yields a fast-mode one.
      shape: { ...out },
      raw: keys.map((key) => raw?.has(key) ?? false),
    });
    if (template.layouts.length > MAX_LAYOUTS) template.layouts.pop();
  }
  return out;
}

function valueAt(index: number, level: number, raw: ReadonlySet<string> | undefined): string {
  const value = scratchValues[index]!;
  if (!scratchEscaped[index] || raw?.has(scratchKeys[index]!)) return value;
  return unescapeTimes(value, level + 1);
}

/**
 * Stores `key` as a plain own property even when it is `__proto__` or shadows
 * an inherited name: assignment would call the `__proto__` setter instead.
 */
function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * Decodes one level of an STT array: `a/b/c/` → `["a", "b", "c"]`, each item
 * unescaped once. A final item without its `/` is kept; an empty string is
 * an empty array.
 *
 * @example
 * ```ts
 * import { decodeSttList } from "@x/douyu";
 *
 * console.log(decodeSttList("2614/1446/a@Sb/")); // ["2614", "1446", "a/b"]
 * ```
 */
export function decodeSttList(text: string): string[] {
  return decodeListAt(text, 0);
}

/** {@linkcode decodeSttList} for a list escaped `level` more times (see {@linkcode decodeMapAt}). */
export function decodeListAt(text: string, level: number): string[] {
  const end = structuralToken(level);
  const out: string[] = [];
  const length = text.length;
  let start = 0;
  while (start < length) {
    let stop = text.indexOf(end, start);
    if (stop === -1) stop = length;
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
 * import { decodeSttPairs } from "@x/douyu";
 *
 * console.log(decodeSttPairs("rid@=1/type@=rri/rid@=-1/"));
 * // [["rid", "1"], ["type", "rri"], ["rid", "-1"]]
 * ```
 */
export function decodeSttPairs(text: string): Array<[key: string, value: string]> {
  const out: Array<[string, string]> = [];
  currentTemplates = templatesFor(undefined);
  const count = scan(text, 0);
  for (let i = 0; i < count; i++) out.push([scratchKeys[i]!, valueAt(i, 0, undefined)]);
  currentTemplate = undefined;
  return out;
}

/**
 * Decodes a nested array of maps (`el`, `list`, …) from its one-level value.
 *
 * @example
 * ```ts
 * import { decodeStt, decodeSttMapList } from "@x/douyu";
 *
 * const { el } = decodeStt("el@=eid@AA=1@ASetp@AA=2@AS@S/");
 * console.log(decodeSttMapList(el ?? "")); // [{ eid: "1", etp: "2" }]
 * ```
 */
export function decodeSttMapList(text: string): Record<string, string>[] {
  return decodeMapListAt(text, 0);
}

/** {@linkcode decodeSttMapList} for a list escaped `level` more times (see {@linkcode decodeMapAt}). */
export function decodeMapListAt(text: string, level: number): Record<string, string>[] {
  const end = structuralToken(level);
  const out: Record<string, string>[] = [];
  const length = text.length;
  let start = 0;
  while (start < length) {
    let stop = text.indexOf(end, start);
    if (stop === -1) stop = length;
    if (stop > start) out.push(decodeMapAt(text.slice(start, stop), level + 1));
    start = stop + end.length;
  }
  return out;
}

const TYPE_KEY = "type@=";

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
