import assert from "node:assert/strict";
import { abortable, untilAborted } from "../src/base/abortable.ts";
import { test } from "./harness.ts";

test("abortable: the promise's value when it settles first, and the listener is removed", async () => {
  const stop = new AbortController();
  let added = 0;
  let removed = 0;
  const signal = stop.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener =
    ((...args: Parameters<typeof add>) => (added++, add(...args))) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => (
    removed++, remove(...args)
  )) as typeof remove;
  assert.equal(await abortable(Promise.resolve(7), signal), 7);
  await assert.rejects(abortable(Promise.reject(new Error("boom")), signal), /boom/);
  assert.equal(added, 2);
  assert.equal(removed, 2);
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
