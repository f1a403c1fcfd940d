/**
 * The archive keeps messages in one partition per UTC day (a set of
 * tables in SQLite, a partition of each table in PostgreSQL), so that
 * retention drops whole days: a `DROP`, never row-by-row deletes. These
 * are the pure rules: which day a time falls in, how partitions are named,
 * and which days a retention keeps.
 *
 * @module
 */

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;

/**
 * The UTC day of a time: whole days since 1970-01-01.
 *
 * @example
 * ```ts
 * import { dayOf } from "./days.ts";
 *
 * console.log(dayOf(Date.UTC(2024, 4, 1, 23, 59))); // 19844
 * ```
 */
export function dayOf(t: number): number {
  return Math.floor(t / DAY_MS);
}

/**
 * A day's name in table names: `YYYYMMDD`.
 *
 * @example
 * ```ts
 * import { dayName } from "./days.ts";
 *
 * console.log(dayName(19844)); // "20240501"
 * ```
 */
export function dayName(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll("-", "");
}

/**
 * The day a table's `YYYYMMDD` suffix names, or `undefined` when it is not
 * one.
 *
 * @example
 * ```ts
 * import { dayFromName } from "./days.ts";
 *
 * console.log(dayFromName("20240501"), dayFromName("2024051")); // 19844 undefined
 * ```
 */
export function dayFromName(name: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (match === null) return undefined;
  const t = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isFinite(t) && dayName(t / DAY_MS) === name ? t / DAY_MS : undefined;
}

/**
 * Parses a retention: a number of days (`30d`) or weeks (`8w`). The
 * archive then keeps every day whose last millisecond is younger than
 * that, and drops the others whole.
 *
 * @returns The retention in days, or `undefined` when the text is not one.
 *
 * @example
 * ```ts
 * import { parseRetention } from "./days.ts";
 *
 * console.log(parseRetention("30d"), parseRetention("2w"), parseRetention("30")); // 30 14 undefined
 * ```
 */
export function parseRetention(text: string): number | undefined {
  const match = /^\s*([1-9][0-9]{0,5})\s*(d|w)\s*$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * (match[2] === "w" ? 7 : 1);
}

/**
 * The days a retention of `days` drops at time `now`: those whose end
 * (the next midnight, UTC) is `days` days or more ago. Today and the
 * `days` days before it are kept, so at least `days` whole days of history
 * always remain.
 *
 * @param existing The days that have a partition.
 * @param days The retention, in days.
 * @param now The current time, ms.
 * @returns The days to drop, oldest first.
 *
 * @example
 * ```ts
 * import { daysToDrop, dayOf } from "./days.ts";
 *
 * const now = Date.UTC(2024, 4, 31, 12);
 * const existing = [dayOf(Date.UTC(2024, 4, 1)), dayOf(Date.UTC(2024, 4, 2)), dayOf(now)];
 * console.log(daysToDrop(existing, 29, now).length); // 1: May 1st ended 29.5 days ago
 * ```
 */
export function daysToDrop(existing: Iterable<number>, days: number, now: number): number[] {
  const limit = now - days * DAY_MS;
  return [...existing].filter((day) => (day + 1) * DAY_MS <= limit).sort((a, b) => a - b);
}
