/**
 * The collectors' fair-share policy (`src/nats/spread.ts`), without a
 * server: shares, handovers, removals, stale rooms, capacity and cooling.
 */
import assert from "node:assert/strict";
import { fairShare, type HeldRoom, planSpread, type SpreadInput } from "../src/nats/spread.ts";
import { test } from "./harness.ts";

const rooms = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

function input(overrides: Partial<SpreadInput>): SpreadInput {
  return {
    desired: new Set<number>(),
    live: 1,
    leased: new Set<number>(),
    held: [],
    cooling: new Map(),
    freeSince: new Map(),
    now: 10_000,
    maxRooms: 200,
    staleAfter: 3000,
    random: () => 0.5,
    ...overrides,
  };
}

const holding = (list: number[], since = 0, releasing = false): HeldRoom[] =>
  list.map((room, i) => ({ room, since: since + i, releasing }));

test("spread: a lone collector claims every free room, up to maxRooms", () => {
  const desired = new Set(rooms(1, 300));
  const plan = planSpread(input({ desired }));
  assert.equal(plan.want, 200);
  assert.deepEqual([...plan.claim].sort((a, b) => a - b), rooms(1, 300));
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.rebalance, []);
});

test("spread: the share is the desired rooms over the live collectors, rounded up", () => {
  const desired = new Set(rooms(1, 61));
  const leased = new Set(rooms(1, 40)); // the others hold 40
  const plan = planSpread(input({ desired, live: 3, leased }));
  assert.equal(plan.want, 21); // ceil(61 / 3)
  assert.equal(plan.claim.length, 21);
  assert.ok(plan.claim.every((room) => room > 40));
});

test("spread: past its share, the newest rooms are handed over and nothing is claimed", () => {
  const desired = new Set(rooms(1, 60));
  const held = holding(rooms(1, 30), 100); // since 100..129: 30 is the newest
  const plan = planSpread(input({ desired, live: 3, held, leased: new Set(rooms(31, 20)) }));
  assert.deepEqual(plan.rebalance, [30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
  assert.deepEqual(plan.claim, []);
  assert.equal(plan.want, 0);
});

test("spread: rooms no longer desired are removed, and make room for others", () => {
  const desired = new Set([1, 2, 3, 4]);
  const held = holding([1, 2, 9]);
  const plan = planSpread(input({ desired, live: 2, held, leased: new Set([1, 2]) }));
  assert.deepEqual(plan.remove, [9]);
  assert.deepEqual(plan.rebalance, []);
  // Share 2, holding 2 (9 is going): nothing to claim until 3 and 4 have been free a while.
  assert.equal(plan.want, 0);
});

test("spread: rooms free for staleAfter go to anyone with capacity, past its share", () => {
  const desired = new Set(rooms(1, 4));
  const held = holding([1, 2]);
  const leased = new Set([1, 2]);
  const first = planSpread(input({ desired, live: 2, held, leased, now: 1000 }));
  assert.equal(first.want, 0);
  assert.deepEqual([...first.freeSince], [[3, 1000], [4, 1000]]);
  const later = planSpread(
    input({ desired, live: 2, held, leased, now: 3999, freeSince: first.freeSince }),
  );
  assert.equal(later.want, 0);
  const stale = planSpread(
    input({ desired, live: 2, held, leased, now: 4000, freeSince: first.freeSince }),
  );
  assert.equal(stale.want, 2);
  assert.deepEqual([...stale.claim].sort(), [3, 4]);
  // …but never past maxRooms (rooms in their handover count).
  const full = planSpread(input({
    desired,
    live: 2,
    held: [...held, ...holding([7], 0, true)],
    leased,
    now: 4000,
    freeSince: first.freeSince,
    maxRooms: 3,
  }));
  assert.equal(full.want, 0);
});

test("spread: cooling rooms are left to others until their time is up", () => {
  const desired = new Set([1, 2]);
  const cooling = new Map([[1, 20_000]]);
  assert.deepEqual(planSpread(input({ desired, cooling, now: 19_999 })).claim, [2]);
  assert.equal(planSpread(input({ desired, cooling, now: 20_000 })).claim.length, 2);
});

test("spread: releasing rooms are neither counted in the share nor claimed again", () => {
  const desired = new Set([1, 2, 3]);
  const held = [...holding([1]), ...holding([2], 0, true)];
  const plan = planSpread(input({ desired, live: 1, held, leased: new Set([1, 2]) }));
  assert.deepEqual(plan.claim, [3]);
  assert.equal(plan.want, 2); // share 3, one kept; capacity 198
});

test("spread: the claim order is shuffled by the random source given", () => {
  const desired = new Set(rooms(1, 10));
  let state = 1;
  const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
  const a = planSpread(input({ desired, random })).claim;
  state = 7;
  const b = planSpread(input({ desired, random })).claim;
  assert.notDeepEqual(a, b);
  assert.deepEqual([...a].sort((x, y) => x - y), rooms(1, 10));
});

test("spread: no room past the share while another collector is below its own", () => {
  const desired = new Set(rooms(1, 4));
  const held = holding([1, 2]);
  const leased = new Set([1, 2]);
  const freeSince = new Map([[3, 0], [4, 0]]);
  const base = { desired, live: 2, held, leased, now: 10_000, freeSince };
  assert.equal(planSpread(input({ ...base, othersBelowShare: true })).want, 0);
  assert.equal(planSpread(input({ ...base, othersBelowShare: false })).want, 2);
  // …unless the rooms stay free so long that the other is not taking them.
  const stuck = { ...base, othersBelowShare: true, stuckAfter: 30_000 };
  assert.equal(planSpread(input({ ...stuck, now: 29_999 })).want, 0);
  assert.equal(planSpread(input({ ...stuck, now: 30_000 })).want, 2);
});

test("spread: fairShare gives a collector capped below the even share its limit, the rest to the others", () => {
  assert.equal(fairShare(20, [200, 200]), 10);
  assert.equal(fairShare(20, [200, 5]), 15);
  assert.equal(fairShare(20, [5, 5, 200]), 10);
  assert.equal(fairShare(61, [200, 200, 200]), 21);
  assert.equal(fairShare(0, [200, 5]), 0);
  assert.equal(fairShare(300, [100, 100]), Infinity); // more rooms than all the limits: each its own
  // Every room is covered whenever the limits allow it.
  for (let rooms = 0; rooms <= 120; rooms++) {
    const limits = [3, 50, 17, 200];
    const share = fairShare(rooms, limits);
    const covered = limits.reduce((sum, limit) => sum + Math.min(limit, share), 0);
    assert.ok(covered >= rooms, `${rooms}: share ${share} covers ${covered}`);
    if (share > 0 && Number.isFinite(share)) {
      const less = limits.reduce((sum, limit) => sum + Math.min(limit, share - 1), 0);
      assert.ok(less < rooms, `${rooms}: share ${share} is not the least`);
    }
  }
});

test("spread: nothing is handed over to a peer already at its limit", () => {
  // a (200) holds 70 of 100 rooms; b, limited to 30, holds the other 30: every room is watched.
  const desired = new Set(rooms(1, 100));
  const held = holding(rooms(31, 70));
  const leased = new Set(rooms(1, 100));
  const full = planSpread(input({ desired, live: 2, peerLimits: [30], held, leased }));
  assert.deepEqual(full.rebalance, []);
  // A peer of no stated limit still gets the even share.
  const even = planSpread(input({ desired, live: 2, held, leased }));
  assert.equal(even.rebalance.length, 20);
  // b limited to 40: 10 go to it, no more.
  const roomier = planSpread(input({ desired, live: 2, peerLimits: [40], held, leased }));
  assert.equal(roomier.rebalance.length, 10);
});
