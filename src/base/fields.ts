/**
 * Reading fields of objects built from untrusted input (wire messages, web
 * API answers, NATS records): own properties only, so that a key such as
 * `constructor` or `toString` never yields what `Object.prototype` inherits.
 *
 * @module
 */

/**
 * A plain object: not an array, not `null`.
 *
 * @example
 * ```ts
 * import { isRecord } from "./fields.ts";
 *
 * console.log(isRecord(JSON.parse('{"a":1}')), isRecord(JSON.parse("[1]"))); // true false
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * An own property of `record`, or `undefined`: never one inherited from
 * `Object.prototype`.
 *
 * @example
 * ```ts
 * import { ownField } from "./fields.ts";
 *
 * console.log(ownField({ rid: "9999" }, "rid")); // "9999"
 * console.log(ownField({}, "constructor")); // undefined
 * ```
 */
export function ownField(record: object, key: string): unknown {
  return Object.hasOwn(record, key) ? (record as Record<string, unknown>)[key] : undefined;
}

/**
 * An own property of `record` that is a string, or `undefined`.
 *
 * @example
 * ```ts
 * import { ownString } from "./fields.ts";
 *
 * console.log(ownString({ nn: "Ann", level: 3 }, "nn")); // "Ann"
 * console.log(ownString({ nn: "Ann", level: 3 }, "level")); // undefined
 * ```
 */
export function ownString(record: object, key: string): string | undefined {
  const value = ownField(record, key);
  return typeof value === "string" ? value : undefined;
}

/**
 * Nesting a message may have, for {@linkcode isWireValue}: Douyu's is at
 * most three levels deep.
 */
export const MESSAGE_DEPTH = 6;

/** Keys that make an object throw when it is turned into text or a number. */
const COERCION_KEYS = ["toString", "valueOf"];

/**
 * Whether `value` is what a message holds, as `parseMessage` makes it:
 * strings, finite numbers, and lists and maps of them, nested at most
 * `depth` levels. A map with its own `toString` or `valueOf` (JSON can give
 * one: `{"toString":"x"}`) is refused: `Number()` or a template string
 * would throw on it. So is a number JSON read as infinite (`1e400`).
 *
 * @example
 * ```ts
 * import { isWireValue } from "./fields.ts";
 *
 * console.log(isWireValue({ type: "chatmsg", el: [{ eid: "1" }] }, 6)); // true
 * console.log(isWireValue(JSON.parse('{"level":{"toString":"x"}}'), 6)); // false
 * console.log(isWireValue(JSON.parse('{"uid":1e400}'), 6)); // false
 * ```
 */
export function isWireValue(value: unknown, depth: number): boolean {
  if (typeof value === "string") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || value === null || depth <= 0) return false;
  if (Array.isArray(value)) return value.every((item) => isWireValue(item, depth - 1));
  if (COERCION_KEYS.some((key) => Object.hasOwn(value, key))) return false;
  return Object.values(value).every((item) => isWireValue(item, depth - 1));
}
