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
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return undefined;
  const time = Date.parse(text);
  return Number.isFinite(time) ? time : undefined;
}
