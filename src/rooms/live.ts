/**
 * Go-live alerts without false alarms: {@linkcode watchLive} follows rooms'
 * live status through the barrage's `rss` messages and Douyu's room API, and
 * reports transitions only.
 *
 * @module
 */

import { ClosedError } from "../base/errors.ts";
import { type Backoff, backoffDelay, setRepeating, setTimer, sleep } from "../base/timers.ts";
import type { LiveStatusMessage } from "../protocol/message_types.ts";
import { MessageQueue } from "../base/queue.ts";
import { lookupOptionsFor, resolveRoomFor, type ResolveRoomOptions } from "../web/room.ts";
import { fetchRoomInfo, type RoomInfo } from "../web/room_info.ts";
import { parseRoomInput, type RoomInput } from "../web/room_input.ts";
import type { FetchLike } from "../web/http.ts";
import { Hub, type HubStatusEvent, type RoomOptions } from "./hub.ts";

/**
 * A room's broadcast state: `live`, `offline`, or `loop` (a recording
 * replayed in a loop, a rerun: never reported as live).
 *
 * @example
 * ```ts
 * import type { LiveState } from "@x/douyu";
 *
 * const states: LiveState[] = ["live", "offline", "loop"];
 * console.log(states.length); // 3
 * ```
 */
export type LiveState = "live" | "offline" | "loop";

/**
 * One transition reported by {@linkcode watchLive}.
 *
 * @example
 * ```ts
 * import type { LiveEvent } from "@x/douyu";
 *
 * const event: LiveEvent = { room: 9999, state: "live", at: Date.now() };
 * console.log(`${event.room} is ${event.state}`);
 * ```
 */
export interface LiveEvent {
  /** The room. */
  room: number;
  /** Its new state. */
  state: LiveState;
  /**
   * When the change was first seen, ms since the epoch. For `offline`, the
   * start of the confirmation window, not its end.
   */
  at: number;
  /** What the room API said last (title, owner, …), when it answered. */
  info?: RoomInfo;
}

/**
 * The last state reported per room, as {@linkcode LiveWatcher.state} exports
 * it (plain JSON: save it to a file) and `watchLive`'s `state` option takes it
 * back, so a restart does not announce again what was already announced.
 *
 * @example
 * ```ts
 * import type { LiveSnapshot } from "@x/douyu";
 *
 * const saved: LiveSnapshot = { "9999": { state: "live", at: 1700000000000 } };
 * console.log(JSON.stringify(saved));
 * ```
 */
export type LiveSnapshot = Record<string, { state: LiveState; at: number }>;

/**
 * Options of {@linkcode watchLive}: the barrage connection options (`url`,
 * `transport`, `reconnect`, …) and the room API's.
 *
 * @example
 * ```ts
 * import type { LiveOptions } from "@x/douyu";
 *
 * const options: LiveOptions = { offlineConfirmation: 120_000, resyncInterval: 300_000 };
 * console.log(options.offlineConfirmation);
 * ```
 */
export interface LiveOptions extends Omit<RoomOptions, "types" | "onBody"> {
  /**
   * Base URL of the `betard` room API. Default `https://www.douyu.com`; with
   * endpoints of your own (`url`), the room API and name lookups are asked
   * only at the bases given (none given: not at all).
   */
  apiBase?: string;
  /** Base URL of the open API, asked when `betard` fails; the same rule. Default `https://open.douyucdn.cn`. */
  openApiBase?: string;
  /** The `fetch` for the room API. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /**
   * Milliseconds an `offline` must hold before it is reported: Douyu sends
   * transitional snapshots while a stream switches, and a stream that is
   * back within the window was never really offline. Default 90 000.
   */
  offlineConfirmation?: number;
  /**
   * Milliseconds between periodic re-syncs through the room API, besides the
   * one after every (re)connect; 0 (the default) for none.
   */
  resyncInterval?: number;
  /**
   * Whether to ask the room API at all. `false` follows the barrage's `rss`
   * alone (for a mock server, say), and then misses changes made while
   * disconnected. Default true.
   */
  roomApi?: boolean;
  /** The state to start from (from {@linkcode LiveWatcher.state}): already known, not announced again. */
  state?: LiveSnapshot;
  /** Aborting it stops the watcher, like `close()`. */
  signal?: AbortSignal;
}

/** What is known of one room. */
interface Tracker {
  room: number;
  announced: { state: LiveState; at: number } | undefined;
  /** An offline seen but not yet confirmed: since when, and how to cancel it. */
  pendingOffline: { at: number; cancel: () => void } | undefined;
  info: RoomInfo | undefined;
  /** Bumped by every `rss`: a re-sync that started before one is stale. */
  rssSeen: number;
  /** Settles once the first room API answer (or failure) is in. */
  firstSync: Promise<void>;
  /** The events of this room waiting for that answer, in order. */
  emitting: Promise<void>;
  /**
   * Whether a join loop runs for this room: at most one may. Each failed
   * attempt ends its session with a `closed` event, and a second loop
   * started on each of them would multiply the attempts past any backoff.
   */
  joining: boolean;
}

/** Looking up and joining a room again: 1 s doubling to 30 s, jittered. */
const RETRY: Backoff = { initial: 1000, max: 30_000 };
/**
 * How long a transition seen before the room API first answered waits for
 * that answer, so it can carry the title and owner. The API's own timeout
 * (10 s by default) normally ends the wait first.
 */
const INFO_WAIT = 10_000;

/** `rss`: live when `ss` is 1 and `ivl` is not; `ivl` 1 is a loop, whatever `ss` says. */
function stateOfRss(msg: LiveStatusMessage): LiveState {
  if (msg.ivl === "1") return "loop";
  return msg.ss === "1" ? "live" : "offline";
}

/**
 * Follows rooms' live status and yields each transition once. Close it with
 * `break`, `close()` or the `signal`. Create it with {@linkcode watchLive}.
 *
 * - The barrage's `rss` message says live when `ss` is 1 and `ivl` is not 1;
 *   `ivl` 1 is a video loop (a rerun), reported as `loop`, never `live`.
 * - Rooms are never dropped: a name whose lookup fails is looked up again,
 *   and a room whose connection gives up is joined again, with backoff.
 * - `rss` comes only on change, so a change while disconnected would be
 *   missed: the room API (`betard`, then the open API) is asked after every
 *   connect and reconnect, and every `resyncInterval`. When only the open API
 *   answers, which cannot tell a loop from live, a room already known as a
 *   loop stays one, and is otherwise taken as live.
 * - `offline` is reported only once it has held for `offlineConfirmation`.
 * - The first state of a room is reported (from nothing to something),
 *   unless the `state` option already knew it.
 */
export class LiveWatcher implements AsyncIterable<LiveEvent>, AsyncDisposable {
  /** Resolves once the watcher has stopped and every connection is closed. */
  readonly closed: Promise<void>;

  readonly #options: LiveOptions;
  readonly #confirmation: number;
  readonly #hub: Hub;
  readonly #events = new MessageQueue<LiveEvent>(10_000, "drop-oldest");
  readonly #trackers = new Map<number, Tracker>();
  readonly #lifetime = new AbortController();
  readonly #tasks = new Set<Promise<void>>();
  readonly #onAbort = () => void this.close();
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;

  /** Use {@linkcode watchLive}. */
  constructor(rooms: Iterable<number | string>, options: LiveOptions = {}) {
    const {
      apiBase: _apiBase,
      mobileBase: _mobileBase,
      openApiBase: _openApiBase,
      fetch: _fetch,
      offlineConfirmation,
      resyncInterval,
      state: _state,
      signal: _signal,
      roomApi: _roomApi,
      ...connection
    } = options;
    this.#options = options;
    this.#confirmation = offlineConfirmation ?? 90_000;
    if (!(this.#confirmation >= 0)) {
      throw new RangeError(`offlineConfirmation must be >= 0, got ${offlineConfirmation}`);
    }
    // Parsed up front: input that is no room at all is the caller's mistake,
    // thrown here, not a failure to retry (nor to lose inside a task).
    const list = [...rooms].map((room) => ({ input: room, parsed: parseRoomInput(room) }));
    this.#hub = new Hub({ ...connection, types: ["rss"], maxRooms: Math.max(1, list.length) });
    const lifetime = this.#lifetime.signal;
    this.#track(this.#readMessages());
    this.#track(this.#followConnections());
    for (const { input, parsed } of list) this.#track(this.#watchRoom(input, parsed));
    if (resyncInterval !== undefined && resyncInterval > 0) {
      setRepeating(resyncInterval, () => {
        for (const tracker of this.#trackers.values()) void this.#resync(tracker);
      }, lifetime);
    }
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (options.signal?.aborted) void this.close();
    else options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /**
   * The last state reported per room, to save and pass back as the `state`
   * option after a restart.
   */
  state(): LiveSnapshot {
    const snapshot: LiveSnapshot = {};
    for (const tracker of this.#trackers.values()) {
      if (tracker.announced) snapshot[String(tracker.room)] = { ...tracker.announced };
    }
    return snapshot;
  }

  /**
   * The rooms' connection events (connected, disconnected, reconnecting, and
   * `closed` for each failed attempt to join): the watcher joins again on
   * its own, so they are for telling people, e.g. that a server cannot be
   * reached. Ends when the watcher closes.
   *
   * @example
   * ```ts ignore
   * for await (const { room, event } of watcher.status()) {
   *   if (event.type === "closed") console.error(`room ${room}: cannot connect, trying again`);
   * }
   * ```
   */
  status(): AsyncIterableIterator<HubStatusEvent> {
    return this.#hub.status();
  }

  /** Stops watching: closes every connection and timer; the loop ends. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#options.signal?.removeEventListener("abort", this.#onAbort);
      this.#lifetime.abort(new ClosedError("live watcher closed"));
      for (const tracker of this.#trackers.values()) tracker.pendingOffline?.cancel();
      this.#events.end();
      await this.#hub.close();
      await Promise.allSettled([...this.#tasks]);
      await Promise.allSettled([...this.#trackers.values()].map((tracker) => tracker.emitting));
      this.#resolveClosed();
    })();
    return this.#closing;
  }

  /** Keeps a background task until it settles, so `close()` can wait for it. */
  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task)).catch(() => {});
  }

  /** `await using` support: {@linkcode LiveWatcher.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The transitions, as they happen. Ending the loop early (`break`) closes the watcher. */
  [Symbol.asyncIterator](): AsyncIterator<LiveEvent> {
    return {
      next: () => this.#events.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Resolves a room, starts tracking it, asks the API, then joins its
   * barrage. A name whose lookup fails is looked up again (the API may be
   * down for a while), with the same backoff as joining.
   */
  async #watchRoom(input: number | string, parsed: RoomInput): Promise<void> {
    const lifetime = this.#lifetime.signal;
    let room = "id" in parsed ? parsed.id : undefined;
    for (let attempt = 1; room === undefined; attempt++) {
      try {
        room = await resolveRoomFor(input, this.#options.url, this.#lookupOptions());
      } catch {
        await sleep(backoffDelay(attempt, RETRY), lifetime);
      }
      if (lifetime.aborted) return;
    }
    if (this.#trackers.has(room)) return;
    const saved = this.#options.state?.[String(room)];
    const tracker: Tracker = {
      room,
      announced: saved ? { state: saved.state, at: saved.at } : undefined,
      pendingOffline: undefined,
      info: undefined,
      rssSeen: 0,
      firstSync: Promise.resolve(),
      emitting: Promise.resolve(),
      joining: false,
    };
    this.#trackers.set(room, tracker);
    // The barrage's "connected" event triggers a re-sync; until it connects,
    // the API alone tells the state.
    tracker.firstSync = this.#resync(tracker);
    await this.#join(tracker);
  }

  /**
   * Adds a room to the hub, trying again (1 s doubling to 30 s, jittered)
   * while it fails. The only place that retries: the `closed` event of each
   * failed attempt is left to this loop.
   */
  async #join(tracker: Tracker): Promise<void> {
    if (tracker.joining) return;
    tracker.joining = true;
    const lifetime = this.#lifetime.signal;
    try {
      for (let attempt = 1; !lifetime.aborted; attempt++) {
        try {
          await this.#hub.add(tracker.room);
          return;
        } catch {
          await sleep(backoffDelay(attempt, RETRY), lifetime);
        }
      }
    } finally {
      tracker.joining = false;
    }
  }

  async #readMessages(): Promise<void> {
    for await (const { room, message } of this.#hub) {
      const tracker = this.#trackers.get(room);
      if (tracker === undefined || message.type !== "rss") continue;
      tracker.rssSeen++;
      this.#observe(tracker, stateOfRss(message as LiveStatusMessage), Date.now());
    }
  }

  /** Re-syncs a room whenever its barrage connects or reconnects: `rss` missed meanwhile is lost. */
  async #followConnections(): Promise<void> {
    for await (const { room, event } of this.#hub.status()) {
      const tracker = this.#trackers.get(room);
      if (tracker === undefined) continue;
      if (event.type === "connected") void this.#resync(tracker);
      // A room whose session gave up (`reconnect: false`, `maxAttempts`) is
      // joined again: a watcher watches for as long as it runs. Not while a
      // join loop runs (its failed attempts end in `closed` too: it retries
      // them itself), nor when the room is in the hub (the `closed` of an
      // earlier attempt, read after a later one joined).
      if (
        event.type === "closed" && !this.#lifetime.signal.aborted && !tracker.joining &&
        !this.#hub.rooms.includes(room)
      ) {
        this.#track(this.#join(tracker));
      }
    }
  }

  async #resync(tracker: Tracker): Promise<void> {
    if (this.#options.roomApi === false) return;
    const rssBefore = tracker.rssSeen;
    const at = Date.now();
    let info: RoomInfo;
    try {
      info = await fetchRoomInfo(tracker.room, this.#lookupOptions());
    } catch {
      return; // the API is down: the barrage still reports changes
    }
    if (this.#lifetime.signal.aborted) return;
    tracker.info = info;
    // An rss that arrived meanwhile is newer than this answer.
    if (tracker.rssSeen !== rssBefore || info.live === undefined) return;
    let state: LiveState = !info.live ? "offline" : info.videoLoop ? "loop" : "live";
    if (state === "live" && info.videoLoop === undefined && tracker.announced?.state === "loop") {
      state = "loop"; // the open API cannot tell; keep what is known
    }
    this.#observe(tracker, state, at);
  }

  /** Where the room API and name lookups are asked: with `url`, only at the bases given. */
  #lookupOptions(): ResolveRoomOptions {
    return lookupOptionsFor(this.#options.url, { ...this.#options, signal: this.#lifetime.signal });
  }

  #observe(tracker: Tracker, state: LiveState, at: number): void {
    if (this.#lifetime.signal.aborted) return;
    if (state !== "offline") {
      tracker.pendingOffline?.cancel();
      tracker.pendingOffline = undefined;
      if (tracker.announced?.state !== state) this.#announce(tracker, state, at);
      return;
    }
    if (tracker.announced === undefined) {
      this.#announce(tracker, "offline", at); // nothing to confirm against
      return;
    }
    if (tracker.announced.state === "offline" || tracker.pendingOffline !== undefined) return;
    const pending = {
      at,
      cancel: setTimer(this.#confirmation, () => {
        tracker.pendingOffline = undefined;
        this.#announce(tracker, "offline", pending.at);
      }, this.#lifetime.signal),
    };
    tracker.pendingOffline = pending;
  }

  #announce(tracker: Tracker, state: LiveState, at: number): void {
    tracker.announced = { state, at };
    const event: LiveEvent = { room: tracker.room, state, at };
    // An `rss` can beat the room API's first answer: the event waits for it
    // (briefly) so that it carries the title and owner.
    tracker.emitting = tracker.emitting.then(async () => {
      if (tracker.info === undefined && this.#options.roomApi !== false) {
        const wait = new AbortController();
        const stop = () => wait.abort();
        this.#lifetime.signal.addEventListener("abort", stop, { once: true });
        await Promise.race([tracker.firstSync, sleep(INFO_WAIT, wait.signal)]);
        wait.abort();
        this.#lifetime.signal.removeEventListener("abort", stop);
      }
      if (tracker.info) event.info = tracker.info;
      this.#events.push(event);
    });
  }
}

/**
 * Follows rooms' live status and yields each transition once: `live`,
 * `offline` (only after it held for `offlineConfirmation`, 90 s by default)
 * or `loop` (a rerun, never reported as live). See {@linkcode LiveWatcher}
 * for how `rss` messages and the room API are combined.
 *
 * @param rooms Room ids, names or URLs.
 * @param options Connection, API and timing options, and a `state` to start from.
 * @returns The watcher: iterate it with `for await`.
 * @throws {RoomResolveError} for a room that is no room id, name or Douyu URL
 * at all (empty, `0`, a URL of another site, …), before anything starts; a
 * name that cannot be looked up yet is looked up again instead.
 * @throws {RangeError} for a negative `offlineConfirmation`.
 *
 * @example A go-live alert (a mock server and a stand-in API, so this runs offline)
 * ```ts
 * import { watchLive } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ messages: ["type@=rss/rid@=9999/ss@=1/ivl@=0/"] });
 * const fetch = () => Promise.resolve(Response.json({ room: { room_id: 9999, show_status: 2 } }));
 * await using watcher = watchLive([9999], { url: server.url, fetch });
 * for await (const event of watcher) {
 *   if (event.state === "live") {
 *     console.log(`room ${event.room} went live`);
 *     break;
 *   }
 * }
 * ```
 */
export function watchLive(
  rooms: Iterable<number | string>,
  options: LiveOptions = {},
): LiveWatcher {
  return new LiveWatcher(rooms, options);
}
