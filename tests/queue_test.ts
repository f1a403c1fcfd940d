import assert from "node:assert/strict";
import { MessageQueue } from "../src/session/queue.ts";
import { test } from "./harness.ts";

test("queue: pause policy resumes the producer at half capacity, not per message", async () => {
  const queue = new MessageQueue<number>(4, "pause");
  for (let i = 0; i < 4; i++) queue.push(i);
  const controller = new AbortController();
  let resumed = false;
  const waiting = queue.waitForSpace(controller.signal).then(() => (resumed = true));
  await queue.next(); // 3 left: still above half
  await Promise.resolve();
  assert.equal(resumed, false);
  await queue.next(); // 2 left: half
  await waiting;
  assert.equal(resumed, true);
});

test("queue: drop-oldest keeps the newest and counts drops", async () => {
  const queue = new MessageQueue<number>(2, "drop-oldest");
  assert.deepEqual([1, 2, 3, 4].map((n) => queue.push(n)), [0, 0, 1, 1]);
  queue.end();
  assert.deepEqual(await queue.next(), { value: 3, done: false });
  assert.deepEqual(await queue.next(), { value: 4, done: false });
  assert.deepEqual(await queue.next(), { value: undefined, done: true });
});

test("queue: a waiting consumer gets the next push; end() finishes it; abort frees a producer", async () => {
  const queue = new MessageQueue<string>(1, "pause");
  const next = queue.next();
  queue.push("a");
  assert.deepEqual(await next, { value: "a", done: false });
  queue.push("b");
  const controller = new AbortController();
  const waiting = queue.waitForSpace(controller.signal);
  controller.abort();
  await waiting;
  const pending = queue.next();
  assert.deepEqual(await pending, { value: "b", done: false });
  const last = queue.next();
  queue.end();
  assert.deepEqual(await last, { value: undefined, done: true });
  assert.throws(() => new MessageQueue(0, "pause"), RangeError);
});
