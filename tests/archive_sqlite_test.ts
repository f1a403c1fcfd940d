/**
 * The SQLite archive on Deno and Bun: what is stored comes back whole, in
 * time order; nothing is stored twice; queries by time, type, user and
 * limit; roll-ups that agree with the messages; retention by whole days;
 * status changes between the messages.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Archive } from "../src/archive/archive.ts";
import { DAY_MS } from "../src/archive/days.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { ArchiveError } from "../src/archive/errors.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { giftOf } from "../src/protocol/gifts.ts";
import { test } from "./harness.ts";
import { generate, loadSource } from "./archive/corpus.ts";
import { chat, collect, itemText, withArchive, withDir } from "./archive/helpers.ts";

const ROOM = 9999;
const T0 = Date.UTC(2024, 4, 1, 20);

test("archive: the real capture's shapes come back whole, in time order, over several days", async () => {
  const source = await loadSource();
  const items = [...generate(source, { messages: 3000, rooms: 3, days: 3, start: T0 })];
  await withArchive(async (archive) => {
    for (const item of items) await archive.write(item);
    await archive.flush();
    assert.equal(archive.counters.stored, items.length);
    assert.equal((await archive.days()).length, 4); // 20:00 on day 1 to 20:00 on day 4
    for (const room of [1001, 1002, 1003]) {
      // Without a price given, a gift reads back with what its message says.
      const expected = items.filter((item) => item.room === room)
        .map((item) => itemText({ ...item, gift: giftOf(item.message) }));
      const got = (await collect(archive.query({ room }))).map(itemText);
      assert.equal(got.length, expected.length);
      assert.deepEqual(got, expected);
    }
  });
});

test("archive: gifts keep the value they had when they arrived", async () => {
  const message = parseMessage("type@=dgb/rid@=9999/uid@=5/nn@=Bob/gfid@=20004/gfcnt@=2/");
  const priced = giftOf(message)!;
  Object.assign(priced, {
    name: "火箭",
    unitPriceFen: 50000,
    unitPrice: 500,
    valueFen: 100000,
    value: 1000,
    paid: true,
  });
  const superChat = parseMessage(
    "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=3000/cet@=60/chatmsg@=nn@A=Cy@Suid@A=8@Stxt@A=hi@S/",
  );
  await withArchive(async (archive) => {
    archive.write({ t: T0, room: ROOM, message, gift: priced });
    archive.write({ t: T0 + 1, room: ROOM, message: parseMessage("type@=dgb/gfid@=1/gfcnt@=3/") });
    archive.write({ t: T0 + 2, room: ROOM, message: superChat });
    await archive.flush();
    const [rocket, unknown, sc] = await collect(archive.query({ room: ROOM }));
    assert.equal(rocket!.gift?.name, "火箭");
    assert.equal(rocket!.gift?.valueFen, 100000);
    assert.equal(rocket!.gift?.unitPriceFen, 50000);
    assert.equal(rocket!.gift?.paid, true);
    // Not priced when it arrived: still unknown, never priced later.
    assert.equal(unknown!.gift?.id, "1");
    assert.equal(unknown!.gift?.count, 3);
    assert.equal(unknown!.gift?.valueFen, undefined);
    assert.equal(sc!.gift?.kind, "superchat");
    assert.equal(sc!.gift?.valueFen, 3000);
    // The user of a super chat is its chat's sender.
    assert.equal((await collect(archive.query({ room: ROOM, user: { uid: 8 } }))).length, 1);
  });
});

test("archive: a chat is stored once per (room, cid), within a commit and across commits", async () => {
  await withArchive(async (archive) => {
    const cid = "fbe0533cc0e049d5e4c7100100000000";
    const first = chat(T0, ROOM, "hi", { cid });
    archive.write(first);
    archive.write(chat(T0 + 5, ROOM, "hi", { cid })); // same commit, arrived again
    await archive.flush();
    archive.write(chat(T0 + 900, ROOM, "hi", { cid })); // a later commit
    archive.write(chat(T0, ROOM + 1, "hi", { cid })); // another room: another chat
    archive.write(chat(T0, ROOM, "hi", { cid: "not-hex-1" }));
    archive.write(chat(T0, ROOM, "hi", { cid: "not-hex-1" }));
    await archive.flush();
    assert.deepEqual(archive.counters, { stored: 3, duplicates: 3, pending: 0, commits: 2 });
    const stored = await collect(archive.query({ room: ROOM }));
    assert.deepEqual(stored.map(itemText), [itemText(first), itemText(stored[1]!)]);
    assert.equal(stored[0]!.message.cid, cid);
    // The roll-up counted each stored chat once.
    const rows = await withReadOnly(
      archive,
      (db) =>
        db.prepare("SELECT sum(messages) AS n FROM minutes_20240501 WHERE room = ?").get(ROOM),
    );
    assert.equal((rows as { n: number }).n, 2);
  });
});

test("archive: stream messages are unique by sequence, file messages by time and content, live ones are not keyed", async () => {
  await withArchive(async (archive) => {
    const gift = parseMessage("type@=dgb/uid@=5/gfid@=824/gfcnt@=1/");
    const results: boolean[] = [];
    const onCommitted = (stored: boolean) => results.push(stored);
    archive.write({ t: T0, room: ROOM, message: gift }, { seq: 7, onCommitted });
    archive.write({ t: T0, room: ROOM, message: gift }, { seq: 7, onCommitted }); // redelivered
    archive.write({ t: T0, room: ROOM, message: gift }, { seq: 8, onCommitted }); // another one
    archive.write({ t: T0 + 1, room: ROOM, message: gift }, { file: true, onCommitted });
    archive.write({ t: T0 + 1, room: ROOM, message: gift }, { file: true, onCommitted }); // imported twice
    archive.write({ t: T0 + 1, room: ROOM, message: parseMessage("type@=dgb/uid@=6/") }, {
      file: true,
      onCommitted,
    });
    archive.write({ t: T0 + 2, room: ROOM, message: gift }); // live: two gifts alike are two gifts
    archive.write({ t: T0 + 2, room: ROOM, message: gift });
    assert.deepEqual(results, []); // told only once committed
    await archive.flush();
    assert.deepEqual(results, [true, false, true, true, false, true]);
    assert.equal((await collect(archive.query({ room: ROOM }))).length, 6);
  });
});

test("archive: messages written out of order are read in time order; ids never collide", async () => {
  await withArchive(async (archive) => {
    const times = [5000, 1000, 3000, 1000, 1000, 9000, 2000, 1000];
    times.forEach((dt, i) => archive.write(chat(T0 + dt, ROOM, `#${i}`)));
    await archive.flush();
    // Older ones again, after newer ones are stored: each goes to its time.
    for (let i = 0; i < 20; i++) archive.write(chat(T0 + 1000, ROOM, `late ${i}`));
    await archive.flush();
    const got = await collect(archive.query({ room: ROOM }));
    assert.equal(got.length, times.length + 20);
    const ts = got.map((item) => item.t);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
  });
});

test("archive: limit gives the newest, oldest first; since, until and types narrow", async () => {
  await withArchive(async (archive) => {
    for (let i = 0; i < 300; i++) {
      const t = T0 + i * 10 * 60_000; // every 10 minutes: two days
      archive.write(
        i % 3 === 0
          ? { t, room: ROOM, message: { type: "uenter", uid: String(i), nn: `u${i}` } }
          : chat(t, ROOM, `#${i}`),
      );
    }
    await archive.flush();
    const last = await collect(archive.query({ room: ROOM, limit: 5 }));
    assert.deepEqual(
      last.map((item) => item.t),
      [295, 296, 297, 298, 299].map((i) => T0 + i * 600_000),
    );
    const across = await collect(archive.query({ room: ROOM, limit: 250 }));
    assert.equal(across.length, 250);
    assert.equal(across[0]!.t, T0 + 50 * 600_000);
    const since = T0 + 100 * 600_000;
    const until = T0 + 110 * 600_000;
    const window = await collect(archive.query({ room: ROOM, since, until }));
    assert.deepEqual(
      window.map((item) => item.t),
      Array.from({ length: 10 }, (_, i) => since + i * 600_000),
    );
    const entries = await collect(archive.query({ room: ROOM, types: ["uenter"], since, until }));
    assert.equal(entries.length, 3); // messages 102, 105 and 108
    assert.ok(entries.every((item) => item.message.type === "uenter"));
    assert.deepEqual(await collect(archive.query({ room: ROOM, types: ["never"] })), []);
    assert.deepEqual(await collect(archive.query({ room: ROOM + 1, limit: 3 })), []);
  });
});

test("archive: a user is found by id or by name", async () => {
  await withArchive(async (archive) => {
    archive.write(chat(T0, ROOM, "a", { uid: "11", nn: "Ann" }));
    archive.write(chat(T0 + 1, ROOM, "b", { uid: "12", nn: "Bob" }));
    archive.write(chat(T0 + 2, ROOM, "c", { uid: "11", nn: "Ann2" })); // renamed
    archive.write(chat(T0 + 3, ROOM, "d", { uid: "13", nn: "11" })); // a name of digits
    archive.write({ t: T0 + 4, room: ROOM, message: { type: "uenter", uid: "11", nn: "Ann2" } });
    archive.write(chat(T0 + 5, ROOM + 1, "e", { uid: "11", nn: "Ann" })); // another room
    await archive.flush();
    const texts = async (user: { uid?: number; name?: string }) =>
      (await collect(archive.query({ room: ROOM, user }))).map((item) =>
        item.message.type === "uenter" ? "enter" : item.message.txt
      );
    assert.deepEqual(await texts({ uid: 11 }), ["a", "c", "enter"]);
    assert.deepEqual(await texts({ name: "Ann" }), ["a"]);
    assert.deepEqual(await texts({ name: "Ann2" }), ["c", "enter"]);
    assert.deepEqual(await texts({ uid: 11, name: "11" }), ["a", "c", "d", "enter"]);
    assert.deepEqual(await texts({ name: "nobody" }), []);
  });
});

test("archive: a NUL or a lone surrogate in a name, a text, a type or a gift's name loses nothing", async () => {
  // Deno's node:sqlite cut a bound string at its first NUL: "A\0B" was stored as "A". A lone
  // surrogate (JSON can carry one) was stored as U+FFFD, and the name came back changed.
  await withArchive(async (archive) => {
    const named = chat(T0, ROOM, "x\0y 主播", { uid: "11", nn: "A\0B" });
    const odd: TimedMessage = { t: T0 + 1, room: ROOM, message: { type: "odd\0type", nn: "A\0B" } };
    const gift: TimedMessage = {
      t: T0 + 2,
      room: ROOM,
      message: { type: "dgb", gfid: "7", gfcnt: "1", uid: "11", nn: "A\0B" },
      gift: { ...giftOf({ type: "dgb", gfid: "7", gfcnt: "1" })!, name: "G\0H", valueFen: 100 },
    };
    archive.write(named);
    archive.write(odd);
    archive.write(gift);
    archive.write(chat(T0 + 3, ROOM, "x", { uid: "12", nn: "A" }));
    const lone = chat(T0 + 4, ROOM, "s\udc00t", { uid: "13", nn: "S\ud800" });
    archive.write(lone);
    await archive.flush();
    const all = await collect(archive.query({ room: ROOM }));
    assert.deepEqual([all[0], all[1], all[4]].map(itemText), [named, odd, lone].map(itemText));
    assert.equal(all[2]!.message.nn, "A\0B");
    // The priced name is a column only: its NUL shows as U+FFFD.
    assert.equal(all[2]!.gift?.name, "G\ufffdH");
    const times = async (query: Omit<Parameters<Archive["query"]>[0], "room">) =>
      (await collect(archive.query({ room: ROOM, ...query }))).map((item) => item.t - T0);
    assert.deepEqual(await times({ user: { name: "A\0B" } }), [0, 1, 2]);
    assert.deepEqual(await times({ user: { name: "A" } }), [3]);
    assert.deepEqual(await times({ search: "x\0y" }), [0]);
    assert.deepEqual(await times({ search: "y 主播" }), [0]);
    // An empty search finds what LIKE '%%' finds: the messages with a text (not the gift).
    assert.deepEqual(await times({ search: "" }), [0, 3, 4]);
    assert.deepEqual(await times({ types: ["odd\0type"] }), [1]);
    assert.deepEqual(await times({ user: { name: "S\ud800" } }), [4]);
    assert.deepEqual(await times({ search: "s\udc00" }), [4]);
    assert.equal(archive.counters.stored, 5);
  });
});

test("archive: roll-ups agree with the messages stored", async () => {
  const source = await loadSource();
  const items = [...generate(source, { messages: 4000, rooms: 2, days: 1, start: T0 })];
  await withArchive(async (archive) => {
    for (const item of items) archive.write(item);
    for (const item of items.slice(0, 500)) archive.write(item); // chats come again: not counted
    await archive.flush();
    const stored = await collect(archive.query({ room: 1001 }));
    const count = (type: string) => stored.filter((item) => item.message.type === type).length;
    await withReadOnly(archive, (db) => {
      const minutes = db.prepare(
        "SELECT type, sum(messages) AS n, sum(items) AS items FROM (" +
          "SELECT * FROM minutes_20240501 UNION ALL SELECT * FROM minutes_20240502" +
          ") WHERE room = 1001 GROUP BY type",
      ).all() as { type: string; n: number; items: number }[];
      for (const { type, n } of minutes) assert.equal(n, count(type), type);
      const gifts = minutes.find((row) => row.type === "dgb")!;
      const giftItems = stored.filter((item) => item.message.type === "dgb")
        .reduce((sum, item) => sum + (item.gift?.count ?? 0), 0);
      assert.equal(gifts.items, giftItems);
      const chats = new Map<number, number>();
      for (const item of stored) {
        if (item.message.type !== "chatmsg") continue;
        const uid = Number(item.message.uid);
        chats.set(uid, (chats.get(uid) ?? 0) + 1);
      }
      const users = db.prepare(
        "SELECT uid, sum(chats) AS n FROM (SELECT * FROM users_20240501 UNION ALL " +
          "SELECT * FROM users_20240502) WHERE room = 1001 AND chats > 0 GROUP BY uid",
      ).all() as { uid: number; n: number }[];
      assert.equal(users.length, chats.size);
      for (const { uid, n } of users) assert.equal(n, chats.get(uid));
    });
  });
});

test("archive: retention drops whole days and gives their space back", async () => {
  await withArchive(async (archive, path) => {
    const big = "主播".repeat(200);
    for (let day = 0; day < 5; day++) {
      for (let i = 0; i < 400; i++) archive.write(chat(T0 + day * DAY_MS + i, ROOM, `${big}${i}`));
    }
    archive.writeStatus({ t: T0, room: ROOM, status: "started" });
    archive.writeStatus({ t: T0 + 4 * DAY_MS, room: ROOM, status: "connected" });
    await archive.flush();
    const before = await archive.size();
    const now = T0 + 4 * DAY_MS + 3600_000;
    // Two days kept whole besides today: the days that ended 2 days ago or earlier go.
    const dropped = await archive.retain(2, now);
    assert.equal(dropped.length, 2);
    assert.equal((await archive.days()).length, 3);
    const left = await collect(archive.query({ room: ROOM }));
    assert.equal(left.length, 3 * 400);
    assert.ok(left[0]!.t >= T0 + 2 * DAY_MS - 20 * 3600_000);
    assert.ok(await archive.size() < before * 0.75, "the dropped days' pages are given back");
    assert.deepEqual((await collect(archive.statuses(ROOM))).map((s) => s.status), ["connected"]);
    assert.deepEqual(await archive.retain(2, now), []);
    // Nothing of the dropped days is left, their lags (sqlite_order.ts) included.
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path, { readOnly: true });
    const lags = db.prepare("SELECT count(*) AS n FROM day_lags").get() as { n: number };
    db.close();
    assert.equal(lags.n, 3);
  });
  // Status changes on kept days without messages stay (they went with the days dropped).
  await withArchive(async (archive) => {
    const now = T0 + 60 * DAY_MS;
    archive.write(chat(now - 40 * DAY_MS, ROOM, "old"));
    archive.writeStatus({ t: now - 40 * DAY_MS, room: ROOM, status: "started" });
    archive.writeStatus({ t: now - 2 * DAY_MS, room: ROOM, status: "disconnected" });
    archive.writeStatus({ t: now - 1000, room: ROOM, status: "connected" });
    await archive.flush();
    assert.equal((await archive.retain(30, now)).length, 1);
    const left = (await collect(archive.statuses(ROOM))).map((s) => s.status);
    assert.deepEqual(left, ["disconnected", "connected"]);
  });
});

test("archive: items() puts the status changes between the messages", async () => {
  await withArchive(async (archive) => {
    archive.writeStatus({ t: T0, room: ROOM, status: "started" });
    archive.write(chat(T0 + 10, ROOM, "a"));
    archive.writeStatus({ t: T0 + 20, room: ROOM, status: "disconnected", detail: "EOF" });
    archive.writeStatus({ t: T0 + 30, room: ROOM, status: "connected", detail: "tcp://x:1" });
    archive.write(chat(T0 + 40, ROOM, "b"));
    archive.writeStatus({ t: T0 + 50, room: ROOM, status: "stopped" });
    archive.writeStatus({ t: T0 + 50, room: ROOM + 1, status: "stopped" });
    await archive.flush();
    const all = await collect(archive.items({ room: ROOM }));
    assert.deepEqual(
      all.map((item) => "status" in item ? item.status : (item as TimedMessage).message.txt),
      ["started", "a", "disconnected", "connected", "b", "stopped"],
    );
    const last = await collect(archive.items({ room: ROOM, limit: 1 }));
    assert.deepEqual(last.map((item) => "status" in item ? item.status : "msg"), ["msg"]);
  });
});

test("archive: a file that is not an archive is refused with an ArchiveError", async () => {
  await withDir(async (dir) => {
    const text = join(dir, "notes.txt");
    await writeFile(text, "x".repeat(5000));
    const error = await Archive.open(text).catch((e) => e);
    assert.ok(error instanceof ArchiveError, String(error));
    assert.match(error.message, /notes\.txt/);
    const other = join(dir, "other.db");
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(other);
    db.exec("CREATE TABLE t (x)");
    db.close();
    await assert.rejects(Archive.open(other), /not a douyu archive/);
    await assert.rejects(Archive.open("mysql://x/y"), /unsupported archive/);
    await assert.rejects(Archive.open(join(dir, "missing", "a.db")), ArchiveError);
    await assert.rejects(Archive.open(join(dir, "new.db"), { readOnly: true }), ArchiveError);
  });
});

test("archive: write() checks its input and refuses after close", async () => {
  await withArchive(async (archive) => {
    assert.throws(() => archive.write(chat(T0, 0, "x")), RangeError);
    assert.throws(() => archive.write(chat(NaN, ROOM, "x")), RangeError);
    assert.throws(() => archive.query({ room: ROOM, limit: 0 }), RangeError);
    await archive.close();
    assert.throws(() => archive.write(chat(T0, ROOM, "x")), /closed/);
  });
});

test("archive: two writers on one file at the same milliseconds lose nothing", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "shared.db");
    const a = await Archive.open(path);
    const b = await Archive.open(path);
    try {
      for (let i = 0; i < 200; i++) {
        a.write(chat(T0 + Math.floor(i / 10), ROOM, `a${i}`));
        b.write(chat(T0 + Math.floor(i / 10), ROOM, `b${i}`));
        if (i % 50 === 49) {
          await a.flush();
          await b.flush();
        }
      }
    } finally {
      await a.close();
      await b.close();
    }
    const reader = await Archive.open(path, { readOnly: true });
    try {
      const got = await collect(reader.query({ room: ROOM }));
      assert.equal(got.length, 400);
      assert.equal(new Set(got.map((item) => item.message.txt)).size, 400);
    } finally {
      await reader.close();
    }
  });
});

/** Runs `fn` on a second, read-only connection to the archive's file. */
async function withReadOnly<T>(
  archive: Archive,
  fn: (db: import("node:sqlite").DatabaseSync) => T,
): Promise<T> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(archive.target, { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

test('archive: ":memory:" is an archive without a file (no WAL), written and read back', async () => {
  await using archive = await Archive.open(":memory:");
  archive.write(chat(Date.UTC(2024, 4, 1), ROOM, "主播好", { cid: "c1" }));
  await archive.flush();
  const found = await collect(archive.query({ room: ROOM, search: "主播" }));
  assert.deepEqual(found.map((item) => item.message.txt), ["主播好"]);
});
