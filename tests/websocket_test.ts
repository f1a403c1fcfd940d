/**
 * This package's WebSocket (`src/transport/websocket.ts`) against another
 * implementation: the `ws` npm package under Node, in a process of its own
 * (`tests/peers/ws_peer.mjs`), as client and as server. Broken peers are
 * played by writing raw bytes past `ws`'s framing; `ws` then reports the
 * close code it was answered with. RFC 6455: §7.1.7 (failing the
 * connection), §7.4 (close codes), §8.1 (UTF-8), §4.1 (what the client
 * checks in the 101), and the listener's own limits.
 */
import assert from "node:assert/strict";
import { DouyuError, ProtocolError } from "../src/base/errors.ts";
import { connect } from "../src/session/session.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import type { Listener, Transport } from "../src/transport/seam.ts";
import { parseEndpoint } from "../src/transport/seam.ts";
import { defaultTransportFactory, listen } from "../src/transport/default.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { failure, type Peer, readFixture, spawnPeer, test } from "./harness.ts";
import { ROOT, runtimeCommand, startChild } from "./process.ts";

/** A peer's report: see `tests/peers/ws_peer.mjs`. */
interface PeerEvent {
  event: "open" | "message" | "close" | "error" | "unexpected";
  code?: number;
  reason?: string;
  bytes?: string;
  status?: number;
  message?: string;
}

/** No step of these tests should take this long, even on a busy machine. */
const STEP_MS = 20_000;

/** Resolves as `promise` does, or rejects naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The peer's next report of one of `kinds`, skipping others. */
async function nextEvent(peer: Peer, ...kinds: PeerEvent["event"][]): Promise<PeerEvent> {
  for (;;) {
    const event = await within(peer.next<PeerEvent>(), STEP_MS, `peer event ${kinds}`);
    if (kinds.includes(event.event)) return event;
  }
}

/** A `ws` server doing `action` to each connection; resolves with it and its URL. */
async function wsServer(action: string, tls = false): Promise<{ peer: Peer; url: string }> {
  const peer = await spawnPeer("ws_peer.mjs", ["serve", action, ...(tls ? ["tls"] : [])]);
  const { url } = await within(peer.next<{ url: string }>(), STEP_MS, "ws server");
  return { peer, url };
}

/** Connects this package's client to `url` (trusting the test CA for wss). */
async function openClient(url: string): Promise<Transport> {
  const caCerts = url.startsWith("wss:") ? [await readFixture("tls/ca.pem")] : undefined;
  return await defaultTransportFactory(parseEndpoint(url), caCerts ? { caCerts } : {});
}

/** Reads until the end; resolves with the bytes, or rejects with what broke the stream. */
async function readAll(conn: Transport): Promise<number[]> {
  const bytes: number[] = [];
  for (let chunk; (chunk = await conn.read());) bytes.push(...chunk);
  return bytes;
}

/** This package's WebSocket server, whose handlers report how each connection's reads ended. */
async function ourServer(): Promise<{
  listener: Listener;
  /** How the next connection's reads ended: the bytes, or the error. */
  next(): Promise<{ bytes: number[] } | { error: unknown }>;
  close(): Promise<void>;
}> {
  const ends: Promise<{ bytes: number[] } | { error: unknown }>[] = [];
  const listener = await listen({ protocol: "ws" }, (conn) => {
    ends.push(
      readAll(conn).then((bytes) => ({ bytes }), (error) => ({ error })).finally(() =>
        conn.close()
      ),
    );
  });
  let taken = 0;
  return {
    listener,
    async next() {
      for (let waited = 0; ends.length <= taken; waited += 10) {
        if (waited > STEP_MS) throw new Error("no connection");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return await within(ends[taken++]!, STEP_MS, "server connection");
    },
    async close() {
      await listener.close();
      await Promise.all(ends);
    },
  };
}

/** Hex of a frame as `ws` should never see it from a client: masked with a zero key. */
function masked(first: number, payload: number[]): string {
  const bytes = [first, 0x80 | payload.length, 0, 0, 0, 0, ...payload];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}

function plain(first: number, payload: number[]): string {
  return [first, payload.length, ...payload].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * What a broken (or merely unusual) frame from the peer must make the other
 * side do: fail the connection with `code` (§7.1.7), or answer a close with
 * `code` (§5.5.1), or carry on (`code` undefined, the frame is fine).
 */
const FRAME_CASES: {
  name: string;
  /** The first byte and the payload of the frame. */
  frame: [number, number[]];
  /** The close code the sender gets back; undefined: the connection carries on. */
  code: number | undefined;
  /** Whether the receiving side's `read()` rejects with a ProtocolError. */
  fails: boolean;
}[] = [
  { name: "reserved bits", frame: [0xc2, [0]], code: 1002, fails: true },
  { name: "an unknown opcode", frame: [0x83, []], code: 1002, fails: true },
  { name: "close code 999", frame: [0x88, [0x03, 0xe7]], code: 1002, fails: true },
  { name: "close code 1005", frame: [0x88, [0x03, 0xed]], code: 1002, fails: true },
  { name: "close code 1006", frame: [0x88, [0x03, 0xee]], code: 1002, fails: true },
  { name: "close code 1016", frame: [0x88, [0x03, 0xf8]], code: 1002, fails: true },
  { name: "close code 5000", frame: [0x88, [0x13, 0x88]], code: 1002, fails: true },
  { name: "a 1-byte close payload", frame: [0x88, [0x03]], code: 1002, fails: true },
  {
    name: "a close reason that is not UTF-8",
    frame: [0x88, [0x03, 0xe8, 0xff, 0xfe]],
    code: 1007,
    fails: true,
  },
  {
    name: "a text message that is not UTF-8",
    frame: [0x81, [0xff, 0xfe]],
    code: 1007,
    fails: true,
  },
  { name: "a text message cut inside a character", frame: [0x81, [0xe4]], code: 1007, fails: true },
  // `ws` reports a close frame with no code as 1005 ("no status received").
  { name: "a close frame with no code", frame: [0x88, []], code: 1005, fails: false },
  { name: "close code 3000", frame: [0x88, [0x0b, 0xb8]], code: 3000, fails: false },
  {
    name: "close code 1000 with a UTF-8 reason",
    frame: [0x88, [0x03, 0xe8, 0xe4, 0xbd, 0xa0]],
    code: 1000,
    fails: false,
  },
  {
    name: "a valid UTF-8 text message",
    frame: [0x81, [0xe4, 0xbd, 0xa0]],
    code: undefined,
    fails: false,
  },
];

/** How reading a connection to its end went: the bytes, or what broke it. */
async function outcome(conn: Transport): Promise<{ bytes: number[] } | { error: unknown }> {
  return await readAll(conn).then((bytes) => ({ bytes }), (error) => ({ error }));
}

for (const { name, frame, code, fails } of FRAME_CASES) {
  test(`ws client against ws's server: ${name} → ${code ?? "carries on"}`, async () => {
    // After the frame, a binary message: read only when the connection carries on.
    const { peer, url } = await wsServer(`raw:${plain(...frame)}${plain(0x82, [42])}`);
    try {
      const client = await openClient(url);
      if (code === undefined) {
        const first = await within(client.read(), STEP_MS, "the binary message");
        assert.deepEqual(first && [...first], [42]);
      } else {
        const ended = await within(outcome(client), STEP_MS, "the end of the stream");
        if (fails) assert.ok("error" in ended && ended.error instanceof ProtocolError);
        else assert.deepEqual(ended, { bytes: [] }, "nothing read after the close frame");
      }
      client.close();
      const closed = await nextEvent(peer, "close");
      assert.equal(closed.code, code ?? 1000, `ws was answered ${closed.code}`);
    } finally {
      await peer.stop();
    }
  }, { timeout: 60_000 });

  test(`ws server against ws's client: ${name} → ${code ?? "carries on"}`, async () => {
    const server = await ourServer();
    // Clients mask their frames; a zero key keeps the payload as it is.
    const raw = `raw:${masked(...frame)}${masked(0x82, [42])}`;
    const peer = await spawnPeer("ws_peer.mjs", ["connect", server.listener.endpoint.url, raw]);
    try {
      await nextEvent(peer, "open");
      if (code === undefined) {
        // Ending the peer drops its socket: the server reads what came before.
        await peer.stop();
        assert.deepEqual(await server.next(), { bytes: [42] });
        return;
      }
      const ended = await server.next();
      if (fails) assert.ok("error" in ended && ended.error instanceof ProtocolError, `${ended}`);
      else assert.deepEqual(ended, { bytes: [] }, "nothing read after the close frame");
      const closed = await nextEvent(peer, "close");
      assert.equal(closed.code, code, `ws was answered ${closed.code}`);
    } finally {
      await peer.stop();
      await server.close();
    }
  }, { timeout: 60_000 });
}

for (const tls of [false, true]) {
  const scheme = tls ? "wss" : "ws";
  test(`${scheme} client against ws's server: closing is answered with 1000`, async () => {
    const { peer, url } = await wsServer("echo", tls);
    try {
      const client = await openClient(url);
      await client.write(new Uint8Array([1, 2, 3]));
      assert.deepEqual([...(await within(client.read(), STEP_MS, "echo"))!], [1, 2, 3]);
      client.close();
      const closed = await nextEvent(peer, "close");
      assert.equal(closed.code, 1000);
    } finally {
      await peer.stop();
    }
  }, { timeout: 60_000 });
}

for (
  const [header, cause] of [
    ["Sec-WebSocket-Extensions:permessage-deflate", /extension permessage-deflate/],
    ["Sec-WebSocket-Protocol:chat", /subprotocol chat/],
  ] as const
) {
  test(
    `ws client: a 101 with ${header.split(":")[0]} it never asked for fails the handshake`,
    async () => {
      const { peer, url } = await wsServer(`header:${header}`);
      try {
        const error = await failure(openClient(url));
        assert.ok(error instanceof DouyuError, String(error));
        assert.match(error.message, cause);
        assert.match(error.message, /not asked for/);
        assert.ok(error.message.includes(url), error.message);
      } finally {
        await peer.stop();
      }
    },
    { timeout: 60_000 },
  );
}

test("ws client: a 101 head over 16 KiB is refused, however it arrives", async () => {
  const { peer, url } = await wsServer(`header:X-Padding:${"a".repeat(40_000)}`);
  try {
    const error = await failure(openClient(url));
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(error.message, /handshake head longer than 16384 bytes/);
  } finally {
    await peer.stop();
  }
}, { timeout: 60_000 });

test("ws server: a request head over 16 KiB is answered 431, however it arrives", async () => {
  const server = await ourServer();
  const headers = JSON.stringify({ "X-Padding": "a".repeat(40_000) });
  const peer = await spawnPeer("ws_peer.mjs", [
    "connect",
    server.listener.endpoint.url,
    "hold",
    headers,
  ]);
  try {
    const refused = await nextEvent(peer, "unexpected", "open");
    assert.deepEqual(refused, { event: "unexpected", status: 431 });
  } finally {
    await peer.stop();
    await server.close();
  }
}, { timeout: 60_000 });

/** Writes `bytes` on a raw TCP connection to `port`; resolves with what comes back in `ms`. */
async function rawExchange(port: number, bytes: Uint8Array, ms: number): Promise<string> {
  const conn = await defaultTransportFactory(parseEndpoint(`tcp://127.0.0.1:${port}`), {});
  try {
    await conn.write(bytes);
    let answer = "";
    const decoder = new TextDecoder();
    const deadline = performance.now() + ms;
    for (;;) {
      const chunk = await within(conn.read(), Math.max(1, deadline - performance.now()), "answer");
      if (chunk === null) return answer;
      answer += decoder.decode(chunk, { stream: true });
    }
  } finally {
    conn.close();
  }
}

test("ws server: a first packet that is not HTTP is answered 400 at once", async () => {
  const server = await ourServer();
  try {
    const port = server.listener.endpoint.port;
    const started = performance.now();
    const answer = await rawExchange(port, encodeFrame("type@=loginreq/roomid@=9999/"), 5000);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.ok(performance.now() - started < 5000);
    // Bytes no request line may hold, even before the line ends.
    assert.match(
      await rawExchange(port, new Uint8Array([0x47, 0x45, 0x00]), 5000),
      /^HTTP\/1\.1 400 /,
    );
    // A well-formed request that is no upgrade still gets 426.
    const get = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(await rawExchange(port, get, 5000), /^HTTP\/1\.1 426 /);
  } finally {
    await server.close();
  }
});

test("mock server ws: Host and Origin are checked, and over maxClients an upgrade is answered 503; each refusal is counted", async () => {
  await using server = await MockServer.start({ protocols: ["ws"], maxClients: 2 });
  const { port } = parseEndpoint(server.url);
  const open: Transport[] = [];
  /** The status line the server answers an upgrade request with these headers. */
  const statusOf = async (headers: string): Promise<string> => {
    const conn = await defaultTransportFactory(parseEndpoint(`tcp://127.0.0.1:${port}`), {});
    open.push(conn);
    await conn.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\n${headers}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    let answer = "";
    while (!answer.includes("\r\n")) {
      const chunk = await within(conn.read(), 10_000, "an answer");
      if (chunk === null) break;
      answer += new TextDecoder().decode(chunk);
    }
    return answer.split("\r\n")[0]!;
  };
  try {
    // A DNS-rebinding page reaches the server under a name of its own.
    assert.equal(
      await statusOf(`Host: rebind.evil.example:${port}\r\n`),
      "HTTP/1.1 421 Misdirected Request",
    );
    assert.equal(
      await statusOf(`Host: 127.0.0.1:${port}\r\nOrigin: https://evil.example\r\n`),
      "HTTP/1.1 403 Forbidden",
    );
    // A page on this machine may connect (a client under development), as may a program.
    assert.equal(
      await statusOf(`Host: localhost:${port}\r\nOrigin: http://localhost:3000\r\n`),
      "HTTP/1.1 101 Switching Protocols",
    );
    assert.equal(await statusOf(`Host: 127.0.0.1:${port}\r\n`), "HTTP/1.1 101 Switching Protocols");
    for (let i = 0; i < 1000 && server.clients.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Full: refused before the upgrade, not dropped after it.
    assert.equal(await statusOf(`Host: 127.0.0.1:${port}\r\n`), "HTTP/1.1 503 Service Unavailable");
    assert.equal(server.clients.length, 2);
    assert.equal(server.refused, 3);
  } finally {
    for (const conn of open) conn.close();
  }
});

test("session: tcp:// pointed at a WebSocket port fails at once, with the ws:// hint", async () => {
  await using server = await MockServer.start({ protocols: ["ws"] });
  const { port } = parseEndpoint(server.url);
  const started = performance.now();
  const error = await failure(
    connect(9999, { url: `tcp://127.0.0.1:${port}`, reconnect: false, loginTimeout: 10_000 }),
  );
  assert.match(String((error as { cause?: unknown }).cause ?? error), /use ws:\/\/ or wss:\/\//);
  // Well before the 10 s login timeout that was the only way out.
  assert.ok(performance.now() - started < 5000, `${performance.now() - started} ms`);
});

test("ws listener: 300 silent sockets from one address do not lock others out", async () => {
  const server = await ourServer();
  const url = server.listener.endpoint.url;
  const [command, ...args] = runtimeCommand(`${ROOT}tests/peers/hostile_clients.ts`, ["-N"]);
  // From 127.0.0.2: the real clients below come from 127.0.0.1.
  const attack = startChild(command!, [...args, "silent", url, "300", "127.0.0.2"]);
  try {
    await attack.waitFor("stdout", /^ready$/m, 60_000);
    // Our client gets in, five times over, typically within a second while
    // the 300 stay (one connect may meet a burst of their churn: the median
    // is held to the second, each connect only to STEP_MS)...
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const conn = await within(openClient(url), STEP_MS, "our client");
      times.push(performance.now() - started);
      conn.close();
    }
    const median = times.sort((a, b) => a - b)[2]!;
    assert.ok(median < 1000, `our client got in after ${times.map(Math.round)} ms`);
    // ...and so does ws's.
    const peer = await spawnPeer("ws_peer.mjs", ["connect", url, "hold"]);
    try {
      const opened = await nextEvent(peer, "open", "unexpected", "error", "close");
      assert.equal(opened.event, "open", JSON.stringify(opened));
    } finally {
      await peer.stop();
    }
  } finally {
    await attack.closeStdin();
    await attack.waitFor("stdout", /^\{.*\}$/m, 30_000).catch(() => {});
    await attack.exited;
    await server.close();
  }
}, { timeout: 120_000 });
