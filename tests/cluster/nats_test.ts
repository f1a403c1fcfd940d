/**
 * `@x/douyu/nats` and its commands against a real nats-server, piece by
 * piece: what `consume` prints, de-duplication, a lost lease, the `rooms`
 * command, filters and durable consumers, failures as one line.
 */
import assert from "node:assert/strict";
import { runtime, test } from "../harness.ts";
import { startNatsCluster, startNatsServer } from "./nats_server.ts";
import { MockServer } from "../../src/testing/mod.ts";
import { main } from "../../src/cli/cli.ts";
import {
  addRooms,
  chatId,
  Cluster,
  Collector,
  type CollectorEvent,
  LEASES_BUCKET,
  overview,
  removeRooms,
  STREAM_NAME,
  subjectOf,
  subscribe,
} from "../../src/nats/mod.ts";
import { messageHeaders } from "../../src/nats/cluster.ts";
import { StreamPublisher } from "../../src/nats/publisher.ts";
import { GOODBYE_MS } from "../../src/nats/collector.ts";
import { formatJson } from "../../src/output/format.ts";
import { parseMessage } from "../../src/protocol/messages.ts";
import { ROOT, runtimeCommand, startChild } from "../process.ts";
import { parseLease, snapshot } from "../../src/nats/records.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A CliIO that keeps what was written. */
function captureIO(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (text: string) => void out.push(text),
      stderr: (text: string) => void err.push(text),
      ...(signal ? { signal } : {}),
    },
  };
}

async function until<T>(
  what: string,
  ms: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const SERVED = [
  "type@=chatmsg/rid@=9999/uid@=1/nn@=Ann/txt@=hello/level@=12/dms@=5/cid@=0123456789abcdef0123456789abcdef/",
  "type@=dgb/rid@=9999/uid@=2/nn@=Bo/gfid@=824/gfcnt@=1/hits@=3/",
  "type@=uenter/rid@=9999/uid@=3/nn@=小鱼干/level@=3/",
  "type@=chatmsg/rid@=9999/uid@=4/nn@=Cy/txt@=second \x1b[31mred/level@=7/dms@=5/cid@=11111111111111111111111111111111/",
  "type@=dgb/rid@=9999/uid@=2/nn@=Bo/gfid@=824/gfcnt@=1/hits@=3/", // the same gift again: both are real
  "type@=rss/rid@=9999/ss@=0/",
];

test("consume prints what the live command prints, text and NDJSON", async () => {
  const nats = await startNatsServer();
  await using server = await MockServer.start({ messages: SERVED });
  const cluster = await Cluster.connect(nats.url, { leaseTtl: 4000 });
  const started = Date.now();
  try {
    const live = { json: captureIO(), text: captureIO() };
    for (const [mode, capture] of Object.entries(live)) {
      const args = [
        "--url",
        server.url,
        "--count",
        String(SERVED.length),
        "--types",
        "chatmsg,dgb,uenter,rss",
      ];
      if (mode === "json") args.push("--json");
      assert.equal(await main([...args, "9999"], capture.io), 0);
    }
    await addRooms(cluster, [9999]);
    const collector = new Collector(cluster, {
      name: "a",
      url: server.url,
      startDelay: 0,
      claimJitter: 0,
    });
    await collector.start();
    await until(
      "all published",
      10_000,
      () => collector.counters.published === SERVED.length ? true : undefined,
    );
    await collector.close();
    const consumed = { json: captureIO(), text: captureIO() };
    for (const [mode, capture] of Object.entries(consumed)) {
      const args = [
        "consume",
        "--nats",
        nats.url,
        "--since",
        "1h",
        "--count",
        String(SERVED.length),
        "--types",
        "chatmsg,dgb,uenter,rss",
        "--rooms",
        "9999", // one room: no room column, as when watching one
        // Gift names come from Douyu's web API, as when watching: here, from nowhere.
        "--gift-api-base",
        "http://127.0.0.1:9/",
      ];
      if (mode === "json") args.push("--json");
      assert.equal(await main(args, capture.io), 0, capture.err.join(""));
    }
    // In JSON, _t is when each arrived (the collector's time, when consumed); the rest is the same.
    const untimed = (lines: string[]) =>
      lines.map((line) => {
        const { _t, ...message } = JSON.parse(line);
        assert.ok(Number.isSafeInteger(_t) && _t >= started && _t <= Date.now(), line);
        return message;
      });
    assert.deepEqual(untimed(consumed.json.out), untimed(live.json.out));
    // The time column (HH:MM:SS) is when each arrived; the rest is the same.
    const body = (lines: string[]) => lines.map((line) => line.slice(9));
    assert.deepEqual(body(consumed.text.out), body(live.text.out));
    assert.equal(consumed.text.out.length, SERVED.length);
    assert.ok(!consumed.text.out.join("").includes("\x1b"), "escape sequence reached the terminal");
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test("identical gifts are both stored; a chat id is stored once", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  try {
    const publisher = new StreamPublisher(cluster.connection, { maxBuffered: 10 });
    const encode = (text: string) => new TextEncoder().encode(text);
    const gift = { type: "dgb", nn: "Bo", gfid: "824" };
    const chat = { type: "chatmsg", nn: "Ann", txt: "hi", cid: "abc123" };
    for (let i = 0; i < 2; i++) {
      await publisher.publish(
        subjectOf(1, "dgb"),
        encode(JSON.stringify(gift)),
        messageHeaders(1, 0, "a"),
      );
      await publisher.publish(
        subjectOf(1, "chatmsg"),
        encode(JSON.stringify(chat)),
        messageHeaders(1, 0, i === 0 ? "a" : "b"),
        chatId(1, chat),
      );
    }
    assert.equal(await publisher.flush(5000), 0);
    assert.equal(publisher.counters.published, 4);
    assert.equal(publisher.counters.duplicates, 1);
    publisher.close();
    const info = await cluster.jsm.streams.info(STREAM_NAME);
    assert.equal(info.state.messages, 3);
    assert.equal(chatId(1, chat), "1:abc123");
    assert.equal(chatId(1, { type: "chatmsg", cid: "a/b" }), undefined); // not fit for an id
    assert.equal(chatId(1, gift), undefined);
    assert.equal(subjectOf(7, "a.b>"), "douyu.7._");
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test("a collector whose lease is taken stops the room at once", async () => {
  const nats = await startNatsServer();
  await using server = await MockServer.start({});
  const cluster = await Cluster.connect(nats.url, { leaseTtl: 4000 });
  try {
    await addRooms(cluster, [9999]);
    const collector = new Collector(cluster, {
      name: "a",
      url: server.url,
      startDelay: 0,
      claimJitter: 0,
    });
    const events: CollectorEvent[] = [];
    const watching = (async () => {
      for await (const event of collector.events()) events.push(event);
    })();
    await collector.start();
    const client = await server.nextClient();
    const lease = parseLease((await cluster.leases.get("9999"))!.value);
    assert.equal(lease?.collector, "a");
    const taken = Date.now();
    // Another collector's write, as a create after an expiry would be.
    await cluster.leases.put(
      "9999",
      JSON.stringify({ collector: "b", instance: "x", since: taken }),
    );
    await client.closed;
    const stoppedAfter = Date.now() - taken;
    assert.ok(stoppedAfter < 1000, `room stopped ${stoppedAfter} ms after its lease was taken`);
    assert.ok(events.some((event) => event.type === "lost" && event.room === 9999));
    assert.deepEqual(collector.rooms, []);
    await collector.close();
    await watching;
    // Its graceful stop did not delete the lease it no longer held.
    const now = await snapshot(cluster.js, cluster.jsm, LEASES_BUCKET);
    assert.equal(parseLease(now.get("9999")!.value)?.collector, "b");
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test("douyu rooms add, list, remove", async () => {
  const nats = await startNatsServer();
  try {
    const add = captureIO();
    assert.equal(
      await main(
        ["rooms", "--nats", nats.url, "add", "9999,288016", "71415", "--types", "chatmsg"],
        add.io,
      ),
      0,
      add.err.join(""),
    );
    assert.equal(add.out.join(""), "added 3 rooms: 9999 288016 71415\n");
    const list = captureIO();
    assert.equal(await main(["rooms", "--nats", nats.url, "list"], list.io), 0);
    assert.match(list.out.join(""), /unassigned: 3 rooms: 9999 71415 288016/);
    const json = captureIO();
    assert.equal(await main(["rooms", "--nats", nats.url, "list", "--json"], json.io), 0);
    const view = JSON.parse(json.out.join(""));
    assert.deepEqual(view.rooms.map((room: { room: number }) => room.room), [9999, 71415, 288016]);
    assert.deepEqual(view.rooms[0].settings.types, ["chatmsg"]);
    const remove = captureIO();
    assert.equal(await main(["rooms", "--nats", nats.url, "remove", "288016"], remove.io), 0);
    const cluster = await Cluster.connect(nats.url);
    try {
      assert.deepEqual((await overview(cluster)).unassigned, [9999, 71415]);
    } finally {
      await cluster.close();
    }
    const bad = captureIO();
    assert.equal(await main(["rooms", "--nats", nats.url, "rename", "1"], bad.io), 2);
    assert.match(bad.err.join(""), /^douyu: unknown action "rename"/);
  } finally {
    await nats.close();
  }
});

test("NATS unreachable or a name in use: one line, exit 1; bad usage: exit 2", async () => {
  const nats = await startNatsServer();
  const port = nats.port;
  await nats.close(); // nothing listens there now
  const down = captureIO();
  assert.equal(
    await main(["collect", "--nats", `nats://127.0.0.1:${port}`, "--name", "a"], down.io),
    1,
  );
  assert.equal(down.err.length, 1);
  assert.match(down.err[0]!, /^douyu: cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+: .*\n$/);
  const usage = captureIO();
  assert.equal(await main(["collect", "--nats", "nats://127.0.0.1:1"], usage.io), 2);
  assert.match(usage.err.join(""), /missing --name/);
  const noNats = captureIO();
  assert.equal(await main(["consume", "--json"], noNats.io), 2);
  assert.match(noNats.err.join(""), /missing --nats/);
  for (const bad of ["nats://a b:4222", "http://127.0.0.1:4222", "nats://", "nats://h:4222\n"]) {
    const url = captureIO();
    assert.equal(await main(["consume", "--nats", bad], url.io), 2, bad);
    assert.match(url.err.join(""), /^douyu: invalid value for --nats: /, bad);
  }
  const since = captureIO();
  assert.equal(
    await main(["consume", "--nats", "nats://127.0.0.1:1", "--since", "soon"], since.io),
    2,
  );
  assert.match(since.err.join(""), /invalid value for --since/);

  const live = await startNatsServer();
  const cluster = await Cluster.connect(live.url, { leaseTtl: 4000 });
  try {
    const first = new Collector(cluster, { name: "a" });
    await first.start();
    const second = new Collector(cluster, { name: "a" });
    await assert.rejects(second.start(), /a collector named a is already running/);
    // The one refused leaves the running one's heartbeat alone.
    assert.equal((await cluster.collectors.get("a"))?.operation, "PUT");
    await first.close();
  } finally {
    await cluster.close();
    await live.close();
  }
}, { ignore: runtime === "bun" }); // runtime-free logic, covered on Bun by the scenario: Deno only, to keep test:cluster short

test("subscribe: rooms, types, since", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  try {
    const publisher = new StreamPublisher(cluster.connection);
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    // Skipped and counted: a payload whose type is not its subject's (it slipped past a filter
    // by type), and a map whose own toString made the text output throw.
    const hostile = [{ type: "dgb", n: "x" }, {
      type: "chatmsg",
      n: "y",
      level: { toString: "x" },
    }];
    for (const payload of hostile) {
      await publisher.publish(subjectOf(1, "chatmsg"), encode(payload), messageHeaders(1, 0, "a"));
    }
    for (let i = 1; i <= 6; i++) {
      for (const room of [1, 2]) {
        for (const type of ["chatmsg", "dgb"]) {
          await publisher.publish(
            subjectOf(room, type),
            encode({ type, n: String(i) }),
            messageHeaders(room, i, "a"),
          );
        }
      }
    }
    // A malformed message (anyone with publish rights could write one) is skipped.
    await publisher.publish(
      subjectOf(1, "chatmsg"),
      encode(["not", "a", "message"]),
      messageHeaders(1, 7, "a"),
    );
    assert.equal(await publisher.flush(5000), 0);
    publisher.close();

    let skipped = 0;
    const read = async (options: Parameters<typeof subscribe>[1], count: number) => {
      const items = [];
      const subscription = subscribe(cluster, options);
      for await (const item of subscription) {
        items.push(`${item.room}.${item.message.type}.${(item.message as { n?: string }).n}`);
        if (items.length === count) break;
      }
      skipped = subscription.skipped;
      return items;
    };
    assert.deepEqual(
      await read({ rooms: [1], types: ["chatmsg"], since: 0 }, 6),
      ["1.chatmsg.1", "1.chatmsg.2", "1.chatmsg.3", "1.chatmsg.4", "1.chatmsg.5", "1.chatmsg.6"],
    );
    assert.equal(skipped, 2);
    assert.deepEqual(await read({ types: ["dgb"], since: 0 }, 3), [
      "1.dgb.1",
      "2.dgb.1",
      "1.dgb.2",
    ]);
    assert.deepEqual(await read({ rooms: [2], since: 0 }, 3), [
      "2.chatmsg.1",
      "2.dgb.1",
      "2.chatmsg.2",
    ]);
    // Reading from now on: nothing until something new comes.
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 300);
    assert.deepEqual(await read({ signal: stop.signal }, 1), []);
    clearTimeout(timer);
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test("cut off from NATS past its lease: rooms stop before the lease expires, held messages are published after, rooms claimed again", async () => {
  const nats = await startNatsServer();
  let seq = 0;
  await using server = await MockServer.start({
    messages: () =>
      (async function* () {
        for (;;) {
          await sleep(50);
          yield { type: "dgb", rid: 9999, nn: "Bo", gfid: 824, seq: seq++ };
        }
      })(),
  });
  const ttl = 3000;
  const cluster = await Cluster.connect(nats.url, { leaseTtl: ttl });
  const collector = new Collector(cluster, {
    name: "a",
    url: server.url,
    startDelay: 0,
    claimJitter: 0,
  });
  const events: CollectorEvent[] = [];
  const watching = (async () => {
    for await (const event of collector.events()) events.push(event);
  })();
  try {
    await addRooms(cluster, [9999]);
    await collector.start();
    const first = await server.nextClient();
    await sleep(1000);
    const cut = Date.now();
    await nats.stop();
    await first.closed;
    const stoppedAfter = Date.now() - cut;
    // Renewed every TTL/4, fenced 10% before the TTL: before anyone else could take the room.
    assert.ok(stoppedAfter < ttl, `room stopped ${stoppedAfter} ms into the outage`);
    assert.ok(events.some((event) => event.type === "fenced" && event.room === 9999));
    await sleep(5000 - (Date.now() - cut)); // 5 s without NATS: the lease expired
    await nats.start();
    const second = await server.nextClient(); // claimed again once NATS is back
    assert.ok(second.id > first.id);
    await until("everything held published", 15_000, () => {
      const counters = collector.counters;
      return counters.buffered === 0 && counters.published === counters.received ? true : undefined;
    });
    assert.equal(collector.counters.lost, 0);
  } finally {
    await collector.close();
    await watching;
    await cluster.close();
    await nats.close();
  }
});

test("stopping while NATS is away ends within its limits, rooms paused meanwhile", async () => {
  const nats = await startNatsServer();
  await using server = await MockServer.start({
    messages: () =>
      (async function* () {
        for (let seq = 0;; seq++) {
          await sleep(5);
          yield { type: "dgb", rid: 9999, nn: "Bo", gfid: 824, seq };
        }
      })(),
  });
  const cluster = await Cluster.connect(nats.url, { leaseTtl: 8000 });
  const collector = new Collector(cluster, {
    name: "a",
    url: server.url,
    startDelay: 0,
    claimJitter: 0,
    handover: 200,
    flushTimeout: 1000,
    queueSize: 5,
    publisher: { maxBuffered: 5 },
  });
  try {
    await addRooms(cluster, [9999]);
    await collector.start();
    await server.nextClient();
    await until(
      "messages published",
      5000,
      () => collector.counters.published > 20 ? true : undefined,
    );
    await nats.stop();
    await until(
      "the publisher full",
      5000,
      () => collector.counters.buffered === 5 ? true : undefined,
    );
    const stopping = Date.now();
    await collector.close();
    const took = Date.now() - stopping;
    // The design bound: goodbyes (GOODBYE_MS at most each: heartbeat, then the leases
    // together), the handover window, the last acks (flushTimeout); 1 s for the rest.
    const bound = 2 * GOODBYE_MS + 200 + 1000 + 1000;
    assert.ok(took < bound, `close() took ${took} ms with NATS away (bound ${bound} ms)`);
    assert.equal(collector.counters.maxBuffered, 5);
  } finally {
    await collector.close();
    await cluster.close();
    await nats.close();
  }
});

test(
  "a NATS restart: no request left behind to time out, rooms kept, new rooms claimed at once",
  async () => {
    const nats = await startNatsServer();
    await using server = await MockServer.start({});
    const ttl = 8000;
    const cluster = await Cluster.connect(nats.url, { leaseTtl: ttl });
    const collector = new Collector(cluster, {
      name: "a",
      url: server.url,
      startDelay: 0,
      claimJitter: 0,
    });
    const events: [number, CollectorEvent][] = [];
    const watching = (async () => {
      for await (const event of collector.events()) events.push([Date.now(), event]);
    })();
    let admin: Cluster | undefined;
    try {
      await addRooms(cluster, [9999]);
      await collector.start();
      await server.nextClient();
      await nats.stop();
      // Longer than a heartbeat interval (TTL/4): requests are sent, or would be, while away.
      await sleep(ttl / 4 + 1000);
      await nats.start();
      admin = await Cluster.connect(nats.url);
      await until(
        "the collector reconnected",
        10_000,
        () =>
          events.some(([, event]) => event.type === "nats" && event.state === "reconnected")
            ? true
            : undefined,
      );
      const added = Date.now();
      await addRooms(admin, [7777]);
      await until(
        "the new room claimed",
        10_000,
        () => collector.rooms.includes(7777) ? true : undefined,
      );
      const claimedAfter = Date.now() - added;
      // A scan runs when the desired rooms change: it must not wait for one lost in the outage.
      assert.ok(claimedAfter < 2500, `new room claimed ${claimedAfter} ms after it was added`);
      // Past the client's request timeout (5 s) after the outage: nothing sent while away was
      // left to time out.
      await sleep(Math.max(0, 5500 - (Date.now() - added)));
      assert.deepEqual(collector.rooms, [7777, 9999]);
      const errors = events.filter(([, event]) => event.type === "error");
      assert.deepEqual(errors.map(([, event]) => String((event as { error: unknown }).error)), []);
      assert.equal(collector.counters.fenced, 0);
    } finally {
      await collector.close();
      await watching;
      await admin?.close();
      await cluster.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
); // runtime-free logic, covered on Bun by the scenario: Deno only, to keep test:cluster short

test("a message too large for NATS with its headers is dropped and counted; the collector carries on and stops on SIGTERM", async () => {
  const nats = await startNatsServer();
  // A real frame just under Douyu's 1 MiB limit whose JSON fits in 1 MiB, but not with the
  // message's headers: the server's max_payload counts both.
  const limit = 1024 * 1024;
  const chatOf = (txt: string, cid: string) =>
    `type@=chatmsg/rid@=9999/uid@=1/nn@=Ann/txt@=${txt}/cid@=${cid}/`;
  let size = limit - 200;
  const jsonSize = (text: string) =>
    new TextEncoder().encode(formatJson(parseMessage(text))).length;
  while (jsonSize(chatOf("x".repeat(size), "b".repeat(32))) < limit - 40) size++;
  const huge = chatOf("x".repeat(size), "b".repeat(32));
  assert.ok(jsonSize(huge) <= limit && jsonSize(huge) > limit - 100);
  await using server = await MockServer.start({
    messages: [
      chatOf("before", "a".repeat(32)),
      huge,
      chatOf("after", "c".repeat(32)),
    ],
  });
  const cluster = await Cluster.connect(nats.url, { leaseTtl: 4000 });
  const [command, ...args] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
  const collector = startChild(command!, [
    ...args,
    "collect",
    "--nats",
    nats.url,
    "--name",
    "big",
    "--url",
    server.url,
  ]);
  try {
    await addRooms(cluster, [9999]);
    const texts: string[] = [];
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 20_000);
    for await (const item of subscribe(cluster, { since: 0, signal: stop.signal })) {
      texts.push(String((item.message as { txt?: string }).txt).slice(0, 10));
      if (texts.length === 2) break;
    }
    clearTimeout(timer);
    assert.deepEqual(texts, ["before", "after"]);
    const stopping = Date.now();
    collector.kill("SIGTERM");
    let limit: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      collector.exited,
      new Promise<string>((resolve) => limit = setTimeout(() => resolve("still running"), 15_000)),
    ]);
    clearTimeout(limit);
    assert.equal(code, 0, `exit ${code} ${Date.now() - stopping} ms after SIGTERM`);
    assert.match(collector.stderr, /1 too large for NATS \(dropped\)/);
  } finally {
    collector.kill("SIGKILL");
    await collector.exited;
    await cluster.close();
    await nats.close();
  }
});

test("the publisher drops what the server can never take, counted, and is never stuck on it", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  try {
    const publisher = new StreamPublisher(cluster.connection, { maxBuffered: 10 });
    const encode = (text: string) => new TextEncoder().encode(text);
    await publisher.publish(
      subjectOf(1, "dgb"),
      new Uint8Array(2 * 1024 * 1024),
      messageHeaders(1, 0, "a"),
    );
    await publisher.publish(
      subjectOf(1, "dgb"),
      encode(`{"type":"dgb"}`),
      messageHeaders(1, 0, "a"),
    );
    assert.equal(await publisher.flush(5000), 0);
    assert.equal(publisher.counters.rejected, 1);
    assert.equal(publisher.counters.published, 1);
    publisher.close();
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test(
  "the lease TTL: --lease-ttl leaves a running cluster alone; set-lease-ttl changes it, and collectors follow",
  async () => {
    const nats = await startNatsServer();
    await using server = await MockServer.start({});
    const cluster = await Cluster.connect(nats.url, { leaseTtl: 8000 });
    const collector = new Collector(cluster, {
      name: "a",
      url: server.url,
      startDelay: 0,
      claimJitter: 0,
    });
    const events: CollectorEvent[] = [];
    const watching = (async () => {
      for await (const event of collector.events()) events.push(event);
    })();
    const bucketTtl = async () =>
      Math.round((await cluster.jsm.streams.info("KV_douyu_collectors")).config.max_age / 1e6);
    try {
      await addRooms(cluster, [9999, 7777]);
      await collector.start();
      await until(
        "both rooms watched",
        10_000,
        () => collector.rooms.length === 2 ? true : undefined,
      );
      // Any command's --lease-ttl applies when the cluster is created: said, not done.
      const list = captureIO();
      assert.equal(
        await main(["rooms", "--nats", nats.url, "--lease-ttl", "2", "list"], list.io),
        0,
      );
      assert.match(
        list.err.join(""),
        /--lease-ttl 2 applies when the cluster is created; its lease TTL is 8 s/,
      );
      assert.equal(await bucketTtl(), 8000);
      // Shorter, guarded: announced, adopted by the collector, then applied.
      const lower = captureIO();
      assert.equal(
        await main(["rooms", "--nats", nats.url, "set-lease-ttl", "4"], lower.io),
        0,
        lower.err.join(""),
      );
      assert.equal(lower.out.join(""), "lease TTL changed from 8 s to 4 s\n");
      assert.equal(await bucketTtl(), 4000);
      assert.equal(collector.leaseTtl, 4000);
      // Longer: applied, then followed.
      const higher = captureIO();
      assert.equal(await main(["rooms", "--nats", nats.url, "set-lease-ttl", "6"], higher.io), 0);
      assert.equal(await bucketTtl(), 6000);
      await until(
        "the collector follows",
        5000,
        () => collector.leaseTtl === 6000 ? true : undefined,
      );
      // Heartbeats of 4 s or 6 s, it never lost a room on the way.
      await sleep(4500);
      assert.deepEqual(collector.rooms, [7777, 9999]);
      // Its heartbeat, read back: the rooms it holds and their state.
      const [health] = (await overview(cluster)).collectors;
      assert.deepEqual(
        health!.rooms.map((room) => [room.room, room.state]).sort(),
        [[7777, "watching"], [9999, "watching"]],
      );
      assert.equal(health!.leaseTtl, 6000);
      const trouble = events.filter((event) =>
        ["lost", "fenced", "released", "error"].includes(event.type)
      );
      assert.deepEqual(trouble, []);
    } finally {
      await collector.close();
      await watching;
      await cluster.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
); // runtime-free logic, covered on Bun by the scenario: Deno only, to keep test:cluster short

test(
  "--replicas changes an existing stream and buckets; removed rooms leave no delete markers behind",
  async () => {
    const servers = await startNatsCluster();
    try {
      const cluster = await Cluster.connect(servers.urls);
      try {
        const replicas = async () => {
          const names = ["DOUYU", "KV_douyu_rooms", "KV_douyu_leases", "KV_douyu_collectors"];
          return await Promise.all(
            names.map(async (name) => (await cluster.jsm.streams.info(name)).config.num_replicas),
          );
        };
        assert.deepEqual(await replicas(), [1, 1, 1, 1]);
        const up = captureIO();
        assert.equal(
          await main([
            "rooms",
            ...servers.urls.flatMap((url) => ["--nats", url]),
            "--replicas",
            "3",
            "add",
            "9",
          ], up.io),
          0,
          up.err.join(""),
        );
        assert.deepEqual(await replicas(), [3, 3, 3, 3]);
        // Rooms removed: their delete markers go (past a grace the collectors' watches need).
        await addRooms(cluster, [1, 2, 3]);
        await removeRooms(cluster, [1, 2, 9], { markerGrace: 0 });
        const rooms = await cluster.jsm.streams.info("KV_douyu_rooms");
        assert.equal(rooms.state.messages, 1, "delete markers left in douyu_rooms");
        assert.deepEqual((await overview(cluster)).unassigned, [3]);
      } finally {
        await cluster.close();
      }
    } finally {
      await servers.close();
    }
  },
  { ignore: runtime === "bun" },
); // what it checks is the server's or runtime-free: Deno only, to keep test:cluster short

test(
  "JetStream out of storage: the collector says so once, clearly, and carries on once there is room",
  async () => {
    // The server's store limit stands in for a full disk: nats-server 2.9 answers both with
    // "insufficient resources".
    const nats = await startNatsServer({ config: () => "jetstream { max_file_store: 8MB }\n" });
    let seq = 0;
    await using server = await MockServer.start({
      messages: () =>
        (async function* () {
          for (;;) {
            await sleep(50);
            yield { type: "dgb", rid: 9999, nn: "Bo", gfid: 824, seq: seq++ };
          }
        })(),
    });
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager, jetstream } = await import("@nats-io/jetstream");
    const raw = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(raw);
    // A stream without a size limit reserves nothing, so it can be filled past the server's.
    await jsm.streams.add({ name: STREAM_NAME, subjects: ["douyu.>"], max_msg_size: 1024 * 1024 });
    await jsm.streams.add({ name: "FILL", subjects: ["fill.>"] });
    const cluster = await Cluster.connect(nats.url, { leaseTtl: 4000 });
    const [command, ...args] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
    const collector = startChild(command!, [
      ...args,
      "collect",
      "--nats",
      nats.url,
      "--name",
      "a",
      "--url",
      server.url,
    ]);
    try {
      await addRooms(cluster, [9999]);
      await collector.waitFor("stderr", /room 9999: watching/, 15_000);
      const js = jetstream(raw);
      const chunk = new Uint8Array(256 * 1024);
      for (;;) {
        const full = await js.publish("fill.x", chunk).then(() => false, () => true);
        if (full) break;
      }
      const said = /NATS JetStream is not storing messages: .*insufficient/;
      await collector.waitFor("stderr", said, 20_000);
      // Said once, however many heartbeats and publishes fail meanwhile (past the lease TTL).
      await sleep(5000);
      const lines = collector.stderr.split("\n");
      assert.equal(lines.filter((line) => said.test(line)).length, 1, collector.stderr);
      assert.equal(lines.filter((line) => /douyu: error:/.test(line)).length, 0, collector.stderr);
      // Room again: said, and collecting resumes.
      await jsm.streams.delete("FILL");
      await collector.waitFor("stderr", /NATS JetStream stores messages again/, 20_000);
      await collector.waitFor("stderr", /room 9999: watching[^]*room 9999: watching/, 20_000);
      collector.kill("SIGTERM");
      assert.equal(await collector.exited, 0);
    } finally {
      collector.kill("SIGKILL");
      await collector.exited;
      await raw.close();
      await cluster.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
); // what it checks is the server's or runtime-free: Deno only, to keep test:cluster short
