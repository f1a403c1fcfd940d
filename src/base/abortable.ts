/**
 * Racing a promise against an `AbortSignal`: the one way this package stops
 * waiting for something when its caller gives up.
 *
 * @module
 */

import { setTimer } from "./timers.ts";

/**
 * `promise`, or a rejection with `signal`'s reason as soon as the signal
 * aborts (at once if it already has), whichever comes first. The promise
 * itself is not cancelled: it is left to settle on its own, and its outcome
 * is then ignored (a late rejection is caught, never unhandled). The abort
 * listener is removed once either side wins, so a long-lived signal does not
 * collect listeners.
 *
 * @param promise What to wait for.
 * @param signal Stops the wait; its `reason` is the rejection.
 * @returns `promise`'s outcome, or `signal.reason` if it aborts first.
 *
 * @example
 * ```ts
 * import { abortable } from "./abortable.ts";
 *
 * const stop = new AbortController();
 * const never = new Promise<string>(() => {});
 * setTimeout(() => stop.abort(new Error("given up")), 10);
 * await abortable(never, stop.signal).catch((error) => console.log(error.message)); // "given up"
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Resolves once `signal` aborts (at once if it has); never rejects. For a
 * command that runs until it is stopped.
 *
 * @param signal What to wait for.
 *
 * @example
 * ```ts
 * import { untilAborted } from "./abortable.ts";
 *
 * await untilAborted(AbortSignal.abort()); // returns at once
 * ```
 */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return abortable(new Promise<void>(() => {}), signal).catch(() => {});
}

/**
 * Waits for `task` to settle, but at most `ms`, and no longer than `signal`
 * (when given) lives; resolves either way, never rejects. For goodbyes and
 * flushes that must not hold a shutdown up: a task left running is left to
 * settle on its own, its outcome ignored. The timer and the listener are gone
 * when it resolves.
 *
 * @param task What to wait for; its failure is ignored.
 * @param ms The longest wait, ms.
 * @param signal Ends the wait early when it aborts (after the call).
 *
 * @example
 * ```ts
 * import { settleWithin } from "./abortable.ts";
 *
 * await settleWithin(new Promise(() => {}), 10); // gives up after 10 ms
 * await settleWithin(Promise.reject(new Error("ignored")), 10_000); // at once
 * ```
 */
export async function settleWithin(
  task: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  const limit = new AbortController();
  const cancel = setTimer(ms, () => limit.abort(), limit.signal);
  const stopped = () => limit.abort();
  signal?.addEventListener("abort", stopped, { once: true });
  await abortable(task, limit.signal).catch(() => {});
  signal?.removeEventListener("abort", stopped);
  cancel();
}
