import assert from "node:assert/strict";
import {
  ClosedError,
  connect,
  ConnectionError,
  type ConnectOptions,
  encodeFrame,
  type Message,
  ProtocolError,
  type Session,
  type StatusEvent,
  TimeoutError,
  type TransportFactory,
} from "../mod.ts";
import { inspect } from "node:util";
import { concat } from "../src/base/bytes.ts";
import { backoffDelay } from "../src/base/timers.ts";
import { watchIdle } from "../src/session/keepalive.ts";
import { type MockClient, MockServer } from "../src/testing/mod.ts";
import { spawnPeer, test, until } from "./harness.ts";

/** Fast settings so reconnect tests take milliseconds. */
const FAST = {
  loginTimeout: 2000,
  reconnect: { initialDelay: 10, maxDelay: 50 },
} as const;

const chat = (n: number) => `type@=chatmsg/rid@=9999/uid@=${n}/nn@=user${n}/txt@=message ${n}/`;
const seq = (msg: Message) => Number(msg.uid);

/** One iterator per session: a session is iterated by one loop at a time. */
const iterators = new WeakMap<object, AsyncIterator<Message>>();

/**
 * Collects `n` messages of the session, failing if they take longer than `ms`
 * (a guard against a hang, not a measure: generous for a busy machine). One
 * deadline for the whole call: a listener or promise per message would make
 * taking thousands of messages quadratic.
 */
async function take<M extends Message>(
  session: Session<M>,
  n: number,
  ms = 20_000,
  afterEach?: () => void,
): Promise<Message[]> {
  const out: Message[] = [];
  let iterator = iterators.get(session);
  if (iterator === undefined) iterators.set(session, iterator = session[Symbol.asyncIterator]());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out with ${out.length} of ${n} messages`)),
      ms,
    );
  });
  try {
    while (out.length < n) {
      const next = await Promise.race([iterator.next(), deadline]);
      if (next.done) break;
      out.push(next.value);
      afterEach?.();
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Records status events until the session closes. */
function watch<M extends Message>(session: Session<M>): StatusEvent[] {
  const events: StatusEvent[] = [];
  (async () => {
    for await (const event of session.status()) events.push(event);
  })();
  return events;
}

async function closedPort(): Promise<string> {
  const server = await MockServer.start();
  const url = server.url;
  await server.close();
  return url;
}

test("session: logs in, waits for loginres, then joins the group", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, { url: server.url, group: -9999 });
  const client = server.clients[0]!;
  await client.waitFor("joingroup");
  assert.deepEqual(client.received.slice(0, 2), [
    { type: "loginreq", roomid: "9999" },
    { type: "joingroup", rid: "9999", gid: "-9999" },
  ]);
  assert.equal(session.url, server.url);
  // The session's own messages reach the consumer too.
  const [loginres, pingreq] = await take(session, 2);
  assert.equal(loginres?.type, "loginres");
  assert.equal(pingreq?.type, "pingreq");
});

test("session: never joins without loginres; login timeout names the endpoint", async () => {
  await using server = await MockServer.start({ answerLogin: false });
  const started = Date.now();
  const error = await connect(9999, { url: server.url, loginTimeout: 150 }).catch((e) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.equal(error.attempts.length, 1);
  assert.ok(error.attempts[0]!.error instanceof TimeoutError);
  assert.match(error.message, /127\.0\.0\.1/);
  assert.ok(Date.now() - started < 2000);
  const client = server.clients[0]!;
  await client.closed;
  assert.deepEqual(client.received.map((m) => m.type), ["loginreq"]);
});

test("session: connection error lists every endpoint, tried once each in order", async () => {
  const a = await closedPort();
  const b = await closedPort();
  const error = await connect(9999, { url: [a, b], ...FAST }).catch((e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.deepEqual(error.attempts.map((x: { url: string }) => x.url), [a, b]);
  assert.match(error.message, new RegExp(`${a}.*${b}`));
});

test("session: falls over to the next endpoint", async () => {
  const dead = await closedPort();
  await using server = await MockServer.start({ messages: [chat(1)] });
  await using session = await connect(9999, { url: [dead, server.url], types: ["chatmsg"] });
  assert.equal(session.url, server.url);
  assert.deepEqual((await take(session, 1)).map(seq), [1]);
});

test("session: heartbeat every interval, with round-trip times", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, { url: server.url, heartbeatInterval: 40 });
  const events = watch(session);
  const client = server.clients[0]!;
  await client.waitFor("mrkl", 5);
  const count = client.received.filter((m) => m.type === "mrkl").length;
  assert.ok(count >= 5 && count <= 7, `${count} heartbeats`);
  assert.ok(events.some((e) => e.type === "heartbeat" && e.rtt >= 0));
});

test("session: types filter drops other messages but still logs in", async () => {
  await using server = await MockServer.start({
    messages: ["type@=uenter/nn@=x/", chat(1), "type@=dgb/gfid@=1/", chat(2)],
  });
  await using session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  const got = await take(session, 2);
  assert.deepEqual(got.map((m) => m.type), ["chatmsg", "chatmsg"]);
  assert.deepEqual(got.map(seq), [1, 2]);
});

test("session: idle timeout declares a half-open connection dead and reconnects", async () => {
  await using server = await MockServer.start({ messages: [chat(1)] });
  await using session = await connect(9999, {
    url: server.url,
    idleTimeout: 150,
    heartbeatInterval: 50, // a silenced server answers no heartbeat
    types: ["chatmsg"],
    ...FAST,
  });
  const events = watch(session);
  const first = await server.nextClient();
  assert.deepEqual((await take(session, 1)).map(seq), [1]);
  first.silence();
  const second = await server.nextClient();
  assert.notEqual(second, first);
  await first.closed;
  const cause = events.find((e) => e.type === "disconnected");
  assert.ok(cause?.type === "disconnected" && cause.error instanceof TimeoutError);
  assert.ok(events.some((e) => e.type === "reconnecting"));
  assert.deepEqual((await take(session, 1)).map(seq), [1]);
});

/**
 * Each fault: the first connection delivers 1..3, then breaks as the fault
 * makes it; whatever the server sends afterwards (on the new connection)
 * arrives exactly once and in order.
 */
const faults: Record<string, (client: MockClient) => Promise<unknown>> = {
  "cut mid-frame": (c) => c.cutMidFrame(chat(99)),
  "garbage bytes": (c) => c.sendGarbage(64),
  "a 2 GB length": (c) => c.sendHugeLength(),
  "server close": (c) => Promise.resolve(c.close()),
};
for (const [name, fault] of Object.entries(faults)) {
  test(`session: after ${name}, later messages arrive exactly once, in order`, async () => {
    await using server = await MockServer.start();
    await using session = await connect(9999, { url: server.url, types: ["chatmsg"], ...FAST });
    const events = watch(session);
    const first = await server.nextClient();
    await first.sendFrames([chat(1), chat(2), chat(3)], "coalesce");
    assert.deepEqual((await take(session, 3)).map(seq), [1, 2, 3]);
    await fault(first);
    const second = await server.nextClient();
    await second.sendFrames([chat(4), chat(5)], { split: 3 });
    await second.send(chat(6));
    assert.deepEqual((await take(session, 3)).map(seq), [4, 5, 6]);
    const disconnected = events.find((e) => e.type === "disconnected");
    assert.ok(disconnected?.type === "disconnected");
    if (name === "garbage bytes" || name === "a 2 GB length") {
      assert.ok(disconnected.error instanceof ProtocolError, String(disconnected.error));
    }
  });
}

test("session: frames split into 1-byte writes and coalesced writes are reassembled", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  const client = server.clients[0]!;
  await client.joined;
  await client.sendFrames([chat(1), chat(2)], { split: 1 });
  await client.sendFrames([chat(3), chat(4), chat(5)], "coalesce");
  assert.deepEqual((await take(session, 5)).map(seq), [1, 2, 3, 4, 5]);
});

test("session: close() sends logout, is idempotent, resolves closed", async () => {
  await using server = await MockServer.start();
  const session = await connect(9999, { url: server.url });
  const client = server.clients[0]!;
  await client.joined;
  await Promise.all([session.close(), session.close()]);
  await session.close();
  assert.equal((await client.waitFor("logout")).type, "logout");
  assert.deepEqual(await session.closed, { reason: "closed" });
  await assert.rejects(session.send({ type: "mrkl" }), ClosedError);
});

test("session: break out of for-await logs out and closes", async () => {
  await using server = await MockServer.start({ messages: [chat(1), chat(2)] });
  const session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  for await (const msg of session) {
    assert.equal(seq(msg), 1);
    break;
  }
  assert.equal((await session.closed).reason, "closed");
  await server.clients[0]!.waitFor("logout");
});

test("session: an aborted signal logs out and closes with the reason", async () => {
  await using server = await MockServer.start();
  const controller = new AbortController();
  const session = await connect(9999, { url: server.url, signal: controller.signal });
  await server.clients[0]!.joined;
  controller.abort(new Error("user stop"));
  const info = await session.closed;
  assert.equal(info.reason, "aborted");
  assert.equal((info.error as Error).message, "user stop");
  await server.clients[0]!.waitFor("logout");
  // An already-aborted signal never connects.
  await assert.rejects(connect(9999, { url: server.url, signal: controller.signal }), ClosedError);
});

test("session: handlers, several per type, none replacing another", async () => {
  await using server = await MockServer.start({
    messages: [chat(1), "type@=dgb/nn@=g/gfid@=824/gfcnt@=2/", chat(2)],
  });
  await using session = await connect(9999, { url: server.url });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    session.on("chatmsg", (msg) => void seen.push(`a${msg.uid}`));
    session.on("chatmsg", (msg) => {
      seen.push(`b${msg.uid}`);
      if (msg.uid === "2") resolve();
    });
    session.on("dgb", (msg) => void seen.push(`gift${msg.gfcnt}`));
    session.on("chatmsg", () => {
      throw new Error("a broken handler");
    });
  });
  const events = watch(session);
  await done;
  assert.deepEqual(seen, ["a1", "b1", "gift2", "a2", "b2"]);
  assert.ok(events.some((e) => e.type === "error"));
});

test("session: slow consumer, pause policy: TCP pushes back, nothing lost", async () => {
  const total = 3000;
  await using server = await MockServer.start({
    messages: Array.from({ length: total }, (_, i) => chat(i + 1)),
  });
  await using session = await connect(9999, {
    url: server.url,
    types: ["chatmsg"],
    queueSize: 16,
    overflow: "pause",
  });
  const events = watch(session);
  const got: number[] = [];
  for await (const msg of session) {
    got.push(seq(msg));
    if (got.length % 500 === 0) await new Promise((r) => setTimeout(r, 20));
    if (got.length === total) break;
  }
  assert.deepEqual(got, Array.from({ length: total }, (_, i) => i + 1));
  assert.ok(!events.some((e) => e.type === "dropped"));
});

test("session: slow consumer, drop-oldest policy: bounded, drops reported", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, {
    url: server.url,
    types: ["chatmsg"],
    queueSize: 10,
    overflow: "drop-oldest",
  });
  const events = watch(session);
  const client = server.clients[0]!;
  await client.joined;
  await client.sendFrames(Array.from({ length: 200 }, (_, i) => chat(i + 1)), "coalesce");
  await client.send(chat(201));
  // Wait until the last message is queued, then read everything left.
  while (!events.some((e) => e.type === "dropped" && e.total === 191)) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const got = (await take(session, 10)).map(seq);
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => 192 + i));
});

test("session: 100 concurrent sessions in one process", async () => {
  await using server = await MockServer.start();
  const sessions = await Promise.all(
    Array.from({ length: 100 }, () => connect(9999, { url: server.url, types: ["chatmsg"] })),
  );
  await Promise.all(server.clients.map((c) => c.joined));
  await server.broadcast(chat(7));
  const got = await Promise.all(sessions.map((s) => take(s, 1)));
  assert.ok(got.every((m) => m.length === 1 && seq(m[0]!) === 7));
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(server.clients.map((c) => c.waitFor("logout")));
});

test("session: reconnecting gives up after maxAttempts and closes with the error", async () => {
  const server = await MockServer.start();
  const session = await connect(9999, {
    url: server.url,
    reconnect: { initialDelay: 5, maxDelay: 10, maxAttempts: 2 },
    loginTimeout: 500,
  });
  await server.close();
  const info = await session.closed;
  assert.equal(info.reason, "error");
});

test("session: reconnect: false ends the session when the server goes", async () => {
  await using server = await MockServer.start();
  const session = await connect(9999, { url: server.url, reconnect: false });
  server.clients[0]!.close();
  const info = await session.closed;
  assert.equal(info.reason, "error");
  assert.ok(info.error instanceof ClosedError);
});

for (const protocol of ["tcp", "ws"] as const) {
  test(`session: over ${protocol}, logout reaches the server before the process exits`, async () => {
    await using server = await MockServer.start({ protocols: [protocol], messages: [chat(1)] });
    const bot = await spawnPeer("close_and_exit.ts", [server.url]);
    try {
      assert.deepEqual(await bot.next(), { closed: true });
      const client = server.clients[0]!;
      await client.closed;
      assert.ok(
        client.received.some((m) => m.type === "logout"),
        `received: ${client.received.map((m) => m.type)}`,
      );
    } finally {
      await bot.stop();
    }
  });
}

test("session: a ~30 MB WebSocket burst to a consumer that lags arrives whole, no reconnect", async () => {
  // The runtime's WebSocket read on whatever the consumer did: a burst like
  // this piled up unread until the connection was dropped (at 16 MiB).
  const total = 60_000;
  const peer = await spawnPeer("flood_server.ts", ["ws", String(total), "500", "64"]);
  try {
    const { url } = await peer.next<{ url: string }>();
    const session = await connect(9999, { url, types: ["chatmsg"], reconnect: false });
    const events = watch(session);
    let n = 0;
    for await (const msg of session) {
      if (seq(msg) !== ++n) assert.fail(`message ${seq(msg)} arrived as number ${n}`);
      // The consumer falls behind for a while, then reads in a tight loop.
      if (n === 1) await new Promise((r) => setTimeout(r, 1000));
      if (n === total) break;
    }
    assert.equal(n, total);
    assert.ok(!events.some((e) => e.type === "disconnected"), "the connection was dropped");
  } finally {
    await peer.stop();
  }
});

test("session: a peer that streams without loginres is cut off, bounded", async () => {
  await using server = await MockServer.start({ answerLogin: false });
  const connecting = connect(9999, { url: server.url, reconnect: false, loginTimeout: 30_000 });
  const client = await server.nextClient({ joined: false });
  await client.waitFor("loginreq");
  // 400 KiB of chat and no loginres: more than MAX_BYTES_BEFORE_LOGIN.
  const flood = Array.from({ length: 4000 }, (_, i) => `${chat(i)}${"y".repeat(60)}/`);
  const started = Date.now();
  client.sendFrames(flood).catch(() => {}); // the client hangs up mid-way
  const error = await connecting.catch((e) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.ok(error.attempts[0]!.error instanceof ProtocolError, String(error));
  assert.match(String(error.message), /without loginres/);
  assert.ok(Date.now() - started < 10_000, "it waited for the login timeout");
});

test("session: isClosed at once; a handler that closes gets nothing more, even from the same read", async () => {
  await using server = await MockServer.start();
  const session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  const seen: number[] = [];
  let closing: Promise<void> | undefined;
  session.on("chatmsg", (msg) => {
    seen.push(seq(msg));
    closing ??= session.close();
    assert.equal(session.isClosed, true);
  });
  session.on("*", (msg) => void seen.push(-seq(msg)));
  const client = server.clients[0]!;
  await client.joined;
  // Ten messages in one write: one read carries them all.
  await client.sendFrames(Array.from({ length: 10 }, (_, i) => chat(i + 1)));
  await client.waitFor("logout");
  await closing;
  assert.deepEqual(seen, [1]);

  await using server2 = await MockServer.start();
  const other = await connect(9999, { url: server2.url });
  const closed = other.close();
  assert.equal(other.isClosed, true, "isClosed while logout is being written");
  await closed;
});

test("session: join-then-drop counts toward maxAttempts; a connection up for resetAfter does not", async () => {
  // Every connection is dropped right after it joins.
  await using server = await MockServer.start();
  const dropping = (async () => {
    for (;;) (await server.nextClient()).close();
  })().catch(() => {}); // ends when the server closes
  const session = await connect(9999, {
    url: server.url,
    reconnect: { initialDelay: 5, maxDelay: 10, maxAttempts: 3, resetAfter: 60_000 },
  });
  const info = await session.closed;
  assert.equal(info.reason, "error");
  assert.equal(server.clients.length, 4, "the first connection and three retries");
  await server.close();
  await dropping;

  // Connections that stay up longer than resetAfter never exhaust the retries.
  await using steady = await MockServer.start();
  const lasting = (async () => {
    for (let i = 0; i < 6; i++) {
      const client = await steady.nextClient();
      await new Promise((r) => setTimeout(r, 150));
      client.close();
    }
  })();
  const kept = await connect(9999, {
    url: steady.url,
    reconnect: { initialDelay: 5, maxDelay: 10, maxAttempts: 1, resetAfter: 20 },
  });
  await lasting;
  await steady.nextClient(); // the seventh connection: still reconnecting after six drops
  assert.equal(kept.isClosed, false);
  await kept.close();
});

test("session: over WebSocket, same messages and session behaviour", async () => {
  await using server = await MockServer.start({
    protocols: ["ws"],
    messages: [chat(1), chat(2)],
  });
  assert.match(server.url, /^ws:\/\//);
  await using session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  assert.deepEqual((await take(session, 2)).map(seq), [1, 2]);
  await session.close();
  await server.clients[0]!.waitFor("logout");
});

test("session: a failed TLS handshake is a TlsError, and the next endpoint is tried", async () => {
  await using server = await MockServer.start({ messages: [chat(1)] });
  // A TLS client talking to a plain TCP server fails its handshake.
  const wss = server.url.replace("tcp://", "wss://") + "/";
  const error = await connect(9999, { url: wss, loginTimeout: 2000 }).catch((e) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.equal(error.attempts[0]!.error?.constructor?.name, "TlsError", String(error));
  await using session = await connect(9999, { url: [wss, server.url], types: ["chatmsg"] });
  assert.equal(session.url, server.url);
  assert.deepEqual((await take(session, 1)).map(seq), [1]);
});

test("session: pause policy stops reading, heartbeats go on, idle timer waits", async () => {
  // The flooding server runs in its own process: in this one it would starve
  // the very timers (heartbeat, idle watchdog) this test watches.
  const total = 20_000;
  const peer = await spawnPeer("flood_server.ts", ["tcp", String(total), "1000"]);
  try {
    const { url } = await peer.next<{ url: string }>();
    const session = await connect(9999, {
      url,
      types: ["chatmsg"],
      queueSize: 8,
      overflow: "pause",
      heartbeatInterval: 200,
      idleTimeout: 1000,
    });
    const events = watch(session);
    const status = async () => {
      peer.send("status");
      return await peer.next<{ sent: number; beats: number }>();
    };
    // Nobody reads for 3 s, three idle timeouts' worth: ~20 MB cannot fit in
    // socket buffers, so the server must stall, while heartbeats go on.
    await new Promise((r) => setTimeout(r, 3000));
    const stalled = await status();
    assert.ok(stalled.sent < total, "the server was not pushed back");
    assert.ok(stalled.beats >= 5, `${stalled.beats} heartbeats while paused`);
    assert.ok(!events.some((e) => e.type === "disconnected"), "idle timeout fired while paused");
    const got = await take(session, total, 60_000);
    assert.equal(got.length, total);
    assert.ok(got.every((m, i) => seq(m) === i + 1));
    assert.equal((await status()).sent, total);
    await session.close();
  } finally {
    await peer.stop();
  }
});

test("session: a full queue does not stop the next connection from logging in", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, {
    url: server.url,
    types: ["chatmsg"],
    queueSize: 5,
    overflow: "pause",
    heartbeatInterval: 20, // a heartbeat write is what notices the dead peer while paused
    ...FAST,
  });
  const first = await server.nextClient();
  await first.sendFrames(Array.from({ length: 5 }, (_, i) => chat(i + 1)), "coalesce");
  while (session.queued < 5) await new Promise((r) => setTimeout(r, 5));
  first.close();
  // Nobody has read yet: the queue is full while the new connection logs in.
  const second = await server.nextClient();
  assert.equal(session.queued, 5);
  await second.send(chat(6));
  assert.deepEqual((await take(session, 6)).map(seq), [1, 2, 3, 4, 5, 6]);
});

test("session: pause bounds the queue per message, even when one read carries thousands", async () => {
  await using server = await MockServer.start({ protocols: ["ws"] });
  await using session = await connect(9999, {
    url: server.url,
    types: ["chatmsg"],
    queueSize: 10,
    overflow: "pause",
  });
  const client = await server.nextClient();
  // One WebSocket message holding 20,000 packets.
  await client.sendFrames(Array.from({ length: 20_000 }, (_, i) => chat(i + 1)), "coalesce");
  // The bound holds once the queue has filled, and at every step of draining it.
  await until("a full queue", () => session.queued >= 10);
  await new Promise((r) => setTimeout(r, 200));
  let most = session.queued;
  const got = await take(session, 20_000, 30_000, () => (most = Math.max(most, session.queued)));
  assert.equal(got.length, 20_000);
  assert.ok(most <= 10, `${most} messages queued`);
  assert.ok(got.every((m, i) => seq(m) === i + 1));
});

test("session: a loop that keeps up has at most one read's messages waiting", async () => {
  // Every read is ready at once, as from a fast peer: a reader that did not
  // wait for the loop would parse all 8,000 messages ahead of it. (Reads of
  // fewer than 256 messages may pile up to that many before it waits.)
  const perRead = 400;
  const reads = 20;
  const login = encodeFrame("type@=loginres/", 690);
  const chunk = (r: number) =>
    concat(Array.from({ length: perRead }, (_, i) => encodeFrame(chat(r * perRead + i + 1), 690)));
  let served = 0;
  let wake: ((chunk: null) => void) | undefined;
  const transport: TransportFactory = () =>
    Promise.resolve({
      url: "tcp://memory:1",
      read: () =>
        served++ === 0
          ? Promise.resolve(login)
          : served <= reads + 1
          ? Promise.resolve(chunk(served - 2))
          : new Promise<null>((resolve) => (wake = resolve)),
      write: () => Promise.resolve(),
      close: () => wake?.(null),
    });
  await using session = await connect(9999, {
    url: "tcp://memory:1",
    transport,
    types: ["chatmsg"],
    queueSize: perRead * reads,
  });
  let most = 0;
  let n = 0;
  for await (const msg of session) {
    assert.equal(seq(msg), ++n);
    most = Math.max(most, session.queued);
    if (n === perRead * reads) break;
  }
  assert.ok(most < perRead, `${most} messages waited; one read carries ${perRead}`);
});

test("session: good frames before a framing error in the same read are delivered", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, { url: server.url, types: ["chatmsg"], ...FAST });
  const first = await server.nextClient();
  const bad = new Uint8Array(12).fill(0xff);
  const frames = [chat(1), chat(2)].map((b) => encodeFrame(b, 690));
  await first.sendRaw(new Uint8Array([...frames[0]!, ...frames[1]!, ...bad]));
  assert.deepEqual((await take(session, 2)).map(seq), [1, 2]);
  const second = await server.nextClient();
  await second.send(chat(3));
  assert.deepEqual((await take(session, 1)).map(seq), [3]);
});

test("session: a throwing onBody is reported, not fatal", async () => {
  await using server = await MockServer.start({ messages: [chat(1), chat(2)] });
  await using session = await connect(9999, {
    url: server.url,
    types: ["chatmsg"],
    onBody: () => {
      throw new Error("recorder broke");
    },
  });
  const events = watch(session);
  assert.deepEqual((await take(session, 2)).map(seq), [1, 2]);
  assert.equal(server.clients.length, 1);
  assert.ok(events.some((e) => e.type === "error"));
});

test("session: removing the last handler sends messages back to the queue", async () => {
  await using server = await MockServer.start();
  await using session = await connect(9999, { url: server.url, types: ["chatmsg"] });
  const off = session.on("chatmsg", () => {});
  off();
  const client = await server.nextClient();
  await client.send(chat(1));
  assert.deepEqual((await take(session, 1)).map(seq), [1]);
});

test("session: options are checked (timer limits, heartbeat below idle timeout)", async () => {
  for (
    const options of [
      { heartbeatInterval: Infinity },
      { idleTimeout: 2 ** 31 },
      { loginTimeout: 0 },
      { heartbeatInterval: 60_000, idleTimeout: 30_000 },
      { reconnect: { maxDelay: Infinity } },
      { queueSize: -1 },
    ]
  ) {
    await assert.rejects(connect(9999, { url: "tcp://127.0.0.1:1", ...options }), RangeError);
  }
});

test("session: reconnect policy and maxFrameSize are checked by connect(), before any socket", async () => {
  let opened = 0;
  const transport: TransportFactory = () => {
    opened++;
    return Promise.reject(new Error("refused"));
  };
  const attempt = (options: ConnectOptions) =>
    connect(9999, { url: "tcp://127.0.0.1:1", transport, ...options });
  for (
    const options of [
      // Delays that shrink or start below 1 ms round to 0 ms: a tight loop.
      { reconnect: { multiplier: 0.01 } },
      { reconnect: { multiplier: 0.99 } },
      { reconnect: { initialDelay: 0.3 } },
      { reconnect: { maxDelay: 0.5 } },
      { reconnect: { initialDelay: 5000, maxDelay: 1000 } },
      // NaN compares false with every count: it would retry forever.
      { reconnect: { maxAttempts: NaN } },
      { reconnect: { maxAttempts: 2.5 } },
      { reconnect: { maxAttempts: -1 } },
      // FrameDecoder's rule: an integer from 9 to 2^31-1.
      { maxFrameSize: Infinity },
      { maxFrameSize: 4096.5 },
      { maxFrameSize: 8 },
      { maxFrameSize: 2 ** 31 },
    ]
  ) {
    await assert.rejects(attempt(options), RangeError, inspect(options));
  }
  assert.equal(opened, 0, "a socket was opened for options that cannot work");
  // The bounds themselves are accepted, and either delay alone: the other's
  // default gives way to it.
  for (
    const options of [
      { reconnect: { multiplier: 1, initialDelay: 1, maxDelay: 1 } },
      { reconnect: { initialDelay: 60_000 } },
      { reconnect: { maxDelay: 500 } },
      { reconnect: { maxAttempts: 0 } },
      { reconnect: { maxAttempts: Infinity } },
      { maxFrameSize: 9 },
      { maxFrameSize: 2 ** 31 - 1 },
    ]
  ) {
    await assert.rejects(attempt(options), ConnectionError, inspect(options));
  }
});

test("backoffDelay: never below 1 ms, even from a sub-ms delay or a shrinking multiplier", () => {
  for (const attempt of [1, 2, 5, 50]) {
    assert.ok(backoffDelay(attempt, { initial: 0.3, max: 30_000 }) >= 1);
    assert.ok(backoffDelay(attempt, { initial: 1000, max: 30_000, multiplier: 0.01 }) >= 1);
  }
});

/** A clock that moves only when told: see {@linkcode onFakeClock}. */
interface FakeClock {
  /** Moves time on by `ms`, firing the timers that fall due, in order. */
  advance(ms: number): void;
  /** The delay of every timer set, in order. */
  readonly delays: number[];
}

/**
 * Runs `body` with `performance.now()`, `setTimeout` and `clearTimeout`
 * replaced by a {@linkcode FakeClock}: exact times, however busy the
 * machine. `body` is synchronous, so nothing else (the test runner
 * included) runs while the globals are replaced.
 */
function onFakeClock(body: (clock: FakeClock) => void): void {
  let now = 0;
  let ids = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const delays: number[] = [];
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of timers) {
        if (entry[1].at <= until && entry[1].at < (next?.[1].at ?? Infinity)) next = entry;
      }
      if (next === undefined) break;
      timers.delete(next[0]);
      now = next[1].at;
      next[1].fn();
    }
    now = until;
  };
  const fakeSetTimeout = (fn: () => void, ms = 0) => {
    delays.push(ms);
    timers.set(++ids, { at: now + ms, fn });
    return ids;
  };
  // Deno keeps `now` on Performance.prototype, Bun on the object itself.
  const ownNow = Object.getOwnPropertyDescriptor(performance, "now");
  const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;
  Object.defineProperty(performance, "now", { value: () => now, configurable: true });
  globalThis.setTimeout = fakeSetTimeout as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id: number) => timers.delete(id)) as unknown as typeof clearTimeout;
  try {
    body({ advance, delays });
  } finally {
    if (ownNow === undefined) delete (performance as unknown as { now?: unknown }).now;
    else Object.defineProperty(performance, "now", ownNow);
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}

/** A watchdog of `idleTimeout` ms on the fake clock, and when it failed the connection. */
function watchdog(idleTimeout: number, signal: AbortSignal) {
  const result: { failedAt?: number; error?: unknown } = {};
  const idle = watchIdle(idleTimeout, "tcp://quiet:1", (error) => {
    result.failedAt ??= performance.now();
    result.error ??= error;
  }, signal);
  return { idle, result };
}

test("idle watchdog: a connection quiet since just before a check is dead idleTimeout after its last byte", () => {
  onFakeClock((clock) => {
    const stop = new AbortController();
    const { idle, result } = watchdog(1000, stop.signal);
    clock.advance(10);
    idle.activity(); // the last byte
    clock.advance(999); // the check at 1000 ms saw 990 ms of quiet
    assert.equal(result.failedAt, undefined);
    clock.advance(1);
    assert.equal(result.failedAt, 1010, "not idleTimeout after the last byte");
    assert.ok(result.error instanceof TimeoutError);
    assert.match(result.error.message, /for 1000 ms/);
    assert.deepEqual(clock.delays, [1000, 10], "re-armed for more than the time left");
    stop.abort();
  });
});

test("idle watchdog: a pause for a slow consumer is not quiet; dead a full idleTimeout after it", () => {
  onFakeClock((clock) => {
    const stop = new AbortController();
    const { idle, result } = watchdog(1000, stop.signal);
    clock.advance(500);
    idle.paused = true;
    clock.advance(5000); // five checks, each while paused
    assert.equal(result.failedAt, undefined);
    // As the read loop resumes: unpaused, and the wait counts as activity.
    idle.paused = false;
    idle.activity();
    clock.advance(999);
    assert.equal(result.failedAt, undefined);
    clock.advance(1);
    assert.equal(result.failedAt, 6500, "not idleTimeout after the pause ended");
    // A full period while paused, and then only the time left.
    assert.deepEqual(clock.delays, [1000, 1000, 1000, 1000, 1000, 1000, 500]);
    stop.abort();
  });
});
