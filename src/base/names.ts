/**
 * One rule for the names this package takes from users and peers and then
 * puts somewhere with a grammar of its own: collector and durable names and
 * message types in NATS subjects and keys, chat ids in event ids.
 *
 * @module
 */

/**
 * 1 to 64 of `A–Z a–z 0–9 _ -`: safe as a NATS subject token, a key, a
 * durable name, a file name and an HTML id, with nothing to escape.
 */
export const SAFE_NAME: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether `value` is a string that {@linkcode SAFE_NAME} accepts.
 *
 * @param value Anything, typically a field of an untrusted record.
 *
 * @example
 * ```ts
 * import { isSafeName } from "./names.ts";
 *
 * console.log(isSafeName("collector-1"), isSafeName("a.b"), isSafeName("")); // true false false
 * ```
 */
export function isSafeName(value: unknown): value is string {
  return typeof value === "string" && SAFE_NAME.test(value);
}
