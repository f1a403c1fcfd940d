/**
 * A collector's session lease (`src/nats/leases.ts`), without a server: a
 * fake host and a fake monotonic clock. The heartbeat is the lease every
 * room depends on; fencing must come before the server could expire it.
 */
import assert from "node:assert/strict";
import {
  fenceCheckInterval,
  fenceMargin,
  renewInterval,
  type SessionHost,
  SessionLease,
} from "../src/nats/leases.ts";
import { deferred } from "../src/base/timers.ts";
import { test } from "./harness.ts";

/** A host whose heartbeats wait until the test answers them. */
function fakeHost() {
  const pending: { answer(ok: boolean): void }[] = [];
  let fenced = 0;
  const failures: unknown[] = [];
  const host: SessionHost = {
    beat() {
      const done = deferred<void>();
      pending.push({ answer: (ok) => ok ? done.resolve() : done.reject(new Error("timeout")) });
      return done.promise;
    },
    fenced: () => void fenced++,
    failed: (error) => void failures.push(error),
  };
  return { host, pending, fenced: () => fenced, failures };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const TTL = 10_000;

async function begun(now: { t: number }) {
  const fake = fakeHost();
  const session = new SessionLease(fake.host, { ttl: TTL, now: () => now.t });
  const stop = new AbortController();
  const beginning = session.begin(stop.signal);
  fake.pending.shift()!.answer(true);
  await beginning;
  return { ...fake, session, stop };
}

test("session: the timing: renewals every TTL/4, fenced a margin before, checked 4 times a margin", () => {
  assert.equal(renewInterval(15_000), 3750);
  assert.equal(fenceMargin(15_000), 1000);
  // Checked every 250 ms: three quarters of the 1 s margin stay (it was every 937 ms).
  assert.equal(fenceCheckInterval(15_000), 250);
  for (const ttl of [1000, 3000, 15_000, 3_600_000]) {
    assert.ok(fenceCheckInterval(ttl) <= fenceMargin(ttl) / 4 || fenceCheckInterval(ttl) === 25);
    assert.ok(renewInterval(ttl) + fenceMargin(ttl) < ttl);
  }
});

test("session: valid until the first heartbeat was sent plus the TTL less the margin", async () => {
  const now = { t: 500 };
  const { session, fenced, stop } = await begun(now);
  assert.equal(session.validUntil, 500 + TTL - fenceMargin(TTL));
  now.t = session.validUntil;
  session.check();
  assert.equal(fenced(), 0);
  assert.equal(session.alive, true);
  now.t++;
  session.check();
  assert.equal(fenced(), 1);
  assert.equal(session.alive, false);
  session.check();
  assert.equal(fenced(), 1, "fenced once");
  stop.abort();
});

test("session: a renewal extends from when it was sent; an answer past the validity fences instead", async () => {
  const now = { t: 0 };
  const { session, pending, fenced, stop } = await begun(now);
  now.t = 2500;
  session.renew();
  now.t = 4000; // answered late, but in time
  pending.shift()!.answer(true);
  await tick();
  await tick();
  assert.equal(session.validUntil, 2500 + TTL - fenceMargin(TTL));
  now.t = 5000;
  session.renew();
  // No check ran in between (a busy event loop): the answer comes past the validity.
  now.t = 2500 + TTL;
  pending.shift()!.answer(true);
  await tick();
  await tick();
  assert.equal(fenced(), 1, "an answer past the validity must fence, not extend");
  assert.equal(session.alive, false);
  stop.abort();
});

test("session: after a fence only a heartbeat sent after it starts a session again", async () => {
  const now = { t: 0 };
  const { session, pending, fenced, stop } = await begun(now);
  now.t = 3000;
  session.renew(); // sent before the fence, answered after it
  now.t = TTL;
  session.check();
  assert.equal(fenced(), 1);
  pending.shift()!.answer(true);
  await tick();
  await tick();
  assert.equal(session.alive, false, "a heartbeat of the old session revived it");
  now.t = TTL + 100;
  session.renew();
  pending.shift()!.answer(true);
  await tick();
  await tick();
  assert.equal(session.alive, true);
  assert.equal(session.validUntil, TTL + 100 + TTL - fenceMargin(TTL));
  stop.abort();
});

test("session: failed renewals are reported, and leave fencing to decide", async () => {
  const now = { t: 0 };
  const { session, pending, fenced, failures, stop } = await begun(now);
  for (const t of [2500, 5000, 7500]) {
    now.t = t;
    session.renew();
    pending.shift()!.answer(false);
    await tick();
    await tick();
  }
  assert.equal(failures.length, 3);
  assert.equal(fenced(), 0);
  now.t = TTL;
  session.check();
  assert.equal(fenced(), 1);
  stop.abort();
});

test("session: one heartbeat at a time; a renewal asked meanwhile follows it", async () => {
  const now = { t: 0 };
  const { session, pending, stop } = await begun(now);
  session.renew();
  session.renew();
  session.renew();
  assert.equal(pending.length, 1);
  pending.shift()!.answer(true);
  await tick();
  await tick();
  assert.equal(pending.length, 1, "the renewal asked meanwhile");
  pending.shift()!.answer(true);
  await tick();
  await session.settled();
  stop.abort();
});

test("session: a shorter TTL takes effect at once, and fences if the session is past it", async () => {
  const now = { t: 0 };
  const { session, fenced, stop } = await begun(now);
  now.t = 3000;
  session.setTtl(5000);
  assert.equal(session.ttl, 5000);
  assert.equal(session.validUntil, 5000 - fenceMargin(5000));
  assert.equal(fenced(), 0);
  session.setTtl(2000);
  assert.equal(fenced(), 1);
  session.setTtl(20_000); // longer: from the next renewal on
  assert.equal(session.alive, false);
  stop.abort();
});

test("session: fencing runs on the monotonic clock: a wall-clock step back extends nothing", async () => {
  const fake = fakeHost();
  const session = new SessionLease(fake.host, { ttl: TTL });
  const stop = new AbortController();
  const realNow = Date.now;
  try {
    const beginning = session.begin(stop.signal);
    fake.pending.shift()!.answer(true);
    await beginning;
    const expected = performance.now() + TTL - fenceMargin(TTL);
    assert.ok(
      Math.abs(session.validUntil - expected) < 100,
      `${session.validUntil} vs ${expected}`,
    );
    Date.now = () => realNow() - 3_600_000; // the wall clock steps an hour back
    session.renew();
    fake.pending.shift()!.answer(true);
    await tick();
    await tick();
    assert.ok(session.validUntil - performance.now() <= TTL, "validity grew with the clock step");
  } finally {
    Date.now = realNow;
    stop.abort();
    await session.settled();
  }
});
