/**
 * STT, Douyu's text serialization: `key@=value/` maps, `item/` arrays, `@`
 * escaped as `@A` and `/` as `@S`, once more per nesting level. See
 * docs/protocol.md, "STT".
 *
 * Decoding is deliberately **one level**: values stay strings, and only
 * fields known to be nested are decoded further (by `parseMessage`).
 * Guessing the shape corrupts text such as `@Alice` and avatar paths.
 *
 * This file holds the decoders callers use. Each tries the fast decoder of
 * `./stt_fast.ts` first, and falls back on the plain one of
 * `./stt_format.ts`, which also writes STT.
 *
 * @module
 */

import { decodeBodyFast, decodeMapFast, decodeMapListFast } from "./stt_fast.ts";
import {
  decodeGeneral,
  type NestedDecoder,
  type NestedKeys,
  type RawKeys,
  structuralToken,
} from "./stt_format.ts";

export {
  decodeListAt,
  decodeListRange,
  decodeMapGeneral,
  decodeSttList,
  decodeSttPairs,
  encodeStt,
  escapeStt,
  type NestedDecoder,
  type NestedKeys,
  peekType,
  peekTypeBytes,
  type RawKeys,
  type SttValue,
  unescapeStt,
} from "./stt_format.ts";

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
  return decodeBodyFast(text, nestedKeys) ?? decodeGeneral(text, 0, nestedKeys);
}

/** {@linkcode decodeMapAt} for a map at `from..to` of `text`, with no raw keys. */
export function decodeMapRange(
  text: string,
  from: number,
  to: number,
  level: number,
): Record<string, string> {
  return decodeMapFast(text, from, to, level) ??
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
  // The items the fast decoder leaves, if any, are read the plain way.
  let pos = decodeMapListFast(text, from, to, level, out);
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
