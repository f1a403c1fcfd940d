/**
 * The NATS connection as its requests see it. The NATS client discards what
 * is written while it is disconnected (its outgoing buffer is reset on each
 * attempt to reconnect), and an answer to a request sent before a drop cannot
 * come back on the new connection: such a request only fails when its own
 * timeout runs out, seconds after NATS is back. A {@linkcode Link} fails them
 * at once instead: a request made while NATS is away, and every request in
 * flight when the connection drops.
 *
 * @module
 */

import { abortable } from "../base/abortable.ts";
import { ClusterError } from "./errors.ts";

/**
 * A request was not made, or its answer cannot come, because the NATS
 * connection is down: retry once it is back.
 */
export class OfflineError extends ClusterError {}

/**
 * Tracks whether the connection is up (its owner calls `down()` and `up()`
 * from the connection's status events) and runs requests against it.
 *
 * @example
 * ```ts ignore
 * const link = new Link();
 * const entry = await link.run(() => cluster.collectors.get("a"));
 * ```
 */
export class Link {
  #online = true;
  #epoch = new AbortController();

  /** True while the connection is up. */
  get online(): boolean {
    return this.#online;
  }

  /** The connection dropped: fail every request in flight. */
  down(): void {
    if (!this.#online) return;
    this.#online = false;
    this.#epoch.abort(new OfflineError("NATS disconnected"));
  }

  /** The connection is back. */
  up(): void {
    if (this.#online) return;
    this.#online = true;
    this.#epoch = new AbortController();
  }

  /**
   * Runs a request: rejects with an {@linkcode OfflineError} at once while
   * the connection is down, or as soon as it drops before the answer.
   */
  run<T>(request: () => Promise<T>): Promise<T> {
    if (!this.#online) return Promise.reject(new OfflineError("NATS disconnected"));
    return abortable(request(), this.#epoch.signal);
  }
}
