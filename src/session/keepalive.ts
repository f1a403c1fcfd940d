/**
 * Keeping a connection alive and finding it dead: the `mrkl` heartbeat a
 * joined connection sends, and the idle watchdog that ends a connection the
 * server has stopped talking on (half-open TCP is common). Each hangs off
 * the connection's signal: closing it stops both.
 *
 * @module
 */

import { TimeoutError } from "../base/errors.ts";
import { setRepeating, setTimer } from "../base/timers.ts";
import { encodeFrame } from "../protocol/frame.ts";

const HEARTBEAT = encodeFrame("type@=mrkl/");

/** What the heartbeat needs of a connection: when it last asked, and how to write. */
export interface HeartbeatTarget {
  /** When the unanswered heartbeat was sent (`performance.now()`), or 0. */
  heartbeatSentAt: number;
}

/**
 * Sends a heartbeat every `interval` ms until `signal` aborts; a failed
 * write is handed to `fail`.
 *
 * @example
 * ```ts ignore
 * sendHeartbeats(45_000, connection, (bytes) => transport.write(bytes), fail, signal);
 * ```
 */
export function sendHeartbeats(
  interval: number,
  target: HeartbeatTarget,
  write: (bytes: Uint8Array) => Promise<void>,
  fail: (error: unknown) => void,
  signal: AbortSignal,
): void {
  setRepeating(interval, () => {
    target.heartbeatSentAt = performance.now();
    write(HEARTBEAT).catch(fail);
  }, signal);
}

/** The idle watchdog of one connection: see {@linkcode watchIdle}. */
export interface IdleWatchdog {
  /** Bytes arrived: the connection is alive now. */
  activity(): void;
  /** Set while the connection waits for a slow consumer: that is not idleness. */
  paused: boolean;
}

/**
 * Fails the connection (`fail` with a `TimeoutError`) once `idleTimeout` ms
 * pass without {@linkcode IdleWatchdog.activity} while not paused, until
 * `signal` aborts.
 *
 * @example
 * ```ts ignore
 * const idle = watchIdle(120_000, url, fail, signal);
 * idle.activity(); // at every read
 * ```
 */
export function watchIdle(
  idleTimeout: number,
  url: string,
  fail: (error: unknown) => void,
  signal: AbortSignal,
): IdleWatchdog {
  // Time spent waiting for a slow consumer is not idleness.
  let lastActivity = performance.now();
  const watchdog: IdleWatchdog = {
    activity: () => {
      lastActivity = performance.now();
    },
    paused: false,
  };
  const watch = (delay: number) => {
    setTimer(delay, () => {
      const idle = performance.now() - lastActivity;
      if (watchdog.paused) {
        // The pause ends with activity(): from then on, a full period.
        watch(idleTimeout);
      } else if (idle < idleTimeout) {
        // Only the time left: a full period more would find a connection
        // that went quiet just after a check up to twice idleTimeout late.
        // Ceiled, so that a timer firing a fraction early cannot spin.
        watch(Math.ceil(idleTimeout - idle));
      } else {
        fail(new TimeoutError(`no data from ${url} for ${Math.round(idle)} ms`));
      }
    }, signal);
  };
  watch(idleTimeout);
  return watchdog;
}
