/**
 * A collector: one process (or one IP) of a scaled-out deployment. Its
 * {@linkcode Coordinator} claims rooms from the desired set with leases; it
 * watches them with a {@linkcode Hub} and publishes every message into the
 * `DOUYU` stream, as docs/scale-out.md describes.
 *
 * @module
 */

import { positive } from "../base/checks.ts";
import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { type Deferred, deferred, setTimer } from "../base/timers.ts";
import { settleWithin } from "../base/abortable.ts";
import { formatJson } from "../output/format.ts";
import { BOOKKEEPING_TYPES, type Message } from "../protocol/messages.ts";
import { DEFAULT_MAX_ROOMS, Hub, type HubMessage, type RoomOptions } from "../rooms/hub.ts";
import { EventFeed } from "../base/feed.ts";
import { type Cluster, headerBlock, MAX_MESSAGE_BYTES, subjectOf } from "./cluster.ts";
import { type PublisherOptions, StreamPublisher } from "./publisher.ts";
import { Coordinator } from "./coordinator.ts";
import { GOODBYE_MS } from "./holdings.ts";
import type { CollectorCounters, CollectorEvent } from "./events.ts";

export type { CollectorCounters, CollectorEvent } from "./events.ts";
export { GOODBYE_MS };

/** A chat id fit for a `Nats-Msg-Id`: what Douyu sends is 32 hex digits. */
const CHAT_ID = /^[0-9A-Za-z-]{1,64}$/;
const STATUS_BUFFER = 1024;
/** The most messages the pump takes from the hub at once. */
const PUMP_BATCH = 512;
/** Rooms, and types per room, whose subjects the pump keeps built. */
const MAX_SUBJECT_ROOMS = 10_000;
const MAX_SUBJECT_TYPES = 64;
/** Size of the buffers messages are encoded into, many to a buffer. */
const SLAB_BYTES = 256 * 1024;
/** JetStream failing this long while connected is reported (once). */
const JETSTREAM_REPORT_MS = 3000;

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
  publisher?: Omit<PublisherOptions, "onHealth">;
  /** Up to this many ms of random delay before claiming rooms, so collectors interleave. Default 500. */
  claimJitter?: number;
  /**
   * Milliseconds to wait after starting before the first claim, so that
   * collectors started together see each other and share the rooms evenly.
   * Default: the heartbeat interval (a quarter of the lease TTL), at most 3000.
   */
  startDelay?: number;
  /**
   * The longest a released room stays watched, ms: it is left once the
   * collector taking it over reports it joined (chat sent meanwhile is
   * published twice and collapses by `Nats-Msg-Id`), or after this long.
   * Default 10 000.
   */
  handover?: number;
  /** Milliseconds a room that failed to connect is left to other collectors. Default 2 × lease TTL. */
  cooldown?: number;
  /** Milliseconds `close()` waits for the last acks. Default 10 000. */
  flushTimeout?: number;
  /** Aborting it stops the collector gracefully, like `close()`. */
  signal?: AbortSignal;
}

/** A room's figures, for its collector's heartbeat. */
interface RoomStats {
  messages: number;
  lastMessageAt: number | undefined;
  /** Resolved by the room's first message: the server has surely joined it. */
  first: Deferred<void>;
}

/**
 * A room counts as joined at its first message (Douyu does not answer
 * `joingroup`: only a message shows the server has joined it), or after this
 * long for a quiet room.
 */
const JOIN_CONFIRM_MS = 3000;

/**
 * Collects rooms of the cluster. `start()` registers it (a heartbeat in
 * `douyu_collectors`), then it claims rooms of `douyu_rooms` that no live
 * collector holds, up to a fair share (the desired rooms divided by the live
 * collectors, at most `maxRooms`), watches them and publishes their
 * messages, until `close()`.
 *
 * - Leases: a room's lease names its holder's session, which lives as long
 *   as the holder's heartbeat (renewed every TTL/4). A collector that cannot
 *   renew its heartbeat before it could expire stops every room (fencing);
 *   others take them over once the server has expired it.
 * - Spread: a collector holding more than its fair share hands the excess
 *   over (a newcomer gets rooms), and leaves each once the newcomer has
 *   joined it.
 * - Messages: the pump takes them from the hub and hands them to a
 *   {@linkcode StreamPublisher}; when its buffer is full, the pump waits,
 *   the hub's queue fills and its `"pause"` stops reading the rooms'
 *   sockets. Memory stays bounded however long NATS is away. Everything
 *   read is published, also from rooms stopped meanwhile (fenced, lost,
 *   handed over): only what NATS has not taken when `close()` gives up is
 *   lost, and counted (`unpublished`).
 * - `close()` deletes its heartbeat, releases every lease at once, keeps the
 *   rooms until their successors have joined, then closes them and waits for
 *   the last acks.
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
  /** Resolves once the collector has stopped. */
  readonly closed: Promise<void>;

  readonly #cluster: Cluster;
  readonly #coordinator: Coordinator;
  readonly #flushTimeout: number;
  readonly #hub: Hub;
  readonly #hubStop = new AbortController();
  readonly #lifetime = new AbortController();
  readonly #publisher: StreamPublisher;
  readonly #stats = new Map<number, RoomStats>();
  readonly #events = new EventFeed<CollectorEvent>(STATUS_BUFFER);
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();
  readonly #counters = { received: 0, oversized: 0, unpublished: 0 };
  readonly #encoder = new TextEncoder();
  /** The largest message (payload and headers) the server takes, bytes. */
  readonly #maxMessage: number;
  #started = false;
  #pump: Promise<void> = Promise.resolve();
  /** The batch the pump waits to offer, from the message it holds: see #unoffered(). */
  #waiting: { batch: readonly HubMessage[]; from: number } | undefined;
  #hubWatch: Promise<void> = Promise.resolve();
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
      handover = 10_000,
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
      positive(value, label, { integer: true });
    }
    this.name = name;
    this.#cluster = cluster;
    this.#flushTimeout = flushTimeout;
    this.#maxMessage = Math.min(
      MAX_MESSAGE_BYTES,
      cluster.connection.info?.max_payload ?? MAX_MESSAGE_BYTES,
    );
    this.#hub = new Hub({
      ...roomOptions,
      maxRooms,
      queueSize,
      overflow: "pause",
      signal: this.#hubStop.signal,
    });
    const emit = (event: CollectorEvent) => this.#events.emit(event);
    // JetStream's trouble, from the publisher or the coordinator, said once per change, and
    // only when it lasts while connected (a server shutting down fails a moment first).
    let failing: string | undefined;
    let reported = false;
    let cancel = () => {};
    const jetstream = (reason: string | undefined) => {
      if (reason === undefined) {
        cancel();
        if (reported) emit({ type: "jetstream", state: "storing", reason: "" });
        failing = undefined;
        reported = false;
        return;
      }
      if (failing !== undefined) return;
      failing = reason;
      // Out of storage is unmistakable: said at once. Not answering may be a server going away.
      const wait = /insufficient|storage/i.test(reason) ? 0 : JETSTREAM_REPORT_MS;
      cancel = setTimer(wait, () => {
        if (!this.#coordinator.link.online) {
          failing = undefined; // NATS went away: said as such
        } else if (failing !== undefined) {
          reported = true;
          emit({ type: "jetstream", state: "failing", reason: failing });
        }
      }, this.#lifetime.signal);
    };
    this.#publisher = new StreamPublisher(cluster.connection, {
      ...publisher,
      onHealth: (state, reason) => jetstream(state === "failing" ? reason : undefined),
    });
    this.#coordinator = new Coordinator(
      cluster,
      {
        watch: async (room, settings) => {
          const stats: RoomStats = { messages: 0, lastMessageAt: undefined, first: deferred() };
          this.#stats.set(room, stats);
          await this.#hub.add(room, settings.types !== undefined ? { types: settings.types } : {});
          // Joined once the server says so with a message (a collector handing the room over
          // leaves then), or after a while for a quiet room.
          await this.#within(stats.first.promise, JOIN_CONFIRM_MS);
        },
        unwatch: async (room) => {
          this.#stats.delete(room);
          // What it read is still published: only the room stops.
          await this.#hub.remove(room, { keepQueued: true });
        },
        roomStats: (room) => {
          const stats = this.#stats.get(room);
          return {
            messages: stats?.messages ?? 0,
            ...(stats?.lastMessageAt !== undefined ? { lastMessageAt: stats.lastMessageAt } : {}),
          };
        },
        counters: () => ({ ...this.#publisher.counters, ...this.#counters }),
        jetstream,
      },
      emit,
      { name, maxRooms, claimJitter, startDelay, handover, cooldown },
    );
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#signal = signal;
  }

  /** This session's random id (a restarted or fenced collector is a new instance). */
  get instance(): string {
    return this.#coordinator.instance;
  }

  /** The rooms it holds now (watching, joining or in their handover), sorted. */
  get rooms(): number[] {
    return this.#coordinator.rooms;
  }

  /** The lease TTL it runs with, ms: the cluster's, followed when it changes. */
  get leaseTtl(): number {
    return this.#coordinator.leaseTtl;
  }

  /** A snapshot of the counters. */
  get counters(): CollectorCounters {
    return { ...this.#publisher.counters, ...this.#counters, ...this.#coordinator.counters };
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
    this.#pump = this.#runPump();
    this.#hubWatch = this.#watchHubStatus();
    try {
      await this.#coordinator.start();
    } catch (error) {
      await this.close();
      if (error instanceof ClusterError) throw error;
      throw new ClusterError(`cannot register collector ${this.name}: ${errorText(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Stops gracefully: deletes its heartbeat, releases every lease at once,
   * keeps the rooms until their successors have joined, closes them and
   * waits (up to `flushTimeout`) for the stream to acknowledge what they
   * sent. The cluster's connection stays open. Idempotent.
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
    this.#signal?.removeEventListener("abort", this.#onAbort);
    await this.#coordinator.close();
    this.#lifetime.abort();
    // The loop drains what the hub queued, then ends, and the publisher gets its last acks;
    // with NATS away, the loop may wait for room in the publisher: `flushTimeout` bounds both.
    this.#hubStop.abort();
    const started = Date.now();
    await settleWithin(
      this.#pump.then(() =>
        this.#publisher.flush(Math.max(0, this.#flushTimeout - (Date.now() - started)))
      ),
      this.#flushTimeout,
    );
    // What NATS has not taken by now is lost: counted, never silently.
    this.#counters.unpublished += this.#publisher.counters.buffered + this.#hub.queued +
      this.#unoffered();
    this.#publisher.close(); // a loop still waiting for room gives up
    await this.#hub.close();
    await this.#pump;
    await this.#hubWatch;
    this.#events.end();
    this.#resolveClosed();
  }

  /** The messages of the batch the pump waits to offer (the one it holds included). */
  #unoffered(): number {
    const waiting = this.#waiting;
    if (waiting === undefined) return 0;
    let count = 0;
    for (let i = waiting.from; i < waiting.batch.length; i++) {
      if (!BOOKKEEPING_TYPES.has(waiting.batch[i]!.message.type)) count++;
    }
    return count;
  }

  /** Waits for `task`, at most `ms`, and no longer than the collector runs. */
  #within(task: Promise<unknown>, ms: number): Promise<void> {
    return settleWithin(task, ms, this.#lifetime.signal);
  }

  async #watchHubStatus(): Promise<void> {
    for await (const { room, event } of this.#hub.status()) {
      if (event.type === "closed" && event.info.reason === "error") {
        this.#coordinator.roomFailed(room, event.info.error);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Messages

  async #runPump(): Promise<void> {
    const publisher = this.#publisher;
    const encoder = new TextEncoder();
    let slab = new Uint8Array(SLAB_BYTES);
    let used = 0;
    const subjects = new SubjectCache();
    // A batch at a time: one promise per batch, and the NATS client writes it out in one go.
    for await (const batch of this.#hub.batches(PUMP_BATCH)) {
      const now = Date.now();
      for (let i = 0; i < batch.length; i++) {
        const { room, message } = batch[i]!;
        if (BOOKKEEPING_TYPES.has(message.type)) continue;
        this.#counters.received++;
        const stats = this.#stats.get(room);
        if (stats !== undefined) {
          if (stats.messages++ === 0) stats.first.resolve();
          stats.lastMessageAt = now;
        }
        // Headers and body encoded once, together (the server's limit counts both), into a
        // shared buffer: one allocation per few hundred messages, not one each. A message keeps
        // its buffer alive until acknowledged, and messages are acknowledged about in order.
        const head = headerBlock(room, now, this.name, chatId(room, message));
        const text = head + formatJson(message);
        // UTF-8 takes at most 3 bytes per UTF-16 unit.
        if (slab.length - used < text.length * 3) {
          slab = new Uint8Array(Math.max(SLAB_BYTES, text.length * 3));
          used = 0;
        }
        const { written } = encoder.encodeInto(text, slab.subarray(used));
        const bytes = slab.subarray(used, used += written);
        if (bytes.length > this.#maxMessage) {
          this.#counters.oversized++;
          continue;
        }
        const subject = subjects.get(room, message.type);
        if (!publisher.offer(subject, bytes, head.length)) {
          // What this batch still holds is in neither the hub nor the publisher while it waits:
          // close() counts it if it gives up now.
          this.#waiting = { batch, from: i };
          do {
            if (publisher.closed) return;
            await publisher.room();
          } while (!publisher.offer(subject, bytes, head.length));
          this.#waiting = undefined;
        }
      }
    }
  }
}

/**
 * Subjects by room and type, built once each: the same few, message after
 * message. Bounded, since types and rooms come from the wire and the
 * cluster: only types fit for a subject are kept, at most
 * {@linkcode MAX_SUBJECT_TYPES} a room, and the rooms start again past
 * {@linkcode MAX_SUBJECT_ROOMS}.
 */
export class SubjectCache {
  readonly #rooms = new Map<number, Map<string, string>>();

  /** The subject of a message of `type` from `room` (`subjectOf`). */
  get(room: number, type: string): string {
    let byType = this.#rooms.get(room);
    if (byType === undefined) {
      if (this.#rooms.size >= MAX_SUBJECT_ROOMS) this.#rooms.clear();
      this.#rooms.set(room, byType = new Map());
    }
    let subject = byType.get(type);
    if (subject === undefined) {
      subject = subjectOf(room, type);
      if (byType.size < MAX_SUBJECT_TYPES && isSafeName(type)) byType.set(type, subject);
    }
    return subject;
  }

  /** How many subjects are kept. */
  get size(): number {
    let size = 0;
    for (const byType of this.#rooms.values()) size += byType.size;
    return size;
  }
}

/** `room:cid` for a chat message with a well-formed id: its `Nats-Msg-Id`. */
export function chatId(room: number, message: Message): string | undefined {
  if (message.type !== "chatmsg") return undefined;
  const cid = (message as { cid?: unknown }).cid;
  return typeof cid === "string" && CHAT_ID.test(cid) ? `${room}:${cid}` : undefined;
}
