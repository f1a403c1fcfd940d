import assert from "node:assert/strict";
import { Fifo } from "../src/base/fifo.ts";
import { MessageQueue } from "../src/base/queue.ts";
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

test("queue: every waiting producer resumes at half capacity; onDrop sees each dropped item", async () => {
  const queue = new MessageQueue<number>(4, "pause");
  for (let i = 0; i < 4; i++) queue.push(i);
  assert.ok(queue.full);
  const controller = new AbortController();
  let resumed = 0;
  const waiting = [1, 2, 3].map(() =>
    queue.waitForSpace(controller.signal).then(() => void resumed++)
  );
  await queue.next();
  await queue.next();
  await Promise.all(waiting);
  assert.equal(resumed, 3);
  assert.equal(queue.full, false);

  const dropped: string[] = [];
  const dropping = new MessageQueue<string>(1, "drop-oldest", (item) => dropped.push(item));
  for (const item of ["a", "b", "c"]) dropping.push(item);
  assert.deepEqual(dropped, ["a", "b"]);
});

test("queue: draining 200,000 queued items takes linear time", async () => {
  // Array.shift() made this quadratic: seconds for 200k items.
  const queue = new MessageQueue<number>(1_000_000, "pause");
  const count = 200_000;
  for (let i = 0; i < count; i++) queue.push(i);
  const started = performance.now();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += (await queue.next()).value!;
  const elapsed = performance.now() - started;
  assert.equal(sum, (count * (count - 1)) / 2);
  assert.ok(elapsed < 2000, `draining took ${elapsed} ms`);
});

test("queue: an ended queue is never full, so a paused producer stops waiting on it", async () => {
  // A hub ends its queue on close while a paused session still loops on `full`; with `full`
  // still true and `waitForSpace` resolving at once, that loop never yielded (Bun hung at
  // 100% CPU stopping a collector whose publisher had no room).
  const queue = new MessageQueue<number>(2, "pause");
  queue.push(1);
  queue.push(2);
  assert.equal(queue.full, true);
  queue.end();
  assert.equal(queue.full, false);
  await queue.waitForSpace(new AbortController().signal);
  assert.deepEqual([(await queue.next()).value, (await queue.next()).value], [1, 2]);
  assert.equal((await queue.next()).done, true);
});

test("queue: waitForConsumer resolves once the consumer takes everything, within its run", async () => {
  const queue = new MessageQueue<number>(100, "pause");
  const signal = new AbortController().signal;
  await queue.waitForConsumer(signal); // nothing queued: at once
  for (let i = 0; i < 3; i++) queue.push(i);
  let timerFired = false;
  const timer = setTimeout(() => (timerFired = true), 0);
  const waiting = queue.waitForConsumer(signal);
  for (let i = 0; i < 3; i++) await queue.next();
  await waiting;
  // Resolved by the drain, in the same run of microtasks: no timer has fired.
  assert.equal(timerFired, false);
  clearTimeout(timer);
});

test("queue: waitForConsumer resolves after a turn of the event loop when the consumer stops taking", async () => {
  const queue = new MessageQueue<number>(100, "pause");
  const controller = new AbortController();
  for (let i = 0; i < 3; i++) queue.push(i);
  const waiting = queue.waitForConsumer(controller.signal);
  await queue.next(); // one taken; then this consumer waits on something else
  await waiting;
  assert.equal(queue.size, 2);
  // …and at once on end() or an abort, leaving no timer behind.
  const ended = queue.waitForConsumer(controller.signal);
  queue.end();
  await ended;
  const other = new MessageQueue<number>(100, "pause");
  other.push(1);
  const aborted = other.waitForConsumer(controller.signal);
  controller.abort();
  await aborted;
});

test("Fifo.take: the oldest items in order, at most max, and the rest stays", () => {
  const fifo = new Fifo<number>();
  for (let i = 1; i <= 5; i++) fifo.push(i);
  assert.deepEqual(fifo.take(2), [1, 2]);
  assert.equal(fifo.size, 3);
  assert.deepEqual(fifo.take(10), [3, 4, 5]);
  assert.deepEqual(fifo.take(3), []);
  for (let i = 0; i < 3000; i++) fifo.push(i);
  for (let i = 0; i < 2900; i += 100) assert.equal(fifo.take(100)[0], i);
  assert.equal(fifo.shift(), 2900);
  assert.equal(fifo.size, 99);
});

test("MessageQueue.nextBatch: what is queued at once, a wait when empty, producers woken, undefined at the end", async () => {
  const queue = new MessageQueue<number>(4, "pause");
  for (let i = 1; i <= 4; i++) queue.push(i);
  assert.equal(queue.full, true);
  let woken = false;
  const waiting = queue.waitForSpace(new AbortController().signal).then(() => (woken = true));
  assert.deepEqual(await queue.nextBatch(3), [1, 2, 3]);
  await waiting;
  assert.equal(woken, true);
  assert.deepEqual(await queue.nextBatch(10), [4]);
  const later = queue.nextBatch(10);
  queue.push(5);
  queue.push(6);
  // The first ends the wait; what came meanwhile joins it.
  assert.deepEqual(await later, [5, 6]);
  queue.push(7);
  queue.end();
  assert.deepEqual(await queue.nextBatch(10), [7]);
  assert.equal(await queue.nextBatch(10), undefined);
});

test("MessageQueue.nextBatch: taking everything resolves waitForConsumer within the run", async () => {
  const queue = new MessageQueue<number>(100, "pause");
  for (let i = 0; i < 3; i++) queue.push(i);
  let timerFired = false;
  const timer = setTimeout(() => (timerFired = true), 0);
  const waiting = queue.waitForConsumer(new AbortController().signal);
  assert.deepEqual(await queue.nextBatch(10), [0, 1, 2]);
  await waiting;
  assert.equal(timerFired, false);
  clearTimeout(timer);
});
