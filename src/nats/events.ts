/**
 * What a collector reports: its events, one at a time, and its counters.
 *
 * @module
 */

import type { PublisherCounters } from "./publisher.ts";

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
  /** Its lease was taken or deleted by someone else: the room stopped at once. */
  | { type: "lost"; room: number }
  /**
   * Its session (heartbeat) could not be renewed before it could expire (NATS
   * unreachable): the room stopped; what was read from it is published later.
   */
  | { type: "fenced"; room: number }
  /** A room could not be watched (connection failed for good). */
  | { type: "room-error"; room: number; error: unknown }
  /** The NATS connection went down or came back. */
  | { type: "nats"; state: "disconnected" | "reconnected" }
  /**
   * JetStream refused to store (out of storage: a full disk, or the server's
   * limits) or stopped answering while connected; then, once, that it stores
   * again. Reported once per change, with the server's reason.
   */
  | { type: "jetstream"; state: "failing" | "storing"; reason: string }
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
  /** Messages larger than the stream's limit (with their headers), not published. */
  oversized: number;
  /**
   * Messages read but not published when the collector stopped: NATS did not
   * take them within `flushTimeout`. Nothing read is dropped otherwise.
   */
  unpublished: number;
  /** Leases claimed. */
  claimed: number;
  /** Leases released. */
  released: number;
  /** Leases taken or deleted by someone else. */
  lost: number;
  /** Rooms stopped because the session could not be renewed in time. */
  fenced: number;
}
