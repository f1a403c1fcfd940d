/**
 * Reading the stream back against a real nats-server: durable readers
 * resume at once and in order, refuse what they cannot honour, and every
 * reader reports what the stream's retention removed before it got it.
 */
import assert from "node:assert/strict";
import { test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { main } from "../../src/cli/cli.ts";
import { Cluster, type ReadGap, subjectOf, subscribe } from "../../src/nats/mod.ts";
import { messageHeaders } from "../../src/nats/cluster.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (text: string) => void out.push(text),
      stderr: (text: string) => void err.push(text),
    },
  };
}

test("a durable reader resumes at once with the message it stopped at, in order, while messages keep coming", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  let n = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      for (let k = 0; k < 5; k++) {
        n++;
        await cluster.js.publish(subjectOf(1, "dgb"), encode({ type: "dgb", n: String(n) }), {
          headers: messageHeaders(1, n, "a"),
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    while (n < 20) await new Promise((resolve) => setTimeout(resolve, 10));
    let previous: number | undefined;
    let first = true;
    for (let run = 0; run < 6; run++) {
      const started = Date.now();
      const got: number[] = [];
      const reader = subscribe(cluster, { durable: "reader", ...(first ? { since: 0 } : {}) });
      first = false;
      for await (const item of reader) {
        got.push(Number((item.message as { n?: string }).n));
        if (got.length === 40) break;
      }
      const took = Date.now() - started;
      // The one it stopped at comes first (it may not have been finished), at once.
      if (previous !== undefined) assert.equal(got[0], previous, `run ${run}: ${got.slice(0, 5)}`);
      else assert.equal(got[0], 1);
      for (let i = 1; i < got.length; i++) {
        assert.equal(got[i], got[i - 1]! + 1, `run ${run} out of order: ${got.join(",")}`);
      }
      assert.ok(took < 3000, `run ${run} took ${took} ms`);
      previous = got.at(-1);
    }
    // --since for a reader that exists is refused, not silently ignored.
    const since = captureIO();
    assert.equal(
      await main(["consume", "--nats", nats.url, "--durable", "reader", "--since", "1h"], since.io),
      1,
    );
    assert.match(since.err.join(""), /durable reader reader exists .*--since applies when/);
    // One process at a time per durable reader.
    const holder = subscribe(cluster, { durable: "reader" });
    const iterator = holder[Symbol.asyncIterator]();
    await iterator.next();
    const second = subscribe(cluster, { durable: "reader" });
    await assert.rejects(
      (async () => {
        for await (const _ of second) break;
      })(),
      /in use by another process/,
    );
    await iterator.return!();
  } finally {
    publishing = false;
    await publisher;
    await cluster.close();
    await nats.close();
  }
});

test("what the retention removed before a reader got it is reported: exact for all, at most for some", async () => {
  const nats = await startNatsServer();
  // The smallest stream: 1 MiB; each message about 10 KiB, so about 100 fit.
  const cluster = await Cluster.connect(nats.url, { maxBytes: 1024 * 1024 });
  const body = "x".repeat(10_000);
  const publish = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      await cluster.js.publish(
        subjectOf(i % 2 === 0 ? 2 : 1, "chatmsg"),
        encode({ type: "chatmsg", n: String(i), txt: body }),
        { headers: messageHeaders(1, i, "a") },
      );
    }
  };
  try {
    await publish(1, 10);
    // Two durable readers read the first five, then stop.
    for (const options of [{ durable: "all" }, { durable: "some", rooms: [1] }]) {
      let count = 0;
      for await (const _ of subscribe(cluster, { ...options, since: 0 })) {
        if (++count === 5) break;
      }
    }
    await publish(11, 400); // the stream keeps the last ~100: 1..~300 are gone
    const info = await cluster.jsm.streams.info("DOUYU");
    const first = info.state.first_seq;
    assert.ok(first > 100, `first sequence ${first}`);
    // Everything: the gap is exact (4 finished; the 5th, where it stopped, and on are gone).
    const gaps: ReadGap[] = [];
    const all = subscribe(cluster, { durable: "all", onGap: (gap) => gaps.push(gap) });
    for await (const item of all) {
      if (item.seq >= first) break;
    }
    assert.deepEqual(gaps, [{ from: 5, to: first - 1, count: first - 5, exact: true }]);
    assert.equal(all.missed, first - 5);
    // One room of two: at most the whole range (about half of it was room 1's).
    const cli = captureIO();
    assert.equal(
      await main([
        "consume",
        "--nats",
        nats.url,
        "--durable",
        "some",
        "--rooms",
        "1",
        "--json",
        "--count",
        "3",
      ], cli.io),
      0,
      cli.err.join(""),
    );
    const said = cli.err.join("");
    assert.match(said, /up to \d+ messages removed by the stream's retention before this reader/);
    assert.match(said, /messages missed in all/);
  } finally {
    await cluster.close();
    await nats.close();
  }
});

test("retention: a new stream keeps 16 GiB, or the largest half of it the server has room for, and says what it holds", async () => {
  const nats = await startNatsServer({ config: () => "jetstream { max_file_store: 3GB }\n" });
  try {
    const cluster = await Cluster.connect(nats.url);
    try {
      const info = await cluster.jsm.streams.info("DOUYU");
      assert.equal(info.config.max_bytes, 2 * 1024 ** 3); // 16, 8, 4 GiB do not fit in 3 GB
    } finally {
      await cluster.close();
    }
    const list = captureIO();
    assert.equal(await main(["rooms", "--nats", nats.url, "list"], list.io), 0, list.err.join(""));
    assert.match(list.out.join(""), /^stream: 0 messages, 0 B; keeps 2\.0 GiB or 7 d$/m);
    assert.match(list.out.join(""), /^lease TTL: 15 s$/m);
  } finally {
    await nats.close();
  }
});

test("a durable reader ended while it opens lets its name go: the next one opens at once", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  let n = 0;
  const publish = async () => {
    n++;
    await cluster.js.publish(subjectOf(1, "dgb"), encode({ type: "dgb", n: String(n) }), {
      headers: messageHeaders(1, n, "a"),
    });
  };
  // Opens a reader of `name`, ends it at a moment of its opening, and checks its loop ended.
  const endEarly = async (name: string, how: "close" | "abort", moment: () => Promise<void>) => {
    const controller = new AbortController();
    const reader = subscribe(cluster, { durable: name, signal: controller.signal });
    const iterator = reader[Symbol.asyncIterator]();
    // Settled either way, so a failure while we wait is reported here, not as unhandled.
    const first = iterator.next().then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    await moment();
    if (how === "close") await reader.close();
    else controller.abort();
    const outcome = await first;
    assert.ok("result" in outcome, `${name}: ${"error" in outcome ? outcome.error : ""}`);
    assert.equal(outcome.result.done, true, name);
  };
  const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const moments: [string, () => Promise<void>][] = [
    // Right after the loop asked: the reader is suspended at its first await.
    ["at-once", () => Promise.resolve()],
    ["next-tick", async () => await Promise.resolve()],
    ...[0, 1, 2, 5].map((ms): [string, () => Promise<void>] => [`${ms}ms`, () => wait(ms)]),
  ];
  try {
    for (const [label, moment] of moments) {
      for (const how of ["close", "abort"] as const) {
        const name = `early-${label}-${how}`;
        await endEarly(name, how, moment);
        // A message after where it stopped: the next reader of the name opens (it is not
        // refused as "in use" for the 15 s a running reader's claim lasts) and gets it.
        await publish();
        const next = subscribe(cluster, { durable: name });
        const iterator = next[Symbol.asyncIterator]();
        try {
          const got = await iterator.next();
          assert.equal(got.done, false, name);
          assert.equal((got.value?.message as { n?: string }).n, String(n), name);
        } finally {
          await iterator.return!();
        }
      }
    }
    // The stream gone once the position is claimed: the reader fails, and lets the name go
    // (the next one fails the same way, not as "in use").
    for await (const _ of subscribe(cluster, { durable: "stream-gone", since: 0 })) break;
    await cluster.jsm.streams.delete("DOUYU");
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(
        (async () => {
          for await (const _ of subscribe(cluster, { durable: "stream-gone" })) break;
        })(),
        (error: unknown) => {
          assert.doesNotMatch(String(error), /in use/, `attempt ${attempt}`);
          assert.match(String(error), /stream not found/i, `attempt ${attempt}`);
          return true;
        },
      );
    }
  } finally {
    await cluster.close();
    await nats.close();
  }
});
