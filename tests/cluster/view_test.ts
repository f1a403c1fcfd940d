/**
 * `BucketView` against a real nats-server: a reload that fails (a request
 * timing out on a busy server) does not leave the view following nothing; it
 * reads the bucket again by itself, and `stop()` ends those retries at once.
 */
import assert from "node:assert/strict";
import { failure, test, until } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { Cluster } from "../../src/nats/mod.ts";
import { BucketView } from "../../src/nats/view.ts";

/** Generous: the retry backs off 125–250 ms first, but a busy 2-core machine is slow. */
const SEEN_WITHIN_MS = 10_000;

/**
 * The cluster's JetStream manager with `streams.info` (the snapshot's first
 * request) failing while `fail()` says so, as a request timing out would.
 */
function failingInfo(cluster: Cluster, fail: () => boolean): Cluster["jsm"] {
  const streams = new Proxy(cluster.jsm.streams, {
    get(target, prop) {
      if (prop === "info" && fail()) {
        return () => Promise.reject(new Error("TIMEOUT (simulated)"));
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return new Proxy(cluster.jsm, {
    get: (target, prop) => prop === "streams" ? streams : Reflect.get(target, prop),
  });
}

/** The changes a view reports, as `key:put` / `key:del`, with `(reloaded)` when found by a read. */
function recorder(): { seen: string[]; listener: ConstructorParameters<typeof BucketView>[4] } {
  const seen: string[] = [];
  return {
    seen,
    listener: (key, entry, reloaded) =>
      void seen.push(
        `${key}:${entry === undefined ? "del" : "put"}${reloaded ? " (reloaded)" : ""}`,
      ),
  };
}

test(
  "a view whose reload fails follows the bucket again: changes made after the failure are seen",
  async () => {
    const nats = await startNatsServer();
    const cluster = await Cluster.connect(nats.url);
    const life = new AbortController();
    let failNext = false;
    const jsm = failingInfo(cluster, () => {
      const fail = failNext;
      failNext = false;
      return fail;
    });
    const { seen, listener } = recorder();
    const view = new BucketView(cluster.js, jsm, cluster.rooms, "douyu_rooms", listener);
    try {
      await view.load(life.signal);
      await cluster.rooms.put("1001", "{}");
      await until("the first put", () => view.entries.has("1001"), SEEN_WITHIN_MS);

      failNext = true;
      const error = await failure(view.load(life.signal));
      assert.match(String(error), /TIMEOUT \(simulated\)/);
      assert.ok(view.entries.has("1001"), "a failed reload keeps what the view had");

      await cluster.rooms.put("1002", "{}");
      await cluster.rooms.delete("1001");
      await until(
        "the put and the delete made after the failed reload",
        () => view.entries.has("1002") && !view.entries.has("1001"),
        SEEN_WITHIN_MS,
      );
      // Followed again, not merely read once more: a later change comes by the watch.
      await cluster.rooms.put("1003", "{}");
      await until("a put after the retry", () => seen.includes("1003:put"), SEEN_WITHIN_MS);
      assert.deepEqual([...view.entries.keys()].sort(), ["1002", "1003"]);
    } finally {
      life.abort();
      await view.stop();
      await cluster.close();
      await nats.close();
    }
  },
  { timeout: 60_000 },
);

test(
  "a view whose watch cannot be started after its snapshot follows the bucket again",
  async () => {
    const nats = await startNatsServer();
    const cluster = await Cluster.connect(nats.url);
    const life = new AbortController();
    let failNext = false;
    const kv = new Proxy(cluster.rooms, {
      get(target, prop) {
        if (prop === "watch" && failNext) {
          failNext = false;
          return () => Promise.reject(new Error("TIMEOUT (simulated)"));
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { seen, listener } = recorder();
    const view = new BucketView(cluster.js, cluster.jsm, kv, "douyu_rooms", listener);
    try {
      await view.load(life.signal);
      failNext = true;
      await failure(view.load(life.signal));
      await cluster.rooms.put("2001", "{}");
      await until(
        "a put made after the failed reload",
        () => view.entries.has("2001"),
        SEEN_WITHIN_MS,
      );
      await cluster.rooms.put("2002", "{}");
      await until("a put after the retry", () => seen.includes("2002:put"), SEEN_WITHIN_MS);
    } finally {
      life.abort();
      await view.stop();
      await cluster.close();
      await nats.close();
    }
  },
  { timeout: 60_000 },
);

test("stop() ends a failed view's retries at once, its signal still live", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  const life = new AbortController();
  let failing = true;
  const jsm = failingInfo(cluster, () => failing);
  const { listener } = recorder();
  const view = new BucketView(cluster.js, jsm, cluster.rooms, "douyu_rooms", listener);
  try {
    await failure(view.load(life.signal));
    // Let a retry or two fail too, then stop without aborting the signal: no timer may be left.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const started = performance.now();
    await view.stop();
    assert.ok(performance.now() - started < 2000, "stop() waited for a retry's backoff");
    failing = false;
    await cluster.rooms.put("3001", "{}");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(view.entries.size, 0, "a stopped view retried nonetheless");
  } finally {
    life.abort();
    await view.stop();
    await cluster.close();
    await nats.close();
  }
}, { timeout: 60_000 });
