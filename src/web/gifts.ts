/**
 * Gift names, prices and icons. A `dgb` message carries only a gift id
 * (`gfid`); this module fetches a room's gift catalogue from Douyu's web
 * endpoints: what turns a gift id into a name and a value in yuan.
 *
 * - {@linkcode fetchGiftCatalog} fetches one catalogue, once.
 * - {@linkcode GiftCatalogCache} keeps catalogues per room for a while, with
 *   one fetch at a time per room: what a long-running program wants.
 * - `giftOf` (in `protocol/gifts.ts`, beside the message types) reads a
 *   gift (or super chat) message against a catalogue.
 *
 * Everything the endpoints send is treated as hostile: bodies are bounded in
 * bytes, requests in time, entries in number; each entry is schema-checked,
 * and entries live in `Map`s keyed by id, so a key such as `__proto__` is
 * plain data. Names are kept exactly as sent: sanitise them when you display
 * them (`sanitizeForTerminal`, or text nodes in a page). Only web-standard
 * APIs are used.
 *
 * @module
 */

import { GiftCatalogError } from "./errors.ts";
import { abortable } from "../base/abortable.ts";
import { nonNegative, type NumberCheck, positive } from "../base/checks.ts";
import { isRecord, ownField } from "../base/fields.ts";
import { GiftCatalog, type GiftEntry } from "../protocol/gifts.ts";
import {
  DESKTOP_UA,
  DOUYU_REFERER,
  type FetchLike,
  getText,
  oneLine,
  parseJson,
  startCall,
  toHttpUrl,
  toInt,
  toRoomId,
  toText,
  trimSlash,
} from "./http.ts";

/**
 * Options for {@linkcode fetchGiftCatalog}, and (without `signal`) for a
 * {@linkcode GiftCatalogCache}.
 *
 * @example Pointing both endpoints at a local server
 * ```ts
 * import type { GiftCatalogOptions } from "@x/douyu";
 *
 * const options: GiftCatalogOptions = {
 *   giftApiBase: "http://127.0.0.1:8080",
 *   propsBase: "http://127.0.0.1:8080",
 *   timeout: 5000,
 * };
 * console.log(options.timeout);
 * ```
 */
export interface GiftCatalogOptions {
  /**
   * Base URL of the gift API: `GET {giftApiBase}/api/gift/v3/web/list?rid=<room>`.
   * Default `https://gift.douyucdn.cn`.
   */
  giftApiBase?: string;
  /**
   * Base URL of the props config:
   * `GET {propsBase}/resource/common/prop_gift_list/prop_gift_config.json`.
   * Default `https://webconf.douyucdn.cn`.
   */
  propsBase?: string;
  /** Fetch the props config too. Default true; false asks only the room's gift list. */
  props?: boolean;
  /** The `fetch` to use. Default `globalThis.fetch`, looked up at call time. */
  fetch?: FetchLike;
  /** Aborting it abandons the fetch; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Milliseconds each of the two requests (sent at the same time) may take,
   * body included; a request that takes longer counts as failed. Default
   * 10000; `Infinity` disables it.
   */
  timeout?: number;
  /** Largest response body read, in bytes. Default 4 MiB (the props config is about 1 MB). */
  maxBytes?: number;
  /**
   * Most entries accepted from each source; a list with more is refused as a
   * failure of that source. Default 20000 (a room lists about 150 gifts, the
   * props config about 1600).
   */
  maxGifts?: number;
  /** `User-Agent` header. Default a desktop browser's; `""` sends none of our own. */
  userAgent?: string;
}

const DEFAULT_GIFT_API_BASE = "https://gift.douyucdn.cn";
const DEFAULT_PROPS_BASE = "https://webconf.douyucdn.cn";
const PROPS_PATH = "/resource/common/prop_gift_list/prop_gift_config.json";
/** Where the gift list's icon paths live when an entry names no `picUrlPrefix`. */
const DEFAULT_PIC_PREFIX = "https://gfs-op.douyucdn.cn/dygift";
/** Limits and durations here may be `Infinity`: no limit, no expiry. */
const NO_LIMIT: NumberCheck = { infinite: true };
const DEFAULTS = { timeout: 10_000, maxBytes: 4 * 1024 * 1024 };
const DEFAULT_MAX_GIFTS = 20_000;
/** Longest name kept; a longer one is junk, and the entry keeps only its price. */
const MAX_NAME_LENGTH = 100;
/** Highest price believed, in hundredths: 10 million yuan. Above it, the price is junk. */
const MAX_PRICE = 1_000_000_000;
const JSONP_CALLBACK = "DYConfigCallback";

/**
 * Fetches a room's gift catalogue: the room's gift list
 * (`GET {giftApiBase}/api/gift/v3/web/list?rid=<room>`: `data.giftList[]`
 * with `id`, `name`, `priceInfo.price`/`priceType`, icon `picUrlPrefix` +
 * `basicInfo.giftPic`) and the platform's props config (JSONP
 * `DYConfigCallback({...})`: `data[id].name`, `pc`, `himg`), both at once.
 * Nothing is cached: a program that looks gifts up repeatedly should hold a
 * {@linkcode GiftCatalogCache} instead.
 *
 * One source failing is not an error: the catalogue then knows less and
 * lists the failure in `problems`.
 *
 * @param room The numeric room id (a positive integer, or a string of digits).
 * @param options Endpoints, `fetch`, `signal`, `timeout`, `maxBytes`, `maxGifts`.
 * @returns The catalogue.
 * @throws {GiftCatalogError} Both sources failed (or the one asked for, with
 * `props: false`); the message names each failure.
 * @throws {RangeError} `room` is not a room id, or `timeout`, `maxBytes` or
 * `maxGifts` is out of range.
 * @throws The `signal`'s reason when it was aborted.
 *
 * @example Name and value of a gift message
 * ```ts
 * import { type FetchLike, fetchGiftCatalog, giftOf, parseMessage } from "@x/douyu";
 *
 * // Stand-ins for Douyu's two endpoints, so this example runs offline.
 * const fetch: FetchLike = async (url) =>
 *   url.includes("/api/gift/")
 *     ? Response.json({
 *       error: 0,
 *       data: { giftList: [{ id: 20004, name: "火箭", priceInfo: { price: 50000, priceType: "YUCHI" } }] },
 *     })
 *     : new Response('DYConfigCallback({"error":0,"data":{"824":{"name":"粉丝荧光棒","pc":0}}});');
 *
 * const catalog = await fetchGiftCatalog(9999, { fetch });
 * const gift = giftOf(parseMessage("type@=dgb/gfid@=20004/gfcnt@=2/nn@=Ann/"), catalog);
 * console.log(gift?.name, gift?.value); // "火箭" 1000
 * ```
 */
export async function fetchGiftCatalog(
  room: number | string,
  options: GiftCatalogOptions = {},
): Promise<GiftCatalog> {
  const roomId = toCatalogRoom(room);
  const maxGifts = checkLimits(options);
  const wantProps = options.props ?? true;
  const [list, props] = await Promise.allSettled([
    loadGiftList(roomId, options, maxGifts),
    wantProps ? loadProps(options, maxGifts) : undefined,
  ]);
  // The user's stop is not a failure of the endpoints: it wins, as is.
  options.signal?.throwIfAborted();
  return compose(
    roomId,
    list,
    wantProps ? props as PromiseSettledResult<Map<string, GiftEntry>> : undefined,
    Date.now(),
  );
}

function compose(
  roomId: number,
  list: PromiseSettledResult<Map<string, GiftEntry>>,
  props: PromiseSettledResult<Map<string, GiftEntry>> | undefined,
  now: number,
): GiftCatalog {
  const problems: string[] = [];
  if (list.status === "rejected") problems.push(`gift list: ${oneLine(list.reason)}`);
  if (props?.status === "rejected") problems.push(`props config: ${oneLine(props.reason)}`);
  const failed = [list, props].filter((r) => r?.status === "rejected").length;
  const asked = props === undefined ? 1 : 2;
  if (failed === asked) {
    throw new GiftCatalogError(`no gift catalogue for room ${roomId}: ${problems.join("; ")}`, {
      cause: new AggregateError(
        [list, props].flatMap((r) => r?.status === "rejected" ? [r.reason] : []),
        "every gift source failed",
      ),
    });
  }
  return new GiftCatalog({
    roomId,
    gifts: list.status === "fulfilled" ? list.value : undefined,
    props: props?.status === "fulfilled" ? props.value : undefined,
    fetchedAt: now,
    problems,
  });
}

function toCatalogRoom(room: number | string): number {
  const id = toRoomId(room);
  if (id === undefined) {
    throw new RangeError(`room must be a positive integer room id, got ${JSON.stringify(room)}`);
  }
  return id;
}

/** Checks the limits up front, so that a bad one is a RangeError rather than two failed fetches. */
function checkLimits(options: GiftCatalogOptions): number {
  positive(options.timeout ?? DEFAULTS.timeout, "timeout", NO_LIMIT);
  nonNegative(options.maxBytes ?? DEFAULTS.maxBytes, "maxBytes", NO_LIMIT);
  return nonNegative(options.maxGifts ?? DEFAULT_MAX_GIFTS, "maxGifts", NO_LIMIT);
}

async function loadGiftList(
  roomId: number,
  options: GiftCatalogOptions,
  maxGifts: number,
): Promise<Map<string, GiftEntry>> {
  const call = startCall(options, `fetching the gift list of room ${roomId}`, DEFAULTS);
  try {
    const base = trimSlash(options.giftApiBase ?? DEFAULT_GIFT_API_BASE);
    const text = await getText(call, call.signal, `${base}/api/gift/v3/web/list?rid=${roomId}`, {
      accept: "application/json, text/plain, */*",
      ua: call.userAgent ?? DESKTOP_UA,
      referer: DOUYU_REFERER,
    });
    return parseGiftList(parseJson(text), maxGifts);
  } catch (error) {
    call.rethrowIfStopped(error);
    throw error;
  } finally {
    call.done();
  }
}

async function loadProps(
  options: GiftCatalogOptions,
  maxGifts: number,
): Promise<Map<string, GiftEntry>> {
  const call = startCall(options, "fetching the props config", DEFAULTS);
  try {
    const base = trimSlash(options.propsBase ?? DEFAULT_PROPS_BASE);
    const text = await getText(call, call.signal, `${base}${PROPS_PATH}`, {
      accept: "application/javascript, application/json, */*",
      ua: call.userAgent ?? DESKTOP_UA,
      referer: DOUYU_REFERER,
    });
    return parseProps(parseJson(unwrapJsonp(text)), maxGifts);
  } catch (error) {
    call.rethrowIfStopped(error);
    throw error;
  } finally {
    call.done();
  }
}

/** Checks the `error` field Douyu's JSON answers carry: 0 means success. */
function checkErrorCode(root: Record<string, unknown>): void {
  const code = toInt(ownField(root, "error"));
  if (code !== 0) {
    throw new Error(code === undefined ? "no error code in response" : `error ${code}`);
  }
}

function parseGiftList(json: unknown, maxGifts: number): Map<string, GiftEntry> {
  if (!isRecord(json)) throw new Error("response is not a JSON object");
  checkErrorCode(json);
  const data = ownField(json, "data");
  if (!isRecord(data)) throw new Error("no data object in response");
  const list = ownField(data, "giftList");
  if (!Array.isArray(list)) throw new Error("no data.giftList array in response");
  if (list.length > maxGifts) throw new Error(`more than ${maxGifts} gifts in response`);
  const commonPrefix = ownField(data, "picUrlPrefix");
  const gifts = new Map<string, GiftEntry>();
  for (const item of list) {
    const entry = isRecord(item) ? giftListEntry(item, commonPrefix) : undefined;
    // The first entry of an id wins: a later duplicate cannot replace it.
    if (entry !== undefined && !gifts.has(entry.id)) gifts.set(entry.id, entry);
  }
  return gifts;
}

function giftListEntry(
  item: Record<string, unknown>,
  commonPrefix: unknown,
): GiftEntry | undefined {
  const id = toId(ownField(item, "id"));
  if (id === undefined) return undefined;
  const entry: GiftEntry = { id, source: "room" };
  const name = toName(ownField(item, "name"));
  if (name !== undefined) entry.name = name;
  const priceInfo = ownField(item, "priceInfo");
  if (isRecord(priceInfo)) {
    const price = toPrice(ownField(priceInfo, "price"));
    if (price !== undefined) entry.price = price;
    const type = toText(ownField(priceInfo, "priceType"), 20);
    if (type !== undefined) {
      entry.priceType = type;
      if (type === "YUCHI") entry.paid = true;
      else if (type === "YUWAN") entry.paid = false;
    }
  }
  const basic = ownField(item, "basicInfo");
  if (isRecord(basic)) {
    const prefix = toText(ownField(item, "picUrlPrefix"), 500) ?? toText(commonPrefix, 500) ??
      DEFAULT_PIC_PREFIX;
    const path = toText(ownField(basic, "giftPic"), 500) || toText(ownField(basic, "chatPic"), 500);
    const icon = path ? joinIcon(prefix, path) : undefined;
    if (icon !== undefined) entry.icon = icon;
  }
  return entry.name !== undefined || entry.price !== undefined ? entry : undefined;
}

/** `prefix` + `path` with exactly one slash between them; an absolute `path` stands alone. */
function joinIcon(prefix: string, path: string): string | undefined {
  if (/^https?:\/\//i.test(path)) return toHttpUrl(path);
  return toHttpUrl(`${prefix.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`);
}

/**
 * The JSON inside `DYConfigCallback(...)`, found by its fixed wrapper and
 * never run. Plain JSON passes through, in case Douyu drops the wrapper.
 */
function unwrapJsonp(text: string): string {
  const body = text.trim();
  if (body.startsWith("{")) return body;
  if (!body.startsWith(JSONP_CALLBACK)) {
    throw new Error(`response is neither JSON nor ${JSONP_CALLBACK}(...)`);
  }
  const open = body.indexOf("(", JSONP_CALLBACK.length);
  const close = body.lastIndexOf(")");
  // Only whitespace may stand between the name and "(", and only ";" after ")".
  if (
    open < 0 || close < open || body.slice(JSONP_CALLBACK.length, open).trim() !== "" ||
    !/^;?$/.test(body.slice(close + 1).trim())
  ) {
    throw new Error(`response is not a well-formed ${JSONP_CALLBACK}(...) call`);
  }
  return body.slice(open + 1, close);
}

function parseProps(json: unknown, maxGifts: number): Map<string, GiftEntry> {
  if (!isRecord(json)) throw new Error("response is not a JSON object");
  checkErrorCode(json);
  const data = ownField(json, "data");
  if (!isRecord(data)) throw new Error("no data object in response");
  const ids = Object.keys(data);
  if (ids.length > maxGifts) throw new Error(`more than ${maxGifts} props in response`);
  const props = new Map<string, GiftEntry>();
  for (const key of ids) {
    const id = toId(key);
    const item = data[key];
    if (id === undefined || !isRecord(item)) continue;
    const entry: GiftEntry = { id, source: "props" };
    const name = toName(ownField(item, "name"));
    if (name !== undefined) entry.name = name;
    const price = toPrice(ownField(item, "pc"));
    if (price !== undefined) entry.price = price;
    const icon = toHttpUrl(ownField(item, "himg")) ?? toHttpUrl(ownField(item, "cimg"));
    if (icon !== undefined) entry.icon = icon;
    if (entry.name !== undefined || entry.price !== undefined) props.set(id, entry);
  }
  return props;
}

/** A gift id: a positive integer, as a number or a string of digits, returned as a string. */
function toId(value: unknown): string | undefined {
  const n = toInt(value);
  return n !== undefined && n > 0 ? String(n) : undefined;
}

function toName(value: unknown): string | undefined {
  const name = toText(value, MAX_NAME_LENGTH);
  return name === undefined || name.trim() === "" ? undefined : name;
}

function toPrice(value: unknown): number | undefined {
  const price = toInt(value);
  return price !== undefined && price <= MAX_PRICE ? price : undefined;
}

/**
 * Options of a {@linkcode GiftCatalogCache}: those of
 * {@linkcode fetchGiftCatalog} (but `signal`, which each `get` takes), plus
 * how long catalogues are kept.
 *
 * @example
 * ```ts
 * import { GiftCatalogCache, type GiftCatalogCacheOptions } from "@x/douyu";
 *
 * const options: GiftCatalogCacheOptions = { ttl: 30 * 60_000, maxRooms: 8 };
 * const cache = new GiftCatalogCache(options);
 * console.log(cache.size); // 0
 * ```
 */
export interface GiftCatalogCacheOptions extends Omit<GiftCatalogOptions, "signal"> {
  /** How long a complete catalogue is used before it is fetched again, ms. Default 10 minutes. */
  ttl?: number;
  /**
   * After a failure, how long before asking again, ms: a failed fetch (or a
   * catalogue with `problems`) is kept that long, so a burst of gift messages
   * does not become a burst of requests. Default 1 minute.
   */
  retryAfter?: number;
  /** Most rooms kept; the least recently used goes first. Default 100. */
  maxRooms?: number;
  /** The clock, ms since the epoch. Default `Date.now`; tests pass their own. */
  now?: () => number;
}

/** One cached thing: the fetch in flight, or its outcome and expiry. */
interface Slot<T> {
  promise: Promise<T>;
  pending: boolean;
  /** The last good value, kept while a refresh runs and after one fails. */
  value: T | undefined;
  expires: number;
}

/**
 * Gift catalogues by room, fetched on first use and kept for `ttl`.
 *
 * - Callers that ask for the same room at the same time share one fetch.
 * - The props config, the same for every room, is fetched once for all
 *   rooms and kept for `ttl` too.
 * - A failure is remembered for `retryAfter`, so that a flood of gift
 *   messages cannot become a flood of requests. When a refresh fails, or
 *   gives a catalogue with `problems` where the last one had none, the last
 *   good catalogue goes on being used until the next try.
 * - At most `maxRooms` rooms are kept, the least recently used dropped first.
 *
 * @example
 * ```ts
 * import { type FetchLike, GiftCatalogCache, giftOf, parseMessage } from "@x/douyu";
 *
 * let requests = 0;
 * const fetch: FetchLike = async (url) => {
 *   requests++;
 *   return url.includes("/api/gift/")
 *     ? Response.json({ error: 0, data: { giftList: [{ id: 20004, name: "火箭" }] } })
 *     : new Response('DYConfigCallback({"error":0,"data":{}})');
 * };
 * const gifts = new GiftCatalogCache({ fetch });
 * const [a, b] = await Promise.all([gifts.get(9999), gifts.get(9999)]);
 * console.log(a === b, requests); // true 2: one gift list and one props config
 * console.log(giftOf(parseMessage("type@=dgb/gfid@=20004/"), gifts.peek(9999))?.name); // "火箭"
 * ```
 */
export class GiftCatalogCache {
  readonly #options: GiftCatalogCacheOptions;
  readonly #ttl: number;
  readonly #retryAfter: number;
  readonly #maxRooms: number;
  readonly #maxGifts: number;
  readonly #now: () => number;
  readonly #rooms = new Map<number, Slot<GiftCatalog>>();
  #props: Slot<Map<string, GiftEntry>> | undefined;
  #controller = new AbortController();

  /**
   * Creates an empty cache; nothing is fetched until {@linkcode GiftCatalogCache.get}.
   *
   * @param options Endpoints and limits as for {@linkcode fetchGiftCatalog}, and `ttl`,
   * `retryAfter`, `maxRooms`, `now`.
   * @throws {RangeError} An option is out of range.
   */
  constructor(options: GiftCatalogCacheOptions = {}) {
    this.#options = options;
    this.#ttl = nonNegative(options.ttl ?? 10 * 60_000, "ttl", NO_LIMIT);
    this.#retryAfter = nonNegative(options.retryAfter ?? 60_000, "retryAfter", NO_LIMIT);
    this.#maxRooms = Math.max(1, nonNegative(options.maxRooms ?? 100, "maxRooms", NO_LIMIT));
    this.#maxGifts = checkLimits(options);
    this.#now = options.now ?? Date.now;
  }

  /**
   * The room's catalogue: the cached one while it is fresh, else a new fetch
   * (shared with every other caller asking meanwhile).
   *
   * @param room The numeric room id.
   * @param options `signal`: aborting it stops this caller's wait (with the
   * signal's reason) but not the shared fetch, which others may be awaiting.
   * @returns The catalogue (possibly with `problems`).
   * @throws {GiftCatalogError} Both sources failed, and no earlier catalogue
   * of the room is at hand.
   * @throws {RangeError} `room` is not a room id.
   */
  get(room: number | string, options: { signal?: AbortSignal } = {}): Promise<GiftCatalog> {
    let roomId: number;
    try {
      roomId = toCatalogRoom(room);
    } catch (error) {
      return Promise.reject(error);
    }
    const slot = this.#fresh(this.#rooms.get(roomId), () => this.#loadRoom(roomId));
    // Most recently used last: the first key is the one to evict.
    this.#rooms.delete(roomId);
    this.#rooms.set(roomId, slot);
    for (const key of this.#rooms.keys()) {
      if (this.#rooms.size <= this.#maxRooms) break;
      this.#rooms.delete(key);
    }
    return options.signal === undefined ? slot.promise : abortable(slot.promise, options.signal);
  }

  /**
   * The room's catalogue if one has been fetched, without waiting or
   * fetching: for code that must decide at once, such as a filter running
   * on every message. It may be older than `ttl` (a refresh may be running).
   *
   * @param room The numeric room id.
   */
  peek(room: number | string): GiftCatalog | undefined {
    // The same reading of `room` as get's: "0x5" or " 5" is no room, not room 5.
    const id = toRoomId(room);
    return id === undefined ? undefined : this.#rooms.get(id)?.value;
  }

  /** How many rooms are cached (or being fetched). */
  get size(): number {
    return this.#rooms.size;
  }

  /**
   * Forgets every catalogue and abandons the fetches in flight: their callers
   * get a `GiftCatalogError` saying the cache was cleared.
   */
  clear(): void {
    this.#controller.abort(new GiftCatalogError("the gift catalogue cache was cleared"));
    this.#controller = new AbortController();
    this.#rooms.clear();
    this.#props = undefined;
  }

  /** `slot` if it is being fetched or still fresh, else a new fetch that remembers its value. */
  #fresh<T>(slot: Slot<T> | undefined, load: () => Promise<T>): Slot<T> {
    if (slot !== undefined && (slot.pending || this.#now() < slot.expires)) return slot;
    const signal = this.#controller.signal;
    const next: Slot<T> = { promise: load(), pending: true, value: slot?.value, expires: 0 };
    next.promise = next.promise.then(
      (value) => {
        next.pending = false;
        const incomplete = value instanceof GiftCatalog && value.problems.length > 0;
        next.expires = this.#now() + (incomplete ? this.#retryAfter : this.#ttl);
        // A catalogue that knows less does not replace a complete one; it is
        // tried again after retryAfter.
        const previous = next.value;
        if (incomplete && previous instanceof GiftCatalog && previous.problems.length === 0) {
          return previous;
        }
        next.value = value;
        return value;
      },
      (error: unknown) => {
        next.pending = false;
        next.expires = this.#now() + this.#retryAfter;
        // Cleared: nothing of this fetch counts.
        if (signal.aborted) throw signal.reason;
        // A stale value beats none: keep using it until the next try.
        if (next.value !== undefined) return next.value;
        throw error;
      },
    );
    // A failure nobody awaits (every caller gave up) must not be an unhandled rejection.
    next.promise.catch(() => {});
    return next;
  }

  async #loadRoom(roomId: number): Promise<GiftCatalog> {
    const options = { ...this.#options, signal: this.#controller.signal };
    const wantProps = options.props ?? true;
    const [list, props] = await Promise.allSettled([
      loadGiftList(roomId, options, this.#maxGifts),
      wantProps ? this.#loadProps(options) : undefined,
    ]);
    options.signal.throwIfAborted();
    return compose(
      roomId,
      list,
      wantProps ? props as PromiseSettledResult<Map<string, GiftEntry>> : undefined,
      this.#now(),
    );
  }

  #loadProps(options: GiftCatalogOptions): Promise<Map<string, GiftEntry>> {
    this.#props = this.#fresh(this.#props, () => loadProps(options, this.#maxGifts));
    return this.#props.promise;
  }
}
