/**
 * A collector's accounts: everything it read from its rooms is published or
 * counted as lost, however it stops; and what rooms send cannot grow its
 * memory without bound.
 */
import assert from "node:assert/strict";
import { runtime, test, until } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { addRooms, Cluster, Collector, subjectOf } from "../../src/nats/mod.ts";
import { SubjectCache } from "../../src/nats/collector.ts";
import { Hub } from "../../src/rooms/hub.ts";
import { BOOKKEEPING_TYPES } from "../../src/protocol/messages.ts";
import { MockServer } from "../../src/testing/mock_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A room that sends gifts for as long as it is read. */
function endlessGifts(room: number) {
  return () =>
    (async function* () {
      for (let seq = 0;; seq++) {
        if (seq % 20 === 0) await sleep(1);
        yield { type: "dgb", rid: room, nn: "Bo", gfid: 824, seq };
      }
    })();
}

test(
  "collector: closed with NATS away, every message it read is published or counted as lost",
  async () => {
    // Every message the hub hands over, and what its queue still held when the pump gave up.
    let handed = 0;
    let queuedAtEnd = 0;
    const original = Hub.prototype.batches;
    Hub.prototype.batches = async function* (this: Hub, max?: number) {
      for await (const batch of original.call(this, max)) {
        handed += batch.filter((item) => !BOOKKEEPING_TYPES.has(item.message.type)).length;
        let finished = false;
        try {
          yield batch;
          finished = true;
        } finally {
          if (!finished) queuedAtEnd = this.queued;
        }
      }
    } as typeof original;
    const nats = await startNatsServer();
    const server = await MockServer.start({ messages: endlessGifts(9999) });
    const cluster = await Cluster.connect(nats.url, { leaseTtl: 8000 });
    const collector = new Collector(cluster, {
      name: "a",
      url: server.url,
      startDelay: 0,
      claimJitter: 0,
      handover: 200,
      flushTimeout: 1000,
      queueSize: 1000,
      publisher: { maxBuffered: 5 },
    });
    try {
      await addRooms(cluster, [9999]);
      await collector.start();
      await until("some published", () => collector.counters.published >= 50);
      await nats.stop();
      // The publisher is full, the pump waits with the rest of its batch in hand.
      await until("the publisher full", () => collector.counters.buffered >= 5);
      await sleep(500);
      await collector.close();
      const { published, unpublished, oversized, rejected } = collector.counters;
      assert.ok(unpublished > 0);
      assert.equal(
        published + unpublished + oversized + rejected,
        handed + queuedAtEnd,
        JSON.stringify({ handed, queuedAtEnd, ...collector.counters }),
      );
    } finally {
      Hub.prototype.batches = original;
      await collector.close();
      await cluster.close();
      await server.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
); // runtime-free accounting: Deno only, to keep test:cluster short

test("collector: the subjects it keeps are bounded, whatever types and rooms come", () => {
  const cache = new SubjectCache();
  for (let i = 0; i < 5000; i++) {
    // Distinct types, long ones among them: none may stay beyond the bound.
    const type = i % 2 === 0 ? `t${i}` : `t${i}_${"x".repeat(2000)}`;
    assert.equal(cache.get(1, type), subjectOf(1, type));
  }
  assert.ok(cache.size <= 64, `${cache.size} kept`);
  for (let room = 0; room < 30_000; room++) cache.get(room, "chatmsg");
  assert.ok(cache.size <= 10_000, `${cache.size} kept`);
  assert.equal(cache.get(7, "chatmsg"), "douyu.7.chatmsg");
  assert.equal(cache.get(7, "a.b"), "douyu.7._");
});
