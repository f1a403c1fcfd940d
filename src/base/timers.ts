/**
 * Timers that hang off an AbortSignal: aborting the signal clears them, so a
 * closed session leaves no timer behind. Web-standard `setTimeout` only.
 * Also the retry backoff, and the small promise helper the session and the
 * mock server share.
 *
 * @module
 */

/**
 * The longest delay `setTimeout` honours (2^31-1 ms, about 24.8 days): a
 * longer one fires after 1 ms on every runtime.
 */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Waits `ms` milliseconds, or less if `signal` aborts first. Never rejects.
 *
 * @example
 * ```ts
 * import { sleep } from "./timers.ts";
 *
 * await sleep(10, AbortSignal.abort()); // returns at once
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, MAX_TIMEOUT));
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Calls `fn` once after `ms`, unless `signal` aborts first.
 *
 * @returns A function that cancels the timer.
 *
 * @example
 * ```ts
 * import { setTimer } from "./timers.ts";
 *
 * const controller = new AbortController();
 * setTimer(1000, () => console.log("never"), controller.signal);
 * controller.abort(); // the timer is gone
 * ```
 */
export function setTimer(ms: number, fn: () => void, signal: AbortSignal): () => void {
  if (signal.aborted) return () => {};
  const cancel = () => {
    clearTimeout(timer);
    signal.removeEventListener("abort", cancel);
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", cancel);
    fn();
  }, Math.min(ms, MAX_TIMEOUT));
  signal.addEventListener("abort", cancel, { once: true });
  return cancel;
}

/**
 * Calls `fn` every `ms` until `signal` aborts.
 *
 * @example
 * ```ts
 * import { setRepeating } from "./timers.ts";
 *
 * const controller = new AbortController();
 * setRepeating(45_000, () => console.log("heartbeat"), controller.signal);
 * controller.abort();
 * ```
 */
export function setRepeating(ms: number, fn: () => void, signal: AbortSignal): void {
  if (signal.aborted) return;
  const timer = setInterval(fn, Math.min(ms, MAX_TIMEOUT));
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}

/** How retries back off: see {@linkcode backoffDelay}. */
export interface Backoff {
  /** Delay before the first retry, ms. */
  initial: number;
  /** Largest delay, ms. */
  max: number;
  /** Growth per retry. Default 2. */
  multiplier?: number;
}

/**
 * The delay before retry number `attempt` (1-based): exponential, capped at
 * `max`, then a random half to all of it, so that clients cut off together
 * do not all come back at the same moment. Never below 1 ms.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./timers.ts";
 *
 * const ms = backoffDelay(3, { initial: 1000, max: 30_000 });
 * console.log(ms >= 2000 && ms <= 4000); // true
 * ```
 */
export function backoffDelay(attempt: number, backoff: Backoff): number {
  const base = Math.min(backoff.max, backoff.initial * (backoff.multiplier ?? 2) ** (attempt - 1));
  // Callers check their settings, but a delay rounded to 0 ms (a sub-ms
  // initial delay, a multiplier below 1) would retry in a tight loop.
  return Math.max(1, Math.round(base / 2 + Math.random() * base / 2));
}

/**
 * A child AbortController that aborts with its parent. `release()` detaches it
 * from the parent, so short-lived children do not pile up listeners on a
 * long-lived parent.
 *
 * @example
 * ```ts
 * import { childController } from "./timers.ts";
 *
 * const parent = new AbortController();
 * const child = childController(parent.signal);
 * parent.abort();
 * console.log(child.signal.aborted); // true
 * ```
 */
export function childController(
  parent: AbortSignal,
): AbortController & { release(): void } {
  const controller = new AbortController() as AbortController & { release(): void };
  const forward = () => controller.abort(parent.reason);
  if (parent.aborted) forward();
  else parent.addEventListener("abort", forward, { once: true });
  controller.release = () => parent.removeEventListener("abort", forward);
  return controller;
}

/** A promise with its settle functions, as made by {@linkcode deferred}. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** True once resolved or rejected. */
  readonly settled: boolean;
  /** Resolves the promise. */
  resolve(value: T): void;
  /** Rejects the promise. */
  reject(reason: unknown): void;
}

/**
 * `Promise.withResolvers` (which Node 20 lacks), plus a `settled` flag.
 *
 * @example
 * ```ts
 * import { deferred } from "./timers.ts";
 *
 * const ready = deferred<number>();
 * ready.resolve(42);
 * console.log(ready.settled, await ready.promise); // true 42
 * ```
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const result = {
    promise,
    settled: false,
    resolve(value: T) {
      result.settled = true;
      resolve(value);
    },
    reject(reason: unknown) {
      result.settled = true;
      reject(reason);
    },
  };
  return result;
}
