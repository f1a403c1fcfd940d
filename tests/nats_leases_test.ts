/**
 * Lease renewal and fencing (`src/nats/leases.ts`), without a server: a
 * fake host and a fake clock.
 */
import assert from "node:assert/strict";
import { type LeaseHost, LeaseKeeper, type Renewal } from "../src/nats/leases.ts";
import { deferred } from "../src/base/timers.ts";
import { test } from "./harness.ts";

/** A host whose renewals wait until the test answers them. */
function fakeHost() {
  const pending: {
    room: number;
    revision: number;
    answer(result: Renewal | "lost" | Error): void;
  }[] = [];
  const lost: [number, string][] = [];
  const failures: unknown[] = [];
  const host: LeaseHost = {
    renew(room, revision) {
      const done = deferred<Renewal | "lost">();
      pending.push({
        room,
        revision,
        answer: (result) => result instanceof Error ? done.reject(result) : done.resolve(result),
      });
      return done.promise;
    },
    lose: (room, why) => void lost.push([room, why]),
    failed: (error) => void failures.push(error),
  };
  return { host, pending, lost, failures };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const timing = { ttl: 10_000, renewInterval: 2500, fenceMargin: 1000, concurrency: 2 };

test("leases: valid until the claim was sent plus the TTL less the margin, then fenced", () => {
  let now = 0;
  const { host, lost } = fakeHost();
  const keeper = new LeaseKeeper(host, { ...timing, now: () => now });
  keeper.hold(1, 5, 100);
  now = 100 + 10_000 - 1000;
  keeper.fence();
  assert.deepEqual(lost, []);
  now++;
  keeper.fence();
  assert.deepEqual(lost, [[1, "fenced"]]);
  assert.equal(keeper.has(1), false);
});

test("leases: a renewal extends validity from when it was sent, not answered", async () => {
  let now = 0;
  const { host, pending, lost } = fakeHost();
  const keeper = new LeaseKeeper(host, { ...timing, now: () => now });
  keeper.hold(1, 5, 0);
  now = 2500;
  keeper.renewAll();
  assert.deepEqual(pending.map((p) => [p.room, p.revision]), [[1, 5]]);
  now = 8000; // a slow answer
  pending.shift()!.answer({ revision: 6, renewed: true });
  await tick();
  assert.equal(keeper.revision(1), 6);
  now = 2500 + 9000;
  keeper.fence();
  assert.deepEqual(lost, []);
  now++;
  keeper.fence();
  assert.deepEqual(lost, [[1, "fenced"]]);
});

test("leases: an unreachable store leaves fencing to decide; a lost lease is reported at once", async () => {
  let now = 0;
  const { host, pending, lost } = fakeHost();
  const keeper = new LeaseKeeper(host, { ...timing, now: () => now });
  keeper.hold(1, 5, 0);
  keeper.hold(2, 7, 0);
  keeper.renewAll();
  pending.shift()!.answer(new Error("timeout"));
  pending.shift()!.answer("lost");
  await tick();
  assert.deepEqual(lost, [[2, "lost"]]);
  assert.equal(keeper.has(1), true);
  assert.equal(keeper.revision(1), 5);
  now = 9001;
  keeper.fence();
  assert.deepEqual(lost, [[2, "lost"], [1, "fenced"]]);
});

test("leases: an adopted revision (an answer lost before) does not extend validity", async () => {
  let now = 0;
  const { host, pending, lost } = fakeHost();
  const keeper = new LeaseKeeper(host, { ...timing, now: () => now });
  keeper.hold(1, 5, 0);
  now = 3000;
  keeper.renewAll();
  pending.shift()!.answer({ revision: 9, renewed: false });
  await tick();
  assert.equal(keeper.revision(1), 9);
  now = 9001;
  keeper.fence();
  assert.deepEqual(lost, [[1, "fenced"]]);
});

test("leases: at most `concurrency` renewals at once; release waits for the one in flight", async () => {
  const { host, pending } = fakeHost();
  const keeper = new LeaseKeeper(host, timing);
  for (let room = 1; room <= 5; room++) keeper.hold(room, room * 10, Date.now());
  keeper.renewAll();
  assert.equal(pending.length, 2);
  keeper.renewAll(); // those in flight are not renewed twice
  assert.equal(pending.length, 4);
  let released: number | undefined | "waiting" = "waiting";
  const first = pending.find((p) => p.room === 1)!;
  void keeper.release(1).then((revision) => (released = revision));
  await tick();
  assert.equal(released, "waiting");
  first.answer({ revision: 11, renewed: true });
  await tick();
  await tick();
  assert.equal(released, 11);
  assert.equal(keeper.has(1), false);
  // A forced round (after a reconnect) renews those in flight too.
  const before = pending.length;
  keeper.renewAll(true);
  assert.equal(pending.length, before + 2);
  for (const p of pending.splice(0)) p.answer({ revision: p.revision + 1, renewed: true });
  for (let i = 0; i < 10; i++) await tick();
  for (const p of pending.splice(0)) p.answer({ revision: p.revision + 1, renewed: true });
  await keeper.settled();
});
