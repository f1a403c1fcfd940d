/**
 * The PostgreSQL archive against a throwaway server (Debian's postgresql;
 * `deno task test:archive`, which fails when it is missing): the same
 * answers as the SQLite archive for the same writes (round trips, keys,
 * limits, times, types, users, random searches, roll-ups); retention drops
 * partitions; refusals.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { Archive } from "../../src/archive/archive.ts";
import { DAY_MS } from "../../src/archive/days.ts";
import { ArchiveError } from "../../src/archive/errors.ts";
import type { ArchiveQuery } from "../../src/archive/store.ts";
import type { TimedMessage } from "../../src/archive/timed.ts";
import { settleWithin } from "../../src/base/abortable.ts";
import { seededRandom } from "../fixtures.ts";
import { test } from "../harness.ts";
import { generate, loadSource } from "../archive/corpus.ts";
import { chat, collect, itemText, randomQuery, randomText, withDir } from "../archive/helpers.ts";
import { startPostgres } from "./postgres_server.ts";
import { pricedStream, referenceStats, streamStatuses } from "../archive/stats_data.ts";

const T0 = Date.UTC(2024, 4, 1, 20);

/** Runs `fn` with a fresh server, stopped afterwards. */
async function withPostgres(fn: (url: string) => Promise<void>): Promise<void> {
  const server = await startPostgres();
  try {
    await fn(server.url);
  } finally {
    await server.stop();
  }
}

test("postgres: the same answers as SQLite for the same writes", async () => {
  const source = await loadSource();
  const random = seededRandom(5);
  const items: TimedMessage[] = [
    ...generate(source, { messages: 4000, rooms: 3, days: 3, start: T0 }),
  ];
  // NULs, which neither engine's text columns keep (their messages must still come back whole).
  items.push(
    chat(T0 + 5, 1001, "x\0y 主播", { cid: "nul1", uid: "4", nn: "A\0B" }),
    { t: T0 + 6, room: 1001, message: { type: "odd\0type", nn: "A\0B", uid: "4" } },
    chat(T0 + 7, 1001, "s\udc00t", { cid: "lone1", uid: "4", nn: "S\ud800" }),
    // Numbers past PostgreSQL's integer and bigint: once, each failed its whole commit.
    chat(T0 + 8, 1001, "big level", { cid: "big1", uid: "5", nn: "Big", level: "99999999999" }),
    {
      t: T0 + 9,
      room: 1001,
      message: {
        type: "comm_chatmsg",
        uid: "5",
        cprice: "1e30",
        cet: "60",
        chatmsg: { uid: "5", nn: "Big", txt: "rich" },
      },
    },
  );
  // Random texts too, for the searches.
  for (let i = 0; i < 600; i++) {
    items.push(
      chat(T0 + i * 7000 + 3, 1001, randomText(random), { cid: `r${i}`, uid: String(i % 9) }),
    );
  }
  items.sort((a, b) => a.t - b.t);
  await withPostgres(async (url) => {
    await withDir(async (dir) => {
      const sqlite = await Archive.open(`${dir}/same.db`);
      const pg = await Archive.open(url);
      try {
        for (const archive of [sqlite, pg]) {
          items.forEach((item, i) => archive.write(item, { seq: i % 10 === 0 ? i : undefined }));
          // Again: chats by id, stream messages by sequence, file messages by content.
          items.slice(0, 800).forEach((item, i) =>
            archive.write(item, { seq: i % 10 === 0 ? i : undefined })
          );
          items.slice(0, 300).forEach((item) => archive.write(item, { file: true }));
          items.slice(0, 300).forEach((item) => archive.write(item, { file: true }));
          await archive.flush();
        }
        assert.deepEqual(pg.counters, { ...sqlite.counters, commits: pg.counters.commits });
        const queries: ArchiveQuery[] = [];
        for (const room of [1001, 1002, 1003]) {
          queries.push({ room }, { room, limit: 50 }, { room, limit: 5000 });
          queries.push({ room, since: T0 + DAY_MS / 2, until: T0 + DAY_MS });
          queries.push({ room, types: ["dgb", "uenter"], limit: 70 });
        }
        queries.push(
          { room: 1001, user: { name: "A\0B" } },
          { room: 1001, search: "x\0y" },
          { room: 1001, types: ["odd\0type"] },
          { room: 1001, user: { name: "S\ud800" } },
          { room: 1001, search: "s\udc00" },
          { room: 1001, search: "" },
        );
        for (const item of items.slice(0, 40)) {
          const uid = Number(item.message.uid);
          if (Number.isSafeInteger(uid)) queries.push({ room: item.room, user: { uid } });
          if (typeof item.message.nn === "string") {
            queries.push({ room: item.room, user: { name: item.message.nn }, limit: 10 });
            // Either: this uid or this name (another sender's uid, for the OR to matter).
            queries.push({ room: item.room, user: { uid: (uid + 1) % 9, name: item.message.nn } });
          }
        }
        const texts = items.map((item) => String(item.message.txt ?? "")).filter((t) => t !== "");
        for (let i = 0; i < 150; i++) {
          const search = randomQuery(random, texts);
          queries.push({ room: 1001, search }, { room: 1001, search, limit: 20 });
        }
        for (const query of queries) {
          const a = (await collect(sqlite.query(query))).map(itemText);
          const b = (await collect(pg.query(query))).map(itemText);
          assert.deepEqual(b, a, JSON.stringify(query));
        }
        // The roll-ups agree too.
        const sql = postgres(url, { onnotice: () => {} });
        try {
          const { DatabaseSync } = await import("node:sqlite");
          const db = new DatabaseSync(`${dir}/same.db`, { readOnly: true });
          const days = ["20240501", "20240502", "20240503", "20240504"];
          const lite = db.prepare(
            `SELECT room, type, sum(messages) AS n, sum(items) AS items, sum(value) AS value FROM (` +
              days.map((d) => `SELECT * FROM minutes_${d}`).join(" UNION ALL ") +
              `) GROUP BY room, type ORDER BY room, type`,
          ).all().map((row) => ({ ...row }));
          db.close();
          const pgRows = (await sql.unsafe(
            `SELECT room::int, type, sum(messages)::int AS n, sum(items)::int AS items,
              sum(value)::int AS value FROM douyu_minutes GROUP BY room, type ORDER BY room, type`,
          )).map((row) => ({ ...row }));
          assert.deepEqual(pgRows, lite);
        } finally {
          await sql.end();
        }
      } finally {
        await sqlite.close();
        await pg.close();
      }
    });
  });
}, { timeout: 180_000 });

test("postgres: a commit with keys stored already goes again the safe way, at once", async () => {
  // Its straight copy fails on the unique index after the copy's end, which postgres.js 3.4
  // never reports to the stream (porsager/postgres#1173): the commit waited forever, and
  // its connection stayed "idle in transaction (aborted)".
  await withPostgres(async (url) => {
    const archive = await Archive.open(url);
    const sql = postgres(url, { onnotice: () => {} });
    try {
      for (let i = 0; i < 3000; i++) archive.write(chat(T0 + i, 9, `m${i}`, { cid: `c${i}` }));
      await archive.flush();
      // Ten of these were stored by the commit before.
      for (let i = 2990; i < 6000; i++) archive.write(chat(T0 + i, 9, `m${i}`, { cid: `c${i}` }));
      let stored = false;
      await settleWithin(archive.flush().then(() => stored = true), 30_000);
      assert.ok(stored, "the second commit did not settle within 30 s");
      assert.deepEqual(
        { stored: archive.counters.stored, duplicates: archive.counters.duplicates },
        { stored: 6000, duplicates: 10 },
      );
      assert.equal((await collect(archive.query({ room: 9 }))).length, 6000);
      const stuck = await sql.unsafe(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'",
      );
      assert.equal(stuck[0]!.n, 0);
      await archive.close();
    } finally {
      await sql.end();
      // A commit that never settles would hold the close too: the assertion above says why.
      await settleWithin(archive.close(), 10_000);
    }
  });
}, { timeout: 120_000 });

test("postgres: retention drops whole partitions; another version is refused", async () => {
  await withPostgres(async (url) => {
    const archive = await Archive.open(url);
    try {
      for (let day = 0; day < 4; day++) {
        for (let i = 0; i < 50; i++) archive.write(chat(T0 + day * DAY_MS + i, 9, `d${day} ${i}`));
      }
      archive.writeStatus({ t: T0, room: 9, status: "started" });
      archive.writeStatus({ t: T0 + 3 * DAY_MS, room: 9, status: "connected" });
      await archive.flush();
      assert.equal((await archive.days()).length, 4);
      const dropped = await archive.retain(1, T0 + 3 * DAY_MS + 3600_000);
      assert.equal(dropped.length, 2);
      assert.equal((await archive.days()).length, 2);
      assert.equal((await collect(archive.query({ room: 9 }))).length, 100);
      assert.deepEqual((await collect(archive.statuses(9))).map((s) => s.status), ["connected"]);
      const sql = postgres(url, { onnotice: () => {} });
      try {
        const tables = await sql.unsafe(
          "SELECT relname FROM pg_class WHERE relkind = 'r' AND " +
            "relname ~ '^douyu_(messages|minutes|users|gifts)_2' " +
            "ORDER BY relname",
        );
        assert.deepEqual(tables.map((row) => row.relname), [
          "douyu_gifts_20240503",
          "douyu_gifts_20240504",
          "douyu_messages_20240503",
          "douyu_messages_20240504",
          "douyu_minutes_20240503",
          "douyu_minutes_20240504",
          "douyu_users_20240503",
          "douyu_users_20240504",
        ]);
        await sql.unsafe("UPDATE douyu_archive_info SET value = 'other 9' WHERE key = 'schema'");
      } finally {
        await sql.end();
      }
    } finally {
      await archive.close();
    }
    await assert.rejects(Archive.open(url), /holds no douyu archive of this version/);
    // A database without the tables, read: no archive there.
    const fresh = url.replace(/\/[^/]*$/, "/template1");
    await assert.rejects(Archive.open(fresh, { readOnly: true }), /holds no douyu archive$/);
  });
  // Nothing listens on port 1: an ArchiveError naming the URL without its password, and why,
  // read-only too (it said "holds no douyu archive").
  for (const readOnly of [false, true]) {
    const url = "postgres://douyu:secret@127.0.0.1:1/db";
    const error = await Archive.open(url, { readOnly }).catch((e) => e);
    assert.ok(error instanceof ArchiveError, String(error));
    assert.ok(!String(error.message).includes("secret"), error.message);
    assert.match(error.message, /douyu:\*\*\*@127\.0\.0\.1:1\/db: .*ECONNREFUSED/);
  }
}, { timeout: 120_000 });

test("postgres: the same statistics as SQLite, and as every message gives, over ranges inside hours", async () => {
  const start = Date.UTC(2024, 3, 30, 21, 40, 12);
  const options = { messages: 5000, start, hours: 4, rooms: 2 };
  const items = [...pricedStream(await loadSource(), options)];
  await withPostgres(async (url) => {
    await withDir(async (dir) => {
      const pg = await Archive.open(url);
      const sqlite = await Archive.open(`${dir}/a.db`);
      try {
        for (const archive of [pg, sqlite]) {
          for (const status of streamStatuses(options)) archive.writeStatus(status);
          for (let i = 0; i < items.length; i++) {
            archive.write(items[i]!);
            if (i % 1500 === 0) await archive.flush();
          }
          await archive.flush();
        }
        const end = items.at(-1)!.t + 1;
        const ranges: [number | undefined, number | undefined][] = [
          [undefined, undefined],
          [start, end],
          [start + 7 * 60_000 + 5, start + 150 * 60_000 - 9],
          [Date.UTC(2024, 4, 1, 0), Date.UTC(2024, 4, 1, 1)],
          [start + 60_000, start + 5 * 60_000],
        ];
        for (const [since, until] of ranges) {
          const fromPg = await pg.stats(1001, { since, until });
          const fromLite = await sqlite.stats(1001, { since, until });
          assert.deepEqual(fromPg, fromLite, `range ${since}..${until}`);
          const s = fromPg.stats;
          assert.deepEqual(s, referenceStats(items, 1001, s.since, s.until));
        }
        assert.ok((await pg.stats(1001)).stats.revenue.total > 0);
      } finally {
        await sqlite.close();
        await pg.close();
      }
    });
  });
});
