/**
 * What a session can be told: the endpoints (Douyu's by default), the
 * timings of heartbeat, idle watchdog, login and reconnection, the queue and
 * the filter; and their checked, defaulted form the session runs on.
 *
 * @module
 */

import { positive as checkPositive } from "../base/checks.ts";
import type { OverflowPolicy } from "../base/queue.ts";
import type { RoomLookupOptions } from "../web/room.ts";
import { MAX_TIMEOUT } from "../base/timers.ts";
import { checkMaxFrameSize, DEFAULT_MAX_FRAME_SIZE } from "../protocol/frame.ts";
import type { TransportFactory } from "../transport/seam.ts";
import { defaultTransportFactory } from "../transport/default.ts";

/**
 * Douyu's barrage endpoints, tried in this order by default: plain TCP first
 * (works on every runtime), then WebSocket over TLS (docs/protocol.md, "Endpoints": Deno's
 * rustls may refuse Douyu's cipher).
 */
export const DEFAULT_TCP_URLS: readonly string[] = [
  "tcp://danmuproxy.douyu.com:8601",
  "tcp://danmuproxy.douyu.com:8602",
  "tcp://danmuproxy.douyu.com:12601",
  "tcp://danmuproxy.douyu.com:12602",
];

/** The WebSocket ports the web player uses; the default list starts at a random one. */
export const DEFAULT_WSS_PORTS: readonly number[] = [8501, 8502, 8503, 8504, 8505, 8506];

/**
 * The default endpoint list: the TCP endpoints, then the `wss://` ports
 * rotated from a random starting port, as the web player does.
 *
 * @example
 * ```ts
 * import { defaultUrls } from "@x/douyu";
 *
 * console.log(defaultUrls()[0]); // "tcp://danmuproxy.douyu.com:8601"
 * ```
 */
export function defaultUrls(random: () => number = Math.random): string[] {
  const start = Math.floor(random() * DEFAULT_WSS_PORTS.length);
  const ports = [...DEFAULT_WSS_PORTS.slice(start), ...DEFAULT_WSS_PORTS.slice(0, start)];
  return [...DEFAULT_TCP_URLS, ...ports.map((port) => `wss://danmuproxy.douyu.com:${port}/`)];
}

/** How to reconnect after an established connection drops. */
export interface ReconnectPolicy {
  /**
   * Delay before the first retry, ms, at least 1; retries wait half to all
   * of it (jitter). Default 1000, or `maxDelay` if that is smaller.
   */
  initialDelay?: number;
  /**
   * Longest delay between retries, ms, at least `initialDelay`. Default
   * 30 000, or `initialDelay` if that is larger.
   */
  maxDelay?: number;
  /** Growth of the delay per failed retry, at least 1. Default 2. */
  multiplier?: number;
  /** A connection that stayed up this long (ms) resets the backoff. Default 60 000. */
  resetAfter?: number;
  /**
   * Give up after this many consecutive failed retries. A retry fails when it
   * does not log in and join, and also when it joins but the connection
   * drops within `resetAfter`: a server that accepts and then hangs up at
   * once is failing too. Only a connection that stays up for `resetAfter`
   * starts the count afresh. A whole number >= 0, or `Infinity`. Default
   * `Infinity`.
   */
  maxAttempts?: number;
}

/**
 * Options of {@linkcode connect}. Every one has a default. A room name is
 * looked up as {@linkcode RoomLookupOptions} says: with endpoints of your own
 * (`url`), only at the bases given.
 */
export interface ConnectOptions<T extends string = string> extends RoomLookupOptions {
  /**
   * Endpoints, tried in order and rotated on reconnect: `tcp://host:port`,
   * `ws://…` or `wss://…`. Default: {@linkcode defaultUrls} (Douyu's servers).
   */
  url?: string | readonly string[];
  /**
   * Milliseconds between `mrkl` heartbeats; must be shorter than
   * `idleTimeout`. Default 45 000 (the protocol's maximum).
   */
  heartbeatInterval?: number;
  /**
   * Milliseconds without a byte from the server before the connection is
   * declared dead (half-open TCP is common) and replaced. Time spent paused
   * for a slow consumer does not count. Default 120 000.
   */
  idleTimeout?: number;
  /** Milliseconds to open a socket and receive `loginres`. Default 10 000. */
  loginTimeout?: number;
  /** Reconnect after a drop: `true` (default policy), `false`, or a policy. Default `true`. */
  reconnect?: boolean | ReconnectPolicy;
  /** Barrage group to join. Default -9999 ("mass barrage mode": everything). */
  group?: number;
  /**
   * Only these message types reach the consumer; others are dropped before
   * their text is even decoded. Default: every type.
   */
  types?: readonly T[];
  /** Aborting it closes the session (with `logout`). */
  signal?: AbortSignal;
  /** How many messages may wait for a slow consumer. Default 10 000. */
  queueSize?: number;
  /** What happens when that queue is full. Default `"pause"`. */
  overflow?: OverflowPolicy;
  /** Opens sockets; replace it to add a transport or a test double. Default: TCP and WebSocket on this runtime. */
  transport?: TransportFactory;
  /**
   * Largest frame accepted, bytes, a whole number from 9 to 2^31-1; a
   * larger frame ends the connection. Default 1 MiB.
   */
  maxFrameSize?: number;
  /**
   * Called with every body as it arrives (before the `types` filter), with
   * its arrival time in ms since the epoch: enough to record and replay.
   */
  onBody?: (body: string, receivedAt: number) => void;
}

/** The options with every default filled in and every bound checked: see {@linkcode resolveOptions}. */
export interface ResolvedOptions {
  heartbeatInterval: number;
  idleTimeout: number;
  loginTimeout: number;
  reconnect: Required<ReconnectPolicy> | undefined;
  group: number;
  types: ReadonlySet<string> | undefined;
  queueSize: number;
  overflow: OverflowPolicy;
  transport: TransportFactory;
  maxFrameSize: number;
  onBody: ((body: string, receivedAt: number) => void) | undefined;
}

/** Checks `options` and fills in the defaults; throws a `RangeError` on a bad one. */
export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  const reconnect = options.reconnect ?? true;
  const policy = reconnect === false ? undefined : reconnect === true ? {} : reconnect;
  const heartbeatInterval = delay("heartbeatInterval", options.heartbeatInterval, 45_000);
  const idleTimeout = delay("idleTimeout", options.idleTimeout, 120_000);
  // The server answers each heartbeat, so a quiet room still sends a byte
  // every heartbeatInterval: a shorter idle timeout would reconnect forever.
  if (heartbeatInterval >= idleTimeout) {
    throw new RangeError(
      `heartbeatInterval (${heartbeatInterval} ms) must be shorter than idleTimeout (${idleTimeout} ms)`,
    );
  }
  return {
    heartbeatInterval,
    idleTimeout,
    loginTimeout: delay("loginTimeout", options.loginTimeout, 10_000),
    reconnect: policy && resolveReconnect(policy),
    group: options.group ?? -9999,
    types: options.types ? new Set(options.types) : undefined,
    queueSize: positive("queueSize", options.queueSize, 10_000),
    overflow: options.overflow ?? "pause",
    transport: options.transport ?? defaultTransportFactory,
    // Checked here by the decoder's own rule: checked only when a connection opens, a bad value
    // would fail each endpoint in turn (and every reconnection) rather than connect() at once.
    maxFrameSize: checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE),
    onBody: options.onBody,
  };
}

/** `value ?? fallback`, when it is a number > 0 (or Infinity) from `min` to `max`. */
function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  { min = 0, max = Infinity } = {},
): number {
  const n = checkPositive(value ?? fallback, name, { infinite: true });
  if (n < min) throw new RangeError(`${name} must be at least ${min}, got ${n}`);
  if (n > max) throw new RangeError(`${name} must be at most ${max}, got ${n}`);
  return n;
}

/** A timer's delay: timer delays beyond 2^31-1 ms fire at once on every runtime. */
function delay(name: string, value: number | undefined, fallback: number, min = 0): number {
  return positive(name, value, fallback, { min, max: MAX_TIMEOUT });
}

/** The reconnection policy, checked, with its defaults. */
function resolveReconnect(policy: ReconnectPolicy): Required<ReconnectPolicy> {
  // Retry delays round to whole ms: one below 1 ms, or a multiplier below 1
  // that shrinks each delay to 0, would reconnect in a tight loop.
  const retryDelay = (name: string, value: number) => delay(name, value, value, 1);
  const initialGiven = policy.initialDelay === undefined
    ? undefined
    : retryDelay("reconnect.initialDelay", policy.initialDelay);
  const maxGiven = policy.maxDelay === undefined
    ? undefined
    : retryDelay("reconnect.maxDelay", policy.maxDelay);
  // A default gives way to the bound that is given, so that either alone works.
  const initialDelay = initialGiven ?? Math.min(1000, maxGiven ?? 1000);
  const maxDelay = maxGiven ?? Math.max(30_000, initialDelay);
  if (maxDelay < initialDelay) {
    throw new RangeError(
      `reconnect.maxDelay (${maxDelay} ms) must be at least reconnect.initialDelay (${initialDelay} ms)`,
    );
  }
  // NaN compares false with every count, so it would mean "retry forever".
  const maxAttempts = policy.maxAttempts ?? Infinity;
  if (maxAttempts !== Infinity && !(Number.isSafeInteger(maxAttempts) && maxAttempts >= 0)) {
    throw new RangeError(
      `reconnect.maxAttempts must be an integer >= 0 (or Infinity), got ${maxAttempts}`,
    );
  }
  return {
    initialDelay,
    maxDelay,
    multiplier: positive("reconnect.multiplier", policy.multiplier, 2, { min: 1 }),
    resetAfter: positive("reconnect.resetAfter", policy.resetAfter, 60_000),
    maxAttempts,
  };
}
