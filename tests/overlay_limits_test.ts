/**
 * The overlay server against hostile peers: who may talk to it (`Host`,
 * `Origin`, `Sec-Fetch-Site`), how long a quiet connection may stay, how
 * many streams and bytes it holds for pages that do not read, and what a
 * page that connects afresh gets (the super chats still pinned). The
 * browser's side of the origin rules is in tests/browser/.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { checkRequest, hostName } from "../src/base/guard.ts";
import type { OverlayEvent } from "../src/overlay/events.ts";
import { OverlayServer } from "../src/overlay/server.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { spawnPeer, test } from "./harness.ts";
import { bootOf, readSse, type SseEvent } from "./sse.ts";

const ROOM = 9999;

function msg(fields: Record<string, string | number | object>) {
  return parseMessage(encodeStt({ rid: ROOM, ...fields }));
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `request` over TCP; resolves with the whole answer once the server closes. */
function rawRequest(base: string, request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    let answer = "";
    const guard = setTimeout(
      () => socket.destroy(new Error(`no end to the answer: ${answer}`)),
      10_000,
    );
    socket.setEncoding("utf8");
    socket.on("data", (text) => (answer += text));
    socket.on("close", () => {
      clearTimeout(guard);
      resolve(answer);
    });
    socket.on("error", (error) => {
      clearTimeout(guard);
      reject(error);
    });
  });
}

/** A GET with these headers: the status code and the headers of the answer. */
async function get(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: string }> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  // HEAD: the stream's head, without waiting for a stream that never ends.
  const answer = await rawRequest(
    base,
    `HEAD ${path} HTTP/1.1\r\n${lines}Connection: close\r\n\r\n`,
  );
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  return { status, headers: answer.split("\r\n\r\n")[0]!.toLowerCase() };
}

// ---------------------------------------------------------------------------
// Who may talk to it

test("guard: loopback names and the listen address pass; other names are 421", () => {
  const options = { listenHost: "127.0.0.1" };
  for (
    const host of [
      "127.0.0.1:8765",
      "localhost:8765",
      "LOCALHOST",
      "obs.localhost:8765",
      "[::1]:8765",
      "127.1.2.3",
    ]
  ) {
    deepStrictEqual(checkRequest({ host }, options), { ok: true }, host);
  }
  for (
    const host of [
      "rebind.evil.example:8765",
      "127.0.0.1.evil.example",
      "localhost.evil.example",
      "192.168.1.5:8765",
      "[::1",
      "a b",
      "user@127.0.0.1",
    ]
  ) {
    strictEqual(checkRequest({ host }, options).ok, false, host);
  }
  strictEqual((checkRequest({ host: "evil.example" }, options) as { status: number }).status, 421);
  strictEqual((checkRequest({}, options) as { status: number }).status, 400);
  // The address it listens on; every address when it listens on all (none can be rebound).
  strictEqual(checkRequest({ host: "192.168.1.5:8765" }, { listenHost: "192.168.1.5" }).ok, true);
  strictEqual(checkRequest({ host: "10.0.0.7" }, { listenHost: "0.0.0.0" }).ok, true);
  strictEqual(checkRequest({ host: "[fe80::1]:1" }, { listenHost: "::" }).ok, true);
  strictEqual(checkRequest({ host: "evil.example" }, { listenHost: "0.0.0.0" }).ok, false);
  strictEqual(
    checkRequest({ host: "studio.lan:8765" }, { listenHost: "0.0.0.0", allowHosts: ["studio.lan"] })
      .ok,
    true,
  );
  deepStrictEqual(hostName("[::1]:80"), "::1");
  deepStrictEqual(hostName("Example.COM."), "example.com");
});

test("guard: only the server's own origin, or one allowed, may ask; other sites' embeds are refused", () => {
  const options = { listenHost: "127.0.0.1" };
  const host = "127.0.0.1:8765";
  deepStrictEqual(checkRequest({ host, origin: "http://127.0.0.1:8765" }, options), { ok: true });
  for (
    const origin of [
      "https://evil.example",
      "http://127.0.0.1:9000",
      "http://localhost:8765",
      "null",
      "https://127.0.0.1:8765",
    ]
  ) {
    const verdict = checkRequest({ host, origin }, options);
    strictEqual(verdict.ok ? 0 : verdict.status, 403, origin);
  }
  // No Origin: the browser's Sec-Fetch-Site still says where it comes from.
  const embed = { host, "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" };
  strictEqual(checkRequest(embed, options).ok, false);
  strictEqual(checkRequest({ ...embed, "sec-fetch-site": "same-site" }, options).ok, false);
  strictEqual(checkRequest({ ...embed, "sec-fetch-mode": "navigate" }, options).ok, true);
  strictEqual(checkRequest({ host, "sec-fetch-site": "none" }, options).ok, true);
  strictEqual(checkRequest({ host, "sec-fetch-site": "same-origin" }, options).ok, true);
  // Opted in: that origin gets CORS, the others still do not.
  const allowing = { ...options, allowOrigins: ["https://dash.example"] };
  deepStrictEqual(checkRequest({ host, origin: "https://dash.example" }, allowing), {
    ok: true,
    corsOrigin: "https://dash.example",
  });
  strictEqual(checkRequest({ host, origin: "https://evil.example" }, allowing).ok, false);
  deepStrictEqual(
    checkRequest({ host, origin: "https://any.example" }, { ...options, allowOrigins: ["*"] }),
    { ok: true, corsOrigin: "*" },
  );
});

test("server: no CORS header unless allowed; a rebinding Host is 421 and another site's Origin 403, on every route", async () => {
  await using server = await OverlayServer.start();
  const host = new URL(server.url).host;
  for (const path of ["/", "/overlay.css", "/overlay.js", "/events", "/nope", "/favicon.ico"]) {
    const own = await get(server.url, path, { Host: host });
    ok(own.status < 500 && own.status !== 403 && own.status !== 421, `${path}: ${own.status}`);
    ok(!own.headers.includes("access-control-allow-origin"), `${path}: ${own.headers}`);
    const sameOrigin = await get(server.url, path, { Host: host, Origin: `http://${host}` });
    strictEqual(sameOrigin.status, own.status, path);
    strictEqual((await get(server.url, path, { Host: "rebind.evil.example" })).status, 421, path);
    const foreign = await get(server.url, path, { Host: host, Origin: "https://evil.example" });
    strictEqual(foreign.status, 403, path);
    ok(!foreign.headers.includes("access-control-allow-origin"), foreign.headers);
    const embedded = await get(server.url, path, {
      Host: host,
      "Sec-Fetch-Site": "cross-site",
      "Sec-Fetch-Mode": "no-cors",
    });
    strictEqual(embedded.status, 403, path);
  }
  strictEqual(server.pages, 0);
  await using allowing = await OverlayServer.start({ allowOrigins: ["https://dash.example"] });
  const dash = await get(allowing.url, "/events", {
    Host: new URL(allowing.url).host,
    Origin: "https://dash.example",
  });
  strictEqual(dash.status, 200);
  ok(dash.headers.includes("access-control-allow-origin: https://dash.example"), dash.headers);
  ok(dash.headers.includes("vary: origin"), dash.headers);
});

// ---------------------------------------------------------------------------
// Quiet connections

/** Opens a raw connection; resolves with the ms until the server closed it. */
function closedAfter(base: string, drip?: string, every = 50): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    const socket: Socket = connect({ host: hostname, port: Number(port) }, () => {
      if (drip === undefined) return;
      let i = 0;
      timer = setInterval(() => socket.write(drip[i++ % drip.length]!), every);
    });
    socket.on("data", () => {});
    socket.on("error", () => {});
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept the connection open"));
    }, 10_000);
    socket.once("close", () => {
      clearInterval(timer);
      clearTimeout(guard);
      resolve(performance.now() - started);
    });
  });
}

test("server: a connection that sends nothing, or drips a head, is closed after headerTimeout", async () => {
  await using server = await OverlayServer.start({ headerTimeout: 400, idleTimeout: 2000 });
  const [silent, dripping] = await Promise.all([
    closedAfter(server.url),
    closedAfter(server.url, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaa"),
  ]);
  // The design bound: the timeout, plus a quarter for the sweep, plus a busy machine's slack.
  ok(silent >= 390 && silent < 3000, `silent: closed after ${silent} ms`);
  ok(dripping >= 390 && dripping < 3000, `dripping: closed after ${dripping} ms`);
  strictEqual(server.stats.connections, 0);
  strictEqual(server.stats.timedOut, 2, "counted");
});

test("server: a kept-alive connection is closed after idleTimeout; an open stream is not", async () => {
  await using server = await OverlayServer.start({
    headerTimeout: 5000,
    idleTimeout: 300,
    keepAlive: 100,
  });
  const { hostname, port } = new URL(server.url);
  const open = (request: string) =>
    new Promise<{ closed: Promise<number>; socket: Socket; answer: () => string }>((resolve) => {
      const started = performance.now();
      let answer = "";
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.write(request);
        resolve({ closed, socket, answer: () => answer });
      });
      socket.setEncoding("utf8");
      socket.on("data", (text) => (answer += text));
      const closed = new Promise<number>((done) =>
        socket.once("close", () => done(performance.now() - started))
      );
    });
  const kept = await open("GET /overlay.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const stream = await open("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const idle = await kept.closed;
  ok(kept.answer().startsWith("HTTP/1.1 200"), kept.answer());
  ok(idle >= 290 && idle < 3000, `closed after ${idle} ms`);
  // The stream outlives several idle timeouts, with keep-alive comments.
  await delay(1000);
  ok(!stream.socket.destroyed, "the stream was closed");
  ok(stream.answer().includes(": keep-alive"), stream.answer());
  stream.socket.destroy();
  await stream.closed;
});

test("server: past maxConnections, a new connection closes the longest idle one", async () => {
  await using server = await OverlayServer.start({ maxConnections: 3, headerTimeout: 10_000 });
  const { hostname, port } = new URL(server.url);
  const idle = await Promise.all(
    [0, 1, 2].map(() =>
      new Promise<{ socket: Socket; closed: Promise<void> }>((resolve) => {
        const socket = connect({ host: hostname, port: Number(port) }, () =>
          resolve({ socket, closed }));
        socket.on("error", () => {});
        const closed = new Promise<void>((done) =>
          socket.once("close", () => done())
        );
      })
    ),
  );
  // (Bun reports a silent connection only after about a second.)
  await until(() => server.stats.connections === 3, "three connections");
  const page = await fetch(server.url);
  strictEqual(page.status, 200);
  await page.text();
  // One idle connection went at once (the oldest the server knows of), the others stay.
  const started = performance.now();
  await Promise.race(idle.map(({ closed }) => closed));
  ok(performance.now() - started < 5000);
  await delay(100);
  strictEqual(idle.filter(({ socket }) => socket.destroyed).length, 1);
  strictEqual(server.stats.evicted, 1, "counted");
  for (const { socket } of idle) socket.destroy();
  await Promise.all(idle.map(({ closed }) => closed));
});

test("server: past maxConnections with none idle, a new connection is closed at once, and counted", async () => {
  await using server = await OverlayServer.start({ maxConnections: 2, headerTimeout: 10_000 });
  const streams = await Promise.all([0, 1].map(() => nonReader(server.url)));
  await until(() => server.stats.streams === 2, "two streams");
  const { hostname, port } = new URL(server.url);
  const extra = connect({ host: hostname, port: Number(port) });
  extra.on("error", () => {});
  await new Promise<void>((done) => extra.once("close", () => done()));
  strictEqual(server.stats.refused, 1);
  strictEqual(server.stats.streams, 2, "the streams stay");
  for (const { socket } of streams) socket.destroy();
  await Promise.all(streams.map(({ closed }) => closed));
});

// ---------------------------------------------------------------------------
// Streams that do not read

/** A paused socket that asked for the stream and never reads. */
function nonReader(
  base: string,
  lastEventId?: string,
): Promise<{ socket: Socket; closed: Promise<void> }> {
  const { hostname, port, host } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.pause();
    socket.on("error", () => {});
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.once("connect", () => {
      const id = lastEventId ? `Last-Event-ID: ${lastEventId}\r\n` : "";
      socket.write(
        `GET /events HTTP/1.1\r\nHost: ${host}\r\n${id}\r\n`,
        () => resolve({ socket, closed }),
      );
    });
  });
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Publishes `count` chat lines of `size` CJK characters (3 bytes each; 300 at most are kept). */
function fill(server: OverlayServer, count: number, size = 300): void {
  for (let i = 1; i <= count; i++) {
    server.publish(
      ROOM,
      msg({ type: "chatmsg", cid: `h${i}`, nn: "Filler", txt: "长".repeat(size) }),
    );
  }
}

test("server: at most maxStreams event streams; the next is answered 503 until one closes", async () => {
  await using server = await OverlayServer.start({ maxStreams: 2 });
  const a = await nonReader(server.url);
  const b = await nonReader(server.url);
  await until(() => server.pages === 2, "two streams");
  const third = await rawRequest(
    server.url,
    `GET /events HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\n\r\n`,
  );
  ok(third.startsWith("HTTP/1.1 503"), third);
  ok(/retry-after: 5/i.test(third), third);
  // The page itself is still served.
  const page = await fetch(server.url);
  strictEqual(page.status, 200);
  await page.text();
  a.socket.destroy();
  await a.closed;
  await until(() => server.pages === 1, "a free slot");
  const c = await nonReader(server.url);
  await until(() => server.pages === 2, "the new stream");
  for (const { socket } of [b, c]) socket.destroy();
  await Promise.all([b.closed, c.closed]);
});

/** Lines in the history of the tests below: a replay of ~30 MB, far more than the kernel's buffers take. */
const LONG = 30_000;

test("server: a replay to a page that never reads is written in pieces, never all at once", async () => {
  await using server = await OverlayServer.start({ history: LONG, maxQueuedBytes: 256 << 20 });
  fill(server, LONG);
  const boot = await readBoot(server);
  const before = process.memoryUsage().rss;
  const pages = await Promise.all([1, 2, 3, 4].map(() => nonReader(server.url, `${boot}.0`)));
  let peak = before;
  for (let i = 0; i < 10; i++) {
    await delay(50);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  // Four 30 MB replays: what waits is a piece each (16 K characters, 3 bytes each at most).
  const queued = server.stats.queuedBytes;
  ok(queued <= 4 * 64 * 1024, `${queued} bytes waiting`);
  const grown = (peak - before) / 1024 / 1024;
  ok(grown < 40, `RSS grew by ${grown.toFixed(0)} MB`);
  for (const { socket } of pages) socket.destroy();
  await Promise.all(pages.map(({ closed }) => closed));
});

test("server: past maxQueuedBytes, the streams with the most waiting are cut; a reading page goes on", async () => {
  await using server = await OverlayServer.start({
    history: LONG,
    maxQueuedBytes: 256 * 1024,
    maxStreams: 20,
  });
  fill(server, LONG);
  const boot = await readBoot(server);
  const readers = await Promise.all(
    Array.from({ length: 8 }, () => nonReader(server.url, `${boot}.0`)),
  );
  await until(() => server.stats.cut > 0, "a stream cut");
  ok(server.stats.queuedBytes <= 256 * 1024, `${server.stats.queuedBytes} bytes waiting`);
  // A page that reads still gets its lines.
  const controller = new AbortController();
  const response = await fetch(`${server.url}events`, { signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  server.publish(ROOM, msg({ type: "chatmsg", cid: "live1", txt: "still here" }));
  let text = "";
  while (!text.includes("still here")) text += (await reader.read()).value ?? "";
  controller.abort();
  await reader.cancel().catch(() => {});
  for (const { socket } of readers) socket.destroy();
  await Promise.all(readers.map(({ closed }) => closed));
});

test(
  "server: 500 clients that never read leave memory bounded and the stylesheet answered",
  async () => {
    await using server = await OverlayServer.start({ history: 1000 });
    fill(server, 1000, 400);
    const before = process.memoryUsage().rss;
    const boot = await readBoot(server);
    const clients = await spawnPeer("overlay_clients.ts", [server.url, "500", `${boot}.0`]);
    try {
      await clients.next(); // every request written
      let peak = process.memoryUsage().rss;
      const timeCss = async () => {
        const started = performance.now();
        const css = await fetch(`${server.url}overlay.css`);
        await css.text();
        peak = Math.max(peak, process.memoryUsage().rss);
        return performance.now() - started;
      };
      // While the server takes them in (a loaded machine queues their connections). The server
      // before the fix took 10 to 30 s here: every request waited behind whole-history writes.
      const first = await timeCss();
      // Once they are in (100 streams, the others refused), requests are answered as usual.
      await until(
        () => server.stats.streams === 100 && server.stats.connections <= 110,
        "the clients taken in",
        30_000,
      );
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        latencies.push(await timeCss());
        await delay(100);
      }
      // The design: at most 8 MiB queued for all streams together, plus each of
      // at most 512 connections' socket and runtime state, which is what varies
      // (Deno ~100 MB, Bun up to ~125 MB here). The server before the fix grew by
      // over 1 GB, each stream holding its whole replay.
      ok(server.stats.queuedBytes <= 8 << 20, `${server.stats.queuedBytes} bytes waiting`);
      const grown = (peak - before) / 1024 / 1024;
      ok(grown < 250, `RSS grew by ${grown.toFixed(0)} MB`);
      ok(first < 5000, `the first stylesheet took ${first.toFixed(0)} ms`);
      ok(Math.max(...latencies) < 1000, `the stylesheet took ${latencies.map(Math.round)} ms`);
      ok(server.stats.streams <= 100, `${server.stats.streams} streams`);
    } finally {
      await clients.stop();
    }
  },
  { timeout: 60_000 },
);

/** The server's boot id. */
function readBoot(server: OverlayServer): Promise<string> {
  return bootOf(server.url);
}

// ---------------------------------------------------------------------------
// Super chats still pinned

/** The line events of a fresh stream, read until `count` lines came (or 5 s passed). */
async function freshLines(base: string, count: number): Promise<OverlayEvent[]> {
  const lines = (events: SseEvent<OverlayEvent>[]) =>
    events.map((event) => event.data).filter((event) => event.type !== "status");
  return lines(
    await readSse<OverlayEvent>(`${base}events`, (events) => lines(events).length >= count, {
      timeout: 5000,
      quiet: true,
    }),
  );
}

test("server: a page that connects afresh gets the super chats still pinned, before its backlog", async () => {
  await using server = await OverlayServer.start({ backlog: 5 });
  const now = Date.now();
  const sc = (nn: string, cet: number) =>
    msg({
      type: "comm_chatmsg",
      btype: "voiceDanmu",
      cprice: 3000,
      cet,
      chatmsg: { nn, uid: 4, txt: `from ${nn}` },
    });
  server.publish(ROOM, sc("Ended", 60), undefined, now - 61_000); // its pin is over
  server.publish(ROOM, sc("Pinned", 60), undefined, now - 30_000);
  for (let i = 1; i <= 20; i++) {
    server.publish(ROOM, msg({ type: "chatmsg", cid: `c${i}`, txt: `line ${i}` }));
  }
  const events = await freshLines(server.url, 6);
  deepStrictEqual(
    events.map((event) =>
      event.type === "superchat"
        ? `sc ${event.user.name}`
        : event.type === "chat"
        ? event.text
        : event.type
    ),
    ["sc Pinned", "line 16", "line 17", "line 18", "line 19", "line 20"],
  );
});
