/**
 * A collector: one process (or one IP) of a scaled-out deployment. It claims
 * rooms from the desired set with leases, watches them with a
 * {@linkcode Hub}, publishes every message into the `DOUYU` stream and
 * heartbeats its state, as docs/protocol.md ("Limits") and docs/scale-out.md
 * describe.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { setRepeating, setTimer, sleep } from "../base/timers.ts";
import { formatJson } from "../output/format.ts";
import { BOOKKEEPING_TYPES, type Message } from "../protocol/messages.ts";
import { DEFAULT_MAX_ROOMS, Hub, type RoomOptions } from "../rooms/hub.ts";
import { EventFeed } from "../base/feed.ts";
import {
  type Cluster,
  COLLECTORS_BUCKET,
  type Lease,
  LEASES_BUCKET,
  MAX_MESSAGE_BYTES,
  messageHeaders,
  ROOMS_BUCKET,
  type RoomSettings,
  subjectOf,
} from "./cluster.ts";
import {
  type PublisherCounters,
  type PublisherOptions,
  statusOf,
  StreamPublisher,
} from "./publisher.ts";
import {
  type CollectorHealth,
  isWrongSequence,
  listKeys,
  parseLease,
  parseRoomSettings,
  readJson,
  roomKey,
  roomOfKey,
} from "./records.ts";

/** A chat id fit for a `Nats-Msg-Id`: what Douyu sends is 32 hex digits. */
const CHAT_ID = /^[0-9A-Za-z-]{1,64}$/;
const STATUS_BUFFER = 1024;
const RENEW_CONCURRENCY = 32;
/**
 * How long a stopping collector waits for NATS to take its goodbyes (heartbeat
 * deleted, leases released): with NATS away, the leases expire by themselves.
 */
const GOODBYE_MS = 2000;

/**
 * Options of a {@linkcode Collector}: its name, its limits, and the options
 * of the rooms it watches (endpoints, heartbeat, types…), as for a
 * {@linkcode Hub}.
 *
 * @example
 * ```ts
 * import type { CollectorOptions } from "@x/douyu/nats";
 *
 * const options: CollectorOptions = { name: "a", maxRooms: 200, types: ["chatmsg", "dgb"] };
 * console.log(options.name); // "a"
 * ```
 */
export interface CollectorOptions extends RoomOptions {
  /** The collector's name, unique in the cluster: leases and heartbeats carry it. */
  name: string;
  /** The most rooms it watches at once. Default 200 (Douyu's limit per IP). */
  maxRooms?: number;
  /** Messages of all rooms that may wait between the rooms and the publisher. Default 10 000. */
  queueSize?: number;
  /** Bounds of the publisher: outstanding acks and buffered messages. */
  publisher?: PublisherOptions;
  /** Up to this many ms of random delay before claiming rooms, so collectors interleave. Default 500. */
  claimJitter?: number;
  /**
   * Milliseconds to wait after starting before the first claim, so that
   * collectors started together see each other and share the rooms evenly.
   * Default: the heartbeat interval (a quarter of the lease TTL), at most 3000.
   */
  startDelay?: number;
  /**
   * Milliseconds a released room stays watched, so that the collector taking
   * it over is connected before this one leaves (the handover window: chat
   * sent in it is published twice and collapses by `Nats-Msg-Id`). Default 1000.
   */
  handover?: number;
  /** Milliseconds a room that failed to connect is left to other collectors. Default 2 × lease TTL. */
  cooldown?: number;
  /** Milliseconds `close()` waits for the last acks. Default 10 000. */
  flushTimeout?: number;
  /** Aborting it stops the collector gracefully, like `close()`. */
  signal?: AbortSignal;
}

/**
 * What a {@linkcode Collector} reports on {@linkcode Collector.events}.
 *
 * @example
 * ```ts
 * import type { CollectorEvent } from "@x/douyu/nats";
 *
 * const event: CollectorEvent = { type: "lost", room: 9999 };
 * console.log(event.type); // "lost"
 * ```
 */
export type CollectorEvent =
  /** It leased a room and is connecting to it. */
  | { type: "claimed"; room: number }
  /** The room joined: its messages flow. */
  | { type: "watching"; room: number }
  /** It gave a room up: no longer desired, rebalanced to others, stopping, or failing. */
  | { type: "released"; room: number; reason: "removed" | "rebalanced" | "stopping" | "failed" }
  /** Its lease was taken (a renewal's compare-and-set failed): the room stopped at once. */
  | { type: "lost"; room: number }
  /** It could not renew the lease before it would expire (NATS unreachable): the room stopped. */
  | { type: "fenced"; room: number }
  /** A room could not be watched (connection failed for good). */
  | { type: "room-error"; room: number; error: unknown }
  /** The NATS connection went down or came back. */
  | { type: "nats"; state: "disconnected" | "reconnected" }
  /** Something else failed (a scan, a heartbeat); the collector carries on. */
  | { type: "error"; error: unknown };

/**
 * A collector's counters, also in its heartbeat.
 *
 * @example
 * ```ts
 * import type { CollectorCounters } from "@x/douyu/nats";
 *
 * const counters: Partial<CollectorCounters> = { received: 5, published: 5 };
 * console.log(counters.received); // 5
 * ```
 */
export interface CollectorCounters extends PublisherCounters {
  /** Messages taken from the rooms (session messages excepted). */
  received: number;
  /** Messages larger than the stream's limit, not published. */
  oversized: number;
  /** Leases claimed. */
  claimed: number;
  /** Leases released. */
  released: number;
  /** Leases lost to a failed compare-and-set. */
  lost: number;
  /** Rooms stopped because their lease could not be renewed in time. */
  fenced: number;
}

/** A room this collector holds. */
interface Owned {
  readonly room: number;
  revision: number;
  /** Until when the lease is surely still ours (ms, this clock): past it, stop the room. */
  validUntil: number;
  readonly since: number;
  state: "joining" | "watching" | "releasing";
  settings: RoomSettings;
  lastMessageAt: number | undefined;
  messages: number;
  /** The renewal in flight, if any. */
  renewal: Promise<void> | undefined;
}

/**
 * Collects rooms of the cluster. `start()` registers it (a heartbeat in
 * `douyu_collectors`), then it claims rooms of `douyu_rooms` that have no
 * lease, up to a fair share (the desired rooms divided by the live
 * collectors, at most `maxRooms`), watches them and publishes their
 * messages, until `close()`.
 *
 * - Leases: claimed with create-if-absent, renewed every TTL/4 with
 *   compare-and-set on the revision. A failed compare-and-set stops the room
 *   at once. A lease it cannot renew (NATS unreachable) stops the room just
 *   before the lease would expire, so no other collector watches it at the
 *   same time (fencing).
 * - Spread: a collector holding more than its fair share releases the excess
 *   (a newcomer gets rooms); rooms nobody claimed for two scans are taken by
 *   anyone with room to spare.
 * - Messages: the pump takes them from the hub and hands them to a
 *   {@linkcode StreamPublisher}; when its buffer is full, the pump waits,
 *   the hub's queue fills and its `"pause"` stops reading the rooms'
 *   sockets. Memory stays bounded however long NATS is away.
 * - `close()` deletes its heartbeat, releases every lease at once, keeps
 *   the rooms for the handover window, then closes them and waits for the
 *   last acks.
 *
 * @example
 * ```ts ignore
 * import { Cluster, Collector } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await using collector = new Collector(cluster, { name: "a", maxRooms: 200 });
 * await collector.start();
 * for await (const event of collector.events()) console.log(event);
 * ```
 */
export class Collector implements AsyncDisposable {
  /** The collector's name. */
  readonly name: string;
  /** This process's random id (a restarted collector is a new instance). */
  readonly instance: string = crypto.randomUUID();
  /** Resolves once the collector has stopped. */
  readonly closed: Promise<void>;

  readonly #cluster: Cluster;
  readonly #maxRooms: number;
  readonly #roomOptions: RoomOptions;
  readonly #claimJitter: number;
  readonly #startDelay: number;
  readonly #handover: number;
  readonly #cooldown: number;
  readonly #flushTimeout: number;
  readonly #renewInterval: number;
  readonly #fenceMargin: number;
  readonly #hub: Hub;
  readonly #hubStop = new AbortController();
  readonly #publisher: StreamPublisher;
  readonly #owned = new Map<number, Owned>();
  readonly #cooling = new Map<number, number>();
  /** Since when each free room has been seen free, to take rooms nobody else takes. */
  #freeSince = new Map<number, number>();
  readonly #events = new EventFeed<CollectorEvent>(STATUS_BUFFER);
  /** Stops claiming, renewing, heartbeating, watching. */
  readonly #lifetime = new AbortController();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();
  readonly #counters = {
    received: 0,
    oversized: 0,
    claimed: 0,
    released: 0,
    lost: 0,
    fenced: 0,
  };
  readonly #startedAt = Date.now();
  readonly #encoder = new TextEncoder();
  #started = false;
  /** Its heartbeat is stored: only then is the entry under its name its own to delete. */
  #registered = false;
  #stopping = false;
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #scanTimer: (() => void) | undefined;
  #pump: Promise<void> = Promise.resolve();
  /** Long-lived loops (watchers), awaited by `close()`. */
  #tasks: Promise<unknown>[] = [];
  /** Short tasks in flight (renewals). */
  readonly #running = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;

  /**
   * Creates a collector; {@linkcode Collector.start} starts it.
   *
   * @param cluster The cluster (its lease TTL sets the timing).
   * @param options The name, limits and room options.
   * @throws {RangeError} for an invalid name or limit.
   */
  constructor(cluster: Cluster, options: CollectorOptions) {
    const {
      name,
      maxRooms = DEFAULT_MAX_ROOMS,
      queueSize = 10_000,
      publisher = {},
      claimJitter = 500,
      startDelay,
      handover = 1000,
      cooldown,
      flushTimeout = 10_000,
      signal,
      ...roomOptions
    } = options;
    if (!isSafeName(name)) {
      throw new RangeError(
        `collector name must be 1 to 64 letters, digits, _ or -, got ${JSON.stringify(name)}`,
      );
    }
    for (const [label, value] of Object.entries({ maxRooms, queueSize })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${label} must be a positive integer, got ${value}`);
      }
    }
    this.name = name;
    this.#cluster = cluster;
    this.#maxRooms = maxRooms;
    this.#roomOptions = roomOptions;
    this.#renewInterval = Math.max(250, Math.floor(cluster.leaseTtl / 4));
    this.#fenceMargin = Math.min(1000, Math.floor(cluster.leaseTtl / 10));
    this.#claimJitter = Math.max(0, claimJitter);
    this.#startDelay = Math.max(0, startDelay ?? Math.min(3000, this.#renewInterval));
    this.#handover = Math.max(0, handover);
    this.#cooldown = cooldown ?? 2 * cluster.leaseTtl;
    this.#flushTimeout = flushTimeout;
    this.#hub = new Hub({
      ...roomOptions,
      maxRooms,
      queueSize,
      overflow: "pause",
      signal: this.#hubStop.signal,
    });
    this.#publisher = new StreamPublisher(cluster.connection, publisher);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#signal = signal;
  }

  /** The rooms it holds now (watching, joining or in their handover), sorted. */
  get rooms(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  /** A snapshot of the counters. */
  get counters(): CollectorCounters {
    return { ...this.#publisher.counters, ...this.#counters };
  }

  /**
   * Events from now on (claims, releases, lost leases, NATS going down…),
   * until the collector stops. A slow reader loses the oldest beyond 1024.
   */
  events(): AsyncIterableIterator<CollectorEvent> {
    return this.#events.subscribe();
  }

  /**
   * Registers the collector and starts claiming rooms. Resolves once its
   * first heartbeat is stored.
   *
   * @throws {ClusterError} when another live collector has the same name, or NATS fails.
   */
  async start(): Promise<void> {
    if (this.#started) throw new ClusterError("collector already started");
    this.#started = true;
    if (this.#signal?.aborted) {
      await this.close();
      return;
    }
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    try {
      await this.#checkName();
      await this.#heartbeat();
      this.#registered = true;
    } catch (error) {
      await this.close();
      if (error instanceof ClusterError) throw error;
      throw new ClusterError(`cannot register collector ${this.name}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const signal = this.#lifetime.signal;
    this.#pump = this.#runPump();
    this.#track(this.#watchConnection());
    this.#track(this.#watchBucket(this.#cluster.leases, true));
    this.#track(this.#watchBucket(this.#cluster.rooms, false));
    this.#track(this.#watchHubStatus());
    setRepeating(this.#renewInterval, () => this.#renewAll(), signal);
    setRepeating(
      this.#renewInterval,
      () => void this.#heartbeat().catch(this.#failed("heartbeat")),
      signal,
    );
    setRepeating(Math.max(100, Math.floor(this.#renewInterval / 4)), () => this.#fence(), signal);
    setTimer(this.#startDelay, () => {
      this.#requestScan(0);
      // Rooms whose leases expired produce no event: look regularly.
      setRepeating(Math.max(200, Math.floor(this.#renewInterval / 2)), () => {
        this.#requestScan(0);
      }, signal);
    }, signal);
  }

  /**
   * Stops gracefully: deletes its heartbeat, releases every lease at once,
   * keeps the rooms for the handover window, closes them and waits (up to
   * `flushTimeout`) for the stream to acknowledge what they sent. The
   * cluster's connection stays open. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** `await using` support: {@linkcode Collector.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#scanTimer?.();
    await this.#scanning?.catch(() => {});
    if (this.#registered) {
      // Gone from the live set first, so the others' fair share grows before the leases free up.
      await bounded(this.#cluster.collectors.delete(this.name), GOODBYE_MS);
      const owned = [...this.#owned.values()].filter((entry) => entry.state !== "releasing");
      await Promise.all(owned.map((entry) => this.#giveUp(entry, "stopping", "keep")));
      if (owned.length > 0 && this.#handover > 0) {
        await sleep(this.#handover, new AbortController().signal);
      }
    }
    this.#lifetime.abort();
    // The loop drains what the hub queued, then ends, and the publisher gets its last acks;
    // with NATS away, the loop may wait for room in the publisher: `flushTimeout` bounds both.
    this.#hubStop.abort();
    const limit = new AbortController();
    const started = Date.now();
    await Promise.race([
      this.#pump.then(() =>
        this.#publisher.flush(Math.max(0, this.#flushTimeout - (Date.now() - started)))
      ),
      sleep(this.#flushTimeout, limit.signal),
    ]);
    limit.abort();
    this.#publisher.close(); // a loop still waiting for room gives up
    await this.#pump;
    await this.#hub.closed;
    await Promise.allSettled([...this.#tasks, ...this.#running]);
    this.#owned.clear();
    this.#events.end();
    this.#resolveClosed();
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.push(task.catch(this.#failed("watch")));
  }

  /** Reports a failure of `what` as an `error` event (while running). */
  #failed(what: string): (error: unknown) => void {
    return (error) => {
      if (this.#lifetime.signal.aborted) return;
      this.#events.emit({
        type: "error",
        error: new ClusterError(`${what} failed: ${errorText(error)}`, { cause: error }),
      });
    };
  }

  /** Refuses to start next to a live collector of the same name. */
  async #checkName(): Promise<void> {
    const entry = await this.#cluster.collectors.get(this.name);
    if (entry === null || entry.operation !== "PUT") return;
    const health = readJson(entry.value);
    const instance = health !== undefined && typeof health.instance === "string"
      ? health.instance
      : undefined;
    if (instance === this.instance) return;
    // A collector that just died still has its heartbeat for a while: wait for it to expire.
    await sleep(this.#cluster.healthTtl, this.#lifetime.signal);
    const again = await this.#cluster.collectors.get(this.name);
    if (again !== null && again.operation === "PUT" && again.revision !== entry.revision) {
      throw new ClusterError(`a collector named ${this.name} is already running`);
    }
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopping) return;
    const now = Date.now();
    const health: CollectorHealth = {
      name: this.name,
      instance: this.instance,
      startedAt: this.#startedAt,
      updatedAt: now,
      maxRooms: this.#maxRooms,
      rooms: [...this.#owned.values()].map((entry) => ({
        room: entry.room,
        since: entry.since,
        state: entry.state,
        messages: entry.messages,
        ...(entry.lastMessageAt !== undefined ? { lastMessageAt: entry.lastMessageAt } : {}),
      })),
      counters: { ...this.counters },
    };
    await this.#cluster.collectors.put(this.name, JSON.stringify(health));
  }

  // -------------------------------------------------------------------------
  // Claiming and spreading

  #requestScan(delay: number): void {
    if (this.#stopping || this.#lifetime.signal.aborted) return;
    if (this.#scanning !== undefined) {
      this.#rescan = true;
      return;
    }
    if (this.#scanTimer !== undefined) return;
    this.#scanTimer = setTimer(delay, () => {
      this.#scanTimer = undefined;
      this.#scanning = this.#scan().catch(this.#failed("scan for free rooms")).finally(() => {
        this.#scanning = undefined;
        if (this.#rescan) {
          this.#rescan = false;
          this.#requestScan(50);
        }
      });
    }, this.#lifetime.signal);
  }

  async #scan(): Promise<void> {
    const cluster = this.#cluster;
    const [desired, leased, live] = await Promise.all([
      this.#desiredRooms(),
      listKeys(cluster.js, cluster.jsm, LEASES_BUCKET),
      listKeys(cluster.js, cluster.jsm, COLLECTORS_BUCKET),
    ]);
    if (this.#stopping) return;
    live.add(this.name);
    // Rooms no longer desired: stop them, no handover.
    for (const entry of this.#owned.values()) {
      if (entry.state !== "releasing" && !desired.has(entry.room)) {
        void this.#giveUp(entry, "removed", "stop");
      }
    }
    const now = Date.now();
    for (const [room, until] of this.#cooling) if (until <= now) this.#cooling.delete(room);
    const held = [...this.#owned.values()].filter((entry) => entry.state !== "releasing");
    const share = Math.min(this.#maxRooms, Math.ceil(desired.size / live.size));
    if (held.length > share) {
      // A newcomer (or a smaller desired set): hand the excess over, newest first.
      const excess = held.sort((a, b) => b.since - a.since).slice(0, held.length - share);
      for (const entry of excess) void this.#giveUp(entry, "rebalanced", "handover");
      return;
    }
    const free = [...desired].filter((room) =>
      !leased.has(roomKey(room)) && !this.#owned.has(room) && !this.#cooling.has(room)
    );
    const freeSince = new Map<number, number>();
    for (const room of free) freeSince.set(room, this.#freeSince.get(room) ?? now);
    this.#freeSince = freeSince;
    // Room in the hub: rooms in their handover still hold a connection.
    const capacity = this.#maxRooms - this.#owned.size;
    let want = Math.min(share - held.length, capacity);
    if (want <= 0) {
      // Rooms nobody took for a renewal interval (the others are full, or at their share).
      const stale = free.filter((room) => now - freeSince.get(room)! >= this.#renewInterval);
      want = Math.min(capacity, stale.length);
    }
    if (want <= 0 || free.length === 0) return;
    if (this.#claimJitter > 0) {
      await sleep(Math.random() * this.#claimJitter, this.#lifetime.signal);
    }
    shuffle(free);
    let claimed = 0;
    for (const room of free) {
      if (claimed >= want || this.#stopping) break;
      if (await this.#claim(room)) claimed++;
    }
  }

  async #desiredRooms(): Promise<Set<number>> {
    const rooms = new Set<number>();
    const cluster = this.#cluster;
    for (const key of await listKeys(cluster.js, cluster.jsm, ROOMS_BUCKET)) {
      const room = roomOfKey(key);
      if (room !== undefined) rooms.add(room);
    }
    return rooms;
  }

  /** A room's settings, read when it is claimed; none when unreadable. */
  async #settingsOf(room: number): Promise<RoomSettings> {
    const entry = await this.#cluster.rooms.get(roomKey(room)).catch(() => null);
    return entry !== null && entry.operation === "PUT" ? parseRoomSettings(entry.value) : {};
  }

  async #claim(room: number): Promise<boolean> {
    const lease: Lease = { collector: this.name, instance: this.instance, since: Date.now() };
    const sentAt = Date.now();
    let revision: number;
    try {
      revision = await this.#cluster.leases.create(roomKey(room), JSON.stringify(lease));
    } catch (error) {
      if (!isWrongSequence(error)) this.#failed(`claim of room ${room}`)(error);
      return false;
    }
    const settings = await this.#settingsOf(room);
    if (this.#stopping) {
      await this.#cluster.leases.delete(roomKey(room), { previousSeq: revision }).catch(() => {});
      return false;
    }
    const entry: Owned = {
      room,
      revision,
      validUntil: sentAt + this.#cluster.leaseTtl - this.#fenceMargin,
      since: lease.since,
      state: "joining",
      settings,
      lastMessageAt: undefined,
      messages: 0,
      renewal: undefined,
    };
    this.#owned.set(room, entry);
    this.#counters.claimed++;
    this.#events.emit({ type: "claimed", room });
    const options: RoomOptions = settings.types !== undefined ? { types: settings.types } : {};
    this.#hub.add(room, options).then(
      () => {
        if (this.#owned.get(room) !== entry || entry.state !== "joining") return;
        entry.state = "watching";
        this.#events.emit({ type: "watching", room });
      },
      (error) => {
        if (this.#owned.get(room) !== entry || entry.state === "releasing") return;
        this.#events.emit({ type: "room-error", room, error });
        this.#cooling.set(room, Date.now() + this.#cooldown);
        void this.#giveUp(entry, "failed", "stop");
      },
    );
    return true;
  }

  /**
   * Releases a lease (a conditional delete), then stops the room: at once
   * (`"stop"`), after the handover window (`"handover"`), or not at all
   * (`"keep"`: the caller closes every room).
   */
  async #giveUp(
    entry: Owned,
    reason: "removed" | "rebalanced" | "stopping" | "failed",
    then: "stop" | "handover" | "keep",
  ): Promise<void> {
    if (entry.state === "releasing") return;
    entry.state = "releasing";
    await entry.renewal;
    await bounded(
      this.#cluster.leases.delete(roomKey(entry.room), { previousSeq: entry.revision }),
      GOODBYE_MS,
    );
    this.#counters.released++;
    this.#events.emit({ type: "released", room: entry.room, reason });
    if (then === "keep") return;
    if (then === "handover" && this.#handover > 0) {
      await sleep(this.#handover, this.#lifetime.signal);
    }
    await this.#stopRoom(entry);
  }

  /** Stops watching a room at once and forgets it. */
  async #stopRoom(entry: Owned): Promise<void> {
    if (this.#owned.get(entry.room) === entry) this.#owned.delete(entry.room);
    await this.#hub.remove(entry.room).catch(() => {});
  }

  #lose(entry: Owned, type: "lost" | "fenced"): void {
    if (this.#owned.get(entry.room) !== entry) return;
    this.#counters[type]++;
    this.#events.emit({ type, room: entry.room });
    entry.state = "releasing";
    void this.#stopRoom(entry);
  }

  // -------------------------------------------------------------------------
  // Renewing and fencing

  /**
   * Renews every lease, a bounded number at once. `force` (after a
   * reconnect) also renews leases whose renewal is still in flight: one sent
   * while NATS was away would only time out.
   */
  #renewAll(force = false): void {
    if (this.#stopping) return;
    const entries = [...this.#owned.values()].filter((entry) =>
      entry.state !== "releasing" && (force || entry.renewal === undefined)
    );
    // Hundreds of rooms must not become hundreds of requests in one go.
    let next = 0;
    const worker = async () => {
      while (next < entries.length && !this.#stopping) {
        const entry = entries[next++]!;
        const renewal = this.#renew(entry);
        entry.renewal = renewal;
        await renewal;
        if (entry.renewal === renewal) entry.renewal = undefined;
      }
    };
    for (let i = 0; i < Math.min(RENEW_CONCURRENCY, entries.length); i++) {
      this.#background(worker());
    }
  }

  /** Keeps a short task until it settles, so that `close()` can wait for it. */
  #background(task: Promise<void>): void {
    const settled = task.catch(this.#failed("renewal"));
    this.#running.add(settled);
    void settled.finally(() => this.#running.delete(settled));
  }

  async #renew(entry: Owned): Promise<void> {
    if (entry.state === "releasing" || this.#owned.get(entry.room) !== entry) return;
    const lease: Lease = { collector: this.name, instance: this.instance, since: entry.since };
    const sentAt = Date.now();
    try {
      entry.revision = await this.#cluster.leases.update(
        roomKey(entry.room),
        JSON.stringify(lease),
        entry.revision,
        this.#renewInterval,
      );
      entry.validUntil = sentAt + this.#cluster.leaseTtl - this.#fenceMargin;
    } catch (error) {
      if (!isWrongSequence(error)) return; // NATS unreachable: fencing decides
      // An update whose ack was lost still counts: is the lease still ours?
      const current = await this.#cluster.leases.get(roomKey(entry.room)).catch(() => null);
      const holder = current?.operation === "PUT" ? parseLease(current.value) : undefined;
      if (holder?.instance === this.instance && current !== null) {
        entry.revision = current.revision;
        return;
      }
      this.#lose(entry, "lost");
    }
  }

  #fence(): void {
    const now = Date.now();
    for (const entry of this.#owned.values()) {
      if (entry.state !== "releasing" && now > entry.validUntil) this.#lose(entry, "fenced");
    }
  }

  // -------------------------------------------------------------------------
  // Watching NATS and the buckets

  async #watchConnection(): Promise<void> {
    const status = statusOf(this.#cluster.connection);
    this.#lifetime.signal.addEventListener("abort", () => status.stop(), { once: true });
    for await (const event of status) {
      if (event.type === "disconnect") {
        this.#events.emit({ type: "nats", state: "disconnected" });
      } else if (event.type === "reconnect") {
        this.#events.emit({ type: "nats", state: "reconnected" });
        this.#renewAll(true);
        void this.#heartbeat().catch(this.#failed("heartbeat"));
        this.#requestScan(Math.random() * this.#claimJitter);
      }
    }
  }

  /**
   * Reacts to changes at once: a lease taken from this collector stops the
   * room; a released lease or a change of the desired rooms triggers a scan.
   */
  async #watchBucket(bucket: Cluster["leases"], leases: boolean): Promise<void> {
    const watch = await bucket.watch({ include: "updates" });
    const stop = () => watch.stop();
    this.#lifetime.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const change of watch) {
        if (this.#stopping) continue;
        const room = roomOfKey(change.key);
        if (room === undefined) continue;
        if (leases) {
          const entry = this.#owned.get(room);
          if (change.operation === "PUT") {
            if (entry === undefined || entry.state === "releasing") continue;
            const holder = parseLease(change.value);
            if (holder?.instance !== this.instance && change.revision > entry.revision) {
              this.#lose(entry, "lost");
            }
            continue;
          }
          if (entry !== undefined) continue; // our own release
        }
        this.#requestScan(Math.random() * this.#claimJitter);
      }
    } finally {
      this.#lifetime.signal.removeEventListener("abort", stop);
    }
  }

  async #watchHubStatus(): Promise<void> {
    for await (const { room, event } of this.#hub.status()) {
      if (event.type !== "closed" || event.info.reason !== "error") continue;
      const entry = this.#owned.get(room);
      if (entry === undefined || entry.state === "releasing") continue;
      this.#events.emit({ type: "room-error", room, error: event.info.error });
      this.#cooling.set(room, Date.now() + this.#cooldown);
      void this.#giveUp(entry, "failed", "stop");
    }
  }

  // -------------------------------------------------------------------------
  // Messages

  async #runPump(): Promise<void> {
    const publisher = this.#publisher;
    for await (const { room, message } of this.#hub) {
      const entry = this.#owned.get(room);
      if (entry === undefined || BOOKKEEPING_TYPES.has(message.type)) continue;
      const now = Date.now();
      this.#counters.received++;
      entry.messages++;
      entry.lastMessageAt = now;
      const payload = this.#encoder.encode(formatJson(message));
      if (payload.length > MAX_MESSAGE_BYTES) {
        this.#counters.oversized++;
        continue;
      }
      await publisher.publish(
        subjectOf(room, message.type),
        payload,
        messageHeaders(room, now, this.name),
        chatId(room, message),
      );
    }
  }
}

/** `room:cid` for a chat message with a well-formed id: its `Nats-Msg-Id`. */
export function chatId(room: number, message: Message): string | undefined {
  if (message.type !== "chatmsg") return undefined;
  const cid = (message as { cid?: unknown }).cid;
  return typeof cid === "string" && CHAT_ID.test(cid) ? `${room}:${cid}` : undefined;
}

/** Waits for `task` (its failure ignored), but at most `ms`; a task left running is ignored. */
async function bounded(task: Promise<unknown>, ms: number): Promise<void> {
  const limit = new AbortController();
  await Promise.race([task.catch(() => {}), sleep(ms, limit.signal)]);
  limit.abort();
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
