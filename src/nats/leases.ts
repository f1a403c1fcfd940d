/**
 * A collector's session: its heartbeat is the lease every room it holds
 * depends on. A {@linkcode SessionLease} renews the heartbeat every quarter
 * of the TTL and fences (stops every room) before the heartbeat could expire
 * on the server, on the monotonic clock. It knows nothing of NATS: it works
 * through a three-method {@linkcode SessionHost}, so its timing is tested
 * without a server (`tests/nats_leases_test.ts`).
 *
 * The heartbeat entry lives a TTL after the server stored it, which is after
 * it was sent: the session is surely alive until the last stored renewal's
 * send time plus the TTL, less a margin for the clocks' rates and a late
 * timer. An answer that arrives past that point extends nothing: the entry
 * may have expired meanwhile, and another collector may have taken the rooms.
 *
 * @module
 */

import { setTimer } from "../base/timers.ts";

/** What a {@linkcode SessionLease} needs from its collector. */
export interface SessionHost {
  /** Writes the heartbeat. Resolves once stored; rejects when it could not be. */
  beat(): Promise<void>;
  /** The session could not be renewed in time: stop every room now. */
  fenced(): void;
  /** A renewal failed (reported; fencing decides what it means). */
  failed(error: unknown): void;
}

/** Timing of a {@linkcode SessionLease}. */
export interface SessionTiming {
  /** The lease TTL, ms. */
  ttl: number;
  /** The monotonic clock, ms. Default `performance.now`. */
  now?: () => number;
}

/** A session is given up this long before it could expire: a tenth of the TTL, at most 1 s. */
export function fenceMargin(ttl: number): number {
  return Math.min(1000, Math.floor(ttl / 10));
}

/** Renewals come every quarter of the TTL (at least 250 ms apart). */
export function renewInterval(ttl: number): number {
  return Math.max(250, Math.floor(ttl / 4));
}

/**
 * How often the session's validity is checked: four times per margin (at
 * most every 250 ms, at least every 25 ms), so that fencing keeps at least
 * three quarters of its margin.
 */
export function fenceCheckInterval(ttl: number): number {
  return Math.max(25, Math.min(250, Math.floor(fenceMargin(ttl) / 4)));
}

/**
 * Keeps a collector's session alive, and fences it when it cannot. `begin()`
 * starts it from a stored heartbeat; once fenced it stays dead until a
 * heartbeat *sent after the fence* is stored (the host gives it a new
 * instance id first, so nothing of the old session comes back).
 *
 * @example
 * ```ts ignore
 * const session = new SessionLease(host, { ttl: 15_000 });
 * await session.begin(signal); // the first heartbeat stored
 * ```
 */
export class SessionLease {
  readonly #host: SessionHost;
  readonly #now: () => number;
  #ttl: number;
  /** Until when the session is surely alive (monotonic ms); `-Infinity` while dead. */
  #validUntil = -Infinity;
  #fencedAt = -Infinity;
  /** When the last stored heartbeat was sent (monotonic ms). */
  #lastSentAt = -Infinity;
  #beating: Promise<void> | undefined;
  #again = false;
  #signal: AbortSignal | undefined;
  #cancelRenew: () => void = () => {};

  /**
   * @param host What writes the heartbeat and stops the rooms.
   * @param timing The TTL and the clock.
   */
  constructor(host: SessionHost, timing: SessionTiming) {
    this.#host = host;
    this.#ttl = timing.ttl;
    this.#now = timing.now ?? (() => performance.now());
  }

  /** True while the session is valid: its rooms may be watched. */
  get alive(): boolean {
    return this.#now() <= this.#validUntil;
  }

  /** Until when it is surely alive, monotonic ms (`-Infinity` while dead). */
  get validUntil(): number {
    return this.#validUntil;
  }

  /** The TTL it runs with, ms. */
  get ttl(): number {
    return this.#ttl;
  }

  /**
   * Starts renewing (every quarter of the TTL) and checking (see
   * {@linkcode fenceCheckInterval}) until `signal` aborts, after a first
   * heartbeat; rejects when that one fails.
   */
  async begin(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    const sentAt = this.#now();
    await this.#host.beat();
    this.#stored(sentAt);
    this.#scheduleRenew();
    const check = () => {
      this.check();
      setTimer(fenceCheckInterval(this.#ttl), check, signal);
    };
    setTimer(fenceCheckInterval(this.#ttl), check, signal);
  }

  /** Renews now (after a reconnect, or to report a change); one renewal at a time. */
  renew(): void {
    if (this.#signal?.aborted) return;
    if (this.#beating !== undefined) {
      this.#again = true;
      return;
    }
    const sentAt = this.#now();
    this.#beating = this.#host.beat().then(
      () => this.#stored(sentAt),
      (error) => this.#host.failed(error),
    ).finally(() => {
      this.#beating = undefined;
      if (this.#again) {
        this.#again = false;
        this.renew();
      }
    });
  }

  /**
   * Follows a TTL change. A shorter one takes effect at once (the server
   * will expire the heartbeat sooner); a longer one from the next renewal.
   */
  setTtl(ttl: number): void {
    if (ttl === this.#ttl) return;
    const shorter = ttl < this.#ttl;
    this.#ttl = ttl;
    if (shorter && Number.isFinite(this.#validUntil)) {
      this.#validUntil = Math.min(this.#validUntil, this.#lastSentAt + ttl - fenceMargin(ttl));
      this.check();
    }
    this.#scheduleRenew();
  }

  /** Fences the session if it is past its validity. */
  check(): void {
    if (Number.isFinite(this.#validUntil) && this.#now() > this.#validUntil) this.#fence();
  }

  /** Resolves once the renewal in flight (if any) has settled. */
  async settled(): Promise<void> {
    await this.#beating;
  }

  #stored(sentAt: number): void {
    // Past the validity, the entry may have expired before this one was stored: fence, and
    // let only a heartbeat sent after the fence start a new session.
    this.check();
    if (sentAt <= this.#fencedAt || sentAt <= this.#lastSentAt) return;
    this.#lastSentAt = sentAt;
    this.#validUntil = sentAt + this.#ttl - fenceMargin(this.#ttl);
  }

  #fence(): void {
    this.#validUntil = -Infinity;
    this.#fencedAt = this.#now();
    this.#host.fenced();
  }

  #scheduleRenew(): void {
    const signal = this.#signal;
    if (signal === undefined) return;
    this.#cancelRenew();
    this.#cancelRenew = setTimer(renewInterval(this.#ttl), () => {
      this.renew();
      this.#scheduleRenew();
    }, signal);
  }
}
