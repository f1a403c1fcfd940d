/**
 * STT, Douyu's text serialization: `key@=value/` maps, `item/` arrays, `@`
 * escaped as `@A` and `/` as `@S`, once more per nesting level. See
 * docs/protocol.md, "STT".
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
 * Decodes a nested value from its raw wire text in a body, `text` at
 * `from..to` (escaped once more than plain STT: level 1).
 */
export type NestedDecoder = (text: string, from: number, to: number) => unknown;

/** The nested keys of a message type, with their decoders. */
export type NestedKeys = (type: string) => ReadonlyMap<string, NestedDecoder> | undefined;

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
  if (level === 0) {
    return decodeBody(text, rawKeys && rawNestedKeys(rawKeys)) as Record<string, string>;
  }
  if (rawKeys !== undefined) {
    return decodeGeneral(text, level, rawNestedKeys(rawKeys)) as Record<string, string>;
  }
  return decodeMapRange(text, 0, text.length, level);
}

/**
 * Decodes a body (level 0), and each value of a nested key of its type
 * with that key's decoder, straight from the body's text.
 */
export function decodeBody(
  text: string,
  nestedKeys: NestedKeys | undefined,
): Record<string, unknown> {
  const trie = bodyTrie(text, nestedKeys);
  return (trie && decodeBodyKnown(text, trie)) ?? decodeGeneral(text, 0, nestedKeys);
}

/** {@linkcode decodeMapAt} for a map at `from..to` of `text`, with no raw keys. */
export function decodeMapRange(
  text: string,
  from: number,
  to: number,
  level: number,
): Record<string, string> {
  const trie = nestedTrie(level);
  return (trie && decodeNestedKnown(text, from, to, trie, false)) ??
    decodeGeneral(text.slice(from, to), level, undefined) as Record<string, string>;
}

/** The raw value itself: what a raw key's "decoder" returns. */
const keepRaw: NestedDecoder = (text, from, to) => text.slice(from, to);

/** {@linkcode RawKeys} as {@linkcode NestedKeys}, one per function (tries are kept per function). */
const rawAdapters = new WeakMap<RawKeys, NestedKeys>();

function rawNestedKeys(rawKeys: RawKeys): NestedKeys {
  let nested = rawAdapters.get(rawKeys);
  if (nested === undefined) {
    const maps = new WeakMap<ReadonlySet<string>, ReadonlyMap<string, NestedDecoder>>();
    nested = (type) => {
      const keys = rawKeys(type);
      if (keys === undefined) return undefined;
      let map = maps.get(keys);
      if (map === undefined) {
        map = new Map([...keys].map((key) => [key, keepRaw]));
        maps.set(keys, map);
      }
      return map;
    };
    rawAdapters.set(rawKeys, nested);
  }
  return nested;
}

/*
 * The fast path. Messages of one kind repeat the same keys in the same
 * order, give or take an optional key, so the key orders seen are kept as a
 * trie per message type (and one per level for nested maps). Decoding
 * follows it: each wire key is compared with the key expected there (no
 * substring, no hashing to turn it into a property name), and the walk ends
 * on a node holding a fast-mode object with that key order, which is copied
 * and has its values replaced. Building the object key by key instead would
 * leave V8 with a slow dictionary-mode object past ~16 keys.
 *
 * Each node also remembers a short value seen first at that place (room ids,
 * flags and counts mostly repeat): when the wire text holds that value again,
 * the copied object already has it, and neither a substring nor a store is
 * paid. The key, the separator, that value and the pair's end are compared
 * in one loop.
 *
 * Anything unusual (a key with an escape, a segment without a separator, a
 * limit reached) returns `undefined`, and the general path decodes the text.
 */

/** One key of a key order seen before. */
interface KeyNode {
  /** The key; never holds `@` or `/`, so it reads the same on the wire. */
  readonly key: string;
  /** The node of the previous key; `undefined` for the root. */
  readonly parent: KeyNode | undefined;
  /** Keys from the root to here. */
  readonly depth: number;
  /** How to decode the value, for a nested key. */
  readonly nested: NestedDecoder | undefined;
  /** The key appeared earlier in this order: the first one wins, this value is dropped. */
  readonly duplicate: boolean;
  /**
   * A short value without `@` or `/` (so it reads the same on the wire at
   * any level), the one the shapes below hold for this key; or `undefined`.
   * Set from the first value seen.
   */
  usual: string | undefined;
  /**
   * The wire text of the pair as character codes (V8 reads a typed array
   * faster than a string): key and separator, then, when there is a usual
   * value, that value and the pair's end token.
   */
  wire: Uint16Array;
  /** Length of the key and separator in {@linkcode wire}. */
  readonly prefixLength: number;
  /** The first value was long (avatar paths, hashes…). */
  readonly long: boolean;
  /** The keys seen after this one. */
  readonly children: KeyNode[];
  /** The child that matched last, tried first. */
  last: KeyNode | undefined;
  /** For key orders ending here: a fast-mode object with every key, each set to its `usual`. */
  shape: Record<string, unknown> | undefined;
  /**
   * Whether {@linkcode shape} has a key that `Object.prototype` has too
   * (`__proto__`, `toString`…): copying it by assignment would call the
   * `__proto__` setter, or fail on a frozen prototype.
   */
  inherited: boolean;
}

/** The key orders of one kind of map. */
interface Trie {
  /** The wire type of the bodies it decodes (`""` for others). */
  readonly type: string;
  /** The escape level of the maps it decodes. */
  readonly level: number;
  readonly root: KeyNode;
  /** The nested keys of bodies of this type. */
  readonly nested: ReadonlyMap<string, NestedDecoder> | undefined;
  /** The root's child for a leading `type@=<type>/`, which {@linkcode bodyTrie} has read. */
  typeNode: KeyNode | undefined;
}

/** The tries of bodies for one {@linkcode NestedKeys} function (nested keys change the values). */
interface TrieSet {
  /** By wire `type`. A Map: wire types are hostile keys. */
  readonly byType: Map<string, Trie>;
  /** A direct-mapped cache over `byType` by a hash of the type, to skip a substring. */
  readonly recent: (Trie | undefined)[];
  /** Bodies without a `type`. */
  typeless: Trie | undefined;
}

/** Bounds, so hostile traffic cannot grow the tries without limit. */
const MAX_TYPES = 512;
const MAX_NODES = 8192;
const MAX_CHILDREN = 32;
const MAX_DEPTH = 128;
const MAX_KEY_LENGTH = 256;
/** Longer values rarely repeat, and could keep a whole earlier body alive. */
const MAX_USUAL_LENGTH = 12;
/** Values from this length on are looked through with indexOf. */
const LONG_VALUE = 24;
/** Nested maps have no type: one trie per level. */
const MAX_NESTED_LEVEL = 8;
const RECENT_TYPES = 64; // a power of 2

let nodeCount = 0;
const trieSets = new Map<NestedKeys | undefined, TrieSet>();
let lastNestedKeys: NestedKeys | undefined;
let lastSet: TrieSet | undefined;
let nestedTries: Trie[] = [];

function newTrie(
  type: string,
  level: number,
  nested: ReadonlyMap<string, NestedDecoder> | undefined,
): Trie {
  const root: KeyNode = {
    key: "",
    parent: undefined,
    depth: 0,
    nested: undefined,
    duplicate: false,
    usual: undefined,
    wire: codesOf(""),
    prefixLength: 0,
    long: false,
    children: [],
    last: undefined,
    shape: undefined,
    inherited: false,
  };
  return { type, level, root, nested, typeNode: undefined };
}

/** Forgets every key order (when the node budget runs out). */
function forgetTries(): void {
  trieSets.clear();
  lastNestedKeys = undefined;
  lastSet = undefined;
  nestedTries = [];
  nodeCount = 0;
}

function trieSet(nestedKeys: NestedKeys | undefined): TrieSet {
  if (lastSet !== undefined && lastNestedKeys === nestedKeys) return lastSet;
  let set = trieSets.get(nestedKeys);
  if (set === undefined) {
    // A caller passing a new function each time must not grow this forever.
    if (trieSets.size >= 16) forgetTries();
    set = {
      byType: new Map(),
      recent: new Array(RECENT_TYPES).fill(undefined),
      typeless: undefined,
    };
    trieSets.set(nestedKeys, set);
  }
  lastNestedKeys = nestedKeys;
  lastSet = set;
  return set;
}

/** Where the pair after a leading `type@=<type>/` starts, as found by {@linkcode bodyTrie}; else 0. */
let afterType = 0;

/**
 * The trie for a body, found by its `type` (the first `type` key, as
 * {@linkcode peekType} reads it), or `undefined` past the bounds.
 */
function bodyTrie(text: string, nestedKeys: NestedKeys | undefined): Trie | undefined {
  const set = trieSet(nestedKeys);
  let from: number;
  afterType = 0;
  if (textAt(text, 0, TYPE_KEY)) {
    from = TYPE_KEY.length;
  } else {
    const at = text.indexOf("/" + TYPE_KEY);
    if (at === -1) return set.typeless ??= newTrie("", 0, undefined);
    from = at + 1 + TYPE_KEY.length;
  }
  // Find the end of the type and hash it in one go.
  const length = text.length;
  let end = from;
  let hash = 0;
  for (; end < length; end++) {
    const c = text.charCodeAt(end);
    if (c === SLASH) break;
    hash = (hash * 31 + c) | 0;
  }
  if (from === TYPE_KEY.length) afterType = end + 1;
  const slot = hash & (RECENT_TYPES - 1);
  let trie = set.recent[slot];
  if (trie !== undefined && trie.type.length === end - from && textAt(text, from, trie.type)) {
    return trie;
  }
  const type = text.slice(from, end);
  trie = set.byType.get(type);
  if (trie === undefined) {
    if (set.byType.size >= MAX_TYPES || type.length > MAX_KEY_LENGTH) return undefined;
    trie = newTrie(detached(type), 0, nestedKeys?.(unescapeStt(type)));
    set.byType.set(trie.type, trie);
  }
  set.recent[slot] = trie;
  return trie;
}

function nestedTrie(level: number): Trie | undefined {
  if (level < 1 || level >= MAX_NESTED_LEVEL) return undefined;
  return nestedTries[level] ??= newTrie("", level, undefined);
}

/** Whether `text` holds `pattern` at `pos`. */
function textAt(text: string, pos: number, pattern: string): boolean {
  const length = pattern.length;
  for (let k = 0; k < length; k++) {
    if (pattern.charCodeAt(k) !== text.charCodeAt(pos + k)) return false;
  }
  return true;
}

/** Scratch space of one decode: keys and values to store, in the order read. */
const scratchKeys: string[] = [];
const scratchValues: string[] = [];
const scratchEscaped: boolean[] = [];

/**
 * Nested values found by {@linkcode decodeBodyKnown}, decoded once the map
 * is built (their decoders use the scratch space too). A stack: a decoder
 * may decode a body in turn, above the entries of the body it belongs to.
 */
const pendingKeys: string[] = [];
const pendingDecoders: NestedDecoder[] = [];
const pendingFrom: number[] = [];
const pendingTo: number[] = [];
let pendingTop = 0;

/**
 * Decodes a body along `trie`, learning new key orders on the way; see
 * above. `undefined` sends the body to the general path.
 */
function decodeBodyKnown(text: string, trie: Trie): Record<string, unknown> | undefined {
  const to = text.length;
  let node = trie.root;
  let pos = 0;
  if (afterType !== 0 && trie.typeNode !== undefined) {
    // bodyTrie has read the type already.
    node = trie.typeNode;
    pos = afterType;
  }
  let changed = 0; // values that differ from the shape's, in scratchKeys/Values
  const pendingBase = pendingTop;
  let pending = pendingBase;
  while (pos < to) {
    // The key: the one that followed last time, another one seen before, or a new one.
    let child = nextKey(node, text, pos, to);
    const matched = keyMatched;
    if (child?.usual !== undefined) {
      // The whole pair with its usual value (or that value ending the body).
      const whole = child.wire.length;
      if (matched === whole || (matched === whole - 1 && pos + matched === to)) {
        node = child;
        pos += matched;
        continue;
      }
    }
    let valueStart: number;
    let key: string | undefined; // a key not seen here before
    let nested: NestedDecoder | undefined;
    if (child !== undefined) {
      valueStart = pos + child.prefixLength;
      nested = child.nested;
    } else {
      const keyEnd = newKeyEnd(text, pos, to, 0);
      if (keyEnd === -1) return undefined;
      valueStart = keyEnd + 2;
      key = text.slice(pos, keyEnd);
      nested = trie.nested?.get(key);
    }

    let end = valueStart;
    let escaped = false;
    if (nested !== undefined || child?.long) {
      // A nested value is decoded later, from the wire text: only its end is
      // needed now. A long value is found faster by indexOf than by a loop,
      // and unescapeStt looks for escapes the same way.
      end = text.indexOf("/", valueStart);
      if (end === -1) end = to;
      escaped = true;
    } else {
      for (; end < to; end++) {
        const c = text.charCodeAt(end);
        if (c === SLASH) break;
        if (c === AT) escaped = true;
      }
    }
    const value = text.slice(valueStart, end);

    if (child === undefined) {
      child = addChild(trie, node, key!, nested, escaped ? undefined : value);
      if (child === undefined) return undefined;
    }
    if (child.duplicate) {
      // The first one wins.
    } else if (nested !== undefined) {
      pendingKeys[pending] = child.key;
      pendingDecoders[pending] = nested;
      pendingFrom[pending] = valueStart;
      pendingTo[pending] = end;
      pending++;
    } else {
      scratchKeys[changed] = child.key;
      scratchValues[changed] = escaped ? unescapeStt(value) : value;
      changed++;
    }
    node = child;
    pos = end + 1;
  }
  const out = build(node, changed);
  if (pending > pendingBase) {
    pendingTop = pending;
    try {
      for (let i = pendingBase; i < pending; i++) {
        out[pendingKeys[i]!] = pendingDecoders[i]!(text, pendingFrom[i]!, pendingTo[i]!);
      }
    } finally {
      pendingTop = pendingBase;
    }
  }
  return out;
}

/** Where {@linkcode decodeNestedKnown} stopped: after the map and its list item's end token. */
let nestedNext = 0;

/**
 * Decodes the map at `from..to` escaped `level` ≥ 1 times along `trie`, as
 * {@linkcode decodeBodyKnown} does for bodies. In a list (`inList`), the map
 * also ends at the item's end token, `/` escaped `level - 1` times, and
 * {@linkcode nestedNext} tells where the next item starts: the items are
 * decoded in the same pass that finds where they end.
 */
function decodeNestedKnown(
  text: string,
  from: number,
  to: number,
  trie: Trie,
  inList: boolean,
): Record<string, string> | undefined {
  const level = trie.level;
  const endLength = level + 1; // of the pair's end token: "@S", "@AS", …
  let node = trie.root;
  let changed = 0;
  let pos = from;
  nestedNext = to;
  while (pos < to) {
    if (inList) {
      const next = itemEnd(text, pos, to, level);
      if (next !== -1) {
        nestedNext = next;
        break;
      }
    }
    // The key, as in decodeBodyKnown.
    let child = nextKey(node, text, pos, to);
    const matched = keyMatched;
    if (child?.usual !== undefined) {
      const whole = child.wire.length;
      const valueEnd = pos + whole - endLength;
      if (
        matched === whole ||
        (matched === whole - endLength &&
          (valueEnd === to || (inList && itemEnd(text, valueEnd, to, level) !== -1)))
      ) {
        node = child;
        pos += matched;
        continue;
      }
    }
    let valueStart: number;
    let key: string | undefined; // a key not seen here before
    if (child !== undefined) {
      valueStart = pos + child.prefixLength;
    } else {
      const keyEnd = newKeyEnd(text, pos, to, level);
      if (keyEnd === -1) return undefined;
      valueStart = keyEnd + level + 2;
      key = text.slice(pos, keyEnd);
    }

    // The value ends at the pair's end token `@` + (level-1)×`A` + `S`, or at
    // the item's end; any other `@` is an escape.
    let end = valueStart;
    let next = -1;
    let escaped = false;
    for (; end < to; end++) {
      const c = text.charCodeAt(end);
      if (c === SLASH && inList && level === 1) break; // the item's end
      if (c !== AT) continue;
      let j = end + 1;
      while (j < to && text.charCodeAt(j) === LETTER_A) j++;
      if (j < to && text.charCodeAt(j) === LETTER_S) {
        const run = j - end - 1;
        if (run === level - 1) {
          next = j + 1;
          break;
        }
        if (inList && run === level - 2) break; // the item's end
      }
      escaped = true;
      end = j - 1;
    }
    // Without a pair end: the end of the text, or the item's end (seen at the top of the loop).
    if (next === -1) next = end;
    const value = text.slice(valueStart, end);

    if (child === undefined) {
      child = addChild(trie, node, key!, undefined, escaped ? undefined : value);
      if (child === undefined) return undefined;
    }
    if (!child.duplicate) {
      scratchKeys[changed] = child.key;
      scratchValues[changed] = escaped ? unescapeTimes(value, level + 1) : value;
      changed++;
    }
    node = child;
    pos = next;
  }
  return build(node, changed) as Record<string, string>;
}

/**
 * Where the next list item starts when a list item escaped `level - 1`
 * times ends at `at` (`/`, `@S`, `@AS`…), else -1.
 */
function itemEnd(text: string, at: number, to: number, level: number): number {
  if (level === 1) return text.charCodeAt(at) === SLASH ? at + 1 : -1;
  if (text.charCodeAt(at) !== AT) return -1;
  for (let k = 1; k < level - 1; k++) {
    if (text.charCodeAt(at + k) !== LETTER_A) return -1;
  }
  const s = at + level - 1;
  return s < to && text.charCodeAt(s) === LETTER_S ? s + 1 : -1;
}

/** The object decoded along the trie down to `node`: a copy of its shape, with the values read. */
function build(node: KeyNode, changed: number): Record<string, unknown> {
  if (node.parent === undefined) return {};
  const shape = node.shape ??= shapeOf(node);
  // Object.assign onto `{}` copies the shape's map too, and stays fast in V8
  // where a spread of many different shapes falls back to a slow generic
  // copy. But it assigns, where a spread defines.
  const out = node.inherited ? { ...shape } : Object.assign({}, shape);
  for (let c = 0; c < changed; c++) out[scratchKeys[c]!] = scratchValues[c]!;
  return out;
}

/** How much of its wire text {@linkcode nextKey} (or {@linkcode otherChild}) found. */
let keyMatched = 0;

/** The child of `node` whose key is at `pos`, other than `node.last`, which becomes it. */
/**
 * The child of `node` whose wire text (key, separator, maybe the usual value)
 * starts at `pos`: first the one that followed last time, then the others.
 * Sets {@linkcode keyMatched} to how many characters matched.
 */
function nextKey(node: KeyNode, text: string, pos: number, to: number): KeyNode | undefined {
  const last = node.last;
  if (last !== undefined) {
    const wire = last.wire;
    const limit = Math.min(wire.length, to - pos);
    let matched = 0;
    while (matched < limit && wire[matched] === text.charCodeAt(pos + matched)) matched++;
    if (matched >= last.prefixLength) {
      keyMatched = matched;
      return last;
    }
  }
  return otherChild(node, text, pos, to);
}

function otherChild(node: KeyNode, text: string, pos: number, to: number): KeyNode | undefined {
  const children = node.children;
  for (let c = 0; c < children.length; c++) {
    const child = children[c]!;
    if (child === node.last) continue;
    const wire = child.wire;
    const limit = Math.min(wire.length, to - pos);
    let matched = 0;
    while (matched < limit && wire[matched] === text.charCodeAt(pos + matched)) matched++;
    if (matched >= child.prefixLength) {
      node.last = child;
      keyMatched = matched;
      return child;
    }
  }
  keyMatched = 0;
  return undefined;
}

/**
 * Where the key of a pair not seen before ends (at its separator), or -1 for
 * what the fast path leaves to the general one: a key with `@` or `/`, or a
 * segment without a separator.
 */
function newKeyEnd(text: string, pos: number, to: number, level: number): number {
  for (let i = pos; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === SLASH) return -1;
    if (c !== AT) continue;
    for (let k = 1; k <= level; k++) {
      if (text.charCodeAt(i + k) !== LETTER_A) return -1;
    }
    return i + level + 1 < to && text.charCodeAt(i + level + 1) === EQ ? i : -1;
  }
  return -1;
}

/**
 * Adds a key after `parent`, its first value (`undefined` when escaped)
 * giving its usual one; or returns `undefined` past the bounds.
 */
function addChild(
  trie: Trie,
  parent: KeyNode,
  key: string,
  nested: NestedDecoder | undefined,
  value: string | undefined,
): KeyNode | undefined {
  if (
    parent.children.length >= MAX_CHILDREN || parent.depth >= MAX_DEPTH ||
    key.length > MAX_KEY_LENGTH
  ) {
    return undefined;
  }
  if (nodeCount >= MAX_NODES) {
    forgetTries();
    return undefined;
  }
  let duplicate = false;
  for (let n: KeyNode | undefined = parent; n?.parent !== undefined; n = n.parent) {
    if (n.key === key) duplicate = true;
  }
  // A nested value is decoded each time, never taken from the shape. A
  // body's type is the trie's, whatever its length.
  const usual = !duplicate && nested === undefined && value !== undefined &&
      !value.includes("/") &&
      (value.length <= MAX_USUAL_LENGTH || (key === "type" && value === trie.type))
    ? detached(value)
    : undefined;
  const prefix = key + "@" + "A".repeat(trie.level) + "=";
  const child: KeyNode = {
    key: detached(key),
    parent,
    depth: parent.depth + 1,
    nested,
    duplicate,
    usual,
    wire: codesOf(usual === undefined ? prefix : prefix + usual + structuralToken(trie.level)),
    prefixLength: prefix.length,
    long: value === undefined || value.length >= LONG_VALUE,
    children: [],
    last: undefined,
    shape: undefined,
    inherited: false,
  };
  nodeCount++;
  parent.children.push(child);
  parent.last = child;
  if (parent === trie.root && key === "type" && usual === trie.type && trie.level === 0) {
    trie.typeNode = child;
  }
  return child;
}

/**
 * `text`, without the body it was cut from: V8 makes a long substring a view
 * of its parent, and a trie kept for long must not keep old bodies alive.
 */
function detached(text: string): string {
  return text.length <= MAX_USUAL_LENGTH ? text : String.fromCharCode(...codesOf(text));
}

function codesOf(text: string): Uint16Array {
  const codes = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return codes;
}

/** The fast-mode object for key orders ending at `node`: each key set to its usual value. */
function shapeOf(node: KeyNode): Record<string, unknown> {
  const path: KeyNode[] = [];
  for (let n: KeyNode | undefined = node; n?.parent !== undefined; n = n.parent) path.push(n);
  const shape: Record<string, unknown> = {};
  for (let i = path.length - 1; i >= 0; i--) {
    const n = path[i]!;
    if (n.duplicate) continue;
    defineOwn(shape, n.key, n.usual ?? "");
    if (n.key in Object.prototype) node.inherited = true;
  }
  // Spreading a dictionary-mode object yields a fast-mode one.
  return { ...shape };
}

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

function decodeGeneral(
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
function valueAt(
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
function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
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

/**
 * Decodes a nested array of maps (`el`, `list`, …) from its one-level value.
 *
 * @example
 * ```ts
 * import { decodeStt, decodeSttMapList } from "./stt.ts";
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
  return decodeMapListRange(text, 0, text.length, level);
}

/**
 * {@linkcode decodeMapListAt} for the list at `from..to` of `text`. Items end
 * at `/` escaped `level` times, and are maps escaped `level + 1` times.
 */
export function decodeMapListRange(
  text: string,
  from: number,
  to: number,
  level: number,
): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let pos = from;
  const trie = nestedTrie(level + 1);
  if (trie !== undefined) {
    // Each item is decoded where it lies, in the pass that finds its end.
    while (pos < to) {
      const next = itemEnd(text, pos, to, level + 1);
      if (next !== -1) {
        pos = next; // an empty item
        continue;
      }
      const map = decodeNestedKnown(text, pos, to, trie, true);
      if (map === undefined) break; // this item and the rest take the general path
      out.push(map);
      pos = nestedNext;
    }
  }
  const end = structuralToken(level);
  while (pos < to) {
    let stop = text.indexOf(end, pos);
    if (stop === -1 || stop > to) stop = to;
    if (stop > pos) {
      out.push(
        decodeGeneral(text.slice(pos, stop), level + 1, undefined) as Record<string, string>,
      );
    }
    pos = stop + end.length;
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
