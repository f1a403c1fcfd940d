/**
 * Reading the SQLite archive by pages: every way a day is read (by time,
 * by a sender, by a search) gives the rows a plain filter of what was
 * written gives, in order, across page edges, bursts in one millisecond
 * and days.
 */
import assert from "node:assert/strict";
import { Archive } from "../src/archive/archive.ts";
import { dayName, dayOf } from "../src/archive/days.ts";
import type { ArchiveQuery } from "../src/archive/store.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";
import { collect, withArchive } from "./archive/helpers.ts";

const ROOM = 9999;
const T0 = Date.UTC(2024, 4, 1, 20);
const WORDS = ["主播", "好", "6", "666", "gg", "哈哈", "来了", "牛"];

/** When the second day's messages begin. */
const DAY2 = T0 + 5 * 3_600_000;

/**
 * Messages of two days in one room (and a few in another), many in the
 * same millisecond: bursts of 40, and one of 300 (more than a first page).
 */
function messages(): TimedMessage[] {
  const random = seededRandom(7);
  const items: TimedMessage[] = [];
  let t = T0;
  for (let n = 0; n < 12_000; n++) {
    // Time goes on by 0 to 2 ms, with bursts at one millisecond, and a jump to day 2.
    if (n === 8000) t = DAY2;
    else if (n % 500 >= 40 && !(n >= 1000 && n < 1300)) t += Math.floor(random() * 3);
    const uid = 1 + Math.floor(random() * 30);
    const name = uid % 7 === 0 && n % 2 === 0 ? `renamed${uid}` : `u${uid}`;
    const room = n % 11 === 10 ? ROOM + 1 : ROOM;
    const kind = random();
    const message = kind < 0.6
      ? {
        type: "chatmsg",
        uid: String(uid),
        nn: name,
        txt: Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          WORDS[Math.floor(random() * WORDS.length)]).join(""),
        cid: `c${n}`,
        n: String(n),
      }
      : kind < 0.9
      ? { type: "uenter", uid: String(uid), nn: name, n: String(n) }
      : { type: "dgb", uid: String(uid), nn: name, gfid: "824", gfcnt: "1", n: String(n) };
    items.push({ t, room, message });
  }
  return items;
}

/** What a query must give: a plain filter of what was written, in order. */
function expected(items: readonly TimedMessage[], query: ArchiveQuery): string[] {
  const found = items.filter(({ t, room, message }) => {
    if (room !== query.room) return false;
    if (query.since !== undefined && t < query.since) return false;
    if (query.until !== undefined && t >= query.until) return false;
    if (query.types !== undefined && !query.types.includes(message.type)) return false;
    const user = query.user;
    if (
      user !== undefined &&
      !(user.uid !== undefined && message.uid === String(user.uid)) &&
      !(user.name !== undefined && message.nn === user.name)
    ) return false;
    if (query.search !== undefined && !String(message.txt ?? "").includes(query.search)) {
      return false;
    }
    return true;
  }).map(({ message }) => String(message.n));
  return query.limit === undefined ? found : found.slice(-query.limit);
}

/** The queries: each way of reading, with and without limits that cross page edges. */
function queries(): ArchiveQuery[] {
  const out: ArchiveQuery[] = [];
  const mid = T0 + 600;
  const shapes: Omit<ArchiveQuery, "room">[] = [
    {},
    { since: mid },
    { until: mid },
    { since: T0 + 100, until: DAY2 + 300 },
    { until: DAY2 },
    { types: ["uenter"] },
    { types: ["chatmsg", "dgb"], since: mid },
    { user: { uid: 7 } },
    { user: { name: "u8" } },
    { user: { uid: 7, name: "u8" } },
    { user: { name: "renamed14" }, since: mid },
    { user: { uid: 3 }, types: ["chatmsg"] },
    { search: "主播" },
    { search: "6" },
    { search: "666" },
    { search: "gg", until: mid },
    { search: "哈", user: { uid: 5 } },
  ];
  for (const shape of shapes) {
    for (const limit of [undefined, 1, 100, 257, 1100, 5000]) {
      out.push({ room: ROOM, ...shape, ...(limit === undefined ? {} : { limit }) });
    }
  }
  return out;
}

test("archive read: every way of reading gives a plain filter's rows, in order, across pages and days", async () => {
  const items = messages();
  await withArchive(async (archive) => {
    for (const item of items) archive.write(item);
    await archive.flush();
    for (const query of queries()) {
      const got = (await collect(archive.query(query))).map(({ message }) => String(message.n));
      const want = expected(items, query);
      assert.deepEqual(got, want, JSON.stringify(query));
    }
    // Enough rows that each way needed several pages: newest first through the time index
    // within one day (more than 4096), and through the search index past its first page
    // (candidates the check refuses: texts with "66" but not "666").
    assert.ok(expected(items, { room: ROOM, until: DAY2 }).length > 5000);
    assert.ok(expected(items, { room: ROOM, search: "6" }).length > 1000);
    const hits = new Set(expected(items, { room: ROOM, search: "666" }));
    const newest = expected(items, { room: ROOM, search: "66", since: DAY2 }).slice(-100);
    assert.ok(newest.some((n) => !hits.has(n)), "the check refuses some of a first page of 100");
    assert.ok(hits.size > 100);
  });
});

test("archive read: messages written late, into milliseconds already full, come back in time order every way", async () => {
  // More than 16 messages in one millisecond take ids that stand for later ones; a message
  // written late into such a millisecond then had an id after later messages', and a query
  // by user or search gave it out of time order (a limit could pick the wrong ones).
  const random = seededRandom(11);
  const items = messages();
  const late = new Set(items.map((_, i) => i).filter(() => random() < 0.05));
  const written = [...items.filter((_, i) => !late.has(i)), ...items.filter((_, i) => late.has(i))];
  await withArchive(async (archive, path) => {
    for (let i = 0; i < written.length; i += 1000) {
      for (const item of written.slice(i, i + 1000)) archive.write(item);
      await archive.flush();
    }
    // The time index's order (ties by id) is the order: every message once, in time order.
    const order = await collect(archive.query({ room: ROOM }));
    assert.deepEqual(
      order.map(({ message }) => Number(message.n)).sort((a, b) => a - b),
      items.flatMap(({ room, message }) => room === ROOM ? [Number(message.n)] : []),
    );
    assert.ok(order.every((item, i) => i === 0 || order[i - 1]!.t <= item.t));
    const check = async (reader: Archive) => {
      for (const query of queries()) {
        const got = (await collect(reader.query(query))).map(({ message }) => String(message.n));
        assert.deepEqual(got, expected(order, query), JSON.stringify(query));
      }
    };
    await check(archive);
    await archive.close();
    // A file of an earlier version has no lags: each day is read whole, then put in order.
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE day_lags");
    db.close();
    await using old = await Archive.open(path, { readOnly: true });
    await check(old);
  });
});

test("archive read: once the writer moves past a day, its search index is merged into one segment, a step per commit", async () => {
  const items = messages();
  const day1 = items.filter(({ t }) => t < DAY2);
  const day2 = items.filter(({ t }) => t >= DAY2);
  const searches: ArchiveQuery[] = [
    { room: ROOM, search: "主播" },
    { room: ROOM, search: "6", limit: 300 },
    { room: ROOM, user: { uid: 7 } },
  ];
  await withArchive(async (archive, path) => {
    // Day 1 in many commits: its index has many segments.
    for (let i = 0; i < day1.length; i += 50) {
      for (const item of day1.slice(i, i + 50)) archive.write(item);
      await archive.flush();
    }
    const segmentsBefore = await segments(path, "20240501");
    assert.ok(segmentsBefore > 1, `day 1 has ${segmentsBefore} segments`);
    // Day 2, also in many commits: each begins with a step of merging day 1.
    for (let i = 0; i < day2.length; i += 50) {
      for (const item of day2.slice(i, i + 50)) archive.write(item);
      await archive.flush();
    }
    assert.equal(await segments(path, "20240501"), 1);
    const current = await segments(path, "20240502");
    assert.ok(current >= 5, `the day being written is left alone: ${current} segments`);
    for (const query of searches) {
      const got = (await collect(archive.query(query))).map(({ message }) => String(message.n));
      assert.deepEqual(got, expected(items, query), JSON.stringify(query));
    }
  });
});

/** The segments of a day's search index. */
async function segments(path: string, day: string): Promise<number> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(`SELECT count(DISTINCT segid) AS n FROM f_${day}_idx`).get() as {
      n: number;
    }).n;
  } finally {
    db.close();
  }
}

test("archive read: a past day that another writer's retention dropped is not merged, and writing goes on", async () => {
  const items = messages();
  const day1 = items.filter(({ t }) => t < DAY2);
  const day2 = items.filter(({ t }) => t >= DAY2);
  await withArchive(async (archive, path) => {
    for (let i = 0; i < day1.length; i += 1000) {
      for (const item of day1.slice(i, i + 1000)) archive.write(item);
      await archive.flush();
    }
    // Another writer of the same file keeps one day, a day later: day 1's tables go.
    const other = await Archive.open(path);
    assert.deepEqual(await other.retain(1, DAY2 + 86_400_000), [dayOf(T0)]);
    await other.close();
    for (let i = 0; i < day2.length; i += 1000) {
      for (const item of day2.slice(i, i + 1000)) archive.write(item);
      await archive.flush();
    }
    assert.equal(archive.counters.stored, items.length);
    const query: ArchiveQuery = { room: ROOM, search: "6" };
    const got = (await collect(archive.query(query))).map(({ message }) => String(message.n));
    assert.deepEqual(got, expected(day2, query));
  });
});

test("archive read: a message whose block is gone is an error, whichever index finds it", async () => {
  const items = messages().filter(({ t }) => t < DAY2).slice(0, 500);
  await withArchive(async (archive, path) => {
    for (const item of items) archive.write(item);
    await archive.flush();
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    try {
      // A damaged file: the first block of the day is gone, its rows still there.
      db.exec(
        `DELETE FROM b_${dayName(dayOf(T0))} WHERE id = (SELECT min(id) FROM b_${
          dayName(dayOf(T0))
        })`,
      );
    } finally {
      db.close();
    }
    const first = items.find(({ room }) => room === ROOM)!;
    const queries: ArchiveQuery[] = [
      { room: ROOM },
      { room: ROOM, limit: 1000 },
      { room: ROOM, user: { uid: Number(first.message.uid) } },
      { room: ROOM, user: { uid: Number(first.message.uid) }, limit: 1000 },
    ];
    for (const query of queries) {
      await assert.rejects(collect(archive.query(query)), /has no line/, JSON.stringify(query));
    }
  });
});
