/**
 * The overlay server's connection limits, the same on Deno, Bun and Node:
 * how long a connection may take to send a request's head, how long a
 * kept-alive connection may sit idle, and how many connections may be open.
 * `node:http`'s own `headersTimeout` and `keepAliveTimeout` are not honoured
 * by every runtime (under Deno an idle socket stayed open for good), so the
 * server keeps its own account: one sweep, a few times per timeout.
 *
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setRepeating } from "../base/timers.ts";

/**
 * Limits of {@linkcode watchConnections}.
 *
 * @example
 * ```ts
 * import type { ConnectionLimits } from "./connections.ts";
 *
 * const limits: ConnectionLimits = { headerTimeout: 10_000, idleTimeout: 5_000, maxConnections: 256 };
 * console.log(limits.maxConnections); // 256
 * ```
 */
export interface ConnectionLimits {
  /** Milliseconds a new connection has to send a whole request head. */
  headerTimeout: number;
  /** Milliseconds a kept-alive connection may wait for its next request (its head included). */
  idleTimeout: number;
  /**
   * Most connections open at once. A new one past it closes the connection
   * idle the longest (no request in progress), or itself if none is idle.
   */
  maxConnections: number;
}

/**
 * What {@linkcode watchConnections} keeps count of: the connections open
 * now, and every one it closed, by reason.
 *
 * @example
 * ```ts
 * import type { ConnectionCounts } from "./connections.ts";
 *
 * const counts: ConnectionCounts = { open: 3, refused: 0, evicted: 1, timedOut: 2 };
 * console.log(counts.evicted); // 1
 * ```
 */
export interface ConnectionCounts {
  /** Open now. */
  readonly open: number;
  /** New ones closed at once: past `maxConnections`, with no idle one to close instead. */
  readonly refused: number;
  /** Idle ones closed to make room for a new one. */
  readonly evicted: number;
  /** Closed for sending no request head in time, or for staying idle too long. */
  readonly timedOut: number;
}

/** One connection's state. */
interface Tracked {
  /** Requests whose response has not ended. */
  busy: number;
  /** When it must have sent a request head, ms (performance.now()); Infinity while busy. */
  deadline: number;
}

/**
 * Enforces `limits` on `server`'s connections until `signal` aborts.
 *
 * @param server The `node:http` server, before it listens.
 * @param limits The limits.
 * @param signal Ends the sweep (the server's lifetime).
 * @returns The counts (live: read them when needed), for the server's `stats`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { watchConnections } from "./connections.ts";
 *
 * const lifetime = new AbortController();
 * const server = createServer((_req, res) => res.end("ok"));
 * const counts = watchConnections(server, { headerTimeout: 10_000, idleTimeout: 5_000, maxConnections: 64 }, lifetime.signal);
 * console.log(counts.open, counts.refused); // 0 0
 * lifetime.abort();
 * ```
 */
export function watchConnections(
  server: Server,
  limits: ConnectionLimits,
  signal: AbortSignal,
): ConnectionCounts {
  // Insertion order is the order of last activity: a socket is re-inserted
  // whenever it goes idle, so the first idle one found is the oldest.
  const sockets = new Map<Socket, Tracked>();
  let refused = 0;
  let evicted = 0;
  let timedOut = 0;
  const idleFrom = (socket: Socket, timeout: number) => {
    const tracked = sockets.get(socket);
    if (tracked === undefined) return;
    sockets.delete(socket);
    tracked.deadline = performance.now() + timeout;
    sockets.set(socket, tracked);
  };

  server.on("connection", (socket: Socket) => {
    if (signal.aborted) {
      socket.destroy();
      return;
    }
    if (sockets.size >= limits.maxConnections) {
      if (closeOldestIdle(sockets)) evicted++;
      else {
        refused++;
        socket.destroy();
        return;
      }
    }
    sockets.set(socket, { busy: 0, deadline: performance.now() + limits.headerTimeout });
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const tracked = sockets.get(socket);
    if (tracked === undefined) return;
    tracked.busy++;
    tracked.deadline = Infinity;
    res.once("close", () => {
      tracked.busy = Math.max(0, tracked.busy - 1);
      if (tracked.busy === 0) idleFrom(socket, limits.idleTimeout);
    });
  });
  const sweep = Math.max(10, Math.min(limits.headerTimeout, limits.idleTimeout) / 4);
  setRepeating(sweep, () => {
    const now = performance.now();
    for (const [socket, tracked] of sockets) {
      if (tracked.busy === 0 && tracked.deadline <= now) {
        sockets.delete(socket);
        socket.destroy();
        timedOut++;
      }
    }
  }, signal);
  signal.addEventListener("abort", () => sockets.clear(), { once: true });
  return {
    get open() {
      return sockets.size;
    },
    get refused() {
      return refused;
    },
    get evicted() {
      return evicted;
    },
    get timedOut() {
      return timedOut;
    },
  };
}

function closeOldestIdle(sockets: Map<Socket, Tracked>): boolean {
  for (const [socket, tracked] of sockets) {
    if (tracked.busy === 0) {
      sockets.delete(socket);
      socket.destroy();
      return true;
    }
  }
  return false;
}
