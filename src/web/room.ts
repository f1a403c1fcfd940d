/**
 * Turning what users type (`yyf`, `douyu.com/6657`, a room URL) into the
 * numeric room id the barrage protocol needs: the lookups, and the rule for
 * sessions with endpoints of their own. Splitting the input: `./room_input.ts`;
 * a room's title, owner and live status: `./room_info.ts`.
 *
 * Only web-standard APIs are used (`fetch`, `AbortSignal`, `TextDecoder`), so
 * this runs unchanged on Deno, Bun, Node and in browsers.
 *
 * @module
 */

import { RoomResolveError } from "./errors.ts";
import {
  type Call,
  type FetchLike,
  getText,
  MOBILE_UA,
  oneLine,
  onlyAt,
  quote,
  startCall,
  toRoomId,
  trimSlash,
} from "./http.ts";
import { parseRoomInput } from "./room_input.ts";
import {
  DEFAULT_API_BASE,
  DEFAULTS,
  fetchBetard,
  FIRST_SHARE,
  type RoomInfoOptions,
} from "./room_info.ts";

export type { FetchLike } from "./http.ts";

/**
 * Options for {@linkcode resolveRoom}.
 *
 * @example Pointing the lookups at a local test server
 * ```ts
 * import { resolveRoom, type ResolveRoomOptions } from "@x/douyu";
 *
 * const options: ResolveRoomOptions = {
 *   apiBase: "http://127.0.0.1:1", // nothing listens: both lookups fail fast
 *   mobileBase: "http://127.0.0.1:1/m",
 *   timeout: 2000,
 * };
 * console.log(await resolveRoom("yyf", options).catch((e) => e.name)); // "RoomResolveError"
 * ```
 */
export interface ResolveRoomOptions extends RoomInfoOptions {
  /** Base URL of the mobile site, used when the API fails. Default `https://m.douyu.com`. */
  mobileBase?: string;
}

const DEFAULT_MOBILE_BASE = "https://m.douyu.com";

/**
 * Turns a room id, name or Douyu URL into the numeric room id. A bare number
 * is returned as is without network access; anything else is looked up with
 * `GET {apiBase}/betard/<name>` (JSON `room.room_id`) and, if that fails or
 * has not answered within half of `timeout`, the mobile page
 * `GET {mobileBase}/<name>` (`"rid":<n>` or `"room_id":<n>` in the HTML,
 * the number ending there: `"rid":123abc` is not room 123).
 *
 * @param input A room id (`9999`), name (`yyf`) or URL (`https://www.douyu.com/6657`).
 * @param options Endpoints, `fetch`, `signal`, `timeout` (half of it for
 * `betard`, the rest for the mobile page), `maxBytes`, `userAgent`.
 * @returns The room id, a positive integer.
 * @throws {RoomResolveError} The input is invalid, or both lookups failed
 * (the message names both failures; `cause` is an `AggregateError` of them).
 * @throws {TimeoutError} `timeout` ms passed first.
 * @throws {RangeError} `timeout` is not positive or `maxBytes` is negative.
 * @throws The `signal`'s reason when it was aborted.
 *
 * @example
 * ```ts
 * import { resolveRoom } from "@x/douyu";
 *
 * console.log(await resolveRoom("9999")); // 9999: a bare id needs no lookup
 *
 * // Names go through Douyu's API; a stand-in answers here, so this runs offline.
 * const fetch = () => Promise.resolve(Response.json({ room: { room_id: 288016 } }));
 * console.log(await resolveRoom("https://www.douyu.com/yyf", { fetch })); // 288016
 * ```
 */
export async function resolveRoom(
  input: string | number,
  options: ResolveRoomOptions = {},
): Promise<number> {
  const parsed = parseRoomInput(input);
  if ("id" in parsed) return parsed.id;
  const call = startCall(options, `looking up room ${quote(input)}`, DEFAULTS);
  try {
    let apiError: unknown;
    try {
      const base = options.apiBase ?? DEFAULT_API_BASE;
      const info = await call.attempt(
        FIRST_SHARE,
        (signal) => fetchBetard(call, signal, base, parsed.name, false),
      );
      return info.roomId;
    } catch (error) {
      call.rethrowIfStopped(error);
      apiError = error;
    }
    let mobileError: unknown;
    try {
      const base = options.mobileBase ?? DEFAULT_MOBILE_BASE;
      return await call.attempt(1, (signal) => fetchMobileRid(call, signal, base, parsed.name));
    } catch (error) {
      call.rethrowIfStopped(error);
      mobileError = error;
    }
    throw new RoomResolveError(
      `could not resolve room ${quote(input)}: betard API: ${oneLine(apiError)}; mobile page: ${
        oneLine(mobileError)
      }`,
      {
        cause: new AggregateError(
          [apiError, mobileError],
          "betard API and mobile page both failed",
        ),
      },
    );
  } finally {
    call.done();
  }
}

/**
 * Where the barrage's sessions look room names up: the options of
 * `connect()`, `Hub` and `watchLive` that concern Douyu's web APIs.
 *
 * @example
 * ```ts
 * import type { RoomLookupOptions } from "@x/douyu";
 *
 * const lookups: RoomLookupOptions = { apiBase: "http://127.0.0.1:8080" };
 * console.log(lookups.apiBase);
 * ```
 */
export interface RoomLookupOptions {
  /**
   * Base URL of the `betard` API that room names are looked up at (see
   * {@linkcode resolveRoom}). Default `https://www.douyu.com`, except with
   * endpoints of your own (`url`): then names are looked up only at the
   * bases you give.
   */
  apiBase?: string;
  /** Base URL of the mobile site, asked when `betard` fails; the same rule. Default `https://m.douyu.com`. */
  mobileBase?: string;
  /** The `fetch` for these lookups. Default `globalThis.fetch`, looked up at call time. */
  fetch?: FetchLike;
}

/** Why a lookup was refused: the barrage comes from elsewhere than Douyu. */
const ONLY_BASES_GIVEN = "with `url`, Douyu's web APIs are asked only at the bases given " +
  "(apiBase, mobileBase, openApiBase)";

/**
 * The options of a lookup made for sessions whose barrage endpoints are
 * `url` (`undefined`: Douyu's own), from the bases and `fetch` given: with
 * endpoints of your own (a mock server, a proxy), Douyu's web APIs are asked
 * only at the bases given, never at Douyu's defaults, as the `douyu` command
 * does with `--url`.
 */
export function lookupOptionsFor(
  url: string | readonly string[] | undefined,
  options: RoomLookupOptions & { openApiBase?: string | undefined; signal?: AbortSignal },
): ResolveRoomOptions {
  const { apiBase, mobileBase, openApiBase, fetch, signal } = options;
  const result: ResolveRoomOptions = {};
  if (apiBase !== undefined) result.apiBase = apiBase;
  if (mobileBase !== undefined) result.mobileBase = mobileBase;
  if (openApiBase !== undefined) result.openApiBase = openApiBase;
  if (signal !== undefined) result.signal = signal;
  if (url !== undefined) {
    result.fetch = onlyAt([apiBase, mobileBase, openApiBase], fetch, ONLY_BASES_GIVEN);
  } else if (fetch !== undefined) result.fetch = fetch;
  return result;
}

/**
 * {@linkcode resolveRoom} for sessions whose barrage endpoints are `url`
 * (`undefined`: Douyu's own): with endpoints of your own, a name is looked up
 * only at the `apiBase` and `mobileBase` given, and with neither given it is
 * not looked up at all.
 *
 * @throws {RoomResolveError} as `resolveRoom` does, and for a name when `url`
 * is set but neither base is.
 */
export async function resolveRoomFor(
  room: string | number,
  url: string | readonly string[] | undefined,
  options: RoomLookupOptions & { signal?: AbortSignal },
): Promise<number> {
  const parsed = parseRoomInput(room);
  if ("id" in parsed) return parsed.id;
  if (url !== undefined && options.apiBase === undefined && options.mobileBase === undefined) {
    throw new RoomResolveError(
      `cannot look up room ${quote(room)}: ${ONLY_BASES_GIVEN}, and neither apiBase nor ` +
        "mobileBase is given; give one, or the numeric room id",
    );
  }
  return await resolveRoom(room, lookupOptionsFor(url, options));
}

/*
 * `"rid":123` or `"room_id":"123"` as pages embed their state, quoted or not,
 * with optional spaces. The number must end there: a quoted one at its
 * closing quote, a bare one before a comma, brace, bracket, whitespace or the
 * end of the page. Otherwise `"rid":12345678901234567`, `"rid":"123abc"` or
 * `1.5` would yield the start of the number: another room.
 */
const RID_IN_PAGE = /"(?:rid|room_id)"\s*:\s*(?:"([1-9]\d{0,15})"|([1-9]\d{0,15})(?=[\s,}\]]|$))/g;

async function fetchMobileRid(
  call: Call,
  signal: AbortSignal,
  base: string,
  name: string,
): Promise<number> {
  const html = await getText(call, signal, `${trimSlash(base)}/${encodeURIComponent(name)}`, {
    accept: "text/html,application/xhtml+xml,*/*;q=0.8",
    ua: call.userAgent ?? MOBILE_UA,
  });
  for (const match of html.matchAll(RID_IN_PAGE)) {
    const id = toRoomId(match[1] ?? match[2]);
    if (id !== undefined) return id;
  }
  throw new Error('no "rid" or "room_id" in page');
}
