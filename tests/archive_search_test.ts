/**
 * Search finds exactly what SQLite's `text LIKE '%q%'` finds (with `%`, `_`
 * and `\` escaped), on random Chinese, Latin and mixed texts, for random
 * queries of one to four characters, words, and strings that occur
 * nowhere; and it finds the newest first when limited.
 */
import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { containsFolded, foldCase, searchTerms, textTerms } from "../src/archive/terms.ts";
import { seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";
import { chat, collect, randomQuery, randomText, withArchive } from "./archive/helpers.ts";

const ROOM = 4242;
const T0 = Date.UTC(2024, 4, 1, 8);
function likePattern(query: string): string {
  return `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

test("search: the same messages as LIKE '%q%', for random Chinese, Latin and mixed texts", async () => {
  const random = seededRandom(17);
  const texts = Array.from({ length: 3000 }, () => randomText(random));
  await withArchive(async (archive) => {
    // A minute apart: over three days.
    texts.forEach((text, i) =>
      archive.write(chat(T0 + i * 60_000, ROOM, text, { uid: String(i % 50) }))
    );
    // Another room with the same texts: never found in this one.
    texts.slice(0, 500).forEach((text, i) => archive.write(chat(T0 + i, ROOM + 1, text)));
    await archive.flush();
    const { DatabaseSync } = await import("node:sqlite");
    const db: DatabaseSync = new DatabaseSync(archive.target, { readOnly: true });
    try {
      const days = ["m_20240501", "m_20240502", "m_20240503"];
      const like = db.prepare(
        days.map((table) => `SELECT t FROM ${table} WHERE room = ? AND text LIKE ? ESCAPE '\\'`)
          .join(" UNION ALL ") + " ORDER BY t",
      );
      let found = 0;
      for (let i = 0; i < 400; i++) {
        const query = randomQuery(random, texts);
        const pattern = likePattern(query);
        const expected = (like.all(ROOM, pattern, ROOM, pattern, ROOM, pattern) as { t: number }[])
          .map((r) => r.t);
        const got = (await collect(archive.query({ room: ROOM, search: query }))).map((m) => m.t);
        assert.deepEqual(got, expected, `search ${JSON.stringify(query)}`);
        found += got.length;
        // The newest ten, oldest first.
        const newest = (await collect(archive.query({ room: ROOM, search: query, limit: 10 })))
          .map((m) => m.t);
        assert.deepEqual(newest, expected.slice(-10), `newest of ${JSON.stringify(query)}`);
      }
      assert.ok(found > 10_000, `the queries found little (${found}): the test would be weak`);
    } finally {
      db.close();
    }
  });
});

test("search: a user's search, and a search with types", async () => {
  await withArchive(async (archive) => {
    archive.write(chat(T0, ROOM, "主播好", { uid: "1", nn: "Ann" }));
    archive.write(chat(T0 + 1, ROOM, "主播好", { uid: "2", nn: "Bob" }));
    archive.write({
      t: T0 + 2,
      room: ROOM,
      message: { type: "ssd", content: "主播好 super barrage" },
    });
    await archive.flush();
    const search = (extra: object) =>
      collect(archive.query({ room: ROOM, search: "主播", ...extra }));
    assert.equal((await search({})).length, 3);
    assert.equal((await search({ user: { uid: 2 } })).length, 1);
    assert.equal((await search({ types: ["ssd"] })).length, 1);
    assert.equal((await search({ user: { name: "Ann" }, types: ["ssd"] })).length, 0);
    // An empty search is no filter.
    assert.equal((await collect(archive.query({ room: ROOM, search: "" }))).length, 3);
  });
});

test("terms: case folding is LIKE's (ASCII only); characters by code point; pairs for longer queries", () => {
  assert.equal(foldCase("ÀBC ÉÈ ẞ Ｇ gG"), "Àbc ÉÈ ẞ Ｇ gg");
  assert.ok(containsFolded("Hello 主播", "lo 主"));
  assert.ok(!containsFolded("É", "é"));
  // An emoji is one character (one code point), not two halves.
  assert.equal(textTerms("😀", "1"), "1x1f600");
  assert.deepEqual(searchTerms("😀A", "1")?.terms, ["1x1f600y61"]);
  // A lone surrogate is searched as U+FFFD, as it is stored.
  assert.equal(searchTerms("\ud800", "1")?.needle, "\ufffd");
  assert.deepEqual(searchTerms("哈哈哈", "1")?.terms, ["1x54c8y54c8"]);
  assert.equal(searchTerms("", "1"), undefined);
  // Terms are letters and digits: no text can write a term of another room or user.
  assert.match(textTerms(' 1x4e3b "OR" * ', "1"), /^[0-9a-z ]+$/);
});
