import assert from "node:assert/strict";
import { abortable, settleWithin, untilAborted } from "../src/base/abortable.ts";
import { test } from "./harness.ts";

/** `signal`, counting the abort listeners added to it and removed from it. */
function countListeners(signal: AbortSignal) {
  const listeners = { added: 0, removed: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener =
    ((...args: Parameters<typeof add>) => (listeners.added++, add(...args))) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => (
    listeners.removed++, remove(...args)
  )) as typeof remove;
  return { signal, listeners };
}

test("abortable: the promise's value when it settles first, and the listener is removed", async () => {
  const stop = new AbortController();
  const { signal, listeners } = countListeners(stop.signal);
  assert.equal(await abortable(Promise.resolve(7), signal), 7);
  await assert.rejects(abortable(Promise.reject(new Error("boom")), signal), /boom/);
  assert.equal(listeners.added, 2);
  assert.equal(listeners.removed, 2);
});

test("abortable: the signal's reason when it aborts first, or had already aborted", async () => {
  const stop = new AbortController();
  let settle!: (value: number) => void;
  const slow = new Promise<number>((resolve) => settle = resolve);
  const raced = abortable(slow, stop.signal);
  stop.abort(new Error("given up"));
  await assert.rejects(raced, /given up/);
  settle(1); // settling afterwards changes nothing and throws nowhere
  const late = Promise.reject(new Error("late failure"));
  await assert.rejects(abortable(late, AbortSignal.abort(new Error("already"))), /already/);
});

test("untilAborted: resolves on abort, at once when already aborted", async () => {
  await untilAborted(AbortSignal.abort());
  const stop = new AbortController();
  let done = false;
  const waiting = untilAborted(stop.signal).then(() => done = true);
  await Promise.resolve();
  assert.equal(done, false);
  stop.abort();
  await waiting;
  assert.equal(done, true);
});

test("settleWithin: resolves when the task settles (a failure ignored), leaving no timer", async () => {
  // A timer left behind would fail the sanitizers: the limit here is an hour.
  await settleWithin(Promise.resolve(1), 3_600_000);
  await settleWithin(Promise.reject(new Error("ignored")), 3_600_000);
});

test("settleWithin: gives up on a task that never settles after `ms`", async () => {
  let settled = false;
  await settleWithin(new Promise(() => {}), 5).then(() => settled = true);
  assert.equal(settled, true);
});

test("settleWithin: gives up when the signal aborts, and removes its listener", async () => {
  const stop = new AbortController();
  const { signal, listeners } = countListeners(stop.signal);
  let done = false;
  const waiting = settleWithin(new Promise(() => {}), 3_600_000, signal).then(() => done = true);
  await Promise.resolve();
  assert.equal(done, false);
  stop.abort();
  await waiting;
  assert.equal(done, true);
  assert.equal(listeners.added, 1);
  assert.equal(listeners.removed, 1);
});
