/**
 * Gifts priced as they arrive, including a room's first ones. A gift
 * message names only a gift id; its name and value come from the room's
 * gift catalogue, which takes a few hundred milliseconds to fetch. A
 * {@linkcode GiftPricer} asks for it as soon as a room is joined, and while
 * that first catalogue is on its way, holds the room's messages from its
 * first gift on (for a bounded time, in order) so that the first gifts are
 * priced too. Other rooms flow on meanwhile. Once a room's catalogue is in
 * hand, has failed, or the wait has run out, nothing of that room waits
 * again.
 *
 * @module
 */

import { Fifo } from "../base/fifo.ts";
import { setTimer } from "../base/timers.ts";
import { giftOf } from "../protocol/gifts.ts";
import type { GiftCatalogCache } from "../web/gifts.ts";
import type { TimedMessage } from "./timed.ts";

/** Message types valued by the catalogue (a super chat carries its own price). */
const CATALOGUE_TYPES: ReadonlySet<string> = new Set(["dgb", "gdp", "spbc"]);

/** How long a room's output waits for its first catalogue by default, ms. */
export const DEFAULT_CATALOG_WAIT = 1500;
/** The most messages held for one room; past it, the room stops waiting. */
const MAX_HELD = 10_000;
/** The default of `GiftPricerOptions.maxRooms`. */
const DEFAULT_MAX_ROOMS = 100_000;

/**
 * Options of a {@linkcode GiftPricer}.
 *
 * @example
 * ```ts
 * import { GiftCatalogCache } from "../web/gifts.ts";
 * import type { GiftPricerOptions } from "./pricing.ts";
 *
 * const options: GiftPricerOptions = { gifts: new GiftCatalogCache(), catalogWait: 1000 };
 * console.log(options.catalogWait);
 * ```
 */
export interface GiftPricerOptions {
  /** Where catalogues come from (and are kept, refreshed and retried). */
  gifts: GiftCatalogCache;
  /**
   * How long a room's output may wait for its first catalogue, ms, from the
   * first message held. Default {@linkcode DEFAULT_CATALOG_WAIT}; 0 never waits.
   */
  catalogWait?: number;
  /**
   * Told when a room's catalogue could not be fetched: once per failed
   * fetch (the cache tries again after its `retryAfter`).
   */
  onError?: (room: number, error: unknown) => void;
  /** Aborting it ends every wait: what is held comes out at once, priced as far as known. */
  signal?: AbortSignal;
  /**
   * The most rooms whose state is kept (about 150 bytes each): room ids come
   * from the wire, and a stream may carry any. Past it, the room known
   * longest is forgotten: it stops waiting, and is new again if it comes
   * back. Default 100 000.
   */
  maxRooms?: number;
}

/** One room's state: whether its first catalogue is awaited, and what it holds meanwhile. */
interface Room {
  /** Its first catalogue is on its way, and the wait has not run out. */
  waiting: boolean;
  held: TimedMessage[];
  cancelTimer: () => void;
  /** The failure last told to `onError`: the cache keeps one for a while, and it is told once. */
  failure: unknown;
}

/**
 * Prices the gifts of a stream of messages from many rooms: each gift and
 * super chat comes out with its `gift` details (name, count, value as the
 * catalogue priced it at that moment).
 *
 * - {@linkcode GiftPricer.join} asks for a room's catalogue at once; a
 *   room first seen in the stream is asked then.
 * - While a room's first catalogue is on its way, its first gift and every
 *   message of that room after it are held, in order, for at most
 *   `catalogWait` ms; then they come out priced, or with only what the
 *   message tells (`gift #id`) if the catalogue is still missing.
 * - Messages of other rooms are not held, and nothing waits once a room's
 *   catalogue is in hand, has failed, or its wait ran out.
 * - Later gifts ask the cache again, so that a stale catalogue is refreshed
 *   and a failed one retried, without waiting.
 *
 * The stream is read only as fast as the priced messages are taken.
 *
 * @example
 * ```ts
 * import { GiftCatalogCache } from "../web/gifts.ts";
 * import type { FetchLike } from "../web/http.ts";
 * import { parseMessage } from "../protocol/messages.ts";
 * import { GiftPricer } from "./pricing.ts";
 *
 * // A gift API that takes 300 ms to answer.
 * const fetch: FetchLike = async (url) => {
 *   await new Promise((resolve) => setTimeout(resolve, 300));
 *   return url.includes("/api/gift/")
 *     ? Response.json({ error: 0, data: { giftList: [{ id: 20004, name: "火箭", priceInfo: { price: 50000, priceType: "YUCHI" } }] } })
 *     : new Response('DYConfigCallback({"error":0,"data":{}});');
 * };
 * const gifts = new GiftCatalogCache({ fetch });
 * const pricer = new GiftPricer({ gifts });
 * pricer.join(9999);
 * const rocket = parseMessage("type@=dgb/gfid@=20004/gfcnt@=1/");
 * for await (const item of pricer.price([{ t: Date.now(), room: 9999, message: rocket }])) {
 *   console.log(item.gift?.name, item.gift?.value); // "火箭" 500
 * }
 * ```
 */
export class GiftPricer {
  readonly #gifts: GiftCatalogCache;
  readonly #wait: number;
  readonly #maxRooms: number;
  readonly #onError: ((room: number, error: unknown) => void) | undefined;
  readonly #signal: AbortSignal;
  readonly #lifetime = new AbortController();
  readonly #rooms = new Map<number, Room>();
  /** Messages released by rooms that stopped waiting, in order, to come out next. */
  readonly #released = new Fifo<TimedMessage>();
  /** Rooms holding messages now. */
  #holding = 0;
  /** Resolves when a room releases what it held; made when `price` first waits for it. */
  #wakeup: Promise<undefined> | undefined;
  #wake: (() => void) | undefined;

  /**
   * Creates a pricer; nothing is asked until a room is joined or seen.
   *
   * @param options The catalogue cache, `catalogWait`, `onError`, `signal`, `maxRooms`.
   * @throws {RangeError} `catalogWait` is not a number of ms from 0 to 60 000, or `maxRooms`
   * not a positive integer.
   */
  constructor(options: GiftPricerOptions) {
    const wait = options.catalogWait ?? DEFAULT_CATALOG_WAIT;
    if (!(wait >= 0 && wait <= 60_000)) {
      throw new RangeError(`catalogWait must be from 0 to 60000 ms, got ${wait}`);
    }
    const maxRooms = options.maxRooms ?? DEFAULT_MAX_ROOMS;
    if (!Number.isSafeInteger(maxRooms) || maxRooms < 1) {
      throw new RangeError(`maxRooms must be a positive integer, got ${maxRooms}`);
    }
    this.#gifts = options.gifts;
    this.#wait = wait;
    this.#maxRooms = maxRooms;
    this.#onError = options.onError;
    this.#signal = options.signal === undefined
      ? this.#lifetime.signal
      : AbortSignal.any([options.signal, this.#lifetime.signal]);
    this.#signal.addEventListener("abort", () => {
      for (const room of this.#rooms.keys()) this.#stopWaiting(room);
    }, { once: true });
  }

  /**
   * Asks for a room's catalogue now, as soon as the room is joined, so that
   * it is usually in before the room's first gift.
   *
   * @param room The numeric room id.
   */
  join(room: number): void {
    this.#room(room);
  }

  /**
   * Prices a stream: yields each message with its `gift` set (for gifts
   * and super chats), in the stream's order except that a room waiting for
   * its first catalogue comes out later, in its own order. Breaking out of
   * the loop ends the stream's iteration too.
   *
   * @param source Messages in arrival order, e.g. from a `Hub`.
   */
  async *price(
    source: AsyncIterable<TimedMessage> | Iterable<TimedMessage>,
  ): AsyncGenerator<TimedMessage, void, undefined> {
    const iterator = Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : toAsync(source[Symbol.iterator]());
    let pull: Promise<IteratorResult<TimedMessage>> | undefined;
    let ended = false;
    try {
      for (;;) {
        while (this.#released.size > 0) yield this.#priced(this.#released.shift()!);
        if (ended) {
          if (this.#holding === 0) return;
          await this.#whenReleased();
          continue;
        }
        pull ??= iterator.next();
        // Nothing held, nothing can be released: just read on.
        const next = this.#holding === 0
          ? await pull
          : await Promise.race([pull, this.#whenReleased()]);
        if (next === undefined) continue; // a room released what it held
        pull = undefined;
        if (next.done) {
          ended = true;
          continue;
        }
        const item = this.#take(next.value);
        if (item !== undefined) yield item;
      }
    } finally {
      this.#lifetime.abort();
      // A read still in flight ends when its source does; it is not awaited.
      if (pull === undefined) await iterator.return?.();
      else {
        pull.catch(() => {});
        iterator.return?.()?.catch(() => {});
      }
    }
  }

  /** The message priced now, or `undefined` when it is held. */
  #take(item: TimedMessage): TimedMessage | undefined {
    const room = this.#room(item.room);
    if (room.held.length > 0) {
      room.held.push(item);
      if (room.held.length >= MAX_HELD) this.#stopWaiting(item.room);
      return undefined;
    }
    if (room.waiting && CATALOGUE_TYPES.has(item.message.type)) {
      room.held.push(item);
      this.#holding++;
      room.cancelTimer = setTimer(this.#wait, () => this.#stopWaiting(item.room), this.#signal);
      return undefined;
    }
    return this.#priced(item);
  }

  /** The item with its gift, as the room's catalogue (if at hand) prices it. */
  #priced(item: TimedMessage): TimedMessage {
    const { message } = item;
    if (item.gift !== undefined) return item;
    const catalogued = CATALOGUE_TYPES.has(message.type);
    if (!catalogued && message.type !== "comm_chatmsg") return item;
    if (catalogued) this.#ask(item.room); // refreshes a stale catalogue, retries a failed one
    const gift = giftOf(message, catalogued ? this.#gifts.peek(item.room) : undefined);
    return gift === undefined ? item : { ...item, gift };
  }

  /** The room's state, asking for its catalogue the first time it is seen. */
  #room(id: number): Room {
    let room = this.#rooms.get(id);
    if (room === undefined) {
      const have = this.#gifts.peek(id) !== undefined;
      room = {
        waiting: !have && this.#wait > 0 && !this.#signal.aborted,
        held: [],
        cancelTimer: () => {},
        failure: undefined,
      };
      this.#rooms.set(id, room);
      if (this.#rooms.size > this.#maxRooms) this.#forget(this.#rooms.keys().next().value!);
      this.#ask(id);
    }
    return room;
  }

  #ask(id: number): void {
    if (this.#signal.aborted) return;
    this.#gifts.get(id, { signal: this.#signal }).then(
      () => this.#stopWaiting(id),
      (error) => {
        if (this.#signal.aborted) return;
        this.#stopWaiting(id);
        const room = this.#rooms.get(id);
        if (room === undefined || room.failure === error) return;
        room.failure = error;
        this.#onError?.(id, error);
      },
    );
  }

  /** The room waits no more: what it held is released, in order. */
  #stopWaiting(id: number): void {
    const room = this.#rooms.get(id);
    if (room === undefined) return;
    room.waiting = false;
    room.cancelTimer();
    if (room.held.length === 0) return;
    for (const item of room.held) this.#released.push(item);
    room.held = [];
    this.#holding--;
    this.#wake?.();
  }

  /** A room is forgotten: what it held is released first. */
  #forget(id: number): void {
    this.#stopWaiting(id);
    this.#rooms.delete(id);
  }

  /** How many rooms are known (at most `maxRooms`). */
  get rooms(): number {
    return this.#rooms.size;
  }

  /** Resolves (with `undefined`) when a room releases what it held: one promise till then. */
  #whenReleased(): Promise<undefined> {
    if (this.#released.size > 0) return Promise.resolve(undefined);
    this.#wakeup ??= new Promise((resolve) => {
      this.#wake = () => {
        this.#wakeup = undefined;
        this.#wake = undefined;
        resolve(undefined);
      };
    });
    return this.#wakeup;
  }
}

/** A sync iterator as an async one. */
function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(iterator.next()),
    return: () => Promise.resolve(iterator.return?.() ?? { done: true, value: undefined }),
  };
}
