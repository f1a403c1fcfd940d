import assert from "node:assert/strict";
import {
  defaultTransportFactory,
  type LiveEvent,
  type LiveWatcher,
  RoomResolveError,
  type TransportFactory,
  watchLive,
} from "../mod.ts";
import { MockServer, MockWebApi } from "../src/testing/mod.ts";
import { test } from "./harness.ts";

const rss = (ss: number, ivl = 0) => `type@=rss/rid@=9999/ss@=${ss}/ivl@=${ivl}/code@=0/`;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads the watcher's events into an array as they come. */
function collect(watcher: LiveWatcher): LiveEvent[] {
  const events: LiveEvent[] = [];
  (async () => {
    for await (const event of watcher) events.push(event);
  })();
  return events;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const states = (events: LiveEvent[]) => events.map((e) => e.state);

test("live: a flapping rss (off, then on within the window) is no offline; one that holds is", async () => {
  const api = await MockWebApi.start();
  await using server = await MockServer.start();
  const watcher = watchLive([9999], {
    url: server.url,
    ...api.bases,
    offlineConfirmation: 1500,
  });
  try {
    const events = collect(watcher);
    await until("live", () => events.length === 1);
    assert.deepEqual(states(events), ["live"]);
    assert.equal(events[0]!.info?.name, "样例直播间：一起聊天");
    const client = await server.nextClient();
    await client.send(rss(0));
    await delay(200);
    await client.send(rss(1));
    await delay(2000); // past the window: the offline never held
    assert.deepEqual(states(events), ["live"]);
    const offAt = Date.now();
    await client.send(rss(0));
    await until("offline", () => events.length === 2);
    assert.deepEqual(states(events), ["live", "offline"]);
    assert.ok(Math.abs(events[1]!.at - offAt) < 1000, "at is when the offline was first seen");
    assert.ok(Date.now() - offAt >= 1400, "reported before the window ran out");
    await client.send(rss(0)); // no repeats
    await delay(500);
    assert.equal(events.length, 2);
  } finally {
    await watcher.close();
    await api.close();
  }
});

test("live: a video loop is a loop, never live, from rss or the API", async () => {
  const api = await MockWebApi.start({ status: "loop" });
  await using server = await MockServer.start();
  await using watcher = watchLive([9999], {
    url: server.url,
    ...api.bases,
    offlineConfirmation: 300,
  });
  const events = collect(watcher);
  await until("loop", () => events.length === 1);
  const client = await server.nextClient();
  await client.send(rss(1, 1));
  await client.send(rss(0, 1));
  await delay(600);
  assert.deepEqual(states(events), ["loop"]);
  await client.send(rss(1, 0));
  await until("live", () => events.length === 2);
  assert.deepEqual(states(events), ["loop", "live"]);
  await watcher.close();
  await api.close();
});

test("live: a change while disconnected is caught by the re-sync after reconnecting", async () => {
  const api = await MockWebApi.start();
  await using server = await MockServer.start();
  await using watcher = watchLive([9999], {
    url: server.url,
    ...api.bases,
    offlineConfirmation: 200,
    reconnect: { initialDelay: 10, maxDelay: 20 },
  });
  const events = collect(watcher);
  await until("live", () => events.length === 1);
  const first = await server.nextClient();
  // The stream ends while the barrage connection is down: no rss ever says so.
  api.status = "offline";
  first.close();
  await server.nextClient();
  await until("offline", () => events.length === 2);
  assert.deepEqual(states(events), ["live", "offline"]);
  await watcher.close();
  await api.close();
});

test("live: the exported state is not announced again after a restart; periodic re-sync", async () => {
  const api = await MockWebApi.start();
  await using server = await MockServer.start();
  const options = { url: server.url, ...api.bases };
  const first = watchLive([9999], options);
  const events = collect(first);
  await until("live", () => events.length === 1);
  // Its connection joined before it closes: "live" comes from the web API, and a connection
  // closed before joining is not one nextClient() returns (under load, it was, and the wait
  // below for the second watcher's connection took the second nextClient() forever).
  await server.nextClient();
  const saved = JSON.parse(JSON.stringify(first.state()));
  assert.deepEqual(Object.keys(saved), ["9999"]);
  assert.equal(saved["9999"].state, "live");
  await first.close();

  const second = watchLive([9999], {
    ...options,
    state: saved,
    resyncInterval: 300,
    offlineConfirmation: 100,
  });
  const again = collect(second);
  await server.nextClient(); // the second watcher's connection
  await delay(800); // connected and re-synced a few times: still live, nothing to say
  assert.deepEqual(again, []);
  // No rss, no reconnect: only the periodic re-sync can notice.
  api.status = "offline";
  await until("offline", () => again.length === 1);
  assert.deepEqual(states(again), ["offline"]);
  assert.deepEqual(second.state()["9999"]?.state, "offline");
  await second.close();
  await api.close();
});

test("live: when only the open API answers, a known loop stays a loop", async () => {
  const api = await MockWebApi.start({ status: "loop" });
  await using server = await MockServer.start();
  await using watcher = watchLive([9999], {
    url: server.url,
    ...api.bases,
    resyncInterval: 200,
  });
  const events = collect(watcher);
  await until("loop", () => events.length === 1);
  api.down = ["betard"]; // the open API says "1": live or loop, it cannot tell
  await until("open API asked", () => api.requests.some((r) => r.startsWith("/api/RoomApi/")));
  await delay(500);
  assert.deepEqual(states(events), ["loop"]);
  await watcher.close();
  await api.close();
});

test("live: a name whose lookup fails is looked up again; a room that gives up is joined again", async () => {
  // The mobile page finds nothing: only betard can resolve the name.
  const api = await MockWebApi.start({ names: { sample: 9999 } });
  api.down = ["mobile"];
  await using server = await MockServer.start();
  // The name lookup: the first attempt finds nothing, later ones the room.
  let lookups = 0;
  const fetch = async (url: string, init: RequestInit) => {
    if (url.includes("/betard/sample") && ++lookups === 1) {
      return new Response("busy", { status: 503 });
    }
    return await globalThis.fetch(url, init);
  };
  const watcher = watchLive(["sample"], {
    url: server.url,
    ...api.bases,
    fetch,
    reconnect: false, // the session gives up at the first drop
  });
  try {
    const events = collect(watcher);
    await until("live", () => events.length === 1);
    assert.ok(lookups >= 2, `${lookups} lookups`);
    const first = await server.nextClient();
    first.close(); // with reconnect: false, the hub forgets the room…
    const second = await server.nextClient(); // …and the watcher joins it again
    assert.ok(second.isOpen);
    assert.deepEqual(states(events), ["live"]);
  } finally {
    await watcher.close();
    await api.close();
  }
});

/** Lets a watcher run for `ms`, then closes it: how long `close()` took. */
async function closeAfter(watcher: LiveWatcher, ms: number): Promise<number> {
  await delay(ms);
  const start = performance.now();
  await watcher.close();
  return performance.now() - start;
}

// Joining backs off 1 s doubling to 30 s, each delay a random half to all of
// it: attempts at 0, 0.5–1 s, 1.5–3 s, so at most 3 within 2 s (a busy
// machine only makes fewer). Before the fix each failed attempt's `closed`
// event started one more join loop, and they multiplied into thousands.
const MOST_ATTEMPTS_IN_2S = 5;

test("live: an endpoint that refuses connections is tried again with backoff, by one loop", async () => {
  // A port just freed: nothing listens there, the connection is refused.
  const { createServer } = await import("node:net");
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as { port: number };
  await new Promise<void>((resolve, reject) =>
    listener.close((error) => error ? reject(error) : resolve())
  );
  // Counted at the transport: the first attempt starts before status() could be asked.
  let attempts = 0;
  const transport: TransportFactory = (endpoint, options) => {
    attempts++;
    return defaultTransportFactory(endpoint, options);
  };
  const url = `tcp://127.0.0.1:${port}`;
  const watcher = watchLive([9999], { url, transport, roomApi: false });
  const closeMs = await closeAfter(watcher, 2000);
  assert.ok(attempts >= 1, "it tried");
  assert.ok(attempts <= MOST_ATTEMPTS_IN_2S, `${attempts} connection attempts in 2 s`);
  assert.ok(closeMs < 1000, `close() took ${Math.round(closeMs)} ms`);
});

test("live: a transport that fails at once neither multiplies attempts nor starves close()", async () => {
  let attempts = 0;
  const transport: TransportFactory = (_endpoint, { signal }) => {
    attempts++;
    if (attempts <= 20) return Promise.reject(new Error("refused"));
    // Past the bound, each failure waits for a timer: the storm before the
    // fix never left the microtask queue, and this test would hang instead
    // of failing.
    return new Promise((_resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("refused")), 1);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  };
  const watcher = watchLive([9999], { url: "tcp://127.0.0.1:1", transport, roomApi: false });
  const closeMs = await closeAfter(watcher, 2000);
  assert.ok(attempts >= 1, "it tried");
  assert.ok(attempts <= MOST_ATTEMPTS_IN_2S, `${attempts} connection attempts in 2 s`);
  assert.ok(closeMs < 1000, `close() took ${Math.round(closeMs)} ms`);
});

test("live: input that is no room at all throws RoomResolveError at once, as Hub.add does", async () => {
  const started: LiveWatcher[] = [];
  try {
    for (const room of ["", 0, -1, "a b", "https://example.com/9999"]) {
      assert.throws(
        () => started.push(watchLive([9999, room], { url: "tcp://127.0.0.1:1", roomApi: false })),
        RoomResolveError,
        `watchLive([9999, ${JSON.stringify(room)}])`,
      );
    }
  } finally {
    // Before the fix they started (and watched nothing for the bad room).
    await Promise.all(started.map((watcher) => watcher.close()));
  }
});
