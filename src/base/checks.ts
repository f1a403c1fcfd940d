/**
 * Checking numeric options up front, so that a bad one is a `RangeError`
 * naming the option when it is given, not a misbehaviour later (a negative
 * delay fires at once, `NaN` compares false with everything).
 *
 * @module
 */

/** What else a checked number must be. */
export interface NumberCheck {
  /** A whole number (and a safe integer). Default false. */
  integer?: boolean;
  /** `Infinity` is allowed (meaning "no limit"). Default false. */
  infinite?: boolean;
}

/**
 * `value`, when it is a number >= 0 (finite unless `infinite`, whole if
 * `integer`).
 *
 * @param value The option's value.
 * @param name The option's name, for the error.
 * @throws {RangeError} Naming the option and the value.
 *
 * @example
 * ```ts
 * import { nonNegative } from "./checks.ts";
 *
 * const interval = nonNegative(0, "interval"); // 0
 * const ttl = nonNegative(Infinity, "ttl", { infinite: true }); // no expiry
 * console.log(interval, ttl);
 * ```
 */
export function nonNegative(value: number, name: string, check: NumberCheck = {}): number {
  if (!(typeof value === "number" && value >= 0 && fits(value, check))) {
    throw new RangeError(`${name} must be ${describe(check)} >= 0, got ${value}`);
  }
  return value;
}

/**
 * `value`, when it is a number > 0 (finite unless `infinite`, whole if
 * `integer`).
 *
 * @param value The option's value.
 * @param name The option's name, for the error.
 * @throws {RangeError} Naming the option and the value.
 *
 * @example
 * ```ts
 * import { positive } from "./checks.ts";
 *
 * console.log(positive(15_000, "keepAlive")); // 15000
 * try {
 *   positive(0, "maxPending", { integer: true });
 * } catch (error) {
 *   console.log((error as Error).message); // "maxPending must be an integer > 0, got 0"
 * }
 * ```
 */
export function positive(value: number, name: string, check: NumberCheck = {}): number {
  if (!(typeof value === "number" && value > 0 && fits(value, check))) {
    throw new RangeError(`${name} must be ${describe(check)} > 0, got ${value}`);
  }
  return value;
}

function fits(value: number, check: NumberCheck): boolean {
  if (check.integer === true) return Number.isSafeInteger(value);
  return Number.isFinite(value) || (check.infinite === true && value === Infinity);
}

function describe(check: NumberCheck): string {
  if (check.integer === true) return "an integer";
  return check.infinite === true ? "a number (or Infinity)" : "a finite number";
}
