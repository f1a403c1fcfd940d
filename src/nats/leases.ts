/**
 * Keeping leases: renewing each one before it expires, a bounded number at
 * once, and fencing (stopping a room whose lease could not be renewed in
 * time, before anyone else can claim it). A {@linkcode LeaseKeeper} knows
 * nothing of NATS: it works through a three-method {@linkcode LeaseHost}, so
 * its timing is tested without a server (`tests/nats_leases_test.ts`).
 *
 * @module
 */

import { setRepeating } from "../base/timers.ts";

/** What a {@linkcode LeaseKeeper} needs from its collector. */
export interface LeaseHost {
  /**
   * Renews a room's lease by compare-and-set on `revision`. Resolves with the
   * lease's revision now and whether this renewal stored it (`renewed`: a
   * previous renewal whose answer was lost may have), or `"lost"` when
   * another collector holds the lease now; rejects when the store cannot be
   * reached (fencing then decides).
   */
  renew(room: number, revision: number): Promise<Renewal | "lost">;
  /** A lease is gone: taken (`"lost"`) or not renewed in time (`"fenced"`). Stop the room. */
  lose(room: number, why: "lost" | "fenced"): void;
  /** A renewal failed in an unexpected way (reported; the keeper carries on). */
  failed(error: unknown): void;
}

/** What a renewal found: see {@linkcode LeaseHost.renew}. */
export interface Renewal {
  /** The lease's revision now. */
  revision: number;
  /** True when this renewal stored it: the lease is valid for a TTL from when it was sent. */
  renewed: boolean;
}

/** Timing of a {@linkcode LeaseKeeper}. */
export interface LeaseTiming {
  /** The lease lifetime, ms. */
  ttl: number;
  /** Milliseconds between renewals. */
  renewInterval: number;
  /** A lease is given up this long before it could expire, ms. */
  fenceMargin: number;
  /** Renewals in flight at once, at most. */
  concurrency: number;
  /** The clock, ms. Default `Date.now`. */
  now?: () => number;
}

/** One lease kept. */
interface Kept {
  revision: number;
  /** Until when the lease is surely still ours (ms, `now()`'s clock): past it, fence. */
  validUntil: number;
  /** The renewal in flight, if any. */
  renewal: Promise<void> | undefined;
}

/**
 * Renews the leases it is given and fences those it could not renew in
 * time. A lease is valid until the renewal that stored it was *sent* plus
 * the TTL, less the fence margin: the store counts the TTL from when it
 * wrote the lease, which is later.
 *
 * @example
 * ```ts ignore
 * const keeper = new LeaseKeeper(host, { ttl: 15_000, renewInterval: 3750, fenceMargin: 1000, concurrency: 32 });
 * keeper.start(signal);
 * keeper.hold(9999, revision, sentAt);
 * ```
 */
export class LeaseKeeper {
  readonly #host: LeaseHost;
  readonly #timing: Required<LeaseTiming>;
  readonly #leases = new Map<number, Kept>();
  /** Renewals in flight, awaited by {@linkcode LeaseKeeper.settled}. */
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  /**
   * @param host What renews a lease and stops a room.
   * @param timing The TTL, renewal interval, fence margin and concurrency.
   */
  constructor(host: LeaseHost, timing: LeaseTiming) {
    this.#host = host;
    this.#timing = { now: Date.now, ...timing };
  }

  /** Renews every lease each `renewInterval`, and checks for fencing, until `signal` aborts. */
  start(signal: AbortSignal): void {
    const { renewInterval } = this.#timing;
    setRepeating(renewInterval, () => this.renewAll(), signal);
    setRepeating(Math.max(100, Math.floor(renewInterval / 4)), () => this.fence(), signal);
    signal.addEventListener("abort", () => (this.#stopped = true), { once: true });
  }

  /** True while the lease of `room` is kept. */
  has(room: number): boolean {
    return this.#leases.has(room);
  }

  /** The kept lease's revision, or `undefined`. */
  revision(room: number): number | undefined {
    return this.#leases.get(room)?.revision;
  }

  /**
   * Keeps a lease just claimed.
   *
   * @param room The room.
   * @param revision The revision the claim stored.
   * @param sentAt When the claim was sent (`now()`'s clock).
   */
  hold(room: number, revision: number, sentAt: number): void {
    this.#leases.set(room, {
      revision,
      validUntil: sentAt + this.#timing.ttl - this.#timing.fenceMargin,
      renewal: undefined,
    });
  }

  /**
   * Stops keeping a lease, after the renewal in flight (if any).
   *
   * @returns Its last revision (to delete it with), or `undefined` when it was not kept.
   */
  async release(room: number): Promise<number | undefined> {
    const lease = this.#leases.get(room);
    if (lease === undefined) return undefined;
    this.#leases.delete(room);
    await lease.renewal;
    return lease.revision;
  }

  /** Forgets a lease at once (the room was lost or fenced). */
  forget(room: number): void {
    this.#leases.delete(room);
  }

  /**
   * Renews every lease, a bounded number at once. `force` (after a
   * reconnect) also renews leases whose renewal is still in flight: one sent
   * while the store was away would only time out.
   */
  renewAll(force = false): void {
    if (this.#stopped) return;
    const due = [...this.#leases].filter(([, lease]) => force || lease.renewal === undefined);
    // Hundreds of rooms must not become hundreds of requests in one go.
    let next = 0;
    const worker = async () => {
      while (next < due.length && !this.#stopped) {
        const [room, lease] = due[next++]!;
        if (this.#leases.get(room) !== lease) continue;
        const renewal = this.#renew(room, lease);
        lease.renewal = renewal;
        await renewal;
        if (lease.renewal === renewal) lease.renewal = undefined;
      }
    };
    for (let i = 0; i < Math.min(this.#timing.concurrency, due.length); i++) {
      const task = worker().catch((error) => this.#host.failed(error));
      this.#running.add(task);
      void task.finally(() => this.#running.delete(task));
    }
  }

  /** Fences every lease past its validity. */
  fence(): void {
    const now = this.#timing.now();
    for (const [room, lease] of this.#leases) {
      if (now > lease.validUntil) this.#lose(room, lease, "fenced");
    }
  }

  /** Resolves once the renewals in flight have settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  async #renew(room: number, lease: Kept): Promise<void> {
    const sentAt = this.#timing.now();
    let result: Renewal | "lost";
    try {
      result = await this.#host.renew(room, lease.revision);
    } catch {
      return; // unreachable: fencing decides
    }
    if (result === "lost") {
      // Reported even when released meanwhile: the host knows whether the room still runs.
      if (this.#leases.get(room) === lease) this.#leases.delete(room);
      this.#host.lose(room, "lost");
      return;
    }
    lease.revision = result.revision;
    if (result.renewed) lease.validUntil = sentAt + this.#timing.ttl - this.#timing.fenceMargin;
  }

  #lose(room: number, lease: Kept, why: "lost" | "fenced"): void {
    if (this.#leases.get(room) !== lease) return;
    this.#leases.delete(room);
    this.#host.lose(room, why);
  }
}
