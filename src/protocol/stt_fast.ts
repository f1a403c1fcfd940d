/**
 * The fast STT decoder, tuned for V8. It reads the bodies real traffic
 * sends, and returns `undefined` for anything unusual (a key with an escape,
 * a segment without a separator, a bound reached), which the plain decoder
 * of `./stt_format.ts` then reads; `./stt.ts` chooses between the two.
 *
 * Messages of one kind repeat the same keys in the same order, give or take
 * an optional key, so the key orders seen are kept as a trie per message
 * type (and one per level for nested maps). Decoding follows it: each wire
 * key is compared with the key expected there (no substring, no hashing to
 * turn it into a property name), and the walk ends on a node holding a
 * fast-mode object with that key order, which is copied and has its values
 * replaced. Building the object key by key instead would leave V8 with a
 * slow dictionary-mode object past ~16 keys.
 *
 * Each node also remembers a short value seen first at that place (room ids,
 * flags and counts mostly repeat): when the wire text holds that value again,
 * the copied object already has it, and neither a substring nor a store is
 * paid. The key, the separator, that value and the pair's end are compared
 * in one loop.
 *
 * Everything the decoder keeps, between calls and within one, is in
 * {@linkcode state}.
 *
 * Why one file of some 730 lines (a third of them comments): the tries and
 * the walks along them are one mechanism sharing that one state, and the
 * walks call the trie's helpers in their innermost loops.
 *
 * @module
 */

import {
  AT,
  defineOwn,
  EQ,
  LETTER_A,
  LETTER_S,
  type NestedDecoder,
  type NestedKeys,
  SLASH,
  structuralToken,
  TYPE_KEY,
  unescapeStt,
  unescapeTimes,
} from "./stt_format.ts";

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
  /** The root's child for a leading `type@=<type>/`, read already by {@linkcode bodyTrie}. */
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
/** {@linkcode NestedKeys} functions with tries of their own; past it, all are forgotten. */
const MAX_TRIE_SETS = 16;
/** Longer values rarely repeat, and could keep a whole earlier body alive. */
const MAX_USUAL_LENGTH = 12;
/** Values from this length on are looked through with indexOf. */
const LONG_VALUE = 24;
/** Nested maps have no type: one trie per level. */
const MAX_NESTED_LEVEL = 8;
const RECENT_TYPES = 64; // a power of 2

/** The fast decoder's state: what it has learnt, and the scratch space of a decode. */
interface DecoderState {
  /**
   * The tries of bodies, one set per {@linkcode NestedKeys} function (the
   * nested keys change which values are decoded), at most
   * {@linkcode MAX_TRIE_SETS}. `undefined` for bodies decoded without.
   */
  readonly bodyTries: Map<NestedKeys | undefined, TrieSet>;
  /** The function of the last body decoded, with its set: most callers pass one function. */
  lastNestedKeys: NestedKeys | undefined;
  /** The set of {@linkcode lastNestedKeys}, or `undefined` after a reset. */
  lastSet: TrieSet | undefined;
  /** The trie of nested maps escaped `level` times, at index `level` (≥ 1). */
  readonly nestedTries: (Trie | undefined)[];
  /** Nodes in all the tries, against {@linkcode MAX_NODES}. */
  nodeCount: number;
  /**
   * The pairs one walk has read whose value differs from the shape's: keys
   * and values at the same index, up to the count the walk keeps. Written by
   * a walk and read by {@linkcode build} right after, before anything else
   * can decode.
   */
  readonly changedKeys: string[];
  /** The values of {@linkcode changedKeys}, unescaped. */
  readonly changedValues: string[];
  /**
   * Nested values a body walk has found, decoded once its object is built
   * (their decoders decode in turn). A stack, up to {@linkcode pendingTop}:
   * a nested decoder may decode a body, whose entries go above those of the
   * body it belongs to. The key to store the value under…
   */
  readonly pendingKeys: string[];
  /** …the key's decoder… */
  readonly pendingDecoders: NestedDecoder[];
  /** …and where the raw value lies in the body's text, `from..to`. */
  readonly pendingFrom: number[];
  /** See {@linkcode pendingFrom}. */
  readonly pendingTo: number[];
  /** The stack's height: the entries of bodies still being decoded lie below. */
  pendingTop: number;
}

/** The one state of the fast decoder (decoding is synchronous: nothing interleaves). */
const state: DecoderState = {
  bodyTries: new Map(),
  lastNestedKeys: undefined,
  lastSet: undefined,
  nestedTries: [],
  nodeCount: 0,
  changedKeys: [],
  changedValues: [],
  pendingKeys: [],
  pendingDecoders: [],
  pendingFrom: [],
  pendingTo: [],
  pendingTop: 0,
};

/**
 * Decodes a body (level 0) along the trie of its type, learning new key
 * orders on the way, and each value of a nested key of its type with that
 * key's decoder.
 *
 * @returns The object, or `undefined` for the plain decoder to read the body.
 */
export function decodeBodyFast(
  text: string,
  nestedKeys: NestedKeys | undefined,
): Record<string, unknown> | undefined {
  const typeFirst = textAt(text, 0, TYPE_KEY);
  const trie = bodyTrie(text, nestedKeys, typeFirst);
  return trie && decodeBodyKnown(text, trie, typeFirst);
}

/**
 * Decodes the map at `from..to` of `text`, escaped `level` ≥ 1 times more
 * than plain STT, along the trie of its level.
 *
 * @returns The map, or `undefined` for the plain decoder to read it.
 */
export function decodeMapFast(
  text: string,
  from: number,
  to: number,
  level: number,
): Record<string, string> | undefined {
  const trie = nestedTrie(level);
  if (trie === undefined) return undefined;
  const out: Record<string, string>[] = [];
  return decodeNestedKnown(text, from, to, trie, false, out) === -1 ? undefined : out[0];
}

/**
 * Decodes the items of the list of maps at `from..to` of `text` into `out`,
 * as far as it can: items end at `/` escaped `level` times, and are maps
 * escaped `level + 1` times. Each item is decoded where it lies, in the pass
 * that finds where it ends.
 *
 * @returns Where it stopped: `to`, or the start of the first item it leaves
 * to the plain decoder (with the items after it).
 */
export function decodeMapListFast(
  text: string,
  from: number,
  to: number,
  level: number,
  out: Record<string, string>[],
): number {
  const trie = nestedTrie(level + 1);
  if (trie === undefined) return from;
  let pos = from;
  while (pos < to) {
    const next = itemEnd(text, pos, to, level + 1);
    if (next !== -1) {
      pos = next; // an empty item
      continue;
    }
    const after = decodeNestedKnown(text, pos, to, trie, true, out);
    if (after === -1) break;
    pos = after;
  }
  return pos;
}

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

/** Forgets every key order (when a budget runs out). */
function forgetTries(): void {
  state.bodyTries.clear();
  state.lastNestedKeys = undefined;
  state.lastSet = undefined;
  state.nestedTries.length = 0;
  state.nodeCount = 0;
}

function trieSet(nestedKeys: NestedKeys | undefined): TrieSet {
  if (state.lastSet !== undefined && state.lastNestedKeys === nestedKeys) return state.lastSet;
  let set = state.bodyTries.get(nestedKeys);
  if (set === undefined) {
    // A caller passing a new function each time must not grow this forever.
    if (state.bodyTries.size >= MAX_TRIE_SETS) forgetTries();
    set = {
      byType: new Map(),
      recent: new Array(RECENT_TYPES).fill(undefined),
      typeless: undefined,
    };
    state.bodyTries.set(nestedKeys, set);
  }
  state.lastNestedKeys = nestedKeys;
  state.lastSet = set;
  return set;
}

/**
 * The trie for a body, found by its `type` (the first `type` key, as
 * {@linkcode peekType} reads it), or `undefined` past the bounds.
 *
 * @param typeFirst Whether the body starts with `type@=`.
 */
function bodyTrie(
  text: string,
  nestedKeys: NestedKeys | undefined,
  typeFirst: boolean,
): Trie | undefined {
  const set = trieSet(nestedKeys);
  let from: number;
  if (typeFirst) {
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
  return state.nestedTries[level] ??= newTrie("", level, undefined);
}

/** Whether `text` holds `pattern` at `pos`. */
function textAt(text: string, pos: number, pattern: string): boolean {
  const length = pattern.length;
  for (let k = 0; k < length; k++) {
    if (pattern.charCodeAt(k) !== text.charCodeAt(pos + k)) return false;
  }
  return true;
}

/**
 * Decodes a body along `trie`, learning new key orders on the way; see
 * above. `undefined` sends the body to the plain decoder.
 *
 * @param typeFirst Whether the body starts with `type@=<type of trie>`,
 * which {@linkcode bodyTrie} has read: the walk starts after it.
 */
function decodeBodyKnown(
  text: string,
  trie: Trie,
  typeFirst: boolean,
): Record<string, unknown> | undefined {
  const to = text.length;
  let node = trie.root;
  let pos = 0;
  if (typeFirst && trie.typeNode !== undefined) {
    node = trie.typeNode;
    pos = TYPE_KEY.length + trie.type.length + 1;
  }
  const { changedKeys, changedValues } = state;
  let changed = 0; // pairs whose value differs from the shape's
  const pendingBase = state.pendingTop;
  let pending = pendingBase;
  while (pos < to) {
    // The key: the one that followed last time, another one seen before, or a new one.
    const matched = matchChild(node, text, pos, to);
    let child = matched === -1 ? undefined : node.last;
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
      state.pendingKeys[pending] = child.key;
      state.pendingDecoders[pending] = nested;
      state.pendingFrom[pending] = valueStart;
      state.pendingTo[pending] = end;
      pending++;
    } else {
      changedKeys[changed] = child.key;
      changedValues[changed] = escaped ? unescapeStt(value) : value;
      changed++;
    }
    node = child;
    pos = end + 1;
  }
  const out = build(node, changed);
  if (pending > pendingBase) {
    state.pendingTop = pending;
    try {
      for (let i = pendingBase; i < pending; i++) {
        out[state.pendingKeys[i]!] = state.pendingDecoders[i]!(
          text,
          state.pendingFrom[i]!,
          state.pendingTo[i]!,
        );
      }
    } finally {
      state.pendingTop = pendingBase;
    }
  }
  return out;
}

/**
 * Decodes the map at `from..to` escaped `level` ≥ 1 times along `trie`, as
 * {@linkcode decodeBodyKnown} does for bodies, and appends it to `out`. In a
 * list (`inList`), the map also ends at the item's end token, `/` escaped
 * `level - 1` times.
 *
 * @returns Where the next item starts (after the map and its end token), or
 * -1, with nothing appended, for the plain decoder to read the map.
 */
function decodeNestedKnown(
  text: string,
  from: number,
  to: number,
  trie: Trie,
  inList: boolean,
  out: Record<string, string>[],
): number {
  const level = trie.level;
  const endLength = level + 1; // of the pair's end token: "@S", "@AS", …
  const { changedKeys, changedValues } = state;
  let node = trie.root;
  let changed = 0;
  let pos = from;
  let after = to;
  while (pos < to) {
    if (inList) {
      const next = itemEnd(text, pos, to, level);
      if (next !== -1) {
        after = next;
        break;
      }
    }
    // The key, as in decodeBodyKnown.
    const matched = matchChild(node, text, pos, to);
    let child = matched === -1 ? undefined : node.last;
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
      if (keyEnd === -1) return -1;
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
      if (child === undefined) return -1;
    }
    if (!child.duplicate) {
      changedKeys[changed] = child.key;
      changedValues[changed] = escaped ? unescapeTimes(value, level + 1) : value;
      changed++;
    }
    node = child;
    pos = next;
  }
  out.push(build(node, changed) as Record<string, string>);
  return after;
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
  const { changedKeys, changedValues } = state;
  for (let c = 0; c < changed; c++) out[changedKeys[c]!] = changedValues[c]!;
  return out;
}

/**
 * Finds the child of `node` whose wire text (key, separator, maybe the usual
 * value) starts at `pos`: first the one that followed last time, then the
 * others. The child found becomes `node.last`.
 *
 * @returns How many characters of its wire text matched (at least its key
 * and separator), or -1 when no child's key is there.
 */
function matchChild(node: KeyNode, text: string, pos: number, to: number): number {
  const last = node.last;
  if (last !== undefined) {
    const wire = last.wire;
    const limit = Math.min(wire.length, to - pos);
    let matched = 0;
    while (matched < limit && wire[matched] === text.charCodeAt(pos + matched)) matched++;
    if (matched >= last.prefixLength) return matched;
  }
  return matchOtherChild(node, text, pos, to);
}

/** {@linkcode matchChild} for the children other than `node.last`. */
function matchOtherChild(node: KeyNode, text: string, pos: number, to: number): number {
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
      return matched;
    }
  }
  return -1;
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
  if (state.nodeCount >= MAX_NODES) {
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
  state.nodeCount++;
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
