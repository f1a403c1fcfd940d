/**
 * Calls waiting for something (the mock server's next client, a client's
 * `count`-th message of a type) that give up when their signal aborts.
 *
 * @module
 */
import { abortable } from "../base/abortable.ts";
import type { Deferred } from "../base/timers.ts";

/** One waiting call: settled by whoever it waits for, unless it gave up. */
export interface Waiter<T> {
  readonly deferred: Deferred<T>;
  /** Aborting it gives up the wait: the call rejects with the signal's reason. */
  readonly signal: AbortSignal | undefined;
}

/**
 * Adds `waiter` to `list` until it settles or gives up, and returns what the
 * call waits for: the waiter's promise, or a rejection with the signal's
 * reason once it aborts.
 */
export function addWaiter<T, W extends Waiter<T>>(list: W[], waiter: W): Promise<T> {
  list.push(waiter);
  const { deferred, signal } = waiter;
  const result = signal === undefined ? deferred.promise : abortable(deferred.promise, signal);
  const forget = () => {
    const index = list.indexOf(waiter);
    if (index !== -1) list.splice(index, 1);
  };
  result.then(forget, forget);
  return result;
}

/**
 * Whether nobody waits on `waiter` any more: it was settled, or its signal
 * aborted (it is forgotten a moment later, but must not be handed anything
 * meanwhile: a client handed to it would be lost).
 */
export function givenUp(waiter: Waiter<unknown>): boolean {
  return waiter.deferred.settled || waiter.signal?.aborted === true;
}
