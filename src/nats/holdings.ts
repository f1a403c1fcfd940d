/**
 * The rooms one collector holds, and their leases: claiming a free room,
 * saying it joined (which lets a predecessor handing it over go), releasing
 * it (at once, after a handover, or at close), and losing it to another. What
 * to claim and release is the {@linkcode Coordinator}'s plan; this file does
 * it, one room at a time.
 *
 * @module
 */

import { type Deferred, deferred } from "../base/timers.ts";
import { settleWithin } from "../base/abortable.ts";
import type { Cluster, Lease, RoomSettings } from "./cluster.ts";
import { isWrongSequence, parseLease, parseRoomSettings, roomKey } from "./records.ts";
import type { SessionLease } from "./leases.ts";
import type { Link } from "./link.ts";
import type { BucketView } from "./view.ts";
import type { CollectorEvent } from "./events.ts";

/**
 * How long a stopping collector waits for NATS to take each goodbye
 * (heartbeat deleted, then leases released): with NATS away, its session
 * expires by itself.
 */
export const GOODBYE_MS = 2000;

/** A room this collector holds. */
export interface Owned {
  readonly room: number;
  /** When it was claimed, ms since the epoch. */
  readonly since: number;
  state: "joining" | "watching" | "releasing";
  /** The lease's revision (ours). */
  revision: number;
  /** Resolves once a successor reports the room joined (a handover). */
  readonly successor: Deferred<void>;
}

/** What {@linkcode Holdings} needs of the coordinator that runs it. */
export interface HoldingsContext {
  readonly name: string;
  readonly cluster: Cluster;
  /** Who watches the rooms: the coordinator's `RoomHost`. */
  readonly host: {
    watch(room: number, settings: RoomSettings): Promise<void>;
    unwatch(room: number): Promise<void>;
  };
  readonly link: Link;
  readonly session: SessionLease;
  /** The rooms bucket, in memory (a room's settings). */
  readonly rooms: BucketView;
  /** Every room's lease, as the leases bucket says: revision and value. */
  readonly leases: Map<number, { revision: number; lease: Lease | undefined }>;
  /** Aborted when the coordinator stops for good. */
  readonly lifetime: AbortSignal;
  emit(event: CollectorEvent): void;
  /** This session's id (a new one after a fence). */
  instance(): string;
  stopping(): boolean;
  /** How long a release waits for a successor, ms. */
  handover(): number;
  othersLive(): boolean;
  holderGone(lease: Lease): Promise<boolean>;
  roomFailed(room: number, error: unknown): void;
  failed(what: string): (error: unknown) => void;
}

/** The rooms a collector holds; see the module documentation. */
export class Holdings {
  readonly #c: HoldingsContext;
  /** The rooms held (watching, joining or in their handover), by room. */
  readonly owned = new Map<number, Owned>();
  /** Leases claimed, released, lost and fenced. */
  readonly counters = { claimed: 0, released: 0, lost: 0, fenced: 0 };

  constructor(context: HoldingsContext) {
    this.#c = context;
  }

  /**
   * Claims a free room: a new lease, a lease handed over, or the lease of a
   * holder whose session has ended.
   */
  async claim(room: number): Promise<boolean> {
    const known = this.#c.leases.get(room);
    const handedOver = known?.lease?.releasing === true;
    if (known?.lease !== undefined && !handedOver && !await this.#c.holderGone(known.lease)) {
      return false;
    }
    const instance = this.#c.instance();
    const lease: Lease = { collector: this.#c.name, instance, since: Date.now() };
    const key = roomKey(room);
    let revision: number;
    try {
      revision = await this.#c.link.run(() =>
        known === undefined
          ? this.#c.cluster.leases.create(key, JSON.stringify(lease))
          : this.#c.cluster.leases.update(key, JSON.stringify(lease), known.revision)
      );
    } catch (error) {
      if (!isWrongSequence(error)) this.#c.failed(`claim of room ${room}`)(error);
      return false;
    }
    if (this.#c.stopping() || instance !== this.#c.instance()) {
      await this.#c.link.run(() => this.#c.cluster.leases.delete(key, { previousSeq: revision }))
        .catch(() => {});
      return false;
    }
    const entry: Owned = {
      room,
      since: lease.since,
      state: "joining",
      revision: Math.max(revision, this.#c.leases.get(room)?.revision ?? 0),
      successor: deferred<void>(),
    };
    this.owned.set(room, entry);
    this.counters.claimed++;
    this.#c.emit({ type: "claimed", room });
    const settingsEntry = this.#c.rooms.entries.get(key);
    const settings = settingsEntry !== undefined ? parseRoomSettings(settingsEntry.value) : {};
    this.#c.host.watch(room, settings).then(
      () => this.#joined(entry, lease, handedOver),
      (error) => {
        if (this.owned.get(room) !== entry || entry.state === "releasing") return;
        this.#c.roomFailed(room, error);
      },
    );
    return true;
  }

  /**
   * The room joined. Taken over from a collector handing it over, its lease
   * says so, which lets that one go.
   */
  async #joined(entry: Owned, lease: Lease, handedOver: boolean): Promise<void> {
    if (this.owned.get(entry.room) !== entry || entry.state !== "joining") return;
    entry.state = "watching";
    this.#c.emit({ type: "watching", room: entry.room });
    if (!handedOver) return;
    const value = JSON.stringify({ ...lease, joined: true });
    try {
      const revision = await this.#c.link.run(() =>
        this.#c.cluster.leases.update(roomKey(entry.room), value, entry.revision)
      );
      entry.revision = Math.max(entry.revision, revision);
    } catch (error) {
      if (isWrongSequence(error) && this.owned.get(entry.room) === entry) {
        const now = this.#c.leases.get(entry.room);
        if (now?.lease?.instance !== this.#c.instance()) this.lose(entry);
        return;
      }
      this.#c.failed(`lease of room ${entry.room}`)(error);
    }
  }

  /**
   * Releases a lease (a conditional delete), then stops the room: at once
   * (`"stop"`), once a successor has joined or `handover` ms have passed
   * (`"handover"`), or not at all (`"keep"`: `close()` does).
   */
  async release(
    entry: Owned,
    reason: "removed" | "rebalanced" | "stopping" | "failed",
    then: "stop" | "handover" | "keep",
  ): Promise<void> {
    if (entry.state === "releasing") return;
    entry.state = "releasing";
    const key = roomKey(entry.room);
    if (then === "stop") {
      // Nobody is waited for: the lease goes.
      await settleWithin(
        this.#c.link.run(() => this.#c.cluster.leases.delete(key, { previousSeq: entry.revision })),
        GOODBYE_MS,
      );
    } else {
      // Handed over: the lease says so, so that the next holder says when it has joined.
      const lease: Lease = {
        collector: this.#c.name,
        instance: this.#c.instance(),
        since: entry.since,
        releasing: true,
      };
      await settleWithin(
        this.#c.link.run(() =>
          this.#c.cluster.leases.update(key, JSON.stringify(lease), entry.revision)
        )
          .then((revision) => (entry.revision = Math.max(entry.revision, revision))),
        GOODBYE_MS,
      );
    }
    this.counters.released++;
    this.#c.emit({ type: "released", room: entry.room, reason });
    if (then === "keep") return;
    if (
      then === "handover" && this.#c.handover() > 0 && this.#c.link.online && this.#c.othersLive()
    ) {
      // Until the successor has joined, at most `handover`, and never past the session.
      const horizon = this.#c.session.validUntil - performance.now();
      await settleWithin(
        entry.successor.promise,
        Math.max(0, Math.min(this.#c.handover(), horizon)),
        this.#c.lifetime,
      );
    }
    if (then === "handover" && !entry.successor.settled) {
      // Nobody took it over: the lease goes, or it would look held by this live collector.
      await settleWithin(
        this.#c.link.run(() => this.#c.cluster.leases.delete(key, { previousSeq: entry.revision })),
        GOODBYE_MS,
      );
    }
    await this.stop(entry);
  }

  /**
   * Deletes a lease of this session for a room it does not hold (a release
   * that did not finish), if it is still at `revision`: the room is then
   * free for any collector, this one included.
   */
  async forget(room: number, revision: number): Promise<void> {
    await settleWithin(
      this.#c.link.run(() =>
        this.#c.cluster.leases.delete(roomKey(room), { previousSeq: revision })
      ),
      GOODBYE_MS,
    );
  }

  /** Stops watching a room at once and forgets it. */
  async stop(entry: Owned): Promise<void> {
    if (this.owned.get(entry.room) !== entry) return;
    this.owned.delete(entry.room);
    entry.successor.resolve();
    await this.#c.host.unwatch(entry.room).catch(() => {});
  }

  /** Whether a lease missing from a reread is still this collector's: if not, the room stops. */
  async recheck(entry: Owned): Promise<void> {
    const now = await this.#c.link.run(() => this.#c.cluster.leases.get(roomKey(entry.room)))
      .catch(() => undefined);
    if (now === undefined || this.owned.get(entry.room) !== entry) return; // unknown: keep
    const lease = now !== null && now.operation === "PUT" ? parseLease(now.value) : undefined;
    if (lease?.instance === this.#c.instance() && now !== null) {
      entry.revision = Math.max(entry.revision, now.revision);
      this.#c.leases.set(entry.room, { revision: now.revision, lease });
    } else {
      this.lose(entry);
    }
  }

  /** The lease went to someone else: the room stops at once. */
  lose(entry: Owned): void {
    if (this.owned.get(entry.room) !== entry) return;
    this.counters.lost++;
    this.#c.emit({ type: "lost", room: entry.room });
    entry.state = "releasing";
    void this.stop(entry);
  }
}
