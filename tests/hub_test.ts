import assert from "node:assert/strict";
import {
  ConnectionError,
  Hub,
  HubFullError,
  type HubMessage,
  type HubStatusEvent,
} from "../mod.ts";
import { MockServer } from "../src/testing/mod.ts";
import { spawnPeer, test } from "./harness.ts";

const chat = (n: number) => `type@=chatmsg/rid@=1/uid@=${n}/nn@=user${n}/txt@=message ${n}/`;

/** Collects `n` messages from the hub, failing after `ms`. */
async function take(
  iterator: AsyncIterator<HubMessage>,
  n: number,
  ms = 10_000,
): Promise<HubMessage[]> {
  const out: HubMessage[] = [];
  const deadline = AbortSignal.timeout(ms);
  const timedOut = new Promise<never>((_, reject) =>
    deadline.addEventListener("abort", () => reject(new Error(`timed out after ${out.length}`)), {
      once: true,
    })
  );
  timedOut.catch(() => {});
  while (out.length < n) {
    const next = await Promise.race([iterator.next(), timedOut]);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

function watch(hub: Hub): HubStatusEvent[] {
  const events: HubStatusEvent[] = [];
  (async () => {
    for await (const event of hub.status()) events.push(event);
  })();
  return events;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("hub: rooms added and removed while messages flow; a removed room yields nothing more", async () => {
  // Every client that joins gets a chat message every 5 ms, forever.
  await using server = await MockServer.start({
    messages: function* () {
      for (let n = 1;; n++) yield chat(n);
    },
    interval: 5,
  });
  await using hub = new Hub({ url: server.url, types: ["chatmsg"] });
  const iterator = hub[Symbol.asyncIterator]();
  assert.equal(await hub.add(1001), 1001);
  assert.equal(await hub.add(1002), 1002);
  assert.deepEqual(hub.rooms, [1001, 1002]);
  const rooms = new Set((await take(iterator, 40)).map((m) => m.room));
  assert.deepEqual([...rooms].sort(), [1001, 1002]);

  await hub.remove(1001);
  assert.deepEqual(hub.rooms, [1002]);
  const logout = server.clients.find((c) => c.received.some((m) => m.rid === "1001"))!;
  await logout.waitFor("logout");
  assert.equal(await hub.add("1003"), 1003);
  const after = await take(iterator, 60);
  assert.ok(after.every((m) => m.room !== 1001), "a removed room yielded a message");
  assert.ok(after.some((m) => m.room === 1003));
  // Each room's messages arrive in order, tagged with the room they came from.
  for (const room of [1002, 1003]) {
    const seq = after.filter((m) => m.room === room).map((m) => Number(m.message.uid));
    assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
  }
  await iterator.return!();
  assert.deepEqual(hub.rooms, []);
});

test("hub: messages queued for a room are not yielded once it is removed", async () => {
  await using server = await MockServer.start({ messages: [1, 2, 3, 4, 5].map(chat) });
  await using hub = new Hub({ url: server.url, types: ["chatmsg"] });
  await hub.add(2001);
  while (hub.queued < 5) await delay(5);
  await hub.add(2002);
  await hub.remove(2001);
  const got = await take(hub[Symbol.asyncIterator](), 5);
  assert.ok(got.every((m) => m.room === 2002), JSON.stringify(got.map((m) => m.room)));
});

test("hub: a room removed with keepQueued still yields what it had read, then nothing more", async () => {
  await using server = await MockServer.start({ messages: [1, 2, 3, 4, 5].map(chat) });
  await using hub = new Hub({ url: server.url, types: ["chatmsg"] });
  await hub.add(2001);
  while (hub.queued < 5) await delay(5);
  await hub.remove(2001, { keepQueued: true });
  assert.deepEqual(hub.rooms, []);
  const iterator = hub[Symbol.asyncIterator]();
  const got = await take(iterator, 5);
  assert.deepEqual(
    got.map((m) => [m.room, Number(m.message.uid)]),
    [1, 2, 3, 4, 5].map((n) => [2001, n]),
  );
  assert.equal(hub.queued, 0);
  await hub.add(2002);
  const next = await take(iterator, 1);
  assert.equal(next[0]!.room, 2002);
});

test("hub: a room that fails for good still yields what it had read", async () => {
  await using server = await MockServer.start();
  await using hub = new Hub({ url: server.url, types: ["chatmsg"], reconnect: false });
  const events = watch(hub);
  await hub.add(2001);
  const client = await server.nextClient();
  for (const n of [1, 2, 3, 4, 5]) await client.send(chat(n));
  while (hub.queued < 5) await delay(5);
  client.close(); // the server drops the room; without reconnecting, it has ended for good
  while (!events.some((e) => e.event.type === "closed")) await delay(5);
  assert.deepEqual(hub.rooms, []);
  const got = await take(hub[Symbol.asyncIterator](), 5);
  assert.deepEqual(got.map((m) => Number(m.message.uid)), [1, 2, 3, 4, 5]);
});

test("hub: a room removed while it connects can be added again at once", async () => {
  await using server = await MockServer.start();
  await using hub = new Hub({ url: server.url });
  const first = hub.add(2001);
  first.catch(() => {}); // it is let go: rejected, as a removed room's add is
  const removed = hub.remove(2001);
  assert.equal(await hub.add(2001), 2001);
  await removed;
  await assert.rejects(first);
  assert.deepEqual(hub.rooms, [2001]);
});

test("hub: add is idempotent; maxRooms refuses the next room and says why", async () => {
  await using server = await MockServer.start();
  await using hub = new Hub({ url: server.url, maxRooms: 2 });
  const [a, b] = await Promise.all([hub.add(1), hub.add(1)]);
  assert.equal(a, 1);
  assert.equal(b, 1);
  await hub.add(1);
  assert.equal(server.clients.length, 1, "one connection for one room");
  await hub.add(2);
  const error = await hub.add(3).catch((e) => e);
  assert.ok(error instanceof HubFullError, String(error));
  assert.equal(error.limit, 2);
  assert.match(error.message, /200 barrage connections per client IP/);
  assert.match(error.message, /Scale out/);
  assert.deepEqual(hub.rooms, [1, 2]);
  assert.throws(() => new Hub({ maxRooms: 0 }), RangeError);
  assert.equal(new Hub().rooms.length, 0);
});

test("hub: one room's endpoint failing leaves the others running", async () => {
  await using good = await MockServer.start({
    messages: function* () {
      for (let n = 1;; n++) yield chat(n);
    },
    interval: 10,
  });
  const dead = await MockServer.start();
  const deadUrl = dead.url;
  await dead.close();
  await using flaky = await MockServer.start();
  await using hub = new Hub({ url: good.url, types: ["chatmsg"] });
  const events = watch(hub);
  // Nothing listens: the add fails, and the room is not added.
  await assert.rejects(hub.add(3001, { url: deadUrl }), ConnectionError);
  await hub.add(3002);
  await hub.add(3003, { url: flaky.url, reconnect: false });
  // The flaky server hangs up: that room's session gives up, the other goes on.
  flaky.clients[0]!.close();
  while (!events.some((e) => e.room === 3003 && e.event.type === "closed")) await delay(5);
  assert.deepEqual(hub.rooms, [3002]);
  const got = await take(hub[Symbol.asyncIterator](), 10);
  assert.ok(got.every((m) => m.room === 3002));
});

test("hub: close() logs every room out; the loop ends", async () => {
  await using server = await MockServer.start();
  const hub = new Hub({ url: server.url });
  await Promise.all([11, 12, 13].map((room) => hub.add(room)));
  const looping = (async () => {
    for await (const _ of hub) {
      // nothing comes
    }
  })();
  await hub.close();
  await looping;
  await hub.closed;
  await Promise.all(server.clients.map((client) => client.waitFor("logout")));
  assert.equal(server.clients.length, 3);
  await assert.rejects(hub.add(14), /closed/);
});

test("hub: drop-oldest keeps the newest and counts drops per room", async () => {
  await using server = await MockServer.start();
  await using hub = new Hub({
    url: server.url,
    types: ["chatmsg"],
    queueSize: 10,
    overflow: "drop-oldest",
  });
  const events = watch(hub);
  await hub.add(41);
  await hub.add(42);
  const [first, second] = server.clients;
  await first!.sendFrames(Array.from({ length: 30 }, (_, i) => chat(i + 1)));
  while (hub.queued < 10) await delay(5);
  await second!.sendFrames(Array.from({ length: 4 }, (_, i) => chat(101 + i)));
  const total = (room: number) =>
    Math.max(
      0,
      ...events.filter((e) => e.room === room && e.event.type === "dropped")
        .map((e) => (e.event as { total: number }).total),
    );
  while (total(41) < 24) await delay(5);
  const messages = hub[Symbol.asyncIterator]();
  const got = await take(messages, 10);
  assert.deepEqual(
    got.map((m) => `${m.room}:${m.message.uid}`),
    ["41:25", "41:26", "41:27", "41:28", "41:29", "41:30", "42:101", "42:102", "42:103", "42:104"],
  );
  assert.equal(total(41), 24);
  assert.equal(total(42), 0);

  // A room removed is forgotten at the next drops: added again, it counts from 0.
  await hub.remove(41);
  await second!.sendFrames(Array.from({ length: 12 }, (_, i) => chat(201 + i)));
  while (total(42) < 2) await delay(5);
  await take(messages, 10);
  await hub.add(41);
  await server.clients[2]!.sendFrames(Array.from({ length: 15 }, (_, i) => chat(301 + i)));
  const last = (room: number) =>
    events.filter((e) => e.room === room && e.event.type === "dropped")
      .map((e) => (e.event as { total: number }).total).at(-1);
  for (let i = 0; i < 2000 && last(41) !== 5 && last(41) !== 29; i++) await delay(5);
  assert.equal(last(41), 5);
});

test("hub: pause pushes back on every room's socket; nothing lost, heartbeats go on", async () => {
  // Two flooding servers in their own processes, one per room.
  const total = 15_000; // 15 MB a room: more than socket buffers hold
  const peers = await Promise.all(
    [0, 1].map(() => spawnPeer("flood_server.ts", ["tcp", String(total), "1000"])),
  );
  try {
    const urls = await Promise.all(peers.map((peer) => peer.next<{ url: string }>()));
    await using hub = new Hub({
      types: ["chatmsg"],
      queueSize: 16,
      heartbeatInterval: 200,
      idleTimeout: 1000,
    });
    await hub.add(51, { url: urls[0]!.url });
    await hub.add(52, { url: urls[1]!.url });
    const events = watch(hub);
    await delay(2500); // nobody reads
    const status = await Promise.all(peers.map(async (peer) => {
      peer.send("status");
      return await peer.next<{ sent: number; beats: number }>();
    }));
    for (const { sent, beats } of status) {
      assert.ok(sent < total, `a server sent all ${sent} messages into a paused hub`);
      assert.ok(beats >= 4, `${beats} heartbeats while paused`);
    }
    assert.ok(hub.queued <= 16 + 2 * 64, `${hub.queued} queued`);
    assert.ok(!events.some((e) => e.event.type === "disconnected"));
    const got = await take(hub[Symbol.asyncIterator](), 2 * total, 60_000);
    for (const room of [51, 52]) {
      const seq = got.filter((m) => m.room === room).map((m) => Number(m.message.uid));
      assert.equal(seq.length, total);
      assert.ok(seq.every((n, i) => n === i + 1), `room ${room} out of order`);
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
});

test("hub: batches() hands over what is queued at once, tagged, skipping removed rooms", async () => {
  await using server = await MockServer.start({ messages: [1, 2, 3, 4, 5].map(chat) });
  await using hub = new Hub({ url: server.url, types: ["chatmsg"] });
  await hub.add(3001);
  await hub.add(3002);
  while (hub.queued < 10) await delay(5);
  await hub.remove(3002);
  const got: string[] = [];
  let batches = 0;
  for await (const batch of hub.batches(3)) {
    batches++;
    assert.ok(batch.length <= 3);
    for (const { room, message } of batch) got.push(`${room}:${message.uid}`);
    if (got.length === 5) break;
  }
  assert.deepEqual(got, ["3001:1", "3001:2", "3001:3", "3001:4", "3001:5"]);
  assert.ok(batches <= 3, `${batches} batches`);
  assert.deepEqual(hub.rooms, []); // leaving the loop closed the hub
});
