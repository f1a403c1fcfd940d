/**
 * Brief rows (`src/archive/brief.ts`): exports read from them write the
 * same bytes as from whole messages, for real traffic and for hostile
 * values; rows whose columns cannot say it all stay whole; and a file made
 * before the `col` column is read whole, then gets it at its first
 * writable open.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Archive } from "../src/archive/archive.ts";
import { collectExport } from "../src/archive/export/common.ts";
import { EXPORT_FORMATS, exportAs, exportTypes } from "../src/archive/export/mod.ts";
import { dayName, dayOf } from "../src/archive/days.ts";
import { isStatus, type TimedItem, type TimedMessage } from "../src/archive/timed.ts";
import { CAPTURE_ROOM, exportItems, HOSTILE_TEXTS } from "./export_data.ts";
import { generate, loadSource } from "./archive/corpus.ts";
import { seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";
import { collect, withArchive } from "./archive/helpers.ts";

const T0 = Date.UTC(2024, 4, 1, 12);

/** Values a hostile peer may put where a chat's or a gift's fields go. */
const ODD_VALUES: readonly unknown[] = [
  undefined,
  "",
  "7",
  "007",
  "1e3",
  "-5",
  "99999999999999999999",
  "a\0b",
  "lone \ud800",
  { nested: "map" },
  ["list"],
];

/**
 * Chats and gifts with every field plain or odd (one odd field each), so
 * that each rule of `briefColor` meets a row it must refuse and one it
 * must take.
 */
function hostileItems(t0: number): TimedMessage[] {
  const random = seededRandom(28);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const items: TimedMessage[] = [];
  let t = t0;
  for (let n = 0; n < 1500; n++) {
    t += 1 + Math.floor(random() * 400);
    const fields: Record<string, unknown> = { uid: String(100 + n % 37), nn: `user${n % 37}` };
    const odd = random() < 0.5
      ? pick(["uid", "nn", "txt", "col", "gfid", "gfn", "gfcnt", "pid"])
      : "";
    const value = pick(ODD_VALUES);
    if (n % 3 !== 2) {
      fields.txt = pick(HOSTILE_TEXTS);
      fields.col = pick(["1", "2", "6", "7", undefined]);
      if (odd !== "") fields[odd] = value;
      items.push({ t, room: CAPTURE_ROOM, message: withType("chatmsg", fields, n) });
      continue;
    }
    fields.gfid = pick(["824", "20000", "0"]);
    fields.gfcnt = pick(["1", "10", "3"]);
    if (random() < 0.5) fields.gfn = pick(["火箭", "飞机", ""]);
    if (fields.gfid === "0") fields.pid = "3";
    if (odd !== "") fields[odd] = value;
    const item: TimedMessage = { t, room: CAPTURE_ROOM, message: withType("dgb", fields, n) };
    // Priced on arrival (some at zero, some under another name than their own), or not.
    const price = pick([undefined, 0, 10, 50_000]);
    if (price !== undefined) {
      // Some priced for another count than their own (an item a library user made).
      const count = random() < 0.2 ? 3 : Number(fields.gfcnt) || 1;
      item.gift = {
        kind: "gift",
        id: typeof fields.gfid === "string" ? fields.gfid : undefined,
        prop: false,
        name: pick(["火箭", "飞机", undefined]),
        count,
        unitPriceFen: price,
        unitPrice: price / 100,
        valueFen: price * count,
        value: (price * count) / 100,
        paid: price > 0,
        icon: undefined,
      };
    }
    items.push(item);
  }
  return items;
}

/** A message of `type` with `fields` (those left undefined are absent), and a chat id. */
function withType(
  type: string,
  fields: Record<string, unknown>,
  n: number,
): TimedMessage["message"] {
  const message: Record<string, unknown> = { type };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) message[key] = value;
  if (type === "chatmsg") message.cid = n.toString(16).padStart(32, "0");
  return message as TimedMessage["message"];
}

/** The export of `format` from the archive, read brief or whole. */
async function exported(archive: Archive, format: (typeof EXPORT_FORMATS)[number], brief: boolean) {
  const types = exportTypes(format);
  const query = { room: CAPTURE_ROOM, ...(types === undefined ? {} : { types }), brief };
  return await collectExport(exportAs(format, archive.items(query), { start: T0 }));
}

/** The fields of a brief item's message (`briefItem`): a whole one has more. */
const BRIEF_FIELDS = new Set(["type", "uid", "nn", "txt", "col"]);

/** How many items of a brief query came back brief. */
async function briefCount(archive: Archive): Promise<number> {
  const items = await collect(archive.query({ room: CAPTURE_ROOM, brief: true }));
  return items.filter(({ message }) =>
    (message.type === "chatmsg" || message.type === "dgb") &&
    Object.keys(message).every((key) => BRIEF_FIELDS.has(key))
  ).length;
}

async function writeAll(archive: Archive, items: readonly TimedItem[]): Promise<void> {
  for (const item of items) {
    if (isStatus(item)) {
      archive.writeStatus(item);
      continue;
    }
    const wait = archive.write(item);
    if (wait) await wait;
  }
  await archive.flush();
}

test("archive brief: the exports read from brief rows are those read from whole messages, byte for byte", async () => {
  const source = await loadSource();
  const generated = [...generate(source, { messages: 3000, rooms: 1, days: 1, start: T0 })]
    .map((item) => ({ ...item, room: CAPTURE_ROOM }));
  const items = [...await exportItems(T0), ...hostileItems(T0 + 3_600_000), ...generated]
    .sort((a, b) => a.t - b.t);
  await withArchive(async (archive) => {
    await writeAll(archive, items);
    const brief = await briefCount(archive);
    const chatsAndGifts = items.filter((item) =>
      !isStatus(item) && (item.message.type === "chatmsg" || item.message.type === "dgb")
    ).length;
    // Most rows are brief (the capture's and the generator's all are), not every one.
    assert.ok(brief > chatsAndGifts / 2 && brief < chatsAndGifts, `${brief} of ${chatsAndGifts}`);
    // The formats that read only some types (the others write whole messages: never brief).
    for (
      const format of EXPORT_FORMATS.filter((format) =>
        exportTypes(format) !== undefined
      )
    ) {
      const whole = await exported(archive, format, false);
      const fast = await exported(archive, format, true);
      assert.ok(whole.summary.written > 1000, format);
      assert.deepEqual(fast.summary, whole.summary, format);
      assert.equal(fast.text, whole.text, format);
    }
  });
});

test("archive brief: a chat or gift whose columns cannot say it all is read whole", async () => {
  const plain = { type: "chatmsg", uid: "7", nn: "Ann", txt: "hi", col: "2" };
  const whole = [
    { ...plain, uid: "007" }, // the uid column would say 7
    { ...plain, nn: "A\0nn" }, // the name column holds U+FFFD
    { ...plain, txt: "h\ud800i" }, // the text column holds U+FFFD
    { ...plain, col: "\0" },
    { ...plain, col: { n: 1 } },
    { type: "chatmsg", nn: "Ann", txt: "no uid" },
    { type: "dgb", uid: "7", nn: "Ann", gfid: "0", pid: "3", gfcnt: "1" }, // a prop
    { type: "dgb", uid: "7", nn: "Ann", gfid: "824", gfcnt: "5000000000" }, // no count column
    { type: "dgb", uid: "7", nn: "Ann", gfid: "824", gfn: "A\0" }, // the name column differs
  ];
  await withArchive(async (archive) => {
    let t = T0;
    for (const message of [plain, ...whole]) {
      archive.write({ t: t++, room: CAPTURE_ROOM, message: message as TimedMessage["message"] });
    }
    await archive.flush();
    const items = await collect(archive.query({ room: CAPTURE_ROOM, brief: true }));
    assert.deepEqual(items[0]!.message, plain);
    // Whole: each message as it was written, odd field and all.
    assert.deepEqual(items.slice(1).map((item) => item.message), whole);
  });
});

test("archive brief: a file made before the col column is read whole, and gets it at its first writable open", async () => {
  const items = await exportItems(T0);
  await withArchive(async (archive, path) => {
    await writeAll(archive, items);
    const before = await exported(archive, "xml", false);
    await archive.close();
    const table = `m_${dayName(dayOf(T0))}`;
    const db = new DatabaseSync(path);
    db.exec(`ALTER TABLE ${table} DROP COLUMN col`);
    db.exec("UPDATE archive_info SET value = 'douyu-archive-sqlite 1' WHERE key = 'schema'");
    db.close();

    const reader = await Archive.open(path, { readOnly: true });
    try {
      assert.equal(await briefCount(reader), 0);
      assert.equal((await exported(reader, "xml", true)).text, before.text);
    } finally {
      await reader.close();
    }

    const writer = await Archive.open(path);
    try {
      assert.equal(await briefCount(writer), 0);
      // Written after: brief, beside the rows written before.
      await writeAll(writer, [{
        t: T0 + 86_000_000,
        room: CAPTURE_ROOM,
        message: { type: "chatmsg", uid: "7", nn: "Ann", txt: "later", col: "1" },
      }]);
      assert.equal(await briefCount(writer), 1);
      const after = await exported(writer, "xml", true);
      assert.equal(after.text, (await exported(writer, "xml", false)).text);
      assert.ok(after.text.includes(">later</d>"));
    } finally {
      await writer.close();
    }
    // Its layout is now 2: a version before the column refuses it (its writes would fail).
    const check = new DatabaseSync(path, { readOnly: true });
    const schema = check.prepare("SELECT value FROM archive_info WHERE key = 'schema'").get();
    check.close();
    assert.deepEqual({ ...schema }, { value: "douyu-archive-sqlite 2" });
  });
});

test("archive brief: a type first stored while a brief query reads is read whole", async () => {
  await withArchive(async (archive) => {
    for (let n = 0; n < 600; n++) {
      archive.write({
        t: T0 + n,
        room: CAPTURE_ROOM,
        message: { type: "chatmsg", uid: "7", nn: "Ann", txt: `chat ${n}` },
      });
    }
    await archive.flush();
    const items = archive.query({ room: CAPTURE_ROOM, brief: true });
    const first = await items.next();
    assert.equal(first.done, false);
    // The archive's first gift, after the query's first page.
    const gift = { type: "dgb", uid: "7", nn: "Ann", gfid: "824", gfcnt: "1" };
    archive.write({ t: T0 + 1000, room: CAPTURE_ROOM, message: gift });
    await archive.flush();
    const rest = await collect({ [Symbol.asyncIterator]: () => items });
    assert.equal(rest.length, 600);
    assert.deepEqual(rest.at(-1)!.message, gift);
  });
});
