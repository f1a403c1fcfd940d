/**
 * `MockWebApi`, the stand-in for Douyu's web APIs that `@x/douyu/testing`
 * ships, through the library's own lookups; and the rule that a session with
 * endpoints of its own (`url`) asks Douyu's web APIs only at the bases given.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { createConnection, type Socket } from "node:net";
import { resolveRoom } from "../src/web/room.ts";
import { fetchRoomInfo } from "../src/web/room_info.ts";
import { GiftCatalogCache } from "../src/web/gifts.ts";
import { giftOf } from "../src/protocol/gifts.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { connect } from "../src/session/session.ts";
import { Hub } from "../src/rooms/hub.ts";
import { type LiveEvent, watchLive } from "../src/rooms/live.ts";
import { RoomResolveError } from "../src/web/errors.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { MockWebApi } from "../src/testing/web_api.ts";
import { SAMPLE_ROOM, sampleRecording } from "../src/testing/sample.ts";
import { failure, runtime, test } from "./harness.ts";

/**
 * Bun's `node:http` server gives no `connection` event (a socket is seen only
 * with its first request), and `closeAllConnections()` leaves one that has
 * sent nothing: no JavaScript hook reaches it. Its own idle timeout cuts it.
 */
const BUN_HIDES_CONNECTIONS = { ignore: runtime === "bun" };

/** Where nothing listens. */
const DEAD = "http://127.0.0.1:9";

/** Runs `fn` with `globalThis.fetch` recording every URL asked (and still fetching). */
async function withFetchSpy(fn: (asked: string[]) => Promise<void>): Promise<void> {
  const original = globalThis.fetch;
  const asked: string[] = [];
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    asked.push(String(input instanceof Request ? input.url : input));
    return original(input, init);
  }) as typeof fetch;
  try {
    await fn(asked);
  } finally {
    globalThis.fetch = original;
  }
}

/** A raw request, so that its Host header and method are ours to choose. */
function raw(
  url: string,
  options: { method?: string; host?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: options.method ?? "GET",
      headers: options.host ? { host: options.host } : {},
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

test("MockWebApi: the sample room's info from betard, or from the open API when betard fails", async () => {
  await using web = await MockWebApi.start();
  const info = await fetchRoomInfo("douyu.com/9999", web.bases);
  assert.equal(info.roomId, SAMPLE_ROOM);
  assert.equal(info.source, "betard");
  assert.equal(info.live, true);
  assert.equal(info.videoLoop, false);
  assert.equal(info.nickname, "样例主播");
  assert.ok(info.startedAt !== undefined && info.avatar?.startsWith("https://"));
  const open = await fetchRoomInfo(288016, { ...web.bases, apiBase: DEAD });
  assert.equal(open.source, "open");
  assert.equal(open.roomId, 288016); // every room is the sample room, under its own id
  assert.equal(open.name, info.name);
  web.status = "offline";
  assert.equal((await fetchRoomInfo(9999, web.bases)).live, false);
  assert.equal((await fetchRoomInfo(9999, { ...web.bases, apiBase: DEAD })).live, false);
  web.status = "loop"; // a rerun: live, with videoLoop beside it; the open API cannot tell
  const rerun = await fetchRoomInfo(9999, web.bases);
  assert.deepEqual([rerun.live, rerun.videoLoop], [true, true]);
  web.down = ["betard"];
  const fallback = await fetchRoomInfo(9999, web.bases);
  assert.deepEqual([fallback.source, fallback.live, fallback.videoLoop], ["open", true, undefined]);
  web.down = ["betard", "openApi"];
  await assert.rejects(fetchRoomInfo(9999, web.bases), /betard API: HTTP 503.*open API: HTTP 503/);
  assert.ok(web.requests.some((path) => path.startsWith("/betard/9999?_=")), `${web.requests}`);
});

test("MockWebApi: names resolve through betard or the mobile page, as options.names says", async () => {
  await using web = await MockWebApi.start({ names: { yyf: 288016 } });
  assert.equal(await resolveRoom("douyu.com/yyf", web.bases), 288016);
  assert.equal(
    await resolveRoom("https://www.douyu.com/yyf", { ...web.bases, apiBase: DEAD }),
    288016,
  );
  assert.equal(await resolveRoom("someone", web.bases), SAMPLE_ROOM);
  assert.equal(await resolveRoom("douyu.com/6657", web.bases), 6657);
  assert.ok(web.requests.includes("/m/yyf"));
});

test("MockWebApi: the gift list and props config give the sample's gifts names and values", async () => {
  await using web = await MockWebApi.start();
  const gifts = new GiftCatalogCache(web.bases);
  const catalog = await gifts.get(SAMPLE_ROOM);
  assert.deepEqual(catalog.problems, []);
  const sent = sampleRecording().map((line) => parseMessage(line.body))
    .filter((message) => message.type === "dgb");
  assert.ok(sent.length > 0);
  for (const message of sent) {
    const gift = giftOf(message, catalog);
    assert.ok(gift?.name !== undefined && gift.value !== undefined, JSON.stringify(gift));
  }
  assert.equal(giftOf(parseMessage("type@=dgb/gfid@=20008/gfcnt@=2/"), catalog)?.value, 200);
});

test("MockWebApi: GET only, its own Host only, unknown paths 404; close() is idempotent", async () => {
  const web = await MockWebApi.start();
  const port = new URL(web.url).port;
  assert.equal((await raw(`${web.url}/betard/9999`, {})).status, 200);
  assert.equal((await raw(`${web.url}/betard/9999`, { host: `localhost:${port}` })).status, 200);
  assert.equal(
    (await raw(`${web.url}/betard/9999`, { host: `attacker.example:${port}` })).status,
    421,
  );
  assert.equal((await raw(`${web.url}/betard/9999`, { method: "POST" })).status, 405);
  assert.equal((await raw(`${web.url}/nothing/here/at/all`, {})).status, 404);
  assert.equal((await raw(`${web.url}/betard/0`, {})).status, 400);
  assert.equal((await raw(`${web.url}/${"x".repeat(3000)}`, {})).status, 414);
  // Only what it answered counts as asked: not another site's name, nor a POST.
  assert.deepEqual(web.requests, [
    "/betard/9999",
    "/betard/9999",
    "/nothing/here/at/all",
    "/betard/0",
  ]);
  await web.close();
  await web.close();
  await assert.rejects(raw(`${web.url}/betard/9999`, {}));
});

test(
  "MockWebApi: connections that never send a request are cut, and cannot shut others out",
  async () => {
    await using web = await MockWebApi.start();
    const { hostname: host, port } = new URL(web.url);
    // As many as it takes (64), each sending a request's head that never ends.
    const stalled = await Promise.all(
      Array.from({ length: 64 }, () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = createConnection({ host, port: Number(port) }, () => {
            socket.write(`GET /betard/9999 HTTP/1.1\r\nHost: ${host}:${port}\r\n`);
            resolve(socket);
          });
          socket.once("error", reject);
        })),
    );
    const closed = stalled.map((socket) =>
      new Promise<number>((resolve) => {
        socket.on("error", () => {});
        socket.once("close", () => resolve(performance.now()));
      })
    );
    // Cut within its 5 s, with room for a busy machine; not left until the client gives up.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((
      resolve,
    ) => (timer = setTimeout(() => resolve(false), 12_000)));
    const cut = await Promise.race([Promise.all(closed).then(() => true), late]);
    clearTimeout(timer);
    for (const socket of stalled) socket.destroy();
    await Promise.all(closed);
    assert.ok(cut, "connections that never sent a request were left open");
    assert.equal((await fetch(`${web.url}/betard/9999`).then((r) => r.json())).room.room_id, 9999);
  },
  BUN_HIDES_CONNECTIONS,
);

test("MockWebApi: close() also closes a connection that has sent nothing", async () => {
  const web = await MockWebApi.start();
  const { hostname: host, port } = new URL(web.url);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const opened = createConnection({ host, port: Number(port) }, () => resolve(opened));
    opened.once("error", reject);
  });
  socket.on("error", () => {});
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await web.close();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 3000)));
  const cut = await Promise.race([ended.then(() => true), late]);
  clearTimeout(timer);
  socket.destroy();
  assert.ok(cut, "the connection was left open");
}, BUN_HIDES_CONNECTIONS);

test("MockWebApi: invalid options are refused", async () => {
  await assert.rejects(MockWebApi.start({ port: 70_000 }), RangeError);
  await assert.rejects(MockWebApi.start({ names: { yyf: 0 } }), RangeError);
  await assert.rejects(MockWebApi.start({ status: "on" as "live" }), TypeError);
});

test("connect(name, { url }) asks no web API at all, and says why", async () => {
  await using server = await MockServer.start();
  await withFetchSpy(async (asked) => {
    const error = await failure(connect("douyu.com/9999", { url: server.url }));
    assert.ok(error instanceof RoomResolveError, String(error));
    assert.match(String(error), /apiBase/);
    assert.deepEqual(asked, []);
    assert.equal(server.clients.length, 0);
  });
});

test("connect(name, { url, ...web.bases }) looks the name up at the stand-in only, and joins", async () => {
  await using server = await MockServer.start();
  await using web = await MockWebApi.start({ names: { yyf: 288016 } });
  await withFetchSpy(async (asked) => {
    await using session = await connect("douyu.com/yyf", { url: server.url, ...web.bases });
    const client = await server.nextClient();
    assert.equal(client.received[0]?.roomid, "288016");
    assert.ok(asked.every((url) => url.startsWith(web.url)), `${asked}`);
    assert.ok(session.url !== undefined);
  });
});

test("connect(name, { url, apiBase }) does not fall back to Douyu's mobile page", async () => {
  await using server = await MockServer.start();
  await withFetchSpy(async (asked) => {
    const error = await failure(connect("douyu.com/yyf", { url: server.url, apiBase: DEAD }));
    assert.ok(error instanceof RoomResolveError, String(error));
    assert.match(String(error), /m\.douyu\.com not asked/);
    assert.ok(asked.every((url) => url.startsWith(DEAD)), `${asked}`);
  });
});

test("Hub({ url }).add(name) follows the same rule; with the stand-in's bases it joins", async () => {
  await using server = await MockServer.start();
  await using web = await MockWebApi.start();
  await withFetchSpy(async (asked) => {
    await using hub = new Hub({ url: server.url });
    await assert.rejects(hub.add("douyu.com/yyf"), RoomResolveError);
    assert.deepEqual(asked, []);
    assert.equal(await hub.add("douyu.com/yyf", web.bases), SAMPLE_ROOM);
    assert.deepEqual(hub.rooms, [SAMPLE_ROOM]);
  });
});

test("watchLive offline: the sample's rss and the stand-in's room info", async () => {
  await using server = await MockServer.start({ recording: sampleRecording(), speed: 0 });
  await using web = await MockWebApi.start();
  await using watcher = watchLive(["douyu.com/9999"], { url: server.url, ...web.bases });
  let first: LiveEvent | undefined;
  for await (const event of watcher) {
    first = event;
    break;
  }
  assert.equal(first?.room, SAMPLE_ROOM);
  assert.equal(first?.state, "live");
  assert.equal(first?.info?.nickname, "样例主播");
});
