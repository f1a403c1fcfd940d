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
