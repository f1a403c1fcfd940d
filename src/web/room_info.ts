/**
 * Reading a room's title, owner, category and live status from Douyu's web
 * APIs: `betard` first, the open API when that fails.
 *
 * Only web-standard APIs are used (`fetch`, `AbortSignal`, `TextDecoder`), so
 * this runs unchanged on Deno, Bun, Node and in browsers.
 *
 * @module
 */

import { RoomResolveError } from "./errors.ts";
import { isRecord, ownField } from "../base/fields.ts";
import { isEpochMs } from "../base/when.ts";
import {
  type Call,
  DESKTOP_UA,
  DOUYU_REFERER,
  type FetchLike,
  getText,
  oneLine,
  parseJson,
  quote,
  startCall,
  toHttpUrl,
  toInt,
  toRoomId,
  toText,
  trimSlash,
} from "./http.ts";
import { parseRoomInput } from "./room_input.ts";

/**
 * Options for {@linkcode fetchRoomInfo}, and the shared part of
 * {@linkcode ResolveRoomOptions}.
 *
 * @example
 * ```ts
 * import { fetchRoomInfo, type RoomInfoOptions } from "@x/douyu";
 *
 * // A stand-in for Douyu's API, so this example runs offline.
 * const fetch = () => Promise.resolve(Response.json({ room: { room_id: 288016, show_status: 1 } }));
 * const options: RoomInfoOptions = { timeout: 5000, fetch };
 * console.log((await fetchRoomInfo("yyf", options)).live); // true
 * ```
 */
export interface RoomInfoOptions {
  /** Base URL of the `betard` API, without a trailing path. Default `https://www.douyu.com`. */
  apiBase?: string;
  /**
   * Base URL of Douyu's open API, which {@linkcode fetchRoomInfo} asks when
   * `betard` fails (`GET {openApiBase}/api/RoomApi/room/<name or id>`).
   * {@linkcode resolveRoom} does not use it. Default `https://open.douyucdn.cn`.
   */
  openApiBase?: string;
  /** The `fetch` to use. Default `globalThis.fetch`, looked up at call time. */
  fetch?: FetchLike;
  /**
   * Aborting it abandons the lookup; the returned promise then rejects with
   * the signal's `reason`, not a {@linkcode RoomResolveError}.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds for the whole call, all requests included; past it the call
   * rejects with a {@linkcode TimeoutError}. `Infinity` disables it. Default
   * 10000.
   *
   * The first lookup (`betard`) gets half of it: if it has not answered by
   * then, it counts as failed and the fallback (the mobile page for
   * {@linkcode resolveRoom}, the open API for {@linkcode fetchRoomInfo}) gets
   * the rest. So a `betard` that hangs still leaves the fallback 5 s by
   * default, and the whole call never takes longer than `timeout`.
   */
  timeout?: number;
  /**
   * Largest response body read, in bytes; a larger one is cancelled and
   * counts as a failed request, so a hostile or broken server cannot make the
   * client buffer without bound. Default 2 MiB.
   */
  maxBytes?: number;
  /**
   * `User-Agent` header sent with every request. By default a desktop browser's
   * for the APIs and a mobile browser's for the mobile page: Douyu's web front
   * ends are built for browsers, and a script's default agent is a cheap
   * signal for bot filtering (and a desktop agent on the mobile site risks a
   * redirect to the desktop page). `""` sends no header of our own. The API
   * requests also send `Referer: https://www.douyu.com/`, as the web page does.
   */
  userAgent?: string;
}

/**
 * What {@linkcode fetchRoomInfo} learns about a room. Every field but
 * `roomId` is absent when the API did not send it, or sent something that
 * does not fit its type. Text fields are exactly what the server sent: pass
 * them through `sanitizeForTerminal` before printing them. URLs are absolute
 * `http(s)` URLs (anything else is dropped), safe for an `<img src>`.
 *
 * Live or a rerun? Douyu marks a recording played in a loop as live too
 * (`show_status` 1) and says `videoLoop` beside it, so "really live" is
 * `live && videoLoop === false`. With `source: "open"` the fallback API was
 * used: it cannot tell a loop from live, so `videoLoop` is absent and `live`
 * may be a loop.
 *
 * @example
 * ```ts
 * import type { RoomInfo } from "@x/douyu";
 *
 * const info: RoomInfo = { roomId: 9999, nickname: "someone", live: true, videoLoop: false };
 * const state = !info.live ? "offline" : info.videoLoop === false ? "live" : "live or a loop";
 * console.log(state); // "live"
 * ```
 */
export interface RoomInfo {
  /** The numeric room id the barrage protocol needs. */
  roomId: number;
  /** Room title (`room.room_name`; open API `room_name`). */
  name?: string;
  /** Streamer's nickname (`room.nickname`; open API `owner_name`). */
  nickname?: string;
  /** Whether the room is live (`room.show_status` is 1; open API `room_status` "1"). */
  live?: boolean;
  /**
   * Whether a recording is being replayed in a loop (`room.videoLoop`);
   * absent when unknown, always absent with `source: "open"`.
   */
  videoLoop?: boolean;
  /** Category, e.g. a game's name (`room.second_lvl_name`; open API `cate_name`). */
  category?: string;
  /**
   * When the current broadcast started (or the last one, when offline), in
   * ms since the epoch (`room.show_time`; open API `start_time`, read as
   * China time, UTC+8, when it is a `YYYY-MM-DD HH:MM` date).
   */
  startedAt?: number;
  /**
   * The streamer's avatar URL: the largest `room.avatar` size given (`big`,
   * then `middle`, then `small`); open API `avatar`.
   */
  avatar?: string;
  /** The room's cover picture URL (`room.room_pic`; open API `room_thumb`). */
  cover?: string;
  /** Audience figure the open API reports (`online`); `betard` does not give one. */
  online?: number;
  /**
   * Which API answered: `"betard"` (www.douyu.com) or `"open"` (the
   * open.douyucdn.cn fallback, which cannot tell a loop from live). Always set
   * by {@linkcode fetchRoomInfo}.
   */
  source?: "betard" | "open";
}

/** Where room names are looked up unless `apiBase` says otherwise (the `betard` API). */
export const DEFAULT_API_BASE = "https://www.douyu.com";
const DEFAULT_OPEN_API_BASE = "https://open.douyucdn.cn";
/** A lookup's time and size limits unless its options say otherwise. */
export const DEFAULTS = { timeout: 10_000, maxBytes: 2 * 1024 * 1024 };
/** The first of two lookups gets this share of the call's time; the fallback gets the rest. */
export const FIRST_SHARE = 0.5;

/**
 * Reads a room's id, title, owner, category, live status, start time,
 * avatar and cover picture.
 *
 * It asks the `betard` API first (`GET {apiBase}/betard/<name or id>?_=<random>`,
 * with a browser `User-Agent` and `Referer: https://www.douyu.com/`; the
 * random query gets past the CDN, which caches answers for about 60 s, so a
 * status read just after a change is the new one). When that fails, it asks
 * the open API (`GET {openApiBase}/api/RoomApi/room/<name or id>`), which
 * knows most of the same fields but cannot tell a loop from live: the result
 * then says `source: "open"` and has no `videoLoop`. Even a bare number goes
 * to the APIs, since only they know the status.
 *
 * @param input A room id, name or Douyu URL, as for {@linkcode resolveRoom}.
 * @param options Endpoints, `fetch`, `signal`, `timeout` (half of it for
 * `betard`, the rest for the fallback), `maxBytes`, `userAgent`.
 * @returns What the API said; see {@linkcode RoomInfo} for each field.
 * @throws {RoomResolveError} The input is invalid, or both APIs failed (the
 * message names both failures, e.g. `open API: no such room (error 101)`;
 * `cause` is an `AggregateError` of them).
 * @throws {TimeoutError} `timeout` ms passed first.
 * @throws {RangeError} `timeout` is not positive or `maxBytes` is negative.
 * @throws The `signal`'s reason when it was aborted.
 *
 * @example Is the room live?
 * ```ts
 * import { fetchRoomInfo, sanitizeForTerminal } from "@x/douyu";
 *
 * // A stand-in for Douyu's API, so this example runs offline.
 * const fetch = () =>
 *   Promise.resolve(Response.json({
 *     room: { room_id: 288016, show_status: 1, videoLoop: 0, room_name: "hi", show_time: 1700000000 },
 *   }));
 * const info = await fetchRoomInfo("yyf", { fetch });
 * const state = !info.live ? "offline" : info.videoLoop ? "a rerun" : "live";
 * console.log(info.roomId, state, sanitizeForTerminal(info.name ?? "")); // 288016 "live" "hi"
 * console.log(new Date(info.startedAt ?? 0).toISOString()); // "2023-11-14T22:13:20.000Z"
 * ```
 *
 * @example When `betard` fails, the open API answers
 * ```ts
 * import { type FetchLike, fetchRoomInfo } from "@x/douyu";
 *
 * const fetch: FetchLike = async (url) =>
 *   url.includes("/betard/")
 *     ? new Response("busy", { status: 503 })
 *     : Response.json({ error: 0, data: { room_id: "288016", room_status: "1", online: 1200 } });
 * const info = await fetchRoomInfo(288016, { fetch });
 * console.log(info.source, info.live, info.videoLoop); // "open" true undefined: live, or a loop
 * ```
 */
export async function fetchRoomInfo(
  input: string | number,
  options: RoomInfoOptions = {},
): Promise<RoomInfo> {
  const parsed = parseRoomInput(input);
  const name = "id" in parsed ? String(parsed.id) : parsed.name;
  const call = startCall(options, `looking up room ${quote(input)}`, DEFAULTS);
  try {
    let apiError: unknown;
    try {
      const base = options.apiBase ?? DEFAULT_API_BASE;
      return await call.attempt(
        FIRST_SHARE,
        (signal) => fetchBetard(call, signal, base, name, true),
      );
    } catch (error) {
      call.rethrowIfStopped(error);
      apiError = error;
    }
    let openError: unknown;
    try {
      const base = options.openApiBase ?? DEFAULT_OPEN_API_BASE;
      const known = "id" in parsed ? parsed.id : undefined;
      return await call.attempt(1, (signal) => fetchOpenApi(call, signal, base, name, known));
    } catch (error) {
      call.rethrowIfStopped(error);
      openError = error;
    }
    throw new RoomResolveError(
      `could not fetch room info for ${quote(input)}: betard API: ${oneLine(apiError)}; open API: ${
        oneLine(openError)
      }`,
      { cause: new AggregateError([apiError, openError], "betard API and open API both failed") },
    );
  } finally {
    call.done();
  }
}

/** Asks `betard` about a room; `bustCache` for a fresh live status (a room id never changes). */
export async function fetchBetard(
  call: Call,
  signal: AbortSignal,
  base: string,
  name: string,
  bustCache: boolean,
): Promise<RoomInfo> {
  // Only the status needs to be fresh: a room id never changes, so a lookup
  // for it may as well be served from the CDN.
  const query = bustCache ? `?_=${cacheBuster()}` : "";
  const text = await getText(
    call,
    signal,
    `${trimSlash(base)}/betard/${encodeURIComponent(name)}${query}`,
    {
      accept: "application/json, text/plain, */*",
      ua: call.userAgent ?? DESKTOP_UA,
      referer: DOUYU_REFERER,
    },
  );
  const json = parseJson(text);
  const room = isRecord(json) ? ownField(json, "room") : undefined;
  if (!isRecord(room)) throw new Error("no room object in response");
  const roomId = toRoomId(ownField(room, "room_id"));
  if (roomId === undefined) throw new Error("no valid room.room_id in response");
  const info: RoomInfo = { roomId };
  const title = toText(ownField(room, "room_name"));
  if (title !== undefined) info.name = title;
  const owner = toText(ownField(room, "nickname")) ?? toText(ownField(room, "owner_name"));
  if (owner !== undefined) info.nickname = owner;
  const showStatus = toInt(ownField(room, "show_status"));
  if (showStatus !== undefined) info.live = showStatus === 1;
  const loopValue = ownField(room, "videoLoop");
  const videoLoop = typeof loopValue === "boolean" ? loopValue : toInt(loopValue);
  if (videoLoop !== undefined) info.videoLoop = videoLoop === true || videoLoop === 1;
  const category = toText(ownField(room, "second_lvl_name"));
  if (category !== undefined) info.category = category;
  const shown = toInt(ownField(room, "show_time"));
  // A time no date can hold (9007199254740991 seconds) is left out.
  if (shown !== undefined && shown > 0 && isEpochMs(shown * 1000)) info.startedAt = shown * 1000;
  const avatars = ownField(room, "avatar");
  if (isRecord(avatars)) {
    const avatar = toHttpUrl(ownField(avatars, "big")) ?? toHttpUrl(ownField(avatars, "middle")) ??
      toHttpUrl(ownField(avatars, "small"));
    if (avatar !== undefined) info.avatar = avatar;
  }
  const cover = toHttpUrl(ownField(room, "room_pic"));
  if (cover !== undefined) info.cover = cover;
  info.source = "betard";
  return info;
}

/** Douyu's open API's "no such room" code. */
const OPEN_API_NO_SUCH_ROOM = 101;

async function fetchOpenApi(
  call: Call,
  signal: AbortSignal,
  base: string,
  name: string,
  knownId: number | undefined,
): Promise<RoomInfo> {
  const text = await getText(
    call,
    signal,
    `${trimSlash(base)}/api/RoomApi/room/${encodeURIComponent(name)}`,
    {
      accept: "application/json, text/plain, */*",
      ua: call.userAgent ?? DESKTOP_UA,
      referer: DOUYU_REFERER,
    },
  );
  const json = parseJson(text);
  if (!isRecord(json)) throw new Error("response is not a JSON object");
  const code = toInt(ownField(json, "error"));
  if (code === OPEN_API_NO_SUCH_ROOM) throw new Error(`no such room (error ${code})`);
  if (code !== 0) {
    throw new Error(code === undefined ? "no error code in response" : `error ${code}`);
  }
  const data = ownField(json, "data");
  if (!isRecord(data)) throw new Error("no data object in response");
  const roomId = toRoomId(ownField(data, "room_id")) ?? knownId;
  if (roomId === undefined) throw new Error("no valid data.room_id in response");
  const info: RoomInfo = { roomId };
  const title = toText(ownField(data, "room_name"));
  if (title !== undefined) info.name = title;
  const owner = toText(ownField(data, "owner_name"));
  if (owner !== undefined) info.nickname = owner;
  const status = toInt(ownField(data, "room_status"));
  if (status === 1 || status === 2) info.live = status === 1;
  const category = toText(ownField(data, "cate_name"));
  if (category !== undefined) info.category = category;
  const started = openApiTime(ownField(data, "start_time"));
  if (started !== undefined) info.startedAt = started;
  const avatar = toHttpUrl(ownField(data, "avatar"));
  if (avatar !== undefined) info.avatar = avatar;
  const cover = toHttpUrl(ownField(data, "room_thumb"));
  if (cover !== undefined) info.cover = cover;
  const online = toInt(ownField(data, "online"));
  if (online !== undefined) info.online = online;
  info.source = "open";
  return info;
}

const CHINA_DATE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const CHINA_OFFSET_MS = 8 * 3600_000;

/**
 * The open API's `start_time`: a `YYYY-MM-DD HH:MM[:SS]` date in China time
 * (UTC+8, no daylight saving), or epoch seconds. Ms since the epoch.
 */
function openApiTime(value: unknown): number | undefined {
  const seconds = toInt(value);
  if (seconds !== undefined) {
    return seconds > 0 && isEpochMs(seconds * 1000) ? seconds * 1000 : undefined;
  }
  if (typeof value !== "string") return undefined;
  const m = CHINA_DATE.exec(value);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map((part) => Number(part ?? 0));
  const ms = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!) - CHINA_OFFSET_MS;
  // Date.UTC rolls 2024-02-31 over into March: refuse dates that do not exist.
  const check = new Date(ms + CHINA_OFFSET_MS);
  return check.getUTCMonth() === month! - 1 && check.getUTCDate() === day! && hour! < 24 &&
      minute! < 60 && second! < 60
    ? ms
    : undefined;
}

/** A fresh value for `?_=`, so the CDN in front of `betard` cannot answer from its cache. */
function cacheBuster(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
