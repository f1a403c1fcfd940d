/**
 * Byte helpers the standard library would give (`@std/bytes`, which cannot be
 * fetched here, and the core takes no dependency anyway).
 *
 * @module
 */

/**
 * The bytes of `parts`, one after another, in a new array.
 *
 * @example
 * ```ts
 * import { concat } from "./bytes.ts";
 *
 * console.log(concat([new Uint8Array([1, 2]), new Uint8Array([3])])); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.byteLength;
  }
  return out;
}
