/**
 * Turning what users type (`yyf`, `douyu.com/6657`, a room URL) into the
 * numeric room id the barrage protocol needs, and reading a room's live
 * status.
 *
 * Only web-standard APIs are used (`fetch`, `AbortSignal`, `TextDecoder`), so
 * this runs unchanged on Deno, Bun and Node.
 *
 * @module
 */

import { errorText, RoomResolveError, TimeoutError } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";

/**
 * The subset of `fetch` this module calls. `globalThis.fetch` fits; an
 * injected one must honour `init.signal`, because timeouts and cancellation
 * are delivered only through it.
 *
 * @example A fetch that answers from memory
 * ```ts
 * import { type FetchLike, resolveRoom } from "@x/douyu";
 *
 * const fake: FetchLike = async () => Response.json({ room: { room_id: 9999 } });
 * console.log(await resolveRoom("yyf", { fetch: fake })); // 9999
 * ```
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

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
   * for the API and a mobile browser's for the mobile page: Douyu's web front
   * ends are built for browsers, and a script's default agent is a cheap
   * signal for bot filtering (and a desktop agent on the mobile site risks a
   * redirect to the desktop page). `""` sends no header of our own.
   */
  userAgent?: string;
}

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

/**
 * What {@linkcode fetchRoomInfo} learns about a room. Text fields are exactly
 * what the server sent: pass them through `sanitizeForTerminal` before
 * printing them.
 *
 * @example
 * ```ts
 * import type { RoomInfo } from "@x/douyu";
 *
 * const info: RoomInfo = { roomId: 9999, nickname: "someone", live: true };
 * console.log(info.live ? "live" : "offline");
 * ```
 */
export interface RoomInfo {
  /** The numeric room id the barrage protocol needs. */
  roomId: number;
  /** Room title (`room.room_name`). */
  name?: string;
  /** Streamer's nickname (`room.nickname`). */
  nickname?: string;
  /** Whether the room is live (`room.show_status` is 1); absent when the API did not say. */
  live?: boolean;
  /** Whether a recording is being replayed in a loop (`room.videoLoop`); absent when unknown. */
  videoLoop?: boolean;
}

/**
 * What {@linkcode parseRoomInput} found: a room id to use as is, or a name (or
 * "good number") that must be looked up.
 *
 * @example
 * ```ts
 * import { parseRoomInput, type RoomInput } from "@x/douyu";
 *
 * const parsed: RoomInput = parseRoomInput("douyu.com/yyf");
 * console.log("name" in parsed ? parsed.name : parsed.id); // "yyf"
 * ```
 */
export type RoomInput = { id: number } | { name: string };

const DEFAULT_API_BASE = "https://www.douyu.com";
const DEFAULT_MOBILE_BASE = "https://m.douyu.com";
const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;
const DESKTOP_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const MOBILE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

const MAX_INPUT_LENGTH = 100;
// Pretty names are short ASCII words; anything else cannot be one, and
// refusing it early keeps odd text out of the request URL.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const DIGITS = /^\d+$/;
const HAS_SCHEME = /^[A-Za-z][A-Za-z\d+.-]*:\/\//;
const WHITESPACE = /\s/;

/**
 * Splits what a user typed into a room id or a name to look up, without any
 * network access. A bare number (`9999`, `"9999"`) is an id; a number in a
 * URL path (`douyu.com/6657`) is a name, since such "good numbers" differ
 * from the real room id; a `rid` query parameter (`/topic/xxx?rid=123`) is an
 * id and wins over the path. Accepted hosts are `douyu.com` and its
 * subdomains, with or without `http(s)://`, trailing slash, query or hash.
 *
 * @param input A room id, name or Douyu URL.
 * @returns `{ id }` or `{ name }`.
 * @throws {RoomResolveError} Empty, longer than 100 characters, containing
 * whitespace, a non-Douyu URL, or no room in it.
 *
 * @example
 * ```ts
 * import { parseRoomInput } from "@x/douyu";
 *
 * console.log(parseRoomInput(9999)); // { id: 9999 }
 * console.log(parseRoomInput("https://www.douyu.com/6657")); // { name: "6657" }
 * console.log(parseRoomInput("douyu.com/topic/s13?rid=123")); // { id: 123 }
 * ```
 */
export function parseRoomInput(input: string | number): RoomInput {
  if (typeof input === "number") {
    if (Number.isSafeInteger(input) && input > 0) return { id: input };
    throw invalid(input, "not a positive integer room id");
  }
  if (typeof input !== "string") throw invalid(String(input), "not a string or number");
  if (input.length > MAX_INPUT_LENGTH) {
    throw invalid(input, `longer than ${MAX_INPUT_LENGTH} characters`);
  }
  const text = input.trim();
  if (text === "") throw invalid(input, "empty");
  if (WHITESPACE.test(text)) throw invalid(input, "contains whitespace");
  if (DIGITS.test(text)) {
    const id = Number(text);
    if (Number.isSafeInteger(id) && id > 0) return { id };
    throw invalid(input, "not a positive integer room id");
  }
  // Anything that cannot be a URL is a bare name.
  if (!/[./:?#]/.test(text)) {
    if (NAME.test(text)) return { name: text };
    throw invalid(input, "not a room name");
  }
  return parseRoomUrl(input, text);
}

function parseRoomUrl(input: string, text: string): RoomInput {
  const href = HAS_SCHEME.test(text)
    ? text
    : text.startsWith("//")
    ? `https:${text}`
    : `https://${text}`;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw invalid(input, "not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(input, "not an http(s) URL");
  }
  const host = url.hostname.toLowerCase();
  if (host !== "douyu.com" && !host.endsWith(".douyu.com")) {
    throw invalid(input, "not a douyu.com URL");
  }
  // Userinfo in a link is a classic disguise for another host; refuse rather than guess.
  if (url.username !== "" || url.password !== "") throw invalid(input, "URL has credentials");
  const rid = url.searchParams.get("rid");
  if (rid !== null && DIGITS.test(rid)) {
    const id = Number(rid);
    if (Number.isSafeInteger(id) && id > 0) return { id };
  }
  const segments = url.pathname.split("/").filter((s) => s !== "");
  // Room pages are one segment deep; deeper paths (e.g. `/topic/xxx`) name
  // something else and carry the room only in `rid`, handled above.
  if (segments.length === 1 && NAME.test(segments[0])) return { name: segments[0] };
  throw invalid(input, "no room in URL");
}

/**
 * Turns a room id, name or Douyu URL into the numeric room id. A bare number
 * is returned as is without network access; anything else is looked up with
 * `GET {apiBase}/betard/<name>` (JSON `room.room_id`) and, if that fails, the
 * mobile page `GET {mobileBase}/<name>` (`"rid":<n>` or `"room_id":<n>` in
 * the HTML).
 *
 * @param input A room id (`9999`), name (`yyf`) or URL (`https://www.douyu.com/6657`).
 * @param options Endpoints, `fetch`, `signal`, `timeout`, `maxBytes`, `userAgent`.
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
  const call = startCall(options);
  try {
    let apiError: unknown;
    try {
      return (await fetchBetard(call, options.apiBase ?? DEFAULT_API_BASE, parsed.name)).roomId;
    } catch (error) {
      call.rethrowIfStopped(input, error);
      apiError = error;
    }
    let mobileError: unknown;
    try {
      return await fetchMobileRid(call, options.mobileBase ?? DEFAULT_MOBILE_BASE, parsed.name);
    } catch (error) {
      call.rethrowIfStopped(input, error);
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
 * Reads a room's id, title, streamer nickname and live status from the
 * `betard` API (`GET {apiBase}/betard/<name or id>`). Unlike
 * {@linkcode resolveRoom} there is no fallback, since only the API reports
 * these fields, and even a bare number is sent to the API.
 *
 * @param input A room id, name or Douyu URL, as for {@linkcode resolveRoom}.
 * @param options Endpoint, `fetch`, `signal`, `timeout`, `maxBytes`, `userAgent`.
 * @returns What the API said; `live` and `videoLoop` are absent when it did not say.
 * @throws {RoomResolveError} The input is invalid or the API failed.
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
 *   Promise.resolve(Response.json({ room: { room_id: 288016, show_status: 2, room_name: "hi" } }));
 * const info = await fetchRoomInfo("yyf", { fetch });
 * console.log(info.roomId, info.live ? "live" : "offline", sanitizeForTerminal(info.name ?? ""));
 * ```
 */
export async function fetchRoomInfo(
  input: string | number,
  options: RoomInfoOptions = {},
): Promise<RoomInfo> {
  const parsed = parseRoomInput(input);
  const name = "id" in parsed ? String(parsed.id) : parsed.name;
  const call = startCall(options);
  try {
    return await fetchBetard(call, options.apiBase ?? DEFAULT_API_BASE, name);
  } catch (error) {
    call.rethrowIfStopped(input, error);
    throw new RoomResolveError(
      `could not fetch room info for ${quote(input)}: betard API: ${oneLine(error)}`,
      { cause: error },
    );
  } finally {
    call.done();
  }
}

/** The state of one `resolveRoom`/`fetchRoomInfo` call, shared by its requests. */
interface Call {
  fetch: FetchLike;
  signal: AbortSignal;
  maxBytes: number;
  userAgent: string | undefined;
  /** Throws the abort reason or a TimeoutError if the call was stopped. */
  rethrowIfStopped(input: string | number, error: unknown): void;
  /** Releases what the call holds. */
  done(): void;
}

function startCall(options: RoomInfoOptions): Call {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (!(timeout > 0)) {
    throw new RangeError(`timeout must be a positive number of ms, got ${timeout}`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!(maxBytes >= 0)) {
    throw new RangeError(`maxBytes must be a non-negative number, got ${maxBytes}`);
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  const user = options.signal;
  // Ours, aborted when the call ends, so nothing an injected fetch left
  // running outlives the call.
  const own = new AbortController();
  const signals = [own.signal];
  if (user) signals.push(user);
  // AbortSignal.timeout rather than setTimeout: its timer does not keep the
  // process alive, and there is nothing to clear on every exit path.
  const timer = Number.isFinite(timeout) ? AbortSignal.timeout(Math.ceil(timeout)) : undefined;
  if (timer) signals.push(timer);
  const signal = AbortSignal.any(signals);
  return {
    // A plain call: invoking `options.fetch(...)` would bind `this` to the
    // options object, which browsers' fetch rejects ("Illegal invocation").
    fetch: (url, init) => fetchFn(url, init),
    signal,
    maxBytes,
    userAgent: options.userAgent,
    rethrowIfStopped(input, error) {
      // The user's abort wins over our timeout: they asked to stop.
      if (user?.aborted) throw user.reason;
      if (timer?.aborted) {
        throw new TimeoutError(`looking up room ${quote(input)} timed out after ${timeout} ms`, {
          cause: error,
        });
      }
    },
    done() {
      own.abort();
    },
  };
}

async function fetchBetard(call: Call, base: string, name: string): Promise<RoomInfo> {
  const text = await getText(call, `${trimSlash(base)}/betard/${encodeURIComponent(name)}`, {
    accept: "application/json, text/plain, */*",
    ua: call.userAgent ?? DESKTOP_UA,
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // Our own message: the parser's quotes a slice of the (untrusted) body.
    throw new Error("response is not JSON", { cause: error });
  }
  const room = isRecord(json) ? json.room : undefined;
  if (!isRecord(room)) throw new Error("no room object in response");
  const roomId = toRoomId(room.room_id);
  if (roomId === undefined) throw new Error("no valid room.room_id in response");
  const info: RoomInfo = { roomId };
  if (typeof room.room_name === "string") info.name = room.room_name;
  if (typeof room.nickname === "string") info.nickname = room.nickname;
  const showStatus = toInt(room.show_status);
  if (showStatus !== undefined) info.live = showStatus === 1;
  const videoLoop = typeof room.videoLoop === "boolean" ? room.videoLoop : toInt(room.videoLoop);
  if (videoLoop !== undefined) info.videoLoop = videoLoop === true || videoLoop === 1;
  return info;
}

// Quoted or not, with optional spaces, as pages embed JSON state both ways.
const RID_IN_PAGE = /"(?:rid|room_id)"\s*:\s*"?(\d{1,16})"?/g;

async function fetchMobileRid(call: Call, base: string, name: string): Promise<number> {
  const html = await getText(call, `${trimSlash(base)}/${encodeURIComponent(name)}`, {
    accept: "text/html,application/xhtml+xml,*/*;q=0.8",
    ua: call.userAgent ?? MOBILE_UA,
  });
  for (const match of html.matchAll(RID_IN_PAGE)) {
    const id = toRoomId(match[1]);
    if (id !== undefined) return id;
  }
  throw new Error('no "rid" or "room_id" in page');
}

async function getText(
  call: Call,
  url: string,
  headers: { accept: string; ua: string },
): Promise<string> {
  const init: RequestInit = {
    signal: call.signal,
    headers: headers.ua === ""
      ? { accept: headers.accept }
      : { accept: headers.accept, "user-agent": headers.ua },
  };
  const response = await call.fetch(url, init);
  if (!response.ok) {
    await discard(response);
    throw new Error(`HTTP ${response.status}`);
  }
  return await readText(response, call.maxBytes, call.signal);
}

/** Reads a body as UTF-8, at most `maxBytes` of it, cancelling the stream on any failure. */
async function readText(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await discard(response);
    throw new Error(`response of ${declared} bytes exceeds maxBytes (${maxBytes})`);
  }
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  // Runtimes tie the body to the fetch signal, but an injected fetch may not:
  // cancelling here ends a pending read() either way.
  const onAbort = () => void reader.cancel(signal.reason).catch(ignore);
  signal.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new Error(`response exceeds maxBytes (${maxBytes})`);
      text += decoder.decode(value, { stream: true });
    }
    signal.throwIfAborted();
    return text + decoder.decode();
  } catch (error) {
    await reader.cancel().catch(ignore);
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Releases a body we will not read: an unread body holds its connection open. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(ignore);
}

function ignore(): void {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A room id from a number or numeric string, or `undefined` if it is not a positive integer. */
function toRoomId(value: unknown): number | undefined {
  const n = toInt(value);
  return n !== undefined && n > 0 ? n : undefined;
}

function toInt(value: unknown): number | undefined {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && /^\d{1,16}$/.test(value)
    ? Number(value)
    : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function trimSlash(base: string): string {
  return base.replace(/\/+$/, "");
}

// Control characters JSON.stringify leaves alone but a terminal would act on.
const UNSAFE_IN_QUOTE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The input, quoted and escaped for a one-line message, cut to 40 characters. */
function quote(input: string | number): string {
  const text = String(input);
  const short = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(short).replace(
    UNSAFE_IN_QUOTE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** An error's text, safe for a one-line message. */
function oneLine(error: unknown): string {
  return sanitizeForTerminal(errorText(error));
}

function invalid(input: string | number, reason: string): RoomResolveError {
  return new RoomResolveError(`invalid room ${quote(input)}: ${reason}`);
}
