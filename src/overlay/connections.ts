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
 * @returns How many connections are open, for tests and diagnostics.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { watchConnections } from "./connections.ts";
 *
 * const lifetime = new AbortController();
 * const server = createServer((_req, res) => res.end("ok"));
 * const open = watchConnections(server, { headerTimeout: 10_000, idleTimeout: 5_000, maxConnections: 64 }, lifetime.signal);
 * console.log(open()); // 0
 * lifetime.abort();
 * ```
 */
export function watchConnections(
  server: Server,
  limits: ConnectionLimits,
  signal: AbortSignal,
): () => number {
  // Insertion order is the order of last activity: a socket is re-inserted
  // whenever it goes idle, so the first idle one found is the oldest.
  const sockets = new Map<Socket, Tracked>();
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
    if (sockets.size >= limits.maxConnections && !closeOldestIdle(sockets)) {
      socket.destroy();
      return;
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
      }
    }
  }, signal);
  signal.addEventListener("abort", () => sockets.clear(), { once: true });
  return () => sockets.size;
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
