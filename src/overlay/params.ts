/**
 * The overlay's filter parameters: what a page asks of its event stream
 * (`minGift`, `enter`, `block`, `blockUsers`, `minLevel`, `fold`), read from
 * its query string over the defaults the `douyu overlay` command was given.
 * They become {@linkcode FilterRules} for `createFilter`, the same filter
 * code as the command line's.
 *
 * Pure code: no I/O, no runtime API.
 *
 * @module
 */

import type { FilterRules } from "../output/filters.ts";

/**
 * What a page's stream shows: filter rules, plus whether to show room
 * entries and to fold repeated chat.
 *
 * @example
 * ```ts
 * import type { StreamSettings } from "./params.ts";
 *
 * const settings: StreamSettings = { rules: { minLevel: 5 }, enter: false, fold: true };
 * console.log(settings.fold); // true
 * ```
 */
export interface StreamSettings {
  /** The rules for `createFilter`. */
  rules: FilterRules;
  /** Show room entries. */
  enter: boolean;
  /** Fold repeated chat text into one line with a count. */
  fold: boolean;
}

/** Most entries a `block` or `blockUsers` list may have; more are ignored, with a problem. */
export const MAX_LIST_ENTRIES = 200;
/** Longest entry of such a list, characters. */
export const MAX_ENTRY_LENGTH = 64;

/**
 * Reads a page's filter parameters over `defaults` (the command's flags).
 * `minGift`, `minLevel`, `enter` and `fold` replace the default; `block`
 * and `blockUsers` add to the default lists. Lists are separated by commas
 * (`,` or `，`), or given as repeated parameters. A value that cannot be
 * read is ignored (the default stays) and described in `problems`, for the
 * page's status line.
 *
 * @param query The page's query parameters.
 * @param defaults The command's settings.
 * @returns The settings for this page, and one line per parameter ignored.
 *
 * @example
 * ```ts
 * import { readStreamParams } from "./params.ts";
 *
 * const defaults = { rules: { blockWords: ["广告"] }, enter: false, fold: false };
 * const query = new URLSearchParams("minGift=1&enter=1&block=加群,代练&minLevel=x");
 * const { settings, problems } = readStreamParams(query, defaults);
 * console.log(settings.rules.blockWords, settings.rules.minGiftValue, settings.enter);
 * // [ "广告", "加群", "代练" ] 1 true
 * console.log(problems); // [ 'minLevel: "x" is not a number >= 0 (ignored)' ]
 * ```
 */
export function readStreamParams(
  query: URLSearchParams,
  defaults: StreamSettings,
): { settings: StreamSettings; problems: string[] } {
  const problems: string[] = [];
  const rules: FilterRules = { ...defaults.rules };
  const minGift = number(query, "minGift", problems);
  if (minGift !== undefined) rules.minGiftValue = minGift;
  const minLevel = number(query, "minLevel", problems);
  if (minLevel !== undefined) rules.minLevel = minLevel;
  const block = list(query, "block", problems);
  if (block.length > 0) rules.blockWords = [...(defaults.rules.blockWords ?? []), ...block];
  const users = list(query, "blockUsers", problems);
  if (users.length > 0) rules.blockUsers = [...(defaults.rules.blockUsers ?? []), ...users];
  return {
    settings: {
      rules,
      enter: flag(query, "enter", problems) ?? defaults.enter,
      fold: flag(query, "fold", problems) ?? defaults.fold,
    },
    problems,
  };
}

function shown(text: string): string {
  return JSON.stringify(text.length > 30 ? `${text.slice(0, 30)}…` : text);
}

function number(query: URLSearchParams, name: string, problems: string[]): number | undefined {
  const text = query.get(name);
  if (text === null || text.trim() === "") return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    problems.push(`${name}: ${shown(text)} is not a number >= 0 (ignored)`);
    return undefined;
  }
  return n;
}

function flag(query: URLSearchParams, name: string, problems: string[]): boolean | undefined {
  const text = query.get(name);
  if (text === null || text.trim() === "") return undefined;
  const value = text.trim().toLowerCase();
  if (value === "1" || value === "true" || value === "yes" || value === "on") return true;
  if (value === "0" || value === "false" || value === "no" || value === "off") return false;
  problems.push(`${name}: ${shown(text)} is not 0 or 1 (ignored)`);
  return undefined;
}

function list(query: URLSearchParams, name: string, problems: string[]): string[] {
  const entries = query.getAll(name).flatMap((value) => value.split(/[,，]/))
    .map((entry) => entry.trim()).filter((entry) => entry !== "");
  const kept = entries.filter((entry) => entry.length <= MAX_ENTRY_LENGTH);
  if (kept.length < entries.length) {
    problems.push(`${name}: entries longer than ${MAX_ENTRY_LENGTH} characters ignored`);
  }
  if (kept.length > MAX_LIST_ENTRIES) {
    problems.push(`${name}: only the first ${MAX_LIST_ENTRIES} entries are used`);
    return kept.slice(0, MAX_LIST_ENTRIES);
  }
  return kept;
}
