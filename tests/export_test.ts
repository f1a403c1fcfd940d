// deno-lint-ignore-file no-control-regex -- these tests look for control characters
/** The archive's exports, as pure functions: every format, gaps, escaping, the lane rule. */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { exportAss } from "../src/archive/export/ass.ts";
import { CHAT_TYPES, chatOf, collectExport } from "../src/archive/export/common.ts";
import { CSV_COLUMNS, exportCsv } from "../src/archive/export/csv.ts";
import { exportJsonl } from "../src/archive/export/jsonl.ts";
import {
  fitsBehind,
  pickLane,
  type Scroll,
  type Stage,
  textWidth,
} from "../src/archive/export/lanes.ts";
import { EXPORT_FORMATS, exportAs, exportTypes } from "../src/archive/export/mod.ts";
import { MIN_NOTICE_MS, NoticeBoard } from "../src/archive/export/notices.ts";
import { exportSrt } from "../src/archive/export/srt.ts";
import { exportXml } from "../src/archive/export/xml.ts";
import { GapTracker, type TimedItem } from "../src/archive/timed.ts";
import { type Message, parseMessage, superChatOf } from "../src/protocol/messages.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { GIFT_TYPES, GiftCatalog, giftOf } from "../src/protocol/gifts.ts";
import { CAPTURE_ROOM, chat, exportItems, HOSTILE_TEXTS, isChatItem } from "./export_data.ts";
import { randomInt, seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";

const ROOM = 9999;
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

function at(seconds: number, text: string, extra: Record<string, string | number> = {}): TimedItem {
  return {
    t: T0 + seconds * 1000,
    room: ROOM,
    message: parseMessage(encodeStt({ type: "chatmsg", uid: 7, nn: "Ann", txt: text, ...extra })),
  };
}

/** Nothing a terminal, a parser or a player would act on. */
const UNSAFE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202a-\u202e\ufeff\ufffe\uffff]/;

// ---------------------------------------------------------------- lanes

const STAGE: Stage = { width: 1920, duration: 8000, gap: 40 };

/** Head and tail of a scroll at time `t`, px from the left edge. */
function position(scroll: Scroll, t: number, stage: Stage): { head: number; tail: number } {
  const speed = (stage.width + scroll.width) / stage.duration;
  const head = stage.width - speed * (t - scroll.start);
  return { head, tail: head + scroll.width };
}

/**
 * Whether two scrolls of a row ever come closer than `gap` while both are on
 * screen, by sampling every millisecond: no use of the allocator's algebra.
 */
function closestApproach(a: Scroll, b: Scroll, stage: Stage): number {
  const [first, second] = a.start <= b.start ? [a, b] : [b, a];
  let closest = Infinity;
  const from = second.start;
  const to = Math.min(first.start, second.start) + stage.duration;
  for (let t = from; t <= to; t++) {
    const ahead = position(first, t, stage);
    const behind = position(second, t, stage);
    if (ahead.tail <= 0) break; // the first has left
    closest = Math.min(closest, behind.head - ahead.tail);
  }
  return closest;
}

test("lanes: two chats in a row never come closer than the gap (random streams, sampled)", () => {
  const random = seededRandom(17);
  for (let round = 0; round < 20; round++) {
    const lanes: (Scroll | undefined)[] = new Array(6).fill(undefined);
    const placed: Scroll[][] = lanes.map(() => []);
    let t = 0;
    let hidden = 0;
    for (let i = 0; i < 150; i++) {
      t += randomInt(random, 900);
      const scroll = { start: t, width: 40 + randomInt(random, 1400) };
      const lane = pickLane(lanes, scroll, STAGE);
      if (lane < 0) {
        hidden++;
        continue;
      }
      // The topmost row that fits: every row above it is taken.
      for (let above = 0; above < lane; above++) {
        ok(!fitsBehind(lanes[above]!, scroll, STAGE));
      }
      lanes[lane] = scroll;
      placed[lane]!.push(scroll);
    }
    for (const row of placed) {
      for (let i = 0; i < row.length; i++) {
        for (let j = i + 1; j < row.length; j++) {
          const closest = closestApproach(row[i]!, row[j]!, STAGE);
          ok(closest >= STAGE.gap - 1, `round ${round}: ${closest} px apart`);
        }
      }
    }
    ok(hidden < 150);
  }
});

test("lanes: a faster chat may not follow a slow one it would catch up with", () => {
  const slow: Scroll = { start: 0, width: 100 };
  // Entered the screen fully long ago, but long enough to catch up before the short one leaves.
  const fast: Scroll = { start: 3000, width: 1800 };
  ok(closestApproach(slow, fast, STAGE) < STAGE.gap);
  strictEqual(fitsBehind(slow, fast, STAGE), false);
  // The other way round, the short one is slower and never catches up.
  strictEqual(fitsBehind({ start: 0, width: 1800 }, { start: 4000, width: 100 }, STAGE), true);
  // Until its tail is in, nothing follows; once the first has left, anything does.
  strictEqual(fitsBehind(slow, { start: 100, width: 100 }, STAGE), false);
  strictEqual(fitsBehind(slow, { start: 8000, width: 3000 }, STAGE), true);
  strictEqual(pickLane([slow, undefined], { start: 100, width: 10 }, STAGE), 1);
  strictEqual(pickLane([slow], { start: 100, width: 10 }, STAGE), -1);
});

test("lanes: text widths never below a CJK font's", () => {
  strictEqual(textWidth("", 40, 2), 4);
  strictEqual(textWidth("主播", 40, 0), 80);
  strictEqual(textWidth("abc", 40, 0), 72);
  strictEqual(textWidth("😀", 40, 0), 48);
  strictEqual(textWidth("a😀b", 10, 0), 24);
});

// ---------------------------------------------------------------- gaps

test("gaps: disconnected to connected is a gap, dropped a loss, an open gap ends with the export", () => {
  const gaps = new GapTracker();
  const s = (t: number, status: string, detail?: string) => ({ t, room: 1, status, detail });
  strictEqual(gaps.observe(s(0, "connected")), undefined);
  strictEqual(gaps.observe(s(1000, "disconnected", "EOF")), undefined);
  strictEqual(gaps.observe(s(1500, "reconnecting")), undefined);
  strictEqual(gaps.observe(s(2000, "closed")), undefined);
  deepStrictEqual(gaps.observe(s(4000, "connected")), {
    start: 1000,
    end: 4000,
    reason: "disconnected: EOF",
  });
  deepStrictEqual(gaps.observe(s(5000, "dropped", "3 messages")), {
    start: 5000,
    end: 5000,
    reason: "dropped: 3 messages",
  });
  strictEqual(gaps.observe(s(6000, "stopped")), undefined);
  deepStrictEqual(gaps.finish(9000), { start: 6000, end: 9000, reason: "stopped", open: true });
  strictEqual(gaps.finish(9000), undefined);
});

test("notices: never two at once; overlapping gaps share one notice", () => {
  const board = new NoticeBoard();
  const gap = (start: number, end: number) => ({ start, end, reason: "disconnected" });
  strictEqual(board.add(gap(0, 500), 0, 500), undefined);
  strictEqual(board.due(MIN_NOTICE_MS - 1), undefined);
  strictEqual(board.add(gap(2000, 2500), 2000, 2500), undefined); // merged
  const first = board.add(gap(10_000, 20_000), 10_000, 20_000);
  deepStrictEqual(first, {
    start: 0,
    end: MIN_NOTICE_MS,
    text: "[gap] 2 gaps from 0:00:00 to 0:00:02, the first disconnected",
  });
  deepStrictEqual(board.due(20_000), {
    start: 10_000,
    end: 20_000,
    text: "[gap] no messages for 10.0 s: disconnected",
  });
  strictEqual(board.finish(), undefined);
});

// ---------------------------------------------------------------- every format

test("export: every format marks the gap and skips what came before the start", async () => {
  const items: TimedItem[] = [
    at(-5, "before the start"),
    at(1, "first"),
    { t: T0 + 2000, room: ROOM, status: "disconnected", detail: "read ECONNRESET" },
    { t: T0 + 9000, room: ROOM, status: "connected", detail: "tcp://x" },
    at(10, "second"),
  ];
  for (const format of EXPORT_FORMATS) {
    const { text, summary } = await collectExport(exportAs(format, items, { start: T0 }));
    strictEqual(summary.beforeStart, 1, format);
    strictEqual(summary.gaps, 1, format);
    strictEqual(summary.items, 5, format);
    strictEqual(summary.start, T0, format);
    ok(!text.includes("before the start"), format);
    ok(text.includes("first") && text.includes("second"), format);
    ok(/ECONNRESET/.test(text), `${format} marks the gap:\n${text}`);
  }
});

test("export: time zero is the first item by default; an empty export is a valid empty file", async () => {
  const { text, summary } = await collectExport(exportSrt([at(3, "a"), at(4.5, "b")]));
  strictEqual(summary.start, T0 + 3000);
  ok(text.startsWith("1\n00:00:00,000 --> 00:00:04,000\nAnn: a\n\n2\n00:00:01,500 --> "), text);
  for (const format of EXPORT_FORMATS) {
    const empty = await collectExport(exportAs(format, []));
    strictEqual(empty.summary.items, 0);
    strictEqual(empty.summary.start, undefined);
  }
  strictEqual((await collectExport(exportXml([]))).text.trimEnd().endsWith("</i>"), true);
  const emptyRoom = (await collectExport(exportXml([], { room: ROOM }))).text;
  ok(emptyRoom.includes(`<douyu room="${ROOM}" />`), emptyRoom);
  strictEqual((await collectExport(exportCsv([]))).text, CSV_COLUMNS.join(",") + "\r\n");
  ok((await collectExport(exportAss([]))).text.includes("[Events]"));
});

test("export: an async source gives the same text as an array", async () => {
  const items = await exportItems();
  async function* slowly() {
    for (const item of items) {
      await Promise.resolve();
      yield item;
    }
  }
  for (const format of EXPORT_FORMATS) {
    const fromArray = await collectExport(exportAs(format, items));
    const fromGenerator = await collectExport(exportAs(format, slowly()));
    strictEqual(fromGenerator.text, fromArray.text, format);
  }
});

test("export: the types a format names are all it writes: from those alone, the same file", async () => {
  const items = await exportItems();
  // A gift of a kind the capture lacks.
  const last = items[items.length - 1]!;
  items.push({
    t: last.t + 10,
    room: last.room,
    message: parseMessage("type@=gdp/uid@=5/nn@=Bob/gfid@=824/gfcnt@=3/"),
  });
  const start = items[0]!.t;
  for (const format of EXPORT_FORMATS) {
    const types = exportTypes(format);
    const only = types === undefined
      ? items
      : items.filter((item) => !("message" in item) || types.includes(item.message.type));
    const whole = await collectExport(exportAs(format, items, { start }));
    const narrowed = await collectExport(exportAs(format, only, { start }));
    strictEqual(narrowed.text, whole.text, format);
    strictEqual(narrowed.summary.written, whole.summary.written, format);
    if (format !== "jsonl" && format !== "csv") ok(only.length < items.length / 2, format);
  }
  // Beyond the formats: no other type has a chat or a gift.
  for (const item of items) {
    if (!("message" in item)) continue;
    const { message } = item;
    if (!CHAT_TYPES.has(message.type)) strictEqual(chatOf(message), undefined, message.type);
    if (!GIFT_TYPES.has(message.type)) strictEqual(giftOf(message), undefined, message.type);
  }
});

test("export: big exports come in chunks, and the chunks make the whole", async () => {
  const items = Array.from({ length: 5000 }, (_, i) => at(i / 10, `chat number ${i}`));
  const generator = exportXml(items);
  const chunks: string[] = [];
  for await (const chunk of generator) chunks.push(chunk);
  ok(chunks.length > 3, `${chunks.length} chunks`);
  strictEqual(chunks.join(""), (await collectExport(exportXml(items))).text);
});

test("export: a start that is no time is a RangeError", async () => {
  const generator = exportJsonl([], { start: NaN });
  let error: unknown;
  try {
    await generator.next();
  } catch (caught) {
    error = caught;
  }
  ok(error instanceof RangeError);
  throws(() => exportAss([], { width: 0 }), RangeError);
  throws(() => exportAss([], { height: 40, fontSize: 40 }), RangeError);
  throws(() => exportAss([], { font: "\n" }), RangeError);
  throws(() => exportSrt([], { duration: -1 }), RangeError);
});

test("export: hostile text reaches no format raw", async () => {
  const items = await exportItems();
  for (const format of EXPORT_FORMATS) {
    const { text } = await collectExport(exportAs(format, items));
    if (format === "jsonl") {
      // Lossless: every line parses back, and the texts are there exactly.
      const lines = text.trimEnd().split("\n").map((line) => JSON.parse(line));
      for (const hostile of HOSTILE_TEXTS) ok(lines.some((line) => line.txt === hostile));
      ok(!/[\u007f-\u009f\u2028\u2029\u202a-\u202e]/.test(text));
      continue;
    }
    ok(!UNSAFE.test(text), `${format}: ${JSON.stringify(text.match(UNSAFE))}`);
  }
});

// ---------------------------------------------------------------- JSONL

test("jsonl: the --json line with _room, _t and _gift; status lines; times absolute", async () => {
  const catalog = new GiftCatalog({
    roomId: ROOM,
    gifts: [{ id: "20004", name: "火箭", price: 50000, paid: true, source: "room" }],
  });
  const rocket = parseMessage("type@=dgb/gfid@=20004/gfcnt@=2/nn@=Rich/");
  const unknown = parseMessage("type@=dgb/gfid@=777/gfcnt@=1/");
  const items: TimedItem[] = [
    { t: T0, room: ROOM, message: rocket, gift: giftOf(rocket, catalog) },
    { t: T0 + 1, room: ROOM, message: unknown },
    { t: T0 + 2, room: ROOM, status: "stopped" },
    { t: T0 + 3, room: ROOM, message: parseMessage("type@=comm_chatmsg/cprice@=3000/cet@=60/") },
  ];
  const { text } = await collectExport(exportJsonl(items, { start: T0 - 60_000 }));
  deepStrictEqual(text.trimEnd().split("\n").map((line) => JSON.parse(line)), [
    { ...rocket, _room: ROOM, _t: T0, _gift: { name: "火箭", value: 1000 } },
    { ...unknown, _room: ROOM, _t: T0 + 1 },
    { _status: "stopped", _room: ROOM, _t: T0 + 2 },
    {
      type: "comm_chatmsg",
      cprice: "3000",
      cet: "60",
      _room: ROOM,
      _t: T0 + 3,
      _gift: { value: 30 },
    },
  ]);
});

// ---------------------------------------------------------------- CSV

/** A small RFC 4180 reader, for checking: quoted fields, doubled quotes, CRLF. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') (field += '"', i++);
      else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") (row.push(field), field = "");
    else if (char === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += char;
  }
  strictEqual(field + row.join(""), "", "the last row ends with CRLF");
  return rows;
}

test("csv: a header, one row per message and status, quotes doubled, formulas disarmed", async () => {
  const items: TimedItem[] = [
    at(0, 'say "hi", all'),
    at(1.5, "=SUM(A1:A9)"),
    at(2, "-_-", { nn: "@admin", level: 30 }),
    { t: T0 + 3000, room: ROOM, status: "disconnected", detail: "EOF, again" },
    {
      t: T0 + 4000,
      room: ROOM,
      message: parseMessage("type@=dgb/uid@=8/nn@=Rich/gfid@=824/gfcnt@=10/level@=5/"),
    },
  ];
  const { text, summary } = await collectExport(exportCsv(items));
  strictEqual(summary.written, 5);
  const rows = readCsv(text);
  deepStrictEqual(rows[0], [...CSV_COLUMNS]);
  deepStrictEqual(rows.slice(1).map((row) => row.length), [11, 11, 11, 11, 11]);
  deepStrictEqual(rows[1], [
    "2024-05-01T12:00:00.000Z",
    "0.000",
    "9999",
    "chatmsg",
    "7",
    "Ann",
    "",
    'say "hi", all',
    "",
    "",
    "",
  ]);
  strictEqual(rows[2]![1], "1.500");
  strictEqual(rows[2]![7], "'=SUM(A1:A9)");
  deepStrictEqual([rows[3]![5], rows[3]![6], rows[3]![7]], ["'@admin", "30", "'-_-"]);
  deepStrictEqual(rows[4]!.slice(3, 8), ["_status", "", "", "", "disconnected: EOF, again"]);
  deepStrictEqual(rows[5]!.slice(3, 11), ["dgb", "8", "Rich", "5", "", "gift #824", "10", ""]);
});

test("csv: the time column is toISOString of each arrival, across seconds, years and eras", async () => {
  const random = seededRandom(5);
  let t = -86_400_000 * 3;
  const times: number[] = [];
  while (times.length < 2000) {
    times.push(t);
    t += randomInt(random, 3) === 0 ? randomInt(random, 400) : randomInt(random, 5_000_000_000);
  }
  times.push(253_402_300_799_999, 253_402_300_800_000, 253_402_300_800_123); // to year 10000
  const items = times.map((time) => ({ ...at(0, "x"), t: time }));
  const rows = readCsv((await collectExport(exportCsv(items))).text).slice(1);
  deepStrictEqual(rows.map((row) => row[0]), times.map((time) => new Date(time).toISOString()));
});

// ---------------------------------------------------------------- XML

test("xml: <d> per chat with p as BililiveRecorder writes it, <gift>, <sc>, comments for gaps", async () => {
  const catalog = new GiftCatalog({
    roomId: ROOM,
    gifts: [{ id: "20004", name: "火箭", price: 50000, paid: true, source: "room" }],
  });
  const rocket = parseMessage("type@=dgb/uid@=8/nn@=Rich/gfid@=20004/gfcnt@=1/");
  const items: TimedItem[] = [
    at(0, "red", { col: 1 }),
    at(0.25, "white"),
    { t: T0 + 500, room: ROOM, message: rocket, gift: giftOf(rocket, catalog) },
    { t: T0 + 750, room: ROOM, status: "closed", detail: "bye -- see you-" },
    {
      t: T0 + 1000,
      room: ROOM,
      message: parseMessage(
        "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=3000/cet@=60/chatmsg@=nn@A=Fan@Suid@A=9@Stxt@A=hey@S/",
      ),
    },
  ];
  const { text } = await collectExport(exportXml(items));
  const lines = text.split("\n");
  strictEqual(lines[0], '<?xml version="1.0" encoding="UTF-8"?>');
  strictEqual(lines[1], "<i>");
  ok(lines.includes('  <douyu room="9999" start_time="2024-05-01T12:00:00.000Z" />'), text);
  ok(lines.includes(`  <d p="0.000,1,25,16711680,${T0},0,7,1" user="Ann" uid="7">red</d>`), text);
  ok(lines.includes(`  <d p="0.250,1,25,16777215,${T0 + 250},0,7,2" user="Ann" uid="7">white</d>`));
  ok(
    lines.includes(
      '  <gift ts="0.500" user="Rich" uid="8" giftname="火箭" giftcount="1" price="500" />',
    ),
    text,
  );
  ok(lines.includes("  <!-- 0.750 closed: bye - - see you-  -->"), text);
  ok(lines.includes('  <sc ts="1.000" user="Fan" uid="9" price="30" time="60">hey</sc>'), text);
  strictEqual(lines.at(-2), "</i>");
});

// ---------------------------------------------------------------- ASS

function dialogues(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith("Dialogue: "));
}

test("ass: a 1920×1080 script; each chat scrolls in the topmost free row, in its colour", async () => {
  const items = [at(0, "主播好", { col: 2 }), at(0.5, "second"), at(20, "third")];
  const { text, summary } = await collectExport(exportAss(items));
  ok(text.includes("PlayResX: 1920\nPlayResY: 1080\n"), text);
  strictEqual(summary.written, 3);
  deepStrictEqual(dialogues(text), [
    "Dialogue: 0,0:00:00.00,0:00:08.00,Danmaku,,0,0,0,,{\\move(1920,0,-124,0)\\c&HF0871E&}主播好",
    "Dialogue: 0,0:00:00.50,0:00:08.50,Danmaku,,0,0,0,,{\\move(1920,48,-148,48)}second",
    "Dialogue: 0,0:00:20.00,0:00:28.00,Danmaku,,0,0,0,,{\\move(1920,0,-124,0)}third",
  ]);
});

test("ass: markup in a chat is shown, not obeyed", async () => {
  const { text } = await collectExport(exportAss([at(0, "{\\pos(0,0)}\\N{x}")]));
  ok(dialogues(text)[0]!.endsWith("}｛＼pos(0,0)｝＼N｛x｝"), text);
});

test("ass: a flood fills every row, then chats are kept as comments and counted, never overlapped", async () => {
  const items = Array.from({ length: 400 }, (_, i) => at(i / 100, `flood ${i} 主播主播主播`));
  const { text, summary } = await collectExport(exportAss(items, { height: 480 }));
  const shown = dialogues(text);
  const rows = Math.floor(480 / 48) - 1;
  strictEqual(shown.length, summary.written);
  ok(summary.hidden > 0 && summary.hidden + summary.written === 400, JSON.stringify(summary));
  ok(shown.length >= rows, `${shown.length} shown`);
  strictEqual(
    text.split("\n").filter((line) => line.startsWith("Comment: 0,0:00:")).length,
    summary.hidden + 1,
  );
  ok(text.includes(`${summary.hidden} chats not shown: every row was taken`));
  // Rebuild each row from the file and check it with the sampled geometry.
  const byRow = new Map<number, Scroll[]>();
  for (const line of shown) {
    const [, start, y, w] = line.match(
      /^Dialogue: 0,0:00:(\d\d\.\d\d),.*\\move\(1920,(\d+),-(\d+),/,
    )!;
    const row = byRow.get(Number(y)) ?? [];
    row.push({ start: Math.round(Number(start) * 1000), width: Number(w) });
    byRow.set(Number(y), row);
  }
  ok(byRow.size === rows);
  for (const row of byRow.values()) {
    for (let i = 1; i < row.length; i++) {
      ok(closestApproach(row[i - 1]!, row[i]!, { ...STAGE, gap: 40 }) >= 39);
    }
  }
});

test("ass: gaps show in the bottom row, one at a time", async () => {
  const items: TimedItem[] = [
    at(0, "a"),
    { t: T0 + 1000, room: ROOM, status: "disconnected", detail: "EOF" },
    { t: T0 + 7000, room: ROOM, status: "connected" },
    { t: T0 + 7500, room: ROOM, status: "dropped", detail: "4 messages" },
    at(30, "b"),
    { t: T0 + 40_000, room: ROOM, status: "stopped" },
  ];
  const { text, summary } = await collectExport(exportAss(items));
  strictEqual(summary.gaps, 3);
  deepStrictEqual(dialogues(text).filter((line) => line.includes(",Notice,")), [
    "Dialogue: 1,0:00:01.00,0:00:07.00,Notice,,0,0,0,,[gap] no messages for 6.0 s: disconnected: EOF",
    "Dialogue: 1,0:00:07.50,0:00:10.50,Notice,,0,0,0,,[gap] dropped: 4 messages",
    "Dialogue: 1,0:00:40.00,0:00:43.00,Notice,,0,0,0,,[gap] no messages from here on: stopped",
  ]);
  ok(text.includes("Style: Notice,Microsoft YaHei,40,&H0000FFFF,"));
});

test("ass, srt: a gap's reason (a status detail, from the wire) is cleaned: no new event, line or control", async () => {
  const detail =
    "x\r\nDialogue: 0,0:00:00.00,0:00:09.00,Danmaku,,0,0,0,,INJECTED\n\n99\n\u202eevil\u001b[31m";
  const items: TimedItem[] = [
    at(0, "a"),
    { t: T0 + 1000, room: ROOM, status: "disconnected", detail },
    { t: T0 + 7000, room: ROOM, status: "connected" },
    at(30, "b"),
  ];
  const ass = (await collectExport(exportAss(items))).text;
  strictEqual(dialogues(ass).filter((line) => line.includes("INJECTED")).length, 1);
  ok(dialogues(ass).some((line) => line.startsWith("Dialogue: 1,") && line.includes("INJECTED")));
  const srt = (await collectExport(exportSrt(items))).text;
  for (const text of [ass, srt]) {
    ok(!/[\r\u001b\u202e]/.test(text), JSON.stringify(text));
  }
  // The SRT's cues: the two chats and the notice, nothing more.
  strictEqual(srt.trim().split(/\n\n+/).length, 3, srt);
});

// ---------------------------------------------------------------- SRT

interface Cue {
  n: number;
  start: string;
  end: string;
  text: string;
}

function cues(text: string): Cue[] {
  return text.trimEnd().split("\n\n").map((block) => {
    const [n, times, ...rest] = block.split("\n");
    const [start, end] = times!.split(" --> ");
    return { n: Number(n), start: start!, end: end!, text: rest.join("\n") };
  });
}

test("srt: one cue per chat and super chat, numbered in time order, gap cues included", async () => {
  const items: TimedItem[] = [
    at(0, "a"),
    { t: T0 + 1000, room: ROOM, status: "disconnected", detail: "EOF" },
    { t: T0 + 2000, room: ROOM, status: "connected" },
    at(2.1, "b"),
    { t: T0 + 2200, room: ROOM, message: parseMessage("type@=uenter/nn@=Bob/") },
    {
      t: T0 + 2500,
      room: ROOM,
      message: parseMessage(
        "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=3000/cet@=60/chatmsg@=nn@A=Fan@Stxt@A=hey@S/",
      ),
    },
    at(3600 * 100 + 1.5, "late"),
  ];
  const { text, summary } = await collectExport(exportSrt(items));
  deepStrictEqual(cues(text), [
    { n: 1, start: "00:00:00,000", end: "00:00:04,000", text: "Ann: a" },
    {
      n: 2,
      start: "00:00:01,000",
      end: "00:00:04,000",
      text: "[gap] no messages for 1.0 s: disconnected: EOF",
    },
    { n: 3, start: "00:00:02,100", end: "00:00:06,100", text: "Ann: b" },
    { n: 4, start: "00:00:02,500", end: "00:00:06,500", text: "¥30 Fan: hey" },
    { n: 5, start: "100:00:01,500", end: "100:00:05,500", text: "Ann: late" },
  ]);
  strictEqual(summary.written, 5);
});

test("srt: names and texts are one line, markup shown not obeyed", async () => {
  const { text } = await collectExport(
    exportSrt([
      at(0, "<i>x</i>\n\n2\n00:00:00,000 --> 00:00:09,000\n{\\an8}", { nn: "A\u200bnn" }),
    ]),
  );
  deepStrictEqual(cues(text), [{
    n: 1,
    start: "00:00:00,000",
    end: "00:00:04,000",
    text: "A＜U+200B＞nn: ＜i＞x＜/i＞200:00:00,000 --＞ 00:00:09,000｛＼an8｝",
  }]);
});

test("export data: the capture, sample chats and hostile chats, in time order", async () => {
  const items = await exportItems();
  for (let i = 1; i < items.length; i++) ok(items[i]!.t >= items[i - 1]!.t);
  ok(items.filter(isChatItem).length > HOSTILE_TEXTS.length + 5);
  ok(items.every((item) => item.room === CAPTURE_ROOM));
  strictEqual(chat(1, "a", "b").type, "chatmsg");
});

test("exports: a super chat whose fields are not strings (a stored or imported message) is written, not thrown on", async () => {
  const message = {
    type: "comm_chatmsg",
    cprice: "3000",
    cet: "60",
    uid: ["7"],
    btype: { odd: "map" },
    chatmsg: { nn: ["<b>"], txt: { a: "1" }, uid: ["7"] },
  } as unknown as Message;
  const items: TimedItem[] = [{ t: T0, room: ROOM, message }];
  for (const format of EXPORT_FORMATS) {
    const { summary } = await collectExport(exportAs(format, items));
    strictEqual(summary.items, 1, format);
  }
  deepStrictEqual(superChatOf(message), {
    name: "",
    uid: undefined,
    text: "",
    price: 30,
    seconds: 60,
    kind: "",
  });
});
