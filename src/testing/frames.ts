/**
 * Small helpers the mock server and its clients share: turning a scripted
 * message into a server packet, and waiters that give up when a signal
 * aborts.
 *
 * @module
 */
import { encodeFrame, SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";
import { encodeStt } from "../protocol/stt.ts";
import type { Deferred } from "../base/timers.ts";
import type { MockMessage } from "./mock_options.ts";

/**
 * Adds a waiter to `list` until its promise settles (or `signal` aborts).
 *
 * @returns The waiter's promise.
 */
export function addWaiter<T, W extends { deferred: Deferred<T> }>(
  list: W[],
  waiter: W,
  signal: AbortSignal | undefined,
): Promise<T> {
  list.push(waiter);
  settleOnAbort(waiter.deferred, signal);
  const forget = () => {
    const index = list.indexOf(waiter);
    if (index !== -1) list.splice(index, 1);
  };
  waiter.deferred.promise.then(forget, forget);
  return waiter.deferred.promise;
}

/**
 * Rejects `target` with the signal's reason when it aborts, and unhooks the
 * listener when `target` settles first.
 */
function settleOnAbort<T>(target: Deferred<T>, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  if (signal.aborted) {
    target.reject(signal.reason);
    return;
  }
  const onAbort = () => target.reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const unhook = () => signal.removeEventListener("abort", onAbort);
  target.promise.then(unhook, unhook);
}

/** The STT body of a scripted message. */
export function toBody(message: MockMessage): string {
  return typeof message === "string" ? message : encodeStt(message);
}

/** A scripted message as a server packet. */
export function serverFrame(message: MockMessage): Uint8Array {
  return encodeFrame(toBody(message), SERVER_MESSAGE_TYPE);
}

/** Whether a message source is async (a live feed that may wait). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<MockMessage> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
