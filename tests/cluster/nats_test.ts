/**
 * `@x/douyu/nats` and its commands against a real nats-server, piece by
 * piece: what `consume` prints, de-duplication, a lost lease, the `rooms`
 * command, filters and durable consumers, failures as one line.
 */
import assert from "node:assert/strict";
import { test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
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
  STREAM_NAME,
  subjectOf,
  subscribe,
} from "../../src/nats/mod.ts";
import { messageHeaders } from "../../src/nats/cluster.ts";
import { StreamPublisher } from "../../src/nats/publisher.ts";
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
});

test("subscribe: rooms, types, since; a durable consumer resumes", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  try {
    const publisher = new StreamPublisher(cluster.connection);
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
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

    const read = async (options: Parameters<typeof subscribe>[1], count: number) => {
      const items = [];
      const subscription = subscribe(cluster, options);
      for await (const item of subscription) {
        items.push(`${item.room}.${item.message.type}.${(item.message as { n?: string }).n}`);
        if (items.length === count) break;
      }
      return items;
    };
    assert.deepEqual(
      await read({ rooms: [1], types: ["chatmsg"], since: 0 }, 6),
      ["1.chatmsg.1", "1.chatmsg.2", "1.chatmsg.3", "1.chatmsg.4", "1.chatmsg.5", "1.chatmsg.6"],
    );
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
    // A durable reader resumes: a message is acknowledged when the loop asks for the next one,
    // so the one it stopped at (its body may not have finished) comes again, at once.
    const durable = { rooms: [2], types: ["dgb"], since: 0, durable: "reader" } as const;
    assert.deepEqual(await read(durable, 2), ["2.dgb.1", "2.dgb.2"]);
    // (The server may hand out the ones fetched ahead before the one naked: order is not kept.)
    assert.deepEqual(
      (await read(durable, 5)).sort(),
      ["2.dgb.2", "2.dgb.3", "2.dgb.4", "2.dgb.5", "2.dgb.6"],
    );
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
    // Goodbyes (2 s at most each: heartbeat, then the leases together), handover, last acks.
    assert.ok(took < 7000, `close() took ${took} ms with NATS away`);
    assert.equal(collector.counters.maxBuffered, 5);
  } finally {
    await collector.close();
    await cluster.close();
    await nats.close();
  }
});
