/**
 * Many rooms in one process: a {@linkcode Hub} runs one session per room and
 * hands every message to one `for await` loop, tagged with its room, through
 * one bounded queue.
 *
 * @module
 */

import { positive } from "../base/checks.ts";
import { ClosedError } from "../base/errors.ts";
import { HubFullError } from "./errors.ts";
import type { Message } from "../protocol/messages.ts";
import { EventFeed } from "../base/feed.ts";
import { MessageQueue, type OverflowPolicy } from "../base/queue.ts";
import {
  type ConnectOptions,
  type MessageSink,
  routeSession,
  Session,
  type StatusEvent,
} from "../session/session.ts";
import { resolveRoomFor } from "../web/room.ts";
import { parseRoomInput } from "../web/room_input.ts";

/**
 * Douyu accepts about 200 barrage connections per client IP (docs/protocol.md, "Limits"),
 * so a hub holds at most this many rooms unless told otherwise.
 */
export const DEFAULT_MAX_ROOMS = 200;
const STATUS_BUFFER = 1024;

/**
 * Options of a {@linkcode Hub}. The connection options (`url`,
 * `heartbeatInterval`, `reconnect`, `types`, …) are the defaults of every
 * room; {@linkcode Hub.add} can override them per room.
 *
 * @example
 * ```ts
 * import type { HubOptions } from "@x/douyu";
 *
 * const options: HubOptions = { types: ["chatmsg", "dgb"], queueSize: 50_000, maxRooms: 50 };
 * console.log(options.maxRooms); // 50
 * ```
 */
export interface HubOptions extends RoomOptions {
  /** How many messages, of all rooms together, may wait for the consumer. Default 10 000. */
  queueSize?: number;
  /**
   * What happens when that queue is full. `"pause"` (default) stops reading
   * every room's socket until the consumer catches up (heartbeats go on);
   * `"drop-oldest"` drops the oldest messages, reported per room in
   * `status()` as `dropped` events.
   */
  overflow?: OverflowPolicy;
  /**
   * The most rooms at once. Default 200: Douyu allows about that many
   * connections per client IP; past it, spread rooms over several machines
   * (see docs/scale-out.md).
   */
  maxRooms?: number;
  /** Aborting it closes the hub, like `close()`, but lets the loop drain what is queued. */
  signal?: AbortSignal;
}

/**
 * The options a room may set for itself in {@linkcode Hub.add}: those of
 * `connect()` that concern one connection.
 *
 * @example
 * ```ts
 * import type { RoomOptions } from "@x/douyu";
 *
 * const quiet: RoomOptions = { types: ["chatmsg"], heartbeatInterval: 30_000 };
 * console.log(quiet.types); // [ "chatmsg" ]
 * ```
 */
export type RoomOptions = Omit<ConnectOptions, "signal" | "queueSize" | "overflow">;

/**
 * One message from a {@linkcode Hub}: the room it was subscribed for, and the
 * message. `room` is the room you added, not `message.rid`, which in gift
 * broadcasts names other rooms.
 *
 * @example
 * ```ts
 * import type { HubMessage } from "@x/douyu";
 *
 * const item: HubMessage = { room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "hi" } };
 * console.log(item.room, item.message.type); // 9999 "chatmsg"
 * ```
 */
export interface HubMessage<M extends Message = Message> {
  /** The numeric id of the room this message came from. */
  room: number;
  /** The message. */
  message: M;
}

/**
 * One room's status event, as {@linkcode Hub.status} reports it: what the
 * room's session reports (`connected`, `disconnected`, `reconnecting`,
 * `closed` when it failed for good or was removed, …), plus `dropped`
 * counts under `"drop-oldest"`.
 *
 * @example
 * ```ts
 * import type { HubStatusEvent } from "@x/douyu";
 *
 * const event: HubStatusEvent = { room: 9999, event: { type: "connected", url: "tcp://…" } };
 * console.log(event.event.type); // "connected"
 * ```
 */
export interface HubStatusEvent {
  /** The room. */
  room: number;
  /** What happened to it. */
  event: StatusEvent;
}

/** One added room: its session, and whether its messages still count. */
interface RoomEntry {
  readonly room: number;
  readonly session: Session;
  /** False once removed: its messages still queued are skipped. */
  active: boolean;
  /** Removed with `keepQueued`: what it read up to its close is still yielded. */
  keep: boolean;
  joined: boolean;
}

/** A queued message, tagged with the entry it came through. */
interface Tagged {
  entry: RoomEntry;
  message: Message;
}

/**
 * Watches many rooms in one process. Each room has its own session (login,
 * heartbeat, reconnect), and one failing never disturbs the others: its
 * failure is reported on {@linkcode Hub.status}. Every message goes through
 * one bounded queue to one `for await` loop, tagged with its room.
 *
 * `break` out of the loop, `close()`, `await using` or the `signal` close
 * every room, each with `logout`.
 *
 * @example Two rooms, one loop (the bundled mock server stands in for Douyu)
 * ```ts
 * import { Hub } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ messages: ["type@=chatmsg/nn@=Ann/txt@=hi/"] });
 * await using hub = new Hub({ url: server.url, types: ["chatmsg"] });
 * await hub.add(9999);
 * await hub.add(288016);
 * const seen = new Set<number>();
 * for await (const { room, message } of hub) {
 *   if (message.type === "chatmsg") seen.add(room);
 *   if (seen.size === 2) break; // closes every room
 * }
 * console.log([...seen].sort()); // [ 288016, 9999 ]
 * ```
 */
export class Hub<M extends Message = Message>
  implements AsyncIterable<HubMessage<M>>, AsyncDisposable {
  /** Resolves once the hub has closed and every room has logged out. */
  readonly closed: Promise<void>;

  readonly #defaults: RoomOptions;
  readonly #overflow: OverflowPolicy;
  readonly #maxRooms: number;
  readonly #queue: MessageQueue<Tagged>;
  readonly #entries = new Map<number, RoomEntry>();
  /** Adds in flight, by room id, so a second `add()` of the same room joins the first. */
  readonly #adding = new Map<number, Promise<number>>();
  readonly #status = new EventFeed<HubStatusEvent>(STATUS_BUFFER);
  readonly #dropped = new Map<number, { count: number; total: number }>();
  readonly #lifetime = new AbortController();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.#close(false);
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;
  #iterating = false;
  #dropFlushPending = false;

  /**
   * Creates an empty hub; add rooms with {@linkcode Hub.add}.
   *
   * @param options Defaults for every room, the shared queue, `maxRooms` and a `signal`.
   * @throws {RangeError} for an invalid `queueSize` or `maxRooms`.
   */
  constructor(options: HubOptions = {}) {
    const { queueSize = 10_000, overflow = "pause", maxRooms, signal, ...defaults } = options;
    this.#maxRooms = positive(maxRooms ?? DEFAULT_MAX_ROOMS, "maxRooms", { integer: true });
    this.#defaults = defaults;
    this.#overflow = overflow;
    this.#queue = new MessageQueue<Tagged>(queueSize, overflow, (item) => this.#countDrop(item));
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#signal = signal;
    if (signal?.aborted) void this.#close(false);
    else signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The rooms added and not removed (nor failed for good), in the order they were added. */
  get rooms(): number[] {
    return [...this.#entries.values()].filter((entry) => entry.joined).map((e) => e.room);
  }

  /** Messages waiting for the loop, of all rooms together. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Adds a room and resolves with its numeric id once it has logged in and
   * joined; rejects as `connect()` would (a `ConnectionError` naming every
   * endpoint tried), and the room is then not added. Adding a room that is
   * already there (or being added) resolves with the same room.
   *
   * @param room A room id, or a name or URL to resolve first.
   * @param options Connection options for this room, over the hub's defaults.
   * @returns The room id.
   * @throws {HubFullError} when `maxRooms` rooms are already there.
   * @throws {ClosedError} when the hub is closed.
   */
  async add(room: number | string, options: RoomOptions = {}): Promise<number> {
    if (this.#closing !== undefined) throw new ClosedError("hub closed");
    const parsed = parseRoomInput(room);
    const id = "id" in parsed ? parsed.id : await this.#resolve(room, options);
    const existing = this.#adding.get(id);
    if (existing !== undefined) return await existing;
    if (this.#entries.has(id)) return id;
    if (this.#entries.size >= this.#maxRooms) throw new HubFullError(this.#maxRooms);
    const adding = this.#start(id, options);
    this.#adding.set(id, adding);
    try {
      return await adding;
    } finally {
      // remove() may have let this one go, and a later add() started another.
      if (this.#adding.get(id) === adding) this.#adding.delete(id);
    }
  }

  /** A room name's id, looked up as `connect()` would, with the room's options over the hub's. */
  #resolve(room: number | string, options: RoomOptions): Promise<number> {
    const merged = { ...this.#defaults, ...options };
    return resolveRoomFor(room, merged.url, { ...merged, signal: this.#lifetime.signal });
  }

  async #start(room: number, options: RoomOptions): Promise<number> {
    const session = new Session(room, { ...this.#defaults, ...options, overflow: this.#overflow });
    const entry: RoomEntry = { room, session, active: true, keep: false, joined: false };
    const queue = this.#queue;
    const sink: MessageSink<Message> = {
      push: (message) => {
        if (entry.active) queue.push({ entry, message });
        // Drops are counted per room by the queue itself (a message dropped
        // to make room may be another room's).
        return 0;
      },
      get full() {
        return queue.full;
      },
      waitForSpace: (signal) => queue.waitForSpace(signal),
    };
    routeSession(session, sink, (event) => this.#onStatus(entry, event));
    this.#entries.set(room, entry);
    try {
      await session.start();
    } catch (error) {
      this.#forget(entry);
      throw error;
    }
    if (this.#closing !== undefined) {
      await session.close();
      throw new ClosedError("hub closed");
    }
    entry.joined = true;
    return room;
  }

  #onStatus(entry: RoomEntry, event: StatusEvent): void {
    this.#status.emit({ room: entry.room, event });
    if (event.type === "closed") {
      // A room whose session ended by itself (failed for good) is no longer watched, but what
      // it read is still handed out: only remove() and close() discard what was read.
      if (entry.active) entry.keep = true;
      this.#forget(entry);
    }
  }

  #forget(entry: RoomEntry): void {
    if (!entry.keep) entry.active = false;
    if (this.#entries.get(entry.room) === entry) this.#entries.delete(entry.room);
  }

  /**
   * Logs a room out and stops watching it: nothing more of it is yielded,
   * not even what was already queued, unless `keepQueued` is set: then what
   * the room had read until it closed is still yielded (nothing read is lost).
   * A no-op for a room not in the hub.
   *
   * @param room The room id (or a name or URL, resolved as for `add`).
   * @param options `keepQueued`: still yield what it read.
   */
  async remove(room: number | string, options: { keepQueued?: boolean } = {}): Promise<void> {
    const parsed = parseRoomInput(room);
    const id = "id" in parsed ? parsed.id : await this.#resolve(room, {});
    // A room being added is let go too: its add() rejects, and a later add() starts afresh
    // rather than wait for this one.
    this.#adding.delete(id);
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    entry.keep = options.keepQueued === true;
    this.#forget(entry);
    await entry.session.close();
  }

  /**
   * Status events of every room from now on, tagged with the room, until the
   * hub closes. A slow reader loses the oldest events beyond 1024.
   */
  status(): AsyncIterableIterator<HubStatusEvent> {
    return this.#status.subscribe();
  }

  /** Iterates every room's messages. Ending the loop early (`break`) closes the hub. */
  [Symbol.asyncIterator](): AsyncIterator<HubMessage<M>> {
    if (this.#iterating) throw new TypeError("a hub can be iterated by one loop at a time");
    this.#iterating = true;
    const next = async (): Promise<IteratorResult<HubMessage<M>>> => {
      for (;;) {
        const result = await this.#queue.next();
        if (result.done) return { value: undefined, done: true };
        const { entry, message } = result.value;
        // A removed room's messages still queued are skipped.
        if (entry.active) {
          return { value: { room: entry.room, message: message as M }, done: false };
        }
      }
    };
    return {
      next,
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Every room's messages in batches: what is queued when the loop asks, up
   * to `max` at a time (it waits for one when none is). For a consumer that
   * handles many messages per turn: one promise per batch, not per message.
   * Ending the loop early closes the hub; one loop at a time, as for the
   * hub's own iterator.
   *
   * @param max The most messages per batch. Default 256.
   */
  async *batches(max = 256): AsyncGenerator<HubMessage<M>[], void, undefined> {
    if (this.#iterating) throw new TypeError("a hub can be iterated by one loop at a time");
    this.#iterating = true;
    try {
      for (;;) {
        const items = await this.#queue.nextBatch(max);
        if (items === undefined) return;
        const batch: HubMessage<M>[] = [];
        for (const { entry, message } of items) {
          // A removed room's messages still queued are skipped.
          if (entry.active) batch.push({ room: entry.room, message: message as M });
        }
        if (batch.length > 0) yield batch;
      }
    } finally {
      await this.close();
    }
  }

  /**
   * Closes every room (each logs out) and ends the loop; messages still
   * queued are discarded. Idempotent.
   */
  close(): Promise<void> {
    return this.#close(true);
  }

  /** `await using` support: {@linkcode Hub.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #close(discard: boolean): Promise<void> {
    this.#closing ??= (async () => {
      this.#signal?.removeEventListener("abort", this.#onAbort);
      if (discard) this.#queue.clear();
      else this.#queue.end();
      this.#lifetime.abort(new ClosedError("hub closed"));
      const entries = [...this.#entries.values()];
      await Promise.all(entries.map((entry) => entry.session.close()));
      // Adds still connecting close their session themselves once started.
      await Promise.allSettled([...this.#adding.values()]);
      this.#status.end();
      this.#resolveClosed();
    })();
    return this.#closing;
  }

  /** Counts a message `"drop-oldest"` dropped, and reports the counts once per turn. */
  #countDrop(item: Tagged): void {
    const room = item.entry.room;
    const counts = this.#dropped.get(room) ?? { count: 0, total: 0 };
    counts.count++;
    counts.total++;
    this.#dropped.set(room, counts);
    if (this.#dropFlushPending) return;
    this.#dropFlushPending = true;
    queueMicrotask(() => {
      this.#dropFlushPending = false;
      for (const [room, counts] of this.#dropped) {
        if (counts.count > 0) {
          this.#status.emit({
            room,
            event: { type: "dropped", count: counts.count, total: counts.total },
          });
          counts.count = 0;
        }
        // A room no longer in the hub is forgotten: one added again counts from 0, and a
        // hub whose rooms come and go (a collector's) keeps no count of every room it had.
        if (!this.#entries.has(room)) this.#dropped.delete(room);
      }
    });
  }
}
