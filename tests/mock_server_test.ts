/**
 * The mock server, seen from a raw client: the runtime's transport, the frame
 * codec and nothing else, over TCP and WebSocket.
 */
import assert from "node:assert/strict";
import { ClosedError, ProtocolError } from "../src/base/errors.ts";
import { encodeFrame, type Frame, FrameDecoder } from "../src/protocol/frame.ts";
import {
  DEFAULT_LOGIN_RESPONSE,
  MOCK_SERVER_LIMITS,
  MockServer,
  type MockServerOptions,
} from "../src/testing/mock_server.ts";
import { decodeStt, encodeStt } from "../src/protocol/stt.ts";
import type { Transport } from "../src/transport/seam.ts";
import { parseEndpoint } from "../src/transport/seam.ts";
import { defaultTransportFactory } from "../src/transport/default.ts";
import { captureBodies } from "./fixtures.ts";
import { test } from "./harness.ts";

const PROTOCOLS = ["tcp", "ws"] as const;
const LOGIN = "type@=loginreq/roomid@=9999/";
const JOIN = "type@=joingroup/rid@=9999/gid@=-9999/";
/** How long "nothing arrives" is watched for. */
const QUIET_MS = 150;

/** Waits `ms`; the timer always completes, so nothing leaks. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`'s value, or "timeout" after `ms` (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A bare-bones Douyu client: a transport, a FrameDecoder and a frame queue. */
class RawClient {
  readonly decoder = new FrameDecoder();
  /** Size of every chunk read, in order. */
  readonly chunkSizes: number[] = [];
  /** Arrival time (performance.now()) of every frame, in order. */
  readonly arrivals: number[] = [];
  eof = false;
  readonly #conn: Transport;
  readonly #frames: Frame[] = [];
  /** A read outliving a timed-out `next()` is picked up by the following call. */
  #reading: Promise<void> | undefined;

  private constructor(conn: Transport) {
    this.#conn = conn;
  }

  static async connect(url: string): Promise<RawClient> {
    return new RawClient(await defaultTransportFactory(parseEndpoint(url), {}));
  }

  async send(body: string): Promise<void> {
    await this.#conn.write(encodeFrame(body));
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.#conn.write(bytes);
  }

  /** The next frame, `null` at EOF, or "timeout". Rejects with the decoder's errors. */
  async next(ms = 3000): Promise<Frame | null | "timeout"> {
    while (this.#frames.length === 0) {
      if (this.eof) return null;
      this.#reading ??= this.#conn.read().then((chunk) => {
        if (chunk === null) {
          this.eof = true;
          return;
        }
        this.chunkSizes.push(chunk.byteLength);
        const frames = this.decoder.push(chunk);
        const now = performance.now();
        for (const frame of frames) {
          this.#frames.push(frame);
          this.arrivals.push(now);
        }
      }).finally(() => {
        this.#reading = undefined;
      });
      if (await within(this.#reading, ms) === "timeout") return "timeout";
    }
    return this.#frames.shift()!;
  }

  /** The next frame's body; fails on EOF or timeout. */
  async body(ms = 3000): Promise<string> {
    const frame = await this.next(ms);
    assert.ok(frame !== null && frame !== "timeout", `expected a frame, got ${frame}`);
    assert.equal(frame.type, 690);
    return frame.body;
  }

  /** Asserts that no frame arrives within `ms`. */
  async quiet(ms = QUIET_MS): Promise<void> {
    const frame = await this.next(ms);
    assert.equal(frame, "timeout", `expected silence, got ${JSON.stringify(frame)}`);
  }

  /** Asserts the server hangs up (no more frames) within `ms`. */
  async expectEof(ms = 3000): Promise<void> {
    const frame = await this.next(ms);
    assert.equal(frame, null, `expected EOF, got ${JSON.stringify(frame)}`);
  }

  /** loginreq, then the loginres and pingreq answers. */
  async login(): Promise<void> {
    await this.send(LOGIN);
    assert.match(await this.body(), /^type@=loginres\//);
    assert.match(await this.body(), /^type@=pingreq\//);
  }

  close(): void {
    this.#conn.close();
  }
}

/** Runs `fn` with a started server and closes it (and the clients `fn` opened) afterwards. */
async function withServer(
  options: MockServerOptions,
  fn: (server: MockServer, connect: (url?: string) => Promise<RawClient>) => Promise<void>,
): Promise<void> {
  const server = await MockServer.start(options);
  const clients: RawClient[] = [];
  const connect = async (url = server.url) => {
    const client = await RawClient.connect(url);
    clients.push(client);
    return client;
  };
  try {
    await fn(server, connect);
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
}

function chat(txt: string): string {
  return encodeStt({ type: "chatmsg", nn: "Ann", txt });
}

for (const protocol of PROTOCOLS) {
  const base: MockServerOptions = { protocols: [protocol] };

  test(`${protocol}: loginreq is answered with loginres, then pingreq`, async () => {
    await withServer(base, async (server, connect) => {
      assert.match(server.url, protocol === "tcp" ? /^tcp:\/\/127\.0\.0\.1:\d+$/ : /^ws:\/\//);
      assert.equal(server.urls[protocol], server.url);
      const raw = await connect();
      const before = Date.now();
      await raw.send(LOGIN);
      assert.equal(await raw.body(), DEFAULT_LOGIN_RESPONSE);
      const ping = decodeStt(await raw.body());
      assert.equal(ping.type, "pingreq");
      const tick = Number(ping.tick);
      assert.ok(tick >= before - 1000 && tick <= Date.now() + 1000, `tick ${ping.tick}`);
      const client = await server.nextClient({ joined: false });
      await client.loggedIn;
      assert.equal(client.protocol, protocol);
      assert.equal(client.id, 1);
      assert.deepEqual(client.received, [{ type: "loginreq", roomid: "9999" }]);
    });
  });

  test(`${protocol}: nothing is streamed before joingroup, then every message in order`, async () => {
    const messages = [chat("one"), { type: "chatmsg", nn: "Bob", txt: "@two/" }, chat("你好")];
    await withServer({ ...base, messages }, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.quiet();
      const client = server.clients[0]!;
      assert.ok(client.isOpen);
      await raw.send(JOIN);
      await client.joined;
      assert.equal(await server.nextClient(), client);
      assert.equal(await raw.body(), chat("one"));
      assert.deepEqual(decodeStt(await raw.body()), { type: "chatmsg", nn: "Bob", txt: "@two/" });
      assert.equal(await raw.body(), chat("你好"));
      await raw.quiet();
      // A second joingroup does not restart the stream.
      await raw.send(JOIN);
      await raw.quiet();
    });
  });

  test(`${protocol}: mrkl is answered with mrkl`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      for (let i = 1; i <= 3; i++) {
        await raw.send("type@=mrkl/");
        assert.equal(await raw.body(), "type@=mrkl/");
        const client = server.clients[0]!;
        assert.deepEqual(await client.waitFor("mrkl", i), { type: "mrkl" });
      }
    });
  });

  test(`${protocol}: logout closes the connection`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send("type@=logout/");
      await raw.expectEof();
      const client = server.clients[0]!;
      await client.closed;
      assert.equal(client.isOpen, false);
      assert.equal(client.received.at(-1)?.type, "logout");
    });
  });

  test(`${protocol}: idleTimeout closes a client that sends nothing`, async () => {
    // A timeout far above a busy machine's stalls, so only the idle client meets it.
    await withServer({ ...base, idleTimeout: 1000 }, async (server, connect) => {
      const started = performance.now();
      const idle = await connect();
      const idleClosed = idle.expectEof().then(() => performance.now() - started);
      const busy = await connect();
      await busy.login();
      // The busy client beats every 50 ms, for longer than the timeout.
      for (let i = 0; i < 30; i++) {
        await busy.send("type@=mrkl/");
        assert.equal(await busy.body(), "type@=mrkl/");
        await delay(50);
      }
      const elapsed = await idleClosed;
      // Never before the timeout (less a timer's rounding); late only by how busy the machine is.
      assert.ok(elapsed >= 950 && elapsed < 10_000, `idle client closed after ${elapsed} ms`);
      assert.equal(server.clients.filter((c) => c.isOpen).length, 1);
      await busy.expectEof(); // stopped beating
    });
  });

  test(`${protocol}: split writes arrive reassembled`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      const client = await server.nextClient();
      const bodies = [chat("split one"), chat("二"), chat("three")];
      // (Each piece leaves as its own TCP write or WebSocket message; the
      // reader may join what arrives together, as TCP itself does.)
      await client.sendFrames(bodies, { split: 5 });
      for (const body of bodies) assert.equal(await raw.body(), body);
      await assert.rejects(client.sendFrames(bodies, { split: 0 }), RangeError);
    });
  });

  test(`${protocol}: coalesced frames arrive in order`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      const client = await server.nextClient();
      const bodies = Array.from({ length: 20 }, (_, i) => chat(`coalesced ${i}`));
      const sizesBefore = raw.chunkSizes.length;
      await client.sendFrames(bodies, "coalesce");
      for (const body of bodies) assert.equal(await raw.body(), body);
      if (protocol === "ws") assert.equal(raw.chunkSizes.length, sizesBefore + 1);
    });
  });

  test(`${protocol}: cutMidFrame leaves an incomplete frame, then EOF`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      const client = await server.nextClient();
      await client.send(chat("before"));
      await client.cutMidFrame(chat("cut in half"));
      assert.equal(await raw.body(), chat("before"));
      await raw.expectEof();
      const half = Math.floor(encodeFrame(chat("cut in half")).length / 2);
      assert.equal(raw.decoder.bufferedBytes, half);
      await client.closed;
      assert.equal(client.isOpen, false);
    });
  });

  test(`${protocol}: silence keeps the socket open and answers nothing`, async () => {
    const messages = Array.from({ length: 1000 }, (_, i) => chat(`m${i}`));
    // The idle timeout must not close the client before it is silenced, however busy the machine.
    const options = { ...base, messages, interval: 20, idleTimeout: 2000 };
    await withServer(options, async (server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      const client = await server.nextClient();
      client.silence();
      // What was streamed before silence() (a few, more on a busy machine), then
      // nothing: without it, all 1000 would come, 20 ms apart.
      let streamed = 0;
      for (let frame; (frame = await raw.next(QUIET_MS)) !== "timeout"; streamed++) {
        assert.equal(frame?.body, chat(`m${streamed}`));
      }
      assert.ok(streamed < 500, `${streamed} messages after silence()`);
      await raw.send("type@=mrkl/");
      await raw.send(LOGIN);
      await raw.send("type@=logout/");
      await server.broadcast(chat("broadcast"));
      await raw.quiet(2300); // longer than idleTimeout, too
      assert.ok(client.isOpen);
      assert.deepEqual(client.received.slice(-3).map((m) => m.type), [
        "mrkl",
        "loginreq",
        "logout",
      ]);
      // An explicit send still goes out.
      await client.send(chat("explicit"));
      assert.equal(await raw.body(), chat("explicit"));
    });
  });

  test(`${protocol}: garbage and a huge length make the client's decoder throw`, async () => {
    await withServer(base, async (server, connect) => {
      for (const fault of ["garbage", "huge"] as const) {
        const raw = await connect();
        await raw.login();
        const client = await server.nextClient({ joined: false });
        await (fault === "garbage" ? client.sendGarbage() : client.sendHugeLength());
        await assert.rejects(raw.next(), ProtocolError);
        raw.close();
        await client.closed;
      }
      await assert.rejects(server.clients[0]!.sendGarbage(), ClosedError);
    });
  });

  test(`${protocol}: a client that breaks framing is disconnected`, async () => {
    await withServer(base, async (server, connect) => {
      const raw = await connect();
      await raw.send("type@=mrkl/");
      assert.equal(await raw.body(), "type@=mrkl/");
      const bad = new Uint8Array(12);
      new DataView(bad.buffer).setUint32(0, 5, true); // length 5 < 9
      new DataView(bad.buffer).setUint32(4, 5, true);
      await raw.write(bad);
      await raw.expectEof();
      const client = server.clients[0]!;
      await client.closed;
      assert.deepEqual(client.received, [{ type: "mrkl" }]);
    });
  });

  test(`${protocol}: the real capture streams intact`, async () => {
    const bodies = await captureBodies();
    await withServer({ ...base, messages: bodies }, async (_server, connect) => {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      for (const body of bodies) assert.equal(await raw.body(), body);
      await raw.quiet();
    });
  });
}

test("received records every client message, decoded, in order", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    const sent = [
      LOGIN,
      JOIN,
      "type@=chatmessage/content@=a@Sb@Ac/",
      "rid@=1/type@=custom/rid@=2/",
      "type@=mrkl/",
    ];
    // All in one write: the server must split them itself.
    await raw.write(new Uint8Array(sent.flatMap((body) => [...encodeFrame(body)])));
    const client = await server.nextClient();
    await client.waitFor("mrkl");
    assert.deepEqual(client.received, sent.map(decodeStt));
    assert.deepEqual(client.received[2], { type: "chatmessage", content: "a/b@c" });
  });
});

test("waitFor counts earlier messages, and rejects when the client closes", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.send("type@=mrkl/");
    await raw.send("type@=mrkl/");
    const client = await server.nextClient({ joined: false });
    await client.waitFor("mrkl", 2);
    const third = client.waitFor("mrkl", 3);
    await raw.send("type@=mrkl/");
    await third;
    const never = client.waitFor("nosuchtype");
    const aborted = client.waitFor("nosuchtype", 1, { signal: AbortSignal.abort(new Error("x")) });
    await assert.rejects(aborted, /x/);
    client.close();
    await assert.rejects(never, ClosedError);
    await assert.rejects(client.waitFor("other"), ClosedError);
    await assert.rejects(client.waitFor("mrkl", 0), RangeError);
    assert.deepEqual(await client.waitFor("mrkl", 1), { type: "mrkl" });
  });
});

test("recording keeps its spacing, divided by speed", async () => {
  const recording = [
    { t: 1000, body: chat("r0") },
    { t: 1100, body: chat("r1") },
    { t: 1200, body: chat("r2") },
  ];
  // A stall of the event loop (the server runs in this process) stands for
  // a busy machine's late timers.
  for (const [speed, stall] of [[2, 0], [2, 150], [0, 0]] as const) {
    await withServer({ recording, speed }, async (_server, connect) => {
      const raw = await connect();
      await raw.login();
      const joined = performance.now();
      await raw.send(JOIN);
      if (stall > 0) {
        assert.equal(await raw.body(), recording[0]!.body);
        for (const end = performance.now() + stall; performance.now() < end;) {
          // busy, as another process on the core would keep it
        }
      }
      for (const line of recording.slice(stall > 0 ? 1 : 0)) {
        assert.equal(await raw.body(), line.body);
      }
      const [a, b, c] = raw.arrivals.slice(-3) as [number, number, number];
      if (speed === 2) {
        // The design: no line goes out before its time (0, 50 and 100 ms
        // after the join the replay starts from). A late timer sends what is
        // due together (a busy machine saw gaps of 102 and 0 ms), so the
        // gaps between arrivals are no bound; the total is, against a hang.
        // (1 ms less: timers may fire a fraction of a millisecond early.)
        assert.ok(b - joined >= 49 && c - joined >= 99, `at ${b - joined}, ${c - joined} ms`);
        assert.ok(c - a < 5000, `total ${c - a} ms`);
      } else {
        assert.ok(c - a < 50, `speed 0 took ${c - a} ms`);
      }
    });
  }
});

test("a recording function is called per client and per pass, each pass with its own lines", async () => {
  let passes = 0;
  const recording = () => {
    passes++;
    return [{ t: 0, body: chat(`pass ${passes} a`) }, { t: 10, body: chat(`pass ${passes} b`) }];
  };
  await withServer({ recording, speed: 0, loop: true }, async (_server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    for (const text of ["pass 1 a", "pass 1 b", "pass 2 a", "pass 2 b"]) {
      assert.equal(await raw.body(), chat(text));
    }
    const other = await connect();
    await other.login();
    await other.send(JOIN);
    assert.match(await other.body(), /txt@=pass \d+ a\//);
  });
});

test("interval spaces messages; loop repeats them; a function source runs per client", async () => {
  let calls = 0;
  const messages = function* () {
    calls++;
    yield chat("a");
    yield chat("b");
  };
  await withServer({ messages, interval: 40, loop: true }, async (_server, connect) => {
    for (let n = 0; n < 2; n++) {
      const raw = await connect();
      await raw.login();
      await raw.send(JOIN);
      const bodies = [];
      for (let i = 0; i < 5; i++) bodies.push(await raw.body());
      assert.deepEqual(bodies, [chat("a"), chat("b"), chat("a"), chat("b"), chat("a")]);
      const arrivals = raw.arrivals.slice(-5);
      const total = arrivals.at(-1)! - arrivals[0]!;
      assert.ok(total >= 4 * 40 * 0.8 && total < 2000, `5 messages took ${total} ms`);
      raw.close();
    }
    assert.ok(calls >= 4, `source called ${calls} times`);
  });
});

test("an async source is streamed, and closing does not wait for it", async () => {
  let finished = false;
  const never = new Promise<never>(() => {});
  async function* messages() {
    try {
      yield chat("async one");
      yield { type: "chatmsg", txt: "async two" };
      await never; // a live feed that has nothing more to say
    } finally {
      finished = true;
    }
  }
  await withServer({ messages }, async (server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    assert.equal(await raw.body(), chat("async one"));
    assert.equal(await raw.body(), "type@=chatmsg/txt@=async two/");
    await raw.quiet();
    await server.close();
    await raw.expectEof();
  });
  // The generator is stuck in `await never`, so its finally cannot run: fine.
  assert.equal(finished, false);
});

test("a source that throws ends the client's stream; the error is kept as sourceError", async () => {
  const boom = new Error("boom");
  const messages = function* () {
    yield chat("one");
    throw boom;
  };
  await withServer({ messages }, async (server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    const client = server.clients[0]!;
    await client.closed;
    assert.equal(client.sourceError, boom);
    raw.close();
  });
});

test("a looping source that yields nothing does not spin", async () => {
  await withServer({ messages: [], loop: true }, async (_server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    await raw.quiet();
  });
});

test("answerLogin: false never answers loginreq", async () => {
  await withServer({ answerLogin: false }, async (server, connect) => {
    const raw = await connect();
    await raw.send(LOGIN);
    await raw.quiet(300);
    const client = await server.nextClient({ joined: false });
    assert.equal(await within(client.loggedIn, 10), "timeout");
    await raw.send("type@=mrkl/"); // other messages are still answered
    assert.equal(await raw.body(), "type@=mrkl/");
  });
});

test("loginResponse replaces the loginres body", async () => {
  const loginResponse = "type@=loginres/userid@=42/username@=bot/";
  await withServer({ loginResponse }, async (_server, connect) => {
    const raw = await connect();
    await raw.send(LOGIN);
    assert.equal(await raw.body(), loginResponse);
    assert.match(await raw.body(), /^type@=pingreq\/tick@=\d+\/$/);
  });
});

test("nextClient hands out each client once, counting earlier connections", async () => {
  await withServer({}, async (server, connect) => {
    const first = await connect();
    const second = await connect();
    await second.login();
    await second.send(JOIN);
    // The second joined first, so it is the first joined client.
    const joined = await server.nextClient();
    assert.equal(joined.id, 2);
    // joined: false takes the earliest connection not handed out yet.
    assert.equal((await server.nextClient({ joined: false })).id, 1);
    const pending = server.nextClient({ joined: false });
    assert.equal(await within(pending, 50), "timeout");
    const third = await connect();
    assert.equal((await pending).id, 3);
    void first, third;
    const controller = new AbortController();
    const aborted = server.nextClient({ signal: controller.signal });
    controller.abort(new Error("gave up"));
    await assert.rejects(aborted, /gave up/);
    // An aborted call does not swallow the next client.
    const fourth = await connect();
    await fourth.login();
    await fourth.send(JOIN);
    assert.equal((await server.nextClient()).id, 4);
    assert.deepEqual(server.clients.map((c) => c.id), [1, 2, 3, 4]);
    const waiting = server.nextClient();
    await server.close();
    await assert.rejects(waiting, ClosedError);
    await assert.rejects(server.nextClient(), ClosedError);
  });
});

test("a nextClient() given up before a client arrives never takes it from a later call", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    await server.clients[0]!.joined;
    // The client is waiting to be handed out when the aborted call arrives.
    const aborted = server.nextClient({ signal: AbortSignal.abort(new Error("gave up")) });
    const later = server.nextClient();
    await assert.rejects(aborted, /gave up/);
    assert.equal((await within(later, 5000)) !== "timeout" && (await later).id, 1);
  });
});

test("waitFor given up by its signal rejects with the reason; the message still counts", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.login();
    const client = await server.nextClient({ joined: false });
    const controller = new AbortController();
    const waiting = client.waitFor("mrkl", 1, { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);
    await raw.send("type@=mrkl/");
    assert.deepEqual(await client.waitFor("mrkl"), { type: "mrkl" });
  });
});

test("broadcast reaches joined clients only", async () => {
  await withServer({}, async (server, connect) => {
    const joined = await connect();
    const notJoined = await connect();
    await joined.login();
    await notJoined.login();
    await joined.send(JOIN);
    await server.nextClient();
    await server.broadcast({ type: "rss", rid: 9999, ss: 0 });
    assert.equal(await joined.body(), "type@=rss/rid@=9999/ss@=0/");
    await notJoined.quiet();
  });
});

test("sendRaw writes bytes as given", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.send(JOIN);
    const client = await server.nextClient();
    const frame = encodeFrame("type@=custom/", 690);
    const bytes = frame.slice();
    const sending = client.sendRaw(bytes);
    bytes.fill(0); // the server copied it
    await sending;
    assert.equal(await raw.body(), "type@=custom/");
  });
});

test("both protocols at once", async () => {
  await withServer(
    { protocols: ["ws", "tcp"], messages: [chat("hi")] },
    async (server, connect) => {
      assert.equal(server.url, server.urls.ws);
      assert.match(server.urls.tcp!, /^tcp:/);
      for (const url of [server.urls.tcp!, server.urls.ws!]) {
        const raw = await connect(url);
        await raw.login();
        await raw.send(JOIN);
        assert.equal(await raw.body(), chat("hi"));
      }
      assert.deepEqual(server.clients.map((c) => c.protocol), ["tcp", "ws"]);
    },
  );
});

test("close() is idempotent and stops every stream, timer and connection", async () => {
  const server = await MockServer.start({
    protocols: ["tcp", "ws"],
    messages: [chat("forever")],
    loop: true,
    idleTimeout: 60_000,
    interval: 1000,
  });
  const clients: RawClient[] = [];
  try {
    for (const url of [server.urls.tcp!, server.urls.ws!]) {
      const raw = await RawClient.connect(url);
      clients.push(raw);
      await raw.login();
      await raw.send(JOIN);
      assert.equal(await raw.body(), chat("forever"));
    }
    const client = server.clients[0]!;
    const pendingWait = client.waitFor("never");
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await assert.rejects(pendingWait, ClosedError);
    for (const raw of clients) {
      try {
        await raw.expectEof();
      } catch (error) {
        // Bun's WebSocket server stop is abrupt: a lost connection, not EOF.
        assert.ok(error instanceof ClosedError, String(error));
      }
    }
    for (const c of server.clients) {
      assert.equal(c.isOpen, false);
      await c.closed;
      await assert.rejects(c.joined.then(() => c.waitFor("x")), ClosedError);
    }
    await assert.rejects(client.send(chat("late")), ClosedError);
  } finally {
    for (const raw of clients) raw.close();
    await server.close();
  }
  // The listeners are gone too.
  await assert.rejects(RawClient.connect(server.urls.tcp!));
});

test("invalid options are rejected", async () => {
  const bad: MockServerOptions[] = [
    { protocols: [] },
    { protocols: ["tcp", "tcp"] },
    { protocols: ["udp" as "tcp"] },
    { messages: [], recording: [] },
    { messages: "type@=chatmsg/" as unknown as string[] },
    { messages: 5 as unknown as string[] },
    { messages: null as unknown as string[] },
    { recording: "abc" as unknown as [] },
    { recording: { length: 1 } as unknown as [] },
    { speed: -1 },
    { interval: Number.NaN },
    { idleTimeout: -5 },
    { port: 70000 },
    { maxClients: 0 },
    { maxClosedClients: -1 },
    { maxReceived: 0 },
    { maxReceived: 1.5 },
    { maxReceivedChars: Number.POSITIVE_INFINITY },
    { maxMessageTypes: -1 },
    { maxPendingBytes: Number.NaN },
    { maxFrameSize: 8 },
  ];
  for (const options of bad) {
    await assert.rejects(
      MockServer.start(options),
      /TypeError|RangeError/,
      JSON.stringify(options),
    );
  }
});

// ---------------------------------------------------------------------------
// Bounds: what a client can make the server hold

/** `count` packets of `body` in one buffer, as one write. */
function packets(body: string, count: number): Uint8Array {
  const frame = encodeFrame(body);
  const bytes = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) bytes.set(frame, i * frame.length);
  return bytes;
}

test("limits: their defaults are documented", () => {
  assert.deepEqual(MOCK_SERVER_LIMITS, {
    maxClients: 1000,
    maxClosedClients: 100,
    maxReceived: 1000,
    maxReceivedChars: 256 * 1024,
    maxMessageTypes: 256,
    maxPendingBytes: 1024 * 1024,
    maxFrameSize: 64 * 1024,
  });
  assert.ok(Object.isFrozen(MOCK_SERVER_LIMITS));
});

test("maxClients: a connection over the cap is closed at once; others are still accepted", async () => {
  await withServer({ maxClients: 2 }, async (server, connect) => {
    const first = await connect();
    const second = await connect();
    await first.login();
    await second.login();
    const third = await connect();
    await third.expectEof();
    assert.deepEqual(server.clients.map((c) => c.id), [1, 2]);
    assert.equal(server.refused, 1, "counted");
    second.close();
    await server.clients[1]!.closed;
    const fourth = await connect();
    await fourth.login();
    assert.deepEqual(server.clients.filter((c) => c.isOpen).map((c) => c.id), [1, 3]);
  });
});

test("maxClosedClients: clients that left are forgotten, the newest kept", async () => {
  await withServer({ maxClosedClients: 2 }, async (server, connect) => {
    const open = await connect();
    await open.login();
    for (let i = 0; i < 5; i++) {
      const raw = await connect();
      await raw.login();
      raw.close();
      await server.clients.at(-1)!.closed;
    }
    // The open one, and the last two that left.
    assert.deepEqual(server.clients.map((c) => c.id), [1, 5, 6]);
    // nextClient hands out what is still known, in order.
    assert.equal((await server.nextClient({ joined: false })).id, 1);
    assert.equal((await server.nextClient({ joined: false })).id, 5);
  });
});

test("maxReceived: the log keeps the newest messages; waitFor counts them all", async () => {
  await withServer({ maxReceived: 3 }, async (server, connect) => {
    const raw = await connect();
    await raw.write(packets("type@=mrkl/", 10));
    await raw.send("type@=last/");
    const client = await server.nextClient({ joined: false });
    await client.waitFor("last");
    assert.deepEqual(client.received, [{ type: "mrkl" }, { type: "mrkl" }, { type: "last" }]);
    assert.deepEqual(await client.waitFor("mrkl", 10), { type: "mrkl" });
    // The second one has left the log: the oldest still there stands in for it.
    assert.equal(await client.waitFor("mrkl", 2), client.received[0]);
    const eleventh = client.waitFor("mrkl", 11);
    assert.equal(await within(eleventh, 50), "timeout");
    await raw.send("type@=mrkl/");
    await eleventh;
  });
});

test("maxReceivedChars: the log drops its oldest messages past that many characters", async () => {
  await withServer({ maxReceivedChars: 100 }, async (server, connect) => {
    const raw = await connect();
    const big = `type@=chatmessage/content@=${"x".repeat(60)}/`;
    await raw.send(big);
    await raw.send(big);
    await raw.send("type@=mrkl/");
    const client = await server.nextClient({ joined: false });
    await client.waitFor("mrkl");
    assert.deepEqual(client.received.map((m) => m.type), ["chatmessage", "mrkl"]);
    // The newest message stays, however large.
    await raw.send(`type@=chatmessage/content@=${"y".repeat(200)}/`);
    await client.waitFor("chatmessage", 3);
    assert.equal(client.received.length, 1);
    assert.equal(client.received[0]!.content, "y".repeat(200));
  });
});

test("maxMessageTypes: types past the cap are counted in the log only", async () => {
  await withServer({ maxMessageTypes: 2, maxReceived: 2 }, async (server, connect) => {
    const raw = await connect();
    for (const type of ["a", "b", "c", "d", "d"]) await raw.send(`type@=${type}/`);
    const client = await server.nextClient({ joined: false });
    await client.waitFor("d", 2);
    // "a" and "b" are counted, though they have left the log.
    assert.deepEqual(await client.waitFor("a"), { type: "a" });
    assert.deepEqual(await client.waitFor("b"), { type: "b" });
    // "c" is not counted and has left the log: it has not been seen, as far as waitFor knows.
    assert.equal(await within(client.waitFor("c"), 50), "timeout");
    // A waiter counts what arrives after it, counted type or not.
    const nextC = client.waitFor("c");
    await raw.send("type@=c/");
    assert.deepEqual(await nextC, { type: "c" });
  });
});

test("answers to a burst of mrkl go out together, and all arrive", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.write(packets("type@=mrkl/", 5000));
    const client = await server.nextClient({ joined: false });
    await client.waitFor("mrkl", 5000);
    for (let i = 0; i < 5000; i++) assert.equal(await raw.body(), "type@=mrkl/");
    // Far fewer reads than answers: they were written in a few writes.
    assert.ok(raw.chunkSizes.length < 100, `${raw.chunkSizes.length} reads`);
    assert.ok(client.isOpen);
  });
});

test("maxPendingBytes: a client whose answers pile up past the bound is dropped", async () => {
  await withServer({ maxPendingBytes: 1000 }, async (server, connect) => {
    const raw = await connect();
    // Hundreds of answers are due before the first write can complete.
    await raw.write(packets("type@=mrkl/", 1000));
    await raw.expectEof();
    const client = server.clients[0]!;
    await client.closed;
    await assert.rejects(client.send(chat("late")), ClosedError);
    // A single write larger than the bound is not refused when nothing waits.
    const other = await connect();
    await other.login();
    const bodies = Array.from({ length: 100 }, (_, i) => chat(`batch ${i}`));
    await server.clients[1]!.sendFrames(bodies);
    for (const body of bodies) assert.equal(await other.body(), body);
  });
  // With no room at all, a client still gets one answer at a time.
  await withServer({ maxPendingBytes: 0 }, async (_server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send("type@=mrkl/");
    assert.equal(await raw.body(), "type@=mrkl/");
  });
});

test("maxFrameSize: a client packet larger than that disconnects the client", async () => {
  await withServer({ maxFrameSize: 100 }, async (server, connect) => {
    const raw = await connect();
    await raw.send(`type@=chatmessage/content@=${"x".repeat(50)}/`);
    await raw.send(`type@=chatmessage/content@=${"x".repeat(100)}/`);
    await raw.expectEof();
    const client = server.clients[0]!;
    await client.closed;
    assert.equal(client.received.length, 1);
  });
});

test("joined resolves with the joingroup message", async () => {
  await withServer({}, async (server, connect) => {
    const raw = await connect();
    await raw.login();
    await raw.send(JOIN);
    const client = await server.nextClient();
    assert.deepEqual(await client.joined, { type: "joingroup", rid: "9999", gid: "-9999" });
  });
});
