/**
 * Real sockets on 127.0.0.1: the runtime's transports against the runtime's
 * listeners, over TCP and WebSocket.
 */
import assert from "node:assert/strict";
import { concat } from "../src/base/bytes.ts";
import { ClosedError, DouyuError, ProtocolError, TlsError } from "../src/base/errors.ts";
import type { Listener, Transport } from "../src/transport/seam.ts";
import { parseEndpoint } from "../src/transport/seam.ts";
import { defaultTransportFactory, listen } from "../src/transport/default.ts";
import {
  bracketHost,
  deliverConnection,
  listenerEndpoint,
  ReadQueue,
  WriteChain,
} from "../src/transport/shared.ts";
import { encodeWebSocketFrame } from "../src/transport/websocket_frame.ts";
import { readFixture, test } from "./harness.ts";

const PROTOCOLS = ["tcp", "ws"] as const;
const MiB = 1024 * 1024;
/** The node:net transport's high-water mark plus one socket read (Bun reads up to 512 KiB). */
const HELD_LIMIT = 256 * 1024 + 512 * 1024;

/** A listener whose per-connection tasks can be awaited, so nothing outlives a test. */
interface Server {
  listener: Listener;
  /** Closes the listener and waits for every connection handler to finish. */
  close(): Promise<void>;
}

async function serve(
  protocol: "tcp" | "ws",
  handle: (conn: Transport) => Promise<void>,
): Promise<Server> {
  const tasks: Promise<void>[] = [];
  const listener = await listen({ protocol }, (conn) => {
    tasks.push(handle(conn).catch(() => {}).finally(() => conn.close()));
  });
  return {
    listener,
    async close() {
      await listener.close();
      await Promise.all(tasks);
    },
  };
}

async function echo(conn: Transport): Promise<void> {
  for (let chunk; (chunk = await conn.read());) await conn.write(chunk);
}

/** Reads exactly `n` bytes, copying each chunk since transports may reuse it. */
async function readBytes(conn: Transport, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const chunk = await conn.read();
    if (chunk === null) throw new Error(`EOF after ${filled} of ${n} bytes`);
    assert.ok(filled + chunk.byteLength <= n, "more bytes than were sent");
    out.set(chunk, filled);
    filled += chunk.byteLength;
  }
  return out;
}

/** Reads and discards at least `n` bytes. */
async function skipBytes(conn: Transport, n: number): Promise<void> {
  for (let skipped = 0; skipped < n;) {
    const chunk = await conn.read();
    if (chunk === null) throw new Error(`EOF after ${skipped} of ${n} bytes`);
    skipped += chunk.byteLength;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function bufferedBytes(conn: Transport): number {
  return (conn as { bufferedBytes?: number }).bufferedBytes ?? 0;
}

for (const protocol of PROTOCOLS) {
  test(`${protocol}: echo round trip`, async () => {
    const server = await serve(protocol, echo);
    const { endpoint } = server.listener;
    assert.equal(endpoint.protocol, protocol);
    assert.equal(endpoint.host, "127.0.0.1");
    assert.notEqual(endpoint.port, 0);
    const client = await defaultTransportFactory(endpoint, {});
    assert.equal(client.url, endpoint.url);
    for (const text of ["hello", "\u4f60\u597d, douyu"]) {
      const bytes = new TextEncoder().encode(text);
      await client.write(bytes);
      assert.equal(new TextDecoder().decode(await readBytes(client, bytes.byteLength)), text);
    }
    client.close();
    await server.close();
  });

  test(`${protocol}: a 4 MiB write, and concurrent writes, arrive complete and in order`, async () => {
    const server = await serve(protocol, echo);
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    const data = new Uint8Array(4 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >>> 16)) & 0xff;
    // One big write, then pieces written without waiting for each other.
    const pieces = [data.subarray(0, 1000), data.subarray(1000, 300_000), data.subarray(300_000)];
    for (const writes of [[data], pieces]) {
      const [, received] = await Promise.all([
        Promise.all(writes.map((piece) => client.write(piece))),
        readBytes(client, data.byteLength),
      ]);
      const mismatch = received.findIndex((byte, i) => byte !== data[i]);
      assert.equal(mismatch, -1, `first difference at byte ${mismatch}`);
    }
    client.close();
    await server.close();
  });

  test(`${protocol}: close() is idempotent and unblocks a pending read`, async () => {
    let serverSawEof = false;
    const server = await serve(protocol, async (conn) => {
      serverSawEof = (await conn.read()) === null;
    });
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    const pending = client.read();
    client.close();
    client.close();
    assert.equal(await pending, null);
    assert.equal(await client.read(), null);
    await assert.rejects(client.write(new Uint8Array([1])), ClosedError);
    await server.close();
    assert.ok(serverSawEof);
  });

  test(`${protocol}: close() settles a pending write`, async () => {
    const stop = Promise.withResolvers<void>();
    const server = await serve(protocol, () => stop.promise); // never reads
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    // Over TCP this is far more than the kernel buffers, so the write blocks.
    const pending = client.write(new Uint8Array(protocol === "tcp" ? 64 * MiB : 8 * MiB));
    await delay(protocol === "tcp" ? 100 : 0);
    client.close();
    await assert.rejects(pending, ClosedError);
    stop.resolve();
    await server.close();
  });

  test(`${protocol}: closing the listener closes its connections`, async () => {
    const server = await serve(protocol, async (conn) => {
      await conn.read();
    });
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    await delay(20); // let the server accept it
    await server.listener.close();
    await server.listener.close();
    // A clean close reads as EOF; an abrupt one (Bun's stop) as ClosedError.
    try {
      assert.equal(await client.read(), null);
    } catch (error) {
      assert.ok(error instanceof ClosedError, String(error));
    }
    client.close();
    await server.close();
  });

  test(`${protocol}: connecting to a closed port fails quickly`, async () => {
    const server = await serve(protocol, echo);
    const { endpoint } = server.listener;
    await server.close();
    const started = Date.now();
    await assert.rejects(defaultTransportFactory(endpoint, {}));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });

  test(`${protocol}: an aborted signal rejects with its reason`, async () => {
    const server = await serve(protocol, echo);
    const reason = new Error("stop");
    await assert.rejects(
      defaultTransportFactory(server.listener.endpoint, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    await server.close();
  });
}

for (const protocol of PROTOCOLS) {
  test(`${protocol}: a client that stops reading makes the server wait`, async () => {
    let sent = 0;
    let writerDone = false;
    const server = await serve(protocol, async (conn) => {
      const chunk = new Uint8Array(MiB);
      try {
        for (;;) {
          await conn.write(chunk);
          sent += chunk.byteLength;
        }
      } finally {
        writerDone = true;
      }
    });
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    // Wait until the server's writes stall: the kernel buffers are full.
    let last = -1;
    for (let i = 0; i < 100 && sent !== last; i++) {
      last = sent;
      await delay(200);
    }
    assert.equal(sent, last, "the server never stalled");
    assert.ok(!writerDone);
    assert.ok(sent < 64 * MiB, `server wrote ${sent} bytes into an idle client`);
    assert.ok(bufferedBytes(client) <= HELD_LIMIT, `client holds ${bufferedBytes(client)} bytes`);
    // Reading lets the server go on.
    await skipBytes(client, sent + MiB);
    assert.ok(bufferedBytes(client) <= HELD_LIMIT, `client holds ${bufferedBytes(client)} bytes`);
    client.close();
    await server.close();
    assert.ok(writerDone);
  });
}

for (const protocol of PROTOCOLS) {
  test(`${protocol}: end() sends what was written, then the end, and drains until the peer closes`, async () => {
    const got: number[] = [];
    let streamed = 0;
    const server = await serve(protocol, async (conn) => {
      // The peer streams on, as a room does, until it has read the end.
      const streaming = (async () => {
        const chunk = new Uint8Array(16 * 1024);
        while (await conn.write(chunk).then(() => true, () => false)) streamed += chunk.length;
      })();
      for (let chunk; (chunk = await conn.read());) got.push(...chunk);
      conn.close();
      await streaming;
    });
    const client = await defaultTransportFactory(server.listener.endpoint, {});
    await skipBytes(client, 64 * 1024);
    const pending = client.read();
    await pending; // a read under way when end() comes
    const next = client.read();
    void client.write(new Uint8Array([1, 2, 3])).catch(() => {});
    const started = performance.now();
    await client.end!(30_000);
    const took = performance.now() - started;
    assert.equal(await next, null, "a pending read ends");
    assert.equal(await client.read(), null);
    await assert.rejects(client.write(new Uint8Array([4])), ClosedError);
    client.close(); // nothing left to do
    await server.close();
    assert.deepEqual(got, [1, 2, 3], "the peer read what was written, then the end");
    // It ended because the peer closed, not at its bound.
    assert.ok(took < 15_000, `end() took ${took} ms`);
    assert.ok(streamed > 64 * 1024);
  });

  test(`${protocol}: end() closes at its bound when the peer never closes, and close() waits for it`, async () => {
    const peer = await stubbornPeer(protocol === "ws");
    const client = await defaultTransportFactory(parseEndpoint(peer.url(protocol)), {});
    const started = performance.now();
    const ending = client.end!(300);
    client.close(); // leaves the connection to end()
    await ending;
    const took = performance.now() - started;
    await peer.close();
    // Timers may fire a millisecond early; the bound is no quiet-machine figure.
    assert.ok(took >= 250, `end() gave up after ${took} ms`);
  });
}

/**
 * A peer that reads everything and never closes, not even after the
 * client's FIN (a `node:net` server with `allowHalfOpen`: by default Node
 * ends its side when the peer does), answering a WebSocket handshake first
 * if asked.
 */
async function stubbornPeer(
  webSocket: boolean,
): Promise<{ url(protocol: string): string; close(): Promise<void> }> {
  const { createServer } = await import("node:net");
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let head = "";
    socket.on("data", async (data: Uint8Array) => {
      if (!webSocket || head.includes("\r\n\r\n")) return;
      head += new TextDecoder().decode(data);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
      if (key === undefined || !head.includes("\r\n\r\n")) return;
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (protocol) => protocol === "ws" ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test("ws: text messages are ignored", async () => {
  const received: number[] = [];
  const server = await serve("ws", async (conn) => {
    for (let chunk; (chunk = await conn.read());) received.push(...chunk);
  });
  const ws = new WebSocket(server.listener.endpoint.url);
  const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
  await new Promise((resolve) => ws.addEventListener("open", resolve));
  ws.send("type@=mrkl/");
  ws.send(new Uint8Array([1, 2, 3]));
  ws.send("more text");
  ws.send(new Uint8Array([4]));
  await delay(50);
  ws.close();
  await closed;
  await server.close();
  assert.deepEqual(received, [1, 2, 3, 4]);
});

test("wss: a failed TLS handshake is a TlsError", async () => {
  // Plain TCP that answers the ClientHello with HTTP: not TLS at all.
  const server = await serve("tcp", async (conn) => {
    await conn.read();
    await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
  });
  const url = `wss://127.0.0.1:${server.listener.endpoint.port}/`;
  await assert.rejects(defaultTransportFactory(parseEndpoint(url), {}), (error) => {
    assert.ok(error instanceof TlsError, String(error));
    assert.equal(error.url, url);
    return true;
  });
  await server.close();
});

test("ws: aborting during the handshake rejects with the reason", async () => {
  // A TCP server that never answers the WebSocket upgrade.
  const server = await serve("tcp", async (conn) => {
    while (await conn.read());
  });
  const url = `ws://127.0.0.1:${server.listener.endpoint.port}/`;
  const controller = new AbortController();
  const reason = new Error("gave up");
  const attempt = defaultTransportFactory(parseEndpoint(url), { signal: controller.signal });
  await delay(50);
  controller.abort(reason);
  await assert.rejects(attempt, (error) => error === reason);
  await server.close();
});

test("ws: a failed connection names the url", async () => {
  const server = await serve("tcp", async (conn) => {
    await conn.read();
    await conn.write(new TextEncoder().encode("HTTP/1.1 404 Not Found\r\n\r\n"));
  });
  const url = `ws://127.0.0.1:${server.listener.endpoint.port}/`;
  await assert.rejects(defaultTransportFactory(parseEndpoint(url), {}), (error) => {
    assert.ok(error instanceof DouyuError && !(error instanceof TlsError), String(error));
    assert.ok(error.message.includes(url), error.message);
    return true;
  });
  await server.close();
});

/** A TCP server that runs the WebSocket handshake by hand, then lets `script` write raw frames. */
async function rawWebSocketServer(
  script: (conn: Transport, frames: { read(): Promise<number[][] | null> }) => Promise<void>,
): Promise<Server> {
  return await serve("tcp", async (conn) => {
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const chunk = await conn.read();
      if (chunk === null) return;
      head += new TextDecoder().decode(chunk);
    }
    const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    // Frames the client sends, unmasked, as [opcode, ...payload].
    let pending: number[] = [];
    const frames = {
      /** The frames completed by the next read; null at the end of the stream. */
      async read(): Promise<number[][] | null> {
        const out: number[][] = [];
        const chunk = await conn.read();
        if (chunk === null) return null;
        pending.push(...chunk);
        for (;;) {
          if (pending.length < 2) break;
          const length = pending[1]! & 0x7f; // the client sends short frames here
          if (pending.length < 6 + length) break;
          const mask = pending.slice(2, 6);
          const payload = pending.slice(6, 6 + length).map((b, i) => b ^ mask[i & 3]!);
          assert.ok(pending[1]! & 0x80, "client frames are masked");
          out.push([pending[0]! & 0x0f, ...payload]);
          pending = pending.slice(6 + length);
        }
        return out;
      },
    };
    await script(conn, frames);
  });
}

test("ws: fragments, interleaved pings, split frames, text and close", async () => {
  const frame = (first: number, payload: number[], mask?: number[]) => {
    const bytes = [first, (mask ? 0x80 : 0) | payload.length];
    if (mask) bytes.push(...mask);
    return [...bytes, ...payload.map((b, i) => (mask ? b ^ mask[i & 3]! : b))];
  };
  let pong: number[] | undefined;
  let closeReply: number[] | undefined;
  const scriptDone = Promise.withResolvers<void>();
  const server = await rawWebSocketServer(async (conn, frames) => {
    const stream = [
      ...frame(0x02, [1, 2]), // binary, not final
      ...frame(0x89, [7, 7]), // a ping in the middle of the message
      ...frame(0x80, [3]), // continuation, final
      ...frame(0x01, [104, 105]), // text, not final: ignored...
      ...frame(0x80, [33]), // ...with its continuation
      ...frame(0x82, [4, 5, 6]), // binary
      ...frame(0x82, []), // empty binary
      ...frame(0x88, [0x03, 0xe8]), // close, 1000
    ];
    // One byte per write: every header and payload is split across reads.
    for (const byte of stream) await conn.write(new Uint8Array([byte]));
    for (let got; closeReply === undefined && (got = await frames.read());) {
      for (const [opcode, ...payload] of got) {
        if (opcode === 0xa) pong = payload;
        if (opcode === 0x8) closeReply = payload;
      }
    }
    scriptDone.resolve();
  });
  const endpoint = parseEndpoint(`ws://127.0.0.1:${server.listener.endpoint.port}/`);
  const client = await defaultTransportFactory(endpoint, {});
  const received: number[] = [];
  for (let chunk; (chunk = await client.read());) received.push(...chunk);
  assert.deepEqual(received, [1, 2, 3, 4, 5, 6]);
  await scriptDone.promise; // before closing the listener cuts the server's reads short
  client.close();
  await server.close();
  assert.deepEqual(pong, [7, 7]);
  assert.deepEqual(closeReply, [0x03, 0xe8]);
});

test("ws: headers of every length form, each cut at every byte, then whole in one read", async () => {
  const payloads = [5, 300, 70_000].map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff));
  const frames = payloads.map((p) => encodeWebSocketFrame(2, p, false));
  const scriptDone = Promise.withResolvers<void>();
  const server = await rawWebSocketServer(async (conn) => {
    for (const frame of frames) {
      const header = frame.length - (frame[1] === 126 ? 300 : frame[1] === 127 ? 70_000 : 5);
      // The header a byte at a time, then the payload.
      for (let i = 0; i < header; i++) await conn.write(frame.subarray(i, i + 1));
      await conn.write(frame.subarray(header));
    }
    await conn.write(concat(frames)); // and all three in one write
    scriptDone.resolve();
    while (await conn.read());
  });
  const endpoint = parseEndpoint(`ws://127.0.0.1:${server.listener.endpoint.port}/`);
  const client = await defaultTransportFactory(endpoint, {});
  const expected = concat([...payloads, ...payloads]);
  const got = await readBytes(client, expected.length);
  assert.equal(got.findIndex((b, i) => b !== expected[i]), -1);
  await scriptDone.promise;
  client.close();
  await server.close();
});

test("ws: reserved bits, bad control frames, masking or fragments are a ProtocolError", async () => {
  const cases = [
    [0xc2, 1, 0], // reserved bits
    [0x09, 0], // a control frame that is not final
    [0x89, 126, 0, 200], // a control frame over 125 bytes
    [0x83, 0], // an unknown opcode
    [0x82, 0x81, 1, 2, 3, 4, 5], // a frame masked by the server
    [0x80, 1, 7], // a continuation with no message
    [0x02, 1, 7, 0x82, 1, 8], // a new message inside an unfinished one
  ];
  for (const bad of cases) {
    const server = await rawWebSocketServer(async (conn) => {
      await conn.write(new Uint8Array(bad));
      while (await conn.read());
    });
    const endpoint = parseEndpoint(`ws://127.0.0.1:${server.listener.endpoint.port}/`);
    const client = await defaultTransportFactory(endpoint, {});
    // The good bytes before the fault come first, then the error.
    const readAll = async () => {
      while (await client.read());
    };
    await assert.rejects(readAll(), ProtocolError, `frame ${bad}`);
    client.close();
    await server.close();
  }
});

test("ws: a flood of pings gets one pong at a time, not one per ping", async () => {
  // A peer that sends pings and does not read: each ping used to queue a
  // pong, without bound. Now only the latest waiting ping is answered.
  const pings = 100_000;
  let pongs = 0;
  const scriptDone = Promise.withResolvers<void>();
  const server = await rawWebSocketServer(async (conn, frames) => {
    const flood = new Uint8Array(pings * 2 + 4);
    for (let i = 0; i < pings; i++) flood.set([0x89, 0], i * 2);
    flood.set([0x82, 2, 42, 43], pings * 2); // then data
    await conn.write(flood);
    for (let got; (got = await frames.read());) {
      pongs += got.filter(([opcode]) => opcode === 0xa).length;
      if (got.some(([opcode]) => opcode === 0x8)) break;
    }
    scriptDone.resolve();
  });
  const endpoint = parseEndpoint(`ws://127.0.0.1:${server.listener.endpoint.port}/`);
  const client = await defaultTransportFactory(endpoint, {});
  assert.deepEqual([...(await readBytes(client, 2))], [42, 43]);
  client.close(); // sends a close frame after the pongs
  await scriptDone.promise;
  await server.close();
  assert.ok(pongs >= 1 && pongs < 1000, `${pongs} pongs for ${pings} pings`);
});

test("ws: frames this package encodes, any length form", () => {
  const decodeLength = (frame: Uint8Array) => {
    const view = new DataView(frame.buffer);
    const short = frame[1]! & 0x7f;
    return short === 126 ? view.getUint16(2) : short === 127 ? Number(view.getBigUint64(2)) : short;
  };
  for (const length of [0, 125, 126, 65535, 65536, 200_000]) {
    const payload = new Uint8Array(length).fill(0x5a);
    const plain = encodeWebSocketFrame(2, payload, false);
    assert.equal(plain[0], 0x82);
    assert.equal(decodeLength(plain), length);
    assert.equal(plain.length - length, length < 126 ? 2 : length < 65536 ? 4 : 10);
    assert.ok(plain.subarray(plain.length - length).every((b) => b === 0x5a));
    const masked = encodeWebSocketFrame(2, payload, true);
    assert.ok(masked[1]! & 0x80);
    const mask = masked.subarray(masked.length - length - 4, masked.length - length);
    const body = masked.subarray(masked.length - length).map((b, i) => b ^ mask[i & 3]!);
    assert.ok(body.every((b) => b === 0x5a));
    assert.ok(payload.every((b) => b === 0x5a), "the caller's bytes are not modified");
  }
});

/** The runtime's own WebSocket server (Deno.serve or Bun.serve), over TLS when given a cert. */
async function runtimeWebSocketServer(
  tls?: { cert: string; key: string },
): Promise<{ port: number; messages: Uint8Array[]; close(): Promise<void> }> {
  const messages: Uint8Array[] = [];
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  const greet = (send: (data: string | Uint8Array) => void) => {
    send("text is ignored");
    send(new Uint8Array([1, 2, 3]));
  };
  if (bun) {
    const server = bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      ...(tls ? { tls } : {}),
      fetch: (request, s) => (s.upgrade(request) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        open: (ws) => greet((data) => ws.send(data)),
        message: (ws, data) => {
          if (typeof data !== "string") messages.push(new Uint8Array(data));
          ws.send(data);
        },
      },
    });
    return { port: server.port, messages, close: async () => void await server.stop(true) };
  }
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ?? {}),
    onListen: ({ port }) => listening.resolve(port),
  }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => greet((data) => socket.send(data as string | Uint8Array<ArrayBuffer>));
    socket.onmessage = (event) => {
      messages.push(new Uint8Array(event.data as ArrayBuffer));
      socket.send(event.data);
    };
    return response;
  });
  return { port: await listening.promise, messages, close: () => server.shutdown() };
}

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: { upgrade(request: Request): boolean }): Response | undefined;
    websocket: {
      open(ws: { send(data: string | Uint8Array): void }): void;
      message(ws: { send(data: string | Uint8Array): void }, data: string | Uint8Array): void;
    };
  }): { port: number; stop(force: boolean): Promise<void> | void };
}

for (const secure of [false, true]) {
  const scheme = secure ? "wss" : "ws";
  test(`${scheme}: talks to the runtime's own WebSocket server`, async () => {
    const tls = secure
      ? { cert: await readFixture("tls/server.pem"), key: await readFixture("tls/server.key") }
      : undefined;
    const server = await runtimeWebSocketServer(tls);
    const endpoint = parseEndpoint(`${scheme}://127.0.0.1:${server.port}/`);
    const caCerts = secure ? [await readFixture("tls/ca.pem")] : undefined;
    const client = await defaultTransportFactory(endpoint, caCerts ? { caCerts } : {});
    assert.deepEqual([...(await readBytes(client, 3))], [1, 2, 3]);
    const big = new Uint8Array(300_000).map((_, i) => i & 0xff);
    await client.write(big);
    const echoed = await readBytes(client, big.length);
    assert.equal(echoed.findIndex((b, i) => b !== big[i]), -1);
    client.close();
    await server.close();
    assert.equal(server.messages.length, 1);
  });
}

test("ReadQueue: queued chunks, slices, byte count and a waiting read", async () => {
  let reads = 0;
  const queue = new ReadQueue("tcp://example:1", { maxRead: 4, onRead: () => reads++ });
  queue.push(new Uint8Array([1, 2, 3, 4, 5, 6]));
  queue.push(new Uint8Array([7]));
  assert.equal(queue.bufferedBytes, 7);
  assert.deepEqual([...(await queue.read())!], [1, 2, 3, 4]);
  assert.equal(queue.bufferedBytes, 3);
  assert.deepEqual([...(await queue.read())!], [5, 6]);
  assert.deepEqual([...(await queue.read())!], [7]);
  assert.equal(queue.bufferedBytes, 0);
  assert.equal(reads, 3);
  // A read that waits gets at most maxRead bytes; the rest is queued.
  const waiting = queue.read();
  assert.equal(reads, 4);
  await assert.rejects(queue.read(), (error) => {
    assert.ok(error instanceof DouyuError);
    assert.equal(error.message, "tcp://example:1: read() already pending");
    return true;
  });
  queue.push(new Uint8Array([8, 9, 10, 11, 12]));
  assert.deepEqual([...(await waiting)!], [8, 9, 10, 11]);
  assert.equal(queue.bufferedBytes, 1);
  // Queued bytes are still read after the end; then EOF, again and again.
  assert.equal(queue.finish(), true);
  assert.equal(queue.finish(new Error("late")), false);
  assert.ok(queue.ended);
  assert.deepEqual([...(await queue.read())!], [12]);
  assert.equal(await queue.read(), null);
  assert.equal(await queue.read(), null);
});

test("ReadQueue: finish settles a waiting read; an error outlasts the queued bytes", async () => {
  const unlimited = new ReadQueue("ws://example/");
  const big = new Uint8Array(1 << 20);
  unlimited.push(big);
  assert.equal(await unlimited.read(), big);
  const waiting = unlimited.read();
  unlimited.finish();
  assert.equal(await waiting, null);

  const failing = new ReadQueue("ws://example/");
  const failed = failing.read();
  const error = new ClosedError("lost");
  failing.finish(error);
  await assert.rejects(failed, (e) => e === error);
  await assert.rejects(failing.read(), (e) => e === error);

  const cleared = new ReadQueue("ws://example/");
  cleared.push(new Uint8Array([1, 2]));
  cleared.clear();
  assert.equal(cleared.bufferedBytes, 0);
  cleared.finish(error);
  await assert.rejects(cleared.read(), (e) => e === error);
});

test("ReadQueue: draining 200,000 queued 80-byte chunks takes linear time", async () => {
  // Array.shift() made each read O(queued): this took about 9 s.
  const queue = new ReadQueue("tcp://example:1");
  const count = 200_000;
  for (let i = 0; i < count; i++) queue.push(new Uint8Array(80));
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += (await queue.read())!.byteLength;
  const elapsed = performance.now() - started;
  assert.equal(bytes, count * 80);
  assert.equal(queue.bufferedBytes, 0);
  assert.ok(elapsed < 2000, `draining took ${elapsed} ms`);
});

test("WriteChain: writes run one at a time, in order, past a failed one", async () => {
  const chain = new WriteChain();
  const log: string[] = [];
  const gate = Promise.withResolvers<void>();
  const first = chain.run(async () => {
    log.push("first start");
    await gate.promise;
    log.push("first end");
  });
  const second = chain.run(() => {
    log.push("second");
    throw new ClosedError("closed");
  });
  const third = chain.run(() => {
    log.push("third");
    return Promise.resolve();
  });
  await delay(0);
  assert.deepEqual(log, ["first start"]);
  gate.resolve();
  await first;
  await assert.rejects(second, ClosedError);
  await third;
  assert.deepEqual(log, ["first start", "first end", "second", "third"]);
});

test("deliverConnection: a throwing handler closes the connection and rethrows later", () => {
  let closed = 0;
  const conn: Transport = {
    url: "tcp://example:1",
    read: () => Promise.resolve(null),
    write: () => Promise.resolve(),
    close: () => void closed++,
  };
  const queued: (() => void)[] = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (callback) => void queued.push(callback);
  const boom = new Error("handler bug");
  try {
    deliverConnection((c) => assert.equal(c, conn), conn);
    assert.equal(closed, 0);
    deliverConnection(() => {
      throw boom;
    }, conn);
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.equal(closed, 1);
  assert.equal(queued.length, 1);
  assert.throws(queued[0]!, (error) => error === boom);
});

test("bracketHost and listenerEndpoint: IPv6 hosts in brackets", () => {
  assert.equal(bracketHost("127.0.0.1"), "127.0.0.1");
  assert.equal(bracketHost("localhost"), "localhost");
  assert.equal(bracketHost("::1"), "[::1]");
  assert.deepEqual(listenerEndpoint("tcp", "::1", 4000), {
    protocol: "tcp",
    host: "::1",
    port: 4000,
    url: "tcp://[::1]:4000",
  });
  assert.deepEqual(listenerEndpoint("ws", "127.0.0.1", 8080), {
    protocol: "ws",
    host: "127.0.0.1",
    port: 8080,
    url: "ws://127.0.0.1:8080/",
  });
  assert.equal(listenerEndpoint("ws", "fe80::1", 80).url, "ws://[fe80::1]:80/");
});
