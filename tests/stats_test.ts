/**
 * `douyu stats` on SQLite: the roll-ups' statistics equal those computed
 * from every message, over random ranges that start and end inside hours
 * and days; the timeline (gaps, live and offline); the command's JSON,
 * terminal summary and page, with hostile names.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Archive } from "../src/archive/archive.ts";
import { edgeRanges, MINUTE_MS, summarize } from "../src/archive/stats.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { statsPage } from "../src/archive/stats_page.ts";
import { sparkline, summaryText } from "../src/cli/stats.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { run } from "./cli_helpers.ts";
import { seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";
import { loadSource } from "./archive/corpus.ts";
import { pricedStream, referenceStats, streamStatuses } from "./archive/stats_data.ts";
import { withArchive, withDir } from "./archive/helpers.ts";

// 20:17:31 on the last day of April: the stream runs past midnight, into May.
const START = Date.UTC(2024, 3, 30, 20, 17, 31, 250);
const OPTIONS = { messages: 6000, start: START, hours: 5, rooms: 2 };

/** Writes a stream in several commits, with its status changes. */
async function fill(archive: Archive, items: readonly TimedMessage[]): Promise<void> {
  for (const status of streamStatuses(OPTIONS)) archive.writeStatus(status);
  for (let i = 0; i < items.length; i++) {
    archive.write(items[i]!);
    if (i % 1777 === 0) await archive.flush();
  }
  await archive.flush();
}

test("stats: the roll-ups give what every message gives, over ranges inside hours and days", async () => {
  const items = [...pricedStream(await loadSource(), OPTIONS)];
  await withArchive(async (archive) => {
    await fill(archive, items);
    const random = seededRandom(11);
    const floor = (t: number) => Math.floor(t / MINUTE_MS) * MINUTE_MS;
    const ceil = (t: number) => Math.ceil(t / MINUTE_MS) * MINUTE_MS;
    const end = items.at(-1)!.t;
    const ranges: [number, number][] = [
      [START, end + 1], // whole
      [Date.UTC(2024, 3, 30, 21), Date.UTC(2024, 4, 1, 0)], // whole hours only
      [START + 60_000, START + 20 * 60_000], // inside one hour
    ];
    for (let i = 0; i < 12; i++) {
      const a = START + random() * (end - START);
      const b = START + random() * (end - START);
      ranges.push([Math.min(a, b), Math.max(a, b) + 1]);
    }
    for (const [since, until] of ranges) {
      const { stats } = await archive.stats(1001, { since, until });
      const expected = referenceStats(items, 1001, floor(since), ceil(until));
      assert.deepEqual(stats, expected, `range ${since}..${until}`);
      assert.ok(stats.topChatters.length <= 10 && stats.topGifters.length <= 10);
    }
    // Without a range: the minutes that have messages.
    const { stats } = await archive.stats(1001);
    const first = floor(items[0]!.t);
    const last = floor(items.filter((item) => item.room === 1001).at(-1)!.t) + MINUTE_MS;
    assert.deepEqual(stats, referenceStats(items, 1001, first, last));
    assert.ok(stats.revenue.total > 0 && stats.superChats.count > 0 && stats.chatters > 100);
    // The other room's statistics are its own.
    const other = await archive.stats(1002, { since: START, until: end + 1 });
    assert.deepEqual(other.stats, referenceStats(items, 1002, floor(START), ceil(end + 1)));
  });
});

test("stats: a big-gift broadcast (spbc) is not the room's revenue, even when priced", async () => {
  await withArchive(async (archive) => {
    const t = Date.UTC(2024, 4, 1, 12);
    const gift = (type: string, fen: number) => ({
      kind: "gift" as const,
      id: "20004",
      prop: false,
      name: "火箭",
      count: 1,
      unitPriceFen: fen,
      unitPrice: fen / 100,
      valueFen: fen,
      value: fen / 100,
      paid: true,
      icon: undefined,
      type,
    });
    archive.write({
      t,
      room: 7,
      message: parseMessage("type@=dgb/rid@=7/uid@=5/nn@=Bo/gfid@=20004/gfcnt@=1/"),
      gift: gift("dgb", 50_000),
    });
    archive.write({
      t: t + 10,
      room: 7,
      message: parseMessage("type@=spbc/rid@=7/drid@=7/sn@=Bo/gfid@=20004/gc@=1/"),
      gift: gift("spbc", 50_000),
    });
    // A gift whose id is the super chats' key (any id can come from the wire) is not one.
    archive.write({
      t: t + 20,
      room: 7,
      message: parseMessage("type@=dgb/rid@=7/uid@=6/nn@=Cy/gfid@=superchat/gfn@=x/gfcnt@=1/"),
    });
    await archive.flush();
    const { stats } = await archive.stats(7);
    assert.equal(stats.revenue.total, 500);
    assert.ok(!stats.revenue.byGift.some((gift) => gift.id === "superchat"));
    assert.deepEqual(stats.revenue.byGift.filter((gift) => gift.value > 0), [
      { id: "20004", name: "火箭", count: 1, value: 500 },
    ]);
    assert.deepEqual(stats.topGifters.filter((gifter) => gifter.value > 0), [
      { uid: 5, name: "Bo", count: 1, value: 500 },
    ]);
    assert.deepEqual(stats.messages, { dgb: 2, spbc: 1 });
  });
});

test("stats: the timeline has the gap and the stream going offline and live again", async () => {
  const items = [...pricedStream(await loadSource(), { ...OPTIONS, messages: 1500 })];
  await withArchive(async (archive) => {
    await fill(archive, items);
    const { timeline } = await archive.stats(1001);
    assert.deepEqual(timeline.statuses.map((s) => s.status), [
      "started",
      "disconnected",
      "connected",
    ]);
    assert.deepEqual(timeline.live.map((change) => change.live), [true, false, true]);
    const rss = items.filter((item) => item.message.type === "rss").map((item) => item.t);
    assert.deepEqual(timeline.live.map((change) => change.t), rss);
  });
});

test("stats: the edge pieces of a range are its partial hours, and only those", () => {
  const h = 3_600_000;
  assert.deepEqual(edgeRanges(2 * h, 5 * h), []);
  assert.deepEqual(edgeRanges(2 * h + 60_000, 5 * h), [[2 * h + 60_000, 3 * h]]);
  assert.deepEqual(edgeRanges(2 * h, 5 * h + 60_000), [[5 * h, 5 * h + 60_000]]);
  assert.deepEqual(edgeRanges(2 * h + 60_000, 2 * h + 120_000), [[
    2 * h + 60_000,
    2 * h + 120_000,
  ]]);
  assert.deepEqual(edgeRanges(5, 5), []);
});

test("stats: the sparkline squeezes minutes into its width", () => {
  assert.equal(sparkline([]), "");
  assert.equal(sparkline([0, 0, 0]), "▁▁▁");
  assert.equal(sparkline([1, 1, 1, 1, 8, 8], 3), "▁▁█");
  assert.equal([...sparkline(Array.from({ length: 500 }, (_, i) => i))].length, 60);
});

const HOSTILE = "\u001b]0;owned\u0007\u001b[2J<img src=x onerror=alert(1)>\u202eevil\u0000";

test("stats: a hostile name reaches neither the terminal nor the page as anything but text", () => {
  const stats = summarize(9, 0, 60_000, {
    minutes: [{ minute: 0, type: "chatmsg", messages: 1, items: 0, value: 0, unpriced: 0 }],
    gifts: [{ gift: "1", name: HOSTILE, items: 1, value: 100 }],
    users: [{ uid: 1, name: HOSTILE, chats: 1, gifts: 1, value: 100 }],
  });
  const text = summaryText(stats);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  assert.match(text, /owned/);
  const page = statsPage(stats, { statuses: [], live: [] });
  assert.ok(!page.includes("<img") && !page.includes("\u001b") && !page.includes("\u0000"));
  // Names show their invisible characters as escapes, as the terminal and the exports do.
  assert.ok(
    page.includes(
      "<bdi>&#60;U+001B&#62;]0;owned&#60;U+0007&#62;&#60;U+001B&#62;[2J&#60;img src=x " +
        "onerror=alert(1)&#62;&#60;U+202E&#62;evil&#60;U+0000&#62;</bdi>",
    ),
  );
  // Gift names lose them, as chat texts do.
  assert.ok(page.includes("<bdi>]0;owned[2J&#60;img src=x onerror=alert(1)&#62;evil</bdi>"));
});

test("stats cli: --json has exactly the documented fields; the summary and the page are written", async () => {
  const items = [...pricedStream(await loadSource(), { ...OPTIONS, messages: 2000 })];
  for (let i = 0; i < 30; i++) {
    items.push({
      t: START + 1000 + i,
      room: 1001,
      message: parseMessage(
        `type@=chatmsg/rid@=1001/uid@=42/nn@=${
          HOSTILE.replace("\u0000", "")
        }/txt@=hi/cid@=abc${i}/`,
      ),
    });
  }
  items.sort((a, b) => a.t - b.t);
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const archive = await Archive.open(db);
    try {
      await fill(archive, items);
    } finally {
      await archive.close();
    }
    const json = await run(["stats", "--db", db, "1001", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    // The hostile name's bidi override is escaped, as in every --json line: never raw.
    assert.ok(json.stdout.includes("\\u202e"), "the name is not in the output");
    assert.doesNotMatch(json.stdout, /[\u007f-\u009f\u202a-\u202e]/);
    const stats = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(stats), [
      "room",
      "since",
      "until",
      "messages",
      "chatters",
      "perMinute",
      "topChatters",
      "topGifters",
      "revenue",
      "superChats",
    ]);
    assert.deepEqual(Object.keys(stats.perMinute[0]), ["t", "chat", "gifts", "value"]);
    assert.deepEqual(Object.keys(stats.revenue), ["total", "byGift"]);
    assert.deepEqual(Object.keys(stats.superChats), ["count", "value"]);
    const first = Math.floor(items[0]!.t / MINUTE_MS) * MINUTE_MS;
    const last = Math.floor(items.filter((i) => i.room === 1001).at(-1)!.t / MINUTE_MS + 1) *
      MINUTE_MS;
    assert.deepEqual(stats, referenceStats(items, 1001, first, last));

    const summary = await run(["stats", "--db", db, "1001"]);
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, /^room 1001: /);
    assert.match(summary.stdout, /chat\/min +[▁▂▃▄▅▆▇█]+/);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(summary.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);

    const page = join(dir, "stats.html");
    const html = await run(["stats", "--db", db, "1001", "--html", page]);
    assert.equal(html.code, 0, html.stderr);
    assert.equal(html.stdout, "");
    const text = await readFile(page, "utf8");
    assert.match(text, /^<!doctype html>/);
    assert.doesNotMatch(text, /<script|<img|https?:\/\//i);
    assert.match(text, /&#60;img src=x onerror=alert\(1\)&#62;/);

    const bad = await run(["stats", "--db", db, "1001", "--since", "yesterday-ish"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since/);
    const missing = await run(["stats", "1001"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--db/);
  });
});
