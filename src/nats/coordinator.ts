/**
 * The coordination half of a collector: which rooms it holds. It keeps the
 * three buckets in memory (watched, read again only after a reconnect or
 * every ten minutes), claims its fair share of the desired rooms with leases,
 * hands rooms over to a successor once that one has joined, and fences every
 * room when its session (its heartbeat) cannot be renewed in time. Watching
 * the rooms is its host's business ({@linkcode RoomHost}): the collector's
 * hub, or in the coordination benchmark nothing at all.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { backoffDelay, setRepeating, setTimer, sleep } from "../base/timers.ts";
import { settleWithin } from "../base/abortable.ts";
import { ClusterError } from "./errors.ts";
import {
  type Cluster,
  COLLECTORS_BUCKET,
  type Lease,
  LEASE_TTL_KEY,
  LEASES_BUCKET,
  ROOMS_BUCKET,
  type RoomSettings,
} from "./cluster.ts";
import {
  type CollectorHealth,
  encodeHealth,
  jetStreamTrouble,
  parseLease,
  readJson,
  roomOfKey,
} from "./records.ts";
import { fenceMargin, renewInterval, SessionLease } from "./leases.ts";
import { fairShare, planSpread } from "./spread.ts";
import { Link, OfflineError } from "./link.ts";
import { GOODBYE_MS, Holdings, type Owned } from "./holdings.ts";
import { Peers } from "./peers.ts";
import { BucketView, type ViewEntry, type ViewListener } from "./view.ts";
import { bucketTtl, parseTtlValue } from "./setup.ts";
import type { CollectorEvent } from "./events.ts";

/** The buckets are read afresh this often (and after every reconnect): a safety net. */
const RESYNC_MS = 10 * 60_000;
/** A change seen on a bucket is acted on after this long, so that a burst is one plan. */
const PLAN_DEBOUNCE_MS = 50;
/** Attempts at reading the buckets when starting (a busy server may time one out). */
const LOAD_ATTEMPTS = 5;
/** A peer's heartbeat is looked at this long after it should have expired. */
const EXPIRY_SLACK_MS = 100;

/** What a {@linkcode Coordinator} needs from whoever watches the rooms. */
export interface RoomHost {
  /** Starts watching a room just claimed: resolves once it has joined, rejects when it cannot. */
  watch(room: number, settings: RoomSettings): Promise<void>;
  /** Stops watching a room at once (what was read from it is still published). */
  unwatch(room: number): Promise<void>;
  /** A room's figures for the heartbeat. */
  roomStats(room: number): { messages: number; lastMessageAt?: number };
  /** The collector's counters for the heartbeat. */
  counters(): Record<string, number>;
  /** JetStream failed a request of its own (`reason`), or stores again (`undefined`). */
  jetstream(reason: string | undefined): void;
}

/** Options of a {@linkcode Coordinator}. */
export interface CoordinatorOptions {
  name: string;
  maxRooms: number;
  claimJitter: number;
  startDelay: number | undefined;
  handover: number;
  cooldown: number | undefined;
}

/**
 * Claims, keeps and gives up rooms for one collector. See the module
 * documentation; the {@linkcode Collector} runs one.
 */
export class Coordinator {
  readonly name: string;
  readonly #cluster: Cluster;
  readonly #host: RoomHost;
  readonly #emit: (event: CollectorEvent) => void;
  readonly #options: CoordinatorOptions;
  readonly #session: SessionLease;
  readonly #link = new Link();
  readonly #views: { rooms: BucketView; leases: BucketView; collectors: BucketView };
  readonly #cooling = new Map<number, number>();
  #freeSince = new Map<number, number>();
  readonly #leases = new Map<number, { revision: number; lease: Lease | undefined }>();
  /** The other collectors, as their heartbeats say. */
  readonly #peers: Peers;
  /** The rooms held, and their leases. */
  readonly #holdings: Holdings;
  readonly #startedAt = Date.now();
  readonly #lifetime = new AbortController();
  /** Stops renewing the session (a stopping collector deletes its heartbeat instead). */
  readonly #sessionStop = new AbortController();
  #instance: string = crypto.randomUUID();
  /** The start under way or done, for close() to wait for. */
  #starting: Promise<void> | undefined;
  /** Aborted when close() begins: ends a start's waits. */
  readonly #startStop = new AbortController();
  #announcedTtl: number | undefined;
  #registered = false;
  #ready = false;
  #stopping = false;
  #planning: Promise<void> | undefined;
  #replan = false;
  #planTimer: (() => void) | undefined;
  #expiryTimer: () => void = () => {};
  readonly #tasks: Promise<unknown>[] = [];

  constructor(
    cluster: Cluster,
    host: RoomHost,
    emit: (event: CollectorEvent) => void,
    options: CoordinatorOptions,
  ) {
    this.name = options.name;
    this.#cluster = cluster;
    this.#host = host;
    this.#emit = emit;
    this.#options = options;
    this.#session = new SessionLease({
      beat: () => this.#beat(),
      fenced: () => this.#fenced(),
      failed: this.#failed("heartbeat"),
    }, { ttl: cluster.leaseTtl });
    const view = (kv: Cluster["rooms"], bucket: string, on: ViewListener) =>
      new BucketView(cluster.js, cluster.jsm, kv, bucket, on);
    this.#views = {
      rooms: view(cluster.rooms, ROOMS_BUCKET, (key, entry) => this.#onRoom(key, entry)),
      leases: view(
        cluster.leases,
        LEASES_BUCKET,
        (key, entry, reloaded) => this.#onLease(key, entry, reloaded),
      ),
      collectors: view(
        cluster.collectors,
        COLLECTORS_BUCKET,
        (key, entry, reloaded) => this.#onCollector(key, entry, reloaded),
      ),
    };
    const instance = () => this.#instance;
    this.#peers = new Peers({
      name: this.name,
      cluster,
      link: this.#link,
      session: this.#session,
      instance,
    });
    this.#holdings = new Holdings({
      name: this.name,
      cluster,
      host,
      link: this.#link,
      session: this.#session,
      rooms: this.#views.rooms,
      leases: this.#leases,
      lifetime: this.#lifetime.signal,
      emit,
      instance,
      stopping: () => this.#stopping,
      handover: () => this.#handover(),
      othersLive: () => this.#peers.othersLive(),
      holderGone: (lease) => this.#peers.holderGone(lease),
      roomFailed: (room, error) => this.roomFailed(room, error),
      failed: (what) => this.#failed(what),
    });
  }

  /** This session's random id: a new one after a fence (or a restart). */
  get instance(): string {
    return this.#instance;
  }

  /** The rooms it holds (watching, joining or in their handover), sorted. */
  get rooms(): number[] {
    return [...this.#holdings.owned.keys()].sort((a, b) => a - b);
  }

  /** The lease TTL it runs with, ms. */
  get leaseTtl(): number {
    return this.#session.ttl;
  }

  /** Leases claimed, released, lost and fenced. */
  get counters(): { claimed: number; released: number; lost: number; fenced: number } {
    return { ...this.#holdings.counters };
  }

  /** The NATS connection as its requests see it. */
  get link(): Link {
    return this.#link;
  }

  /**
   * Registers (refusing a live namesake), stores the first heartbeat, reads
   * the buckets, then claims rooms after the start delay.
   */
  async start(): Promise<void> {
    const starting = this.#start();
    this.#starting = starting;
    await starting;
  }

  /**
   * The steps of {@linkcode start}. A `close()` meanwhile ends them at the next step
   * (resolving: there is nothing left to start), and waits for that before it cleans up, so
   * that nothing of a start outlives the close (a heartbeat, a watch).
   */
  async #start(): Promise<void> {
    await this.#checkName();
    if (this.#stopping) return;
    await this.#session.begin(this.#sessionStop.signal);
    this.#registered = true;
    if (this.#stopping) return;
    const signal = this.#lifetime.signal;
    this.#track(this.#watchConnection());
    // A busy server may time a request out: the buckets are read again, for a while.
    for (let attempt = 1;; attempt++) {
      try {
        await this.#load();
        break;
      } catch (error) {
        if (this.#stopping) return;
        if (attempt === LOAD_ATTEMPTS) throw error;
        await sleep(backoffDelay(attempt, { initial: 500, max: 5000 }), this.#startStop.signal);
      }
    }
    if (this.#stopping) return;
    this.#ready = true;
    await this.#followTtl();
    if (this.#stopping) return;
    const interval = renewInterval(this.#session.ttl);
    const delay = Math.max(0, this.#options.startDelay ?? Math.min(3000, interval));
    setTimer(delay, () => {
      this.#requestPlan(0);
      // Liveness that ends by expiry produces no event: plan regularly (locally).
      const tick = () => {
        this.#requestPlan(0);
        setTimer(renewInterval(this.#session.ttl), tick, signal);
      };
      setTimer(renewInterval(this.#session.ttl), tick, signal);
    }, signal);
    setRepeating(RESYNC_MS * (0.8 + 0.4 * Math.random()), () => void this.#resync(), signal);
  }

  /** A room failed for good while watched: leave it to others for a while. */
  roomFailed(room: number, error: unknown): void {
    const entry = this.#holdings.owned.get(room);
    if (entry === undefined || entry.state === "releasing") return;
    this.#emit({ type: "room-error", room, error });
    this.#cooling.set(room, performance.now() + this.#cooldown());
    void this.#holdings.release(entry, "failed", "stop");
  }

  /**
   * Stops gracefully: deletes its heartbeat, releases every lease at once,
   * keeps the rooms until their successors have joined (at most `handover`
   * ms, and not with NATS away), then stops them.
   */
  async close(): Promise<void> {
    this.#stopping = true;
    // A start under way ends at its next step (a wait for a namesake's heartbeat ends now).
    this.#startStop.abort();
    await this.#starting?.catch(() => {});
    this.#planTimer?.();
    this.#sessionStop.abort();
    const released: Owned[] = [];
    if (this.#registered) {
      // Gone from the live set first, so the others' fair share grows before the leases free up.
      await settleWithin(
        this.#link.run(() => this.#cluster.collectors.delete(this.name)),
        GOODBYE_MS,
      );
      const owned = [...this.#holdings.owned.values()].filter((entry) =>
        entry.state !== "releasing"
      );
      released.push(...owned);
      await Promise.all(owned.map((entry) => this.#holdings.release(entry, "stopping", "keep")));
      // Nobody else live: nobody will take over, so nobody to wait for.
      if (
        owned.length > 0 && this.#link.online && this.#handover() > 0 && this.#peers.othersLive()
      ) {
        await settleWithin(Promise.all(owned.map((e) => e.successor.promise)), this.#handover());
      }
    }
    this.#lifetime.abort();
    await this.#planning?.catch(() => {});
    await Promise.all(
      [...this.#holdings.owned.values()].map((entry) => this.#holdings.stop(entry)),
    );
    await Promise.all([
      this.#views.rooms.stop(),
      this.#views.leases.stop(),
      this.#views.collectors.stop(),
    ]);
    await this.#session.settled();
    await Promise.allSettled(this.#tasks);
  }

  // -------------------------------------------------------------------------
  // The session

  #heartbeat(): CollectorHealth {
    return {
      name: this.name,
      instance: this.#instance,
      startedAt: this.#startedAt,
      updatedAt: Date.now(),
      maxRooms: this.#options.maxRooms,
      leaseTtl: this.#session.ttl,
      rooms: [...this.#holdings.owned.values()].map((entry) => {
        const stats = this.#host.roomStats(entry.room);
        return {
          room: entry.room,
          since: entry.since,
          state: entry.state,
          messages: stats.messages,
          ...(stats.lastMessageAt !== undefined ? { lastMessageAt: stats.lastMessageAt } : {}),
        };
      }),
      counters: { ...this.#host.counters(), ...this.#holdings.counters },
    };
  }

  async #beat(): Promise<void> {
    const health = encodeHealth(this.#heartbeat());
    await this.#link.run(() => this.#cluster.collectors.put(this.name, health));
    this.#host.jetstream(undefined);
  }

  /** The session could not be renewed in time: every room stops, and it starts afresh. */
  #fenced(): void {
    this.#instance = crypto.randomUUID();
    for (const entry of [...this.#holdings.owned.values()]) {
      if (entry.state !== "releasing") {
        this.#holdings.counters.fenced++;
        this.#emit({ type: "fenced", room: entry.room });
      }
      void this.#holdings.stop(entry);
    }
  }

  /** Refuses to start next to a live collector of the same name. */
  async #checkName(): Promise<void> {
    const entry = await this.#link.run(() => this.#cluster.collectors.get(this.name));
    if (entry === null || entry.operation !== "PUT") return;
    const health = readJson(entry.value);
    const instance = typeof health?.instance === "string" ? health.instance : undefined;
    if (instance === this.#instance) return;
    // A collector that just died still has its heartbeat for a while: wait for it to expire.
    await sleep(this.#session.ttl, this.#startStop.signal);
    if (this.#stopping) return;
    const again = await this.#link.run(() => this.#cluster.collectors.get(this.name));
    if (again !== null && again.operation === "PUT" && again.revision !== entry.revision) {
      throw new ClusterError(`a collector named ${this.name} is already running`);
    }
  }

  /** Follows the lease TTL: the bucket's, or a lower one being announced. */
  async #followTtl(): Promise<void> {
    const bucket = await this.#link.run(() => bucketTtl(this.#cluster.jsm, COLLECTORS_BUCKET));
    const ttl = Math.min(bucket || this.#session.ttl, this.#announcedTtl ?? Infinity);
    if (ttl === this.#session.ttl) return;
    this.#session.setTtl(ttl);
    this.#session.renew(); // the heartbeat says which TTL this collector runs with
  }

  // -------------------------------------------------------------------------
  // The buckets, in memory

  async #load(): Promise<void> {
    const signal = this.#lifetime.signal;
    await this.#link.run(() =>
      Promise.all([
        this.#views.rooms.load(signal),
        this.#views.leases.load(signal),
        this.#views.collectors.load(signal),
      ])
    );
  }

  async #resync(): Promise<void> {
    if (this.#stopping || !this.#link.online) return;
    try {
      await this.#load();
      await this.#followTtl();
      this.#requestPlan(0);
    } catch (error) {
      this.#failed("reading the buckets")(error);
    }
  }

  #onRoom(key: string, entry: ViewEntry | undefined): void {
    if (key === LEASE_TTL_KEY) {
      this.#announcedTtl = entry === undefined ? undefined : parseTtlValue(entry.value);
      if (this.#ready) void this.#followTtl().catch(this.#failed("following the lease TTL"));
      return;
    }
    if (roomOfKey(key) !== undefined) this.#requestPlan(this.#jitter());
  }

  #onLease(key: string, entry: ViewEntry | undefined, reloaded: boolean): void {
    const room = roomOfKey(key);
    if (room === undefined) return;
    const lease = entry === undefined ? undefined : parseLease(entry.value);
    if (entry === undefined) this.#leases.delete(room);
    else this.#leases.set(room, { revision: entry.revision, lease });
    const owned = this.#holdings.owned.get(room);
    if (owned !== undefined && (entry?.revision ?? Infinity) > owned.revision) {
      if (lease?.instance === this.#instance) {
        owned.revision = entry!.revision;
      } else if (owned.state === "releasing") {
        if (lease?.joined === true) owned.successor.resolve();
      } else if (entry === undefined && reloaded) {
        // Missing from a reread: asked once more before the room stops.
        void this.#holdings.recheck(owned);
      } else {
        // Taken (or deleted) by someone else: stop at once.
        this.#holdings.lose(owned);
      }
    }
    // A room set free (or handed over) is worth a plan; one taken by another is not.
    if (entry === undefined || lease?.releasing === true) this.#requestPlan(this.#jitter());
  }

  #onCollector(key: string, entry: ViewEntry | undefined, reloaded: boolean): void {
    if (this.#peers.seen(key, entry, reloaded)) this.#requestPlan(this.#jitter());
  }

  // -------------------------------------------------------------------------
  // Claiming and spreading

  #requestPlan(delay: number): void {
    if (this.#stopping || this.#lifetime.signal.aborted || !this.#ready) return;
    if (this.#planning !== undefined) {
      this.#replan = true;
      return;
    }
    if (this.#planTimer !== undefined) return;
    this.#planTimer = setTimer(Math.max(PLAN_DEBOUNCE_MS, delay), () => {
      this.#planTimer = undefined;
      this.#planning = this.#plan().catch(this.#failed("claiming rooms")).finally(() => {
        this.#planning = undefined;
        if (this.#replan) {
          this.#replan = false;
          this.#requestPlan(0);
        }
      });
    }, this.#lifetime.signal);
  }

  async #plan(): Promise<void> {
    if (this.#stopping || !this.#link.online || !this.#session.alive) return;
    const now = performance.now();
    for (const [room, until] of this.#cooling) if (until <= now) this.#cooling.delete(room);
    const desired = new Set<number>();
    for (const key of this.#views.rooms.entries.keys()) {
      const room = roomOfKey(key);
      if (room !== undefined) desired.add(room);
    }
    const { live, loads, nextExpiry } = this.#peers.live(now);
    // A collector whose heartbeat expires produces no event: plan again right after.
    this.#expiryTimer();
    if (Number.isFinite(nextExpiry)) {
      this.#expiryTimer = setTimer(
        nextExpiry - now + EXPIRY_SLACK_MS,
        () => this.#requestPlan(0),
        this.#lifetime.signal,
      );
    }
    const leased = new Set<number>();
    const instance = this.#instance;
    for (const [room, { lease, revision }] of this.#leases) {
      // A lease being handed over, or whose holder is gone, is free.
      if (lease === undefined || lease.releasing === true || !live.has(lease.instance)) continue;
      if (lease.instance === instance && !this.#holdings.owned.has(room)) {
        // This session's, for a room it no longer holds: a release whose delete did not finish
        // (NATS away, a slow answer). Every collector counts a live session's lease as held, so
        // unless it goes, nobody ever takes the room again.
        void this.#holdings.forget(room, revision);
        continue;
      }
      leased.add(room);
      const load = loads.get(lease.instance);
      if (load !== undefined) load.held++;
    }
    const peerLimits = [...loads.values()].map((load) => load.maxRooms);
    const fair = fairShare(desired.size, [this.#options.maxRooms, ...peerLimits]);
    const othersBelowShare = [...loads.values()].some((load) =>
      load.held < Math.min(fair, load.maxRooms)
    );
    const plan = planSpread({
      desired,
      live: live.size,
      peerLimits,
      leased,
      held: [...this.#holdings.owned.values()].map((entry) => ({
        room: entry.room,
        since: entry.since,
        releasing: entry.state === "releasing",
      })),
      cooling: this.#cooling,
      freeSince: this.#freeSince,
      now,
      maxRooms: this.#options.maxRooms,
      // Rooms nobody took for a renewal interval go to anyone with room to spare.
      staleAfter: renewInterval(this.#session.ttl),
      othersBelowShare,
      // …unless they do not take them (stuck, or slower than it should be).
      stuckAfter: 2 * this.#session.ttl,
    });
    for (const room of plan.remove) {
      void this.#holdings.release(this.#holdings.owned.get(room)!, "removed", "stop");
    }
    for (const room of plan.rebalance) {
      void this.#holdings.release(this.#holdings.owned.get(room)!, "rebalanced", "handover");
    }
    if (plan.rebalance.length > 0) return;
    this.#freeSince = plan.freeSince;
    if (plan.want <= 0) return;
    if (this.#options.claimJitter > 0) {
      await sleep(Math.random() * this.#options.claimJitter, this.#lifetime.signal);
    }
    let claimed = 0;
    for (const room of plan.claim) {
      if (claimed >= plan.want || this.#stopping || !this.#session.alive) break;
      // Taken by a live collector since the plan (the view follows): no request wasted on it.
      const now = this.#leases.get(room)?.lease;
      if (now !== undefined && now.releasing !== true && live.has(now.instance)) continue;
      if (await this.#holdings.claim(room)) claimed++;
    }
  }

  // -------------------------------------------------------------------------
  // The connection

  async #watchConnection(): Promise<void> {
    const status = this.#cluster.connection.status() as AsyncIterable<{ type: string }> & {
      stop(): void;
    };
    this.#lifetime.signal.addEventListener("abort", () => status.stop(), { once: true });
    for await (const event of status) {
      if (event.type === "disconnect") {
        this.#link.down();
        this.#emit({ type: "nats", state: "disconnected" });
      } else if (event.type === "reconnect") {
        this.#link.up();
        this.#emit({ type: "nats", state: "reconnected" });
        this.#session.renew();
        // The server may have restarted (watches gone) or moved on: read the buckets afresh.
        void this.#resync();
      }
    }
  }

  // -------------------------------------------------------------------------
  // Helpers

  #handover(): number {
    return Math.max(0, this.#options.handover);
  }

  #cooldown(): number {
    return this.#options.cooldown ?? 2 * this.#session.ttl;
  }

  #jitter(): number {
    return Math.random() * this.#options.claimJitter;
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.push(task.catch(this.#failed("watch")));
  }

  /** Reports a failure of `what` as an `error` event (while running). */
  #failed(what: string): (error: unknown) => void {
    return (error) => {
      // NATS going away is reported once, as a `nats` event.
      if (this.#lifetime.signal.aborted || error instanceof OfflineError) return;
      // JetStream out of storage or gone: said once, by the collector, not at every heartbeat.
      const trouble = jetStreamTrouble(error);
      if (trouble !== undefined) {
        this.#host.jetstream(trouble);
        return;
      }
      this.#emit({
        type: "error",
        error: new ClusterError(`${what} failed: ${errorText(error)}`, { cause: error }),
      });
    };
  }
}

export { fenceMargin };
