/**
 * Points in time as people type them: a duration back from now (`10m`,
 * `2h`) or a date, for options such as `--since`.
 *
 * @module
 */

/**
 * Parses `--since`: a duration back from now (`90s`, `10m`, `2h`, `1d`) or a
 * date (`2024-05-01T20:00:00Z`).
 *
 * @param text The text.
 * @param now The current time, ms since the epoch.
 * @returns The time, ms since the epoch, or `undefined` when not understood.
 *
 * @example
 * ```ts
 * import { parseSince } from "./when.ts";
 *
 * console.log(parseSince("10m", 1_000_000)); // 400000
 * console.log(parseSince("2024-05-01T00:00:00Z", 0)); // 1714521600000
 * console.log(parseSince("soon", 0)); // undefined
 * ```
 */
export function parseSince(text: string, now: number): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (match !== null) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s"];
    const ms = Number(match[1]) * unit;
    return Number.isFinite(ms) && ms <= now ? Math.round(now - ms) : undefined;
  }
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(text.trim());
  if (date === null) return undefined;
  // Date.parse moves a day past the month's end on ("2024-02-31" would be March 2nd).
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  const time = Date.parse(text);
  return Number.isFinite(time) ? time : undefined;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The first time {@linkcode isEpochMs} refuses: the year 10000. */
const EPOCH_MS_LIMIT = 253_402_300_800_000;

/**
 * Whether `t` is a time as stored and sent: a whole number of ms since the
 * epoch, from 1970 to the end of the year 9999 (what a date can show, and
 * what the archive's days can name).
 *
 * @example
 * ```ts
 * import { isEpochMs } from "./when.ts";
 *
 * console.log(isEpochMs(1714521600000), isEpochMs(1714521600000.5), isEpochMs(-1)); // true false false
 * ```
 */
export function isEpochMs(t: unknown): t is number {
  return Number.isSafeInteger(t) && (t as number) >= 0 && (t as number) < EPOCH_MS_LIMIT;
}
