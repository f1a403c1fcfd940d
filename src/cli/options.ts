/**
 * The `douyu` options that several commands share, in groups a command
 * spreads into its own table, and the parsing and checking of their values:
 * every bad value is a {@linkcode UsageError} that names the option.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { errorText } from "../base/errors.ts";
import type { FilterRules } from "../output/filters.ts";
import { parseEndpoint } from "../transport/seam.ts";
import { onlyAt } from "../web/http.ts";
import type { FetchLike } from "../web/room.ts";
import { parseRoomInput, type RoomInput } from "../web/room_input.ts";
import { MAX_TIMEOUT } from "../base/timers.ts";
import { quoted, UsageError } from "./io.ts";

/** A table of options, as `parseArgs` takes it. */
export type OptionTable = NonNullable<ParseArgsConfig["options"]>;

/** What {@linkcode parseCommand} returns for a table `O`: typed values and the positionals. */
export type ParsedCommand<O extends OptionTable> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>
>;

/** `-h`/`--help`, which every command takes. */
export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** How messages are printed: `watch`, `replay`, `consume`. */
export const OUTPUT_OPTIONS = {
  json: { type: "boolean" },
  types: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
} as const;

/** Which messages are shown (the rules of `src/output/filters.ts`). */
export const FILTER_OPTIONS = {
  "no-bots": { type: "boolean" },
  "only-room": { type: "boolean" },
  "block-words": { type: "string" },
  "block-users": { type: "string" },
  "min-level": { type: "string" },
  "min-gift-value": { type: "string" },
  "fold-repeats": { type: "boolean" },
} as const;

/** Douyu's HTTP APIs, each of which a test can point at a local server. */
export const LOOKUP_OPTIONS = {
  "api-base": { type: "string" },
  "mobile-base": { type: "string" },
  "gift-api-base": { type: "string" },
  "open-api-base": { type: "string" },
} as const;

/** How long a room's first gifts wait for its gift catalogue: `watch`, `replay`, `consume`. */
export const GIFT_WAIT_OPTION = { "gift-wait": { type: "string" } } as const;

/** How rooms are connected to. */
export const CONNECT_OPTIONS = {
  url: { type: "string", multiple: true },
  heartbeat: { type: "string" },
} as const;

/** The option names of every command, so one that does not apply can be told from a typo. */
const everyOption = new Set<string>();

/**
 * Declares a command's option table (returning it, typed as given), so that
 * other commands can say "does not apply" rather than "unknown" for it.
 *
 * @param table The command's options.
 * @returns `table`.
 */
export function defineOptions<const O extends OptionTable>(table: O): O {
  for (const name of Object.keys(table)) everyOption.add(name);
  return table;
}

/**
 * Parses a command's arguments against its table (strict: an unknown option
 * is a usage error naming it).
 *
 * @param args The arguments after the command name.
 * @param options The command's option table.
 * @param where The command, for "option --x does not apply to …".
 * @returns The values and positionals, typed by the table.
 * @throws {UsageError} for an unknown option or a missing value.
 */
export function parseCommand<const O extends OptionTable>(
  args: string[],
  options: O,
  where: string,
): ParsedCommand<O> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error, options, where));
  }
}

/** One line out of a `parseArgs` error, naming the offending argument. */
function parseArgsMessage(error: unknown, options: OptionTable, where: string): string {
  const code = (error as { code?: unknown }).code;
  const message = errorText(error).split("\n")[0]!;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const name = /'([^']+)'/.exec(message)?.[1];
    const known = name?.startsWith("--") && everyOption.has(name.slice(2).replace(/=.*/, ""));
    if (known) return `option ${name!.replace(/=.*/, "")} does not apply to ${where}`;
    if (name !== undefined) return `unknown option ${name}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = /'(--?[\w-]+)/.exec(message)?.[1];
    if (name !== undefined) {
      const option = Object.hasOwn(options, name.replace(/^-+/, ""))
        ? options[name.replace(/^-+/, "")]
        : undefined;
      return option?.type === "boolean"
        ? `option ${name} takes no value`
        : `option ${name} needs a value (write ${name}=VALUE for a value starting with -)`;
    }
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** The one positional argument a command takes. */
export function one(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing ${what}`);
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  return positionals[0]!;
}

/** A room as typed: an id, or a name to look up. */
export function parseRoom(text: string): RoomInput {
  try {
    return parseRoomInput(text);
  } catch (error) {
    throw new UsageError(errorText(error));
  }
}

/** What a number option must be. */
export type NumberKind = "positive integer" | "seconds" | "number >= 0" | "port";

/**
 * The value of a number option, checked, or `undefined` when absent.
 *
 * @throws {UsageError} naming the option and what it expects.
 */
export function numberOption(
  text: string | undefined,
  name: string,
  kind: NumberKind,
): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\s*$/.test(text) ? NaN : Number(text);
  const ok = kind === "positive integer" ? Number.isSafeInteger(n) && n > 0 : kind === "seconds"
    // Timers take at most 2^31-1 ms; a longer one would fire at once.
    ? Number.isFinite(n) && n > 0 && n * 1000 <= MAX_TIMEOUT
    : kind === "number >= 0"
    ? Number.isFinite(n) && n >= 0
    : Number.isInteger(n) && n >= 0 && n <= 65535;
  if (!ok) {
    const expected = kind === "port"
      ? "a port number from 0 to 65535"
      : kind === "seconds"
      ? `a positive number of seconds, at most ${Math.floor(MAX_TIMEOUT / 1000)}`
      : `a ${kind}`;
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected ${expected})`);
  }
  return n;
}

/** What the printer needs, from {@linkcode OUTPUT_OPTIONS} and {@linkcode FILTER_OPTIONS}. */
export interface OutputOptions {
  json: boolean;
  types: ReadonlySet<string> | undefined;
  count: number | undefined;
  duration: number | undefined;
  /** The filter rules, except `onlyRoom`, which the printer sets per room. */
  rules: FilterRules;
  /** `--only-room`: drop messages whose `rid` names another room than theirs. */
  onlyRoom: boolean;
  /** `--fold-repeats`. */
  fold: boolean;
}

type OutputValues = {
  [K in keyof typeof OUTPUT_OPTIONS]?: (typeof OUTPUT_OPTIONS)[K]["type"] extends "boolean"
    ? boolean
    : string;
};
type FilterValues = {
  [K in keyof typeof FILTER_OPTIONS]?: (typeof FILTER_OPTIONS)[K]["type"] extends "boolean"
    ? boolean
    : string;
};

/** Reads {@linkcode OUTPUT_OPTIONS} and {@linkcode FILTER_OPTIONS}. */
export function outputOptions(values: OutputValues & FilterValues): OutputOptions {
  let types: Set<string> | undefined;
  if (values.types !== undefined) {
    const list = values.types.split(",").map((type) => type.trim()).filter((type) => type !== "");
    // As long as the stream's subjects allow (64), so that `consume` refuses it here, not later.
    const bad = list.find((type) => !/^[A-Za-z0-9_]{1,64}$/.test(type));
    if (list.length === 0 || bad !== undefined) {
      throw new UsageError(
        `invalid value for --types: ${
          quoted(bad ?? values.types)
        } (expected type names such as chatmsg,dgb)`,
      );
    }
    types = new Set(list);
  }
  return {
    json: values.json ?? false,
    types,
    count: numberOption(values.count, "count", "positive integer"),
    duration: numberOption(values.duration, "duration", "seconds"),
    ...filterOptions(values),
  };
}

/** Reads {@linkcode FILTER_OPTIONS}: the rules, and the two that depend on the room or the order. */
export function filterOptions(
  values: FilterValues,
): { rules: FilterRules; onlyRoom: boolean; fold: boolean } {
  const rules: FilterRules = {};
  if (values["no-bots"]) rules.noBots = true;
  const blockWords = list(values["block-words"]);
  if (blockWords) rules.blockWords = blockWords;
  const blockUsers = list(values["block-users"]);
  if (blockUsers) rules.blockUsers = blockUsers;
  const minLevel = numberOption(values["min-level"], "min-level", "number >= 0");
  if (minLevel !== undefined) rules.minLevel = minLevel;
  const minGiftValue = numberOption(values["min-gift-value"], "min-gift-value", "number >= 0");
  if (minGiftValue !== undefined) rules.minGiftValue = minGiftValue;
  return {
    rules,
    onlyRoom: values["only-room"] ?? false,
    fold: values["fold-repeats"] ?? false,
  };
}

/** A comma-separated list (`,` or the fullwidth `，`), blanks dropped; undefined when empty. */
function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(/[,，]/).map((item) => item.trim()).filter((item) => item !== "");
  return items.length > 0 ? items : undefined;
}

/** The bases of Douyu's HTTP APIs, as given ({@linkcode LOOKUP_OPTIONS}), and how to fetch. */
export interface Lookups {
  apiBase?: string;
  mobileBase?: string;
  giftApiBase?: string;
  openApiBase?: string;
  /**
   * With `--url`, a `fetch` that asks only the bases given: the barrage comes
   * from a mock server or your own, not from Douyu, so the tool must not
   * reach out to Douyu's APIs on its own (nor fall back to them). Absent
   * otherwise: the runtime's `fetch`.
   */
  fetch?: FetchLike;
}

/**
 * Where the gift catalogue is read from: `--gift-api-base` serves both the
 * room's gift list and the props config (the paths differ), so one local
 * stand-in can answer both.
 */
export function giftBases(
  lookups: Lookups,
): { giftApiBase?: string; propsBase?: string; fetch?: FetchLike } {
  const { giftApiBase, fetch } = lookups;
  return {
    ...(giftApiBase === undefined ? {} : { giftApiBase, propsBase: giftApiBase }),
    ...(fetch ? { fetch } : {}),
  };
}

/**
 * Reads {@linkcode LOOKUP_OPTIONS}: each must be an http(s) URL.
 *
 * @param values The parsed options.
 * @param urls The `--url` endpoints: when there are any, only the bases given are asked.
 */
export function lookups(
  values: { [K in keyof typeof LOOKUP_OPTIONS]?: string },
  urls: readonly string[] = [],
): Lookups {
  const result: Lookups = {};
  const apiBase = httpBase(values["api-base"], "api-base");
  if (apiBase) result.apiBase = apiBase;
  const mobileBase = httpBase(values["mobile-base"], "mobile-base");
  if (mobileBase) result.mobileBase = mobileBase;
  const giftApiBase = httpBase(values["gift-api-base"], "gift-api-base");
  if (giftApiBase) result.giftApiBase = giftApiBase;
  const openApiBase = httpBase(values["open-api-base"], "open-api-base");
  if (openApiBase) result.openApiBase = openApiBase;
  if (urls.length > 0) {
    result.fetch = onlyAt(
      [apiBase, mobileBase, giftApiBase, openApiBase],
      undefined,
      "with --url, Douyu's web APIs are asked only at the bases given with --api-base, " +
        "--mobile-base, --gift-api-base or --open-api-base",
    );
  }
  return result;
}

function httpBase(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected an http(s) URL)`);
  }
  return text;
}

/**
 * `--gift-wait S`: how long a room's output may wait for its first gift
 * catalogue, in seconds from 0 (never wait) to 60, as ms; `undefined` when
 * absent (the default wait).
 */
export function giftWait(text: string | undefined): number | undefined {
  const seconds = numberOption(text, "gift-wait", "number >= 0");
  if (seconds !== undefined && seconds > 60) {
    throw new UsageError(
      `invalid value for --gift-wait: ${quoted(text!)} (expected seconds from 0 to 60)`,
    );
  }
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

/** The `--url` endpoints, each checked. */
export function endpointUrls(urls: readonly string[] | undefined): string[] {
  return (urls ?? []).map((url) => {
    try {
      return parseEndpoint(url).url;
    } catch {
      throw new UsageError(
        `invalid value for --url: ${quoted(url)} (expected tcp://host:port, ws://... or wss://...)`,
      );
    }
  });
}
