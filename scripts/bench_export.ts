/**
 * Exports of many messages: the time to export N timed messages to each
 * format, as a ratio of a plain `JSON.stringify` pass over the same rows in
 * the same run (the cost of touching every row once, for comparison).
 *
 *   deno task bench:export [--messages 1000000] [--rounds 3] [--formats ass,xml]
 *
 * Two sets of rows, each generated on the fly from a pool of real messages
 * (the capture in tests/fixtures/ and the demo sample), with times 100 ms
 * apart:
 * - "chat": every row a chat or super chat (everyday danmaku texts, one in
 *   a hundred hostile), the worst case for the formats that show chat (ASS
 *   lays out every one);
 * - "capture": the capture's mix of types, cycled (few chats, many gifts).
 * Rounds alternate the baseline and the exports; medians are reported, and
 * the absolute figures only beside the ratios.
 *
 * With `--archive`, instead: an export end to end, as `douyu export` runs it,
 * from a SQLite archive of `--messages` messages of one room (the archive
 * bench's generator: the capture's mix, 60% chats), written to a file. Each
 * format is read with brief rows (what `douyu export` does) and with every
 * message whole (as before brief rows), alternating; reported: each one's
 * median, and brief as a ratio of whole. Building the archive takes about
 * 40 s a million messages, and is not timed.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Archive } from "../src/archive/archive.ts";
import {
  EXPORT_FORMATS,
  exportAs,
  type ExportFormat,
  exportTypes,
} from "../src/archive/export/mod.ts";
import { generate, loadSource } from "../tests/archive/corpus.ts";
import type { TimedItem } from "../src/archive/timed.ts";
import type { Message } from "../src/protocol/messages.ts";
import { chat, exportItems, HOSTILE_TEXTS, isChatItem } from "../tests/export_data.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    formats: { type: "string", default: EXPORT_FORMATS.join(",") },
    archive: { type: "boolean", default: false },
  },
});
const total = Number(values.messages);
const rounds = Number(values.rounds);
const formats = values.formats.split(",").filter((f): f is ExportFormat =>
  (EXPORT_FORMATS as readonly string[]).includes(f)
);
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

const items = await exportItems();
const messages = items.flatMap((item) => "message" in item ? [item.message] : []);
const chatPool: Message[] = items.filter(isChatItem).map((item) => item.message);
// More distinct chats: everyday danmaku under many names and colours, one in a hundred hostile.
const EVERYDAY = [
  "主播666",
  "哈哈哈哈哈哈",
  "这波操作可以",
  "gg",
  "来了来了",
  "晚上好！今天播什么？",
  "主播太强了吧 😂",
  "下一局什么时候开始",
  "？？？",
  "nice shot!",
  "冲冲冲",
  "好家伙 这都能赢",
];
for (let i = 0; chatPool.length < 5000; i++) {
  const text = i % 100 === 0
    ? HOSTILE_TEXTS[(i / 100) % HOSTILE_TEXTS.length]!
    : `${EVERYDAY[i % EVERYDAY.length]!}${i % 3 === 0 ? ` ${i}` : ""}`;
  chatPool.push(chat(10_000 + i, `viewer_${i}`, text, String(i % 7)));
}

/** N rows from a pool, 100 ms apart, generated as they are read. */
function* rows(pool: readonly Message[], n: number): Generator<TimedItem> {
  for (let i = 0; i < n; i++) {
    yield { t: T0 + i * 100, room: 102965, message: pool[i % pool.length]! };
  }
}

function baseline(pool: readonly Message[]): number {
  let chars = 0;
  for (const row of rows(pool, total)) chars += JSON.stringify(row).length;
  return chars;
}

async function exportOnce(format: ExportFormat, pool: readonly Message[]): Promise<number> {
  let chars = 0;
  for await (const chunk of exportAs(format, rows(pool, total))) chars += chunk.length;
  return chars;
}

async function time(fn: () => number | Promise<number>): Promise<number> {
  const start = performance.now();
  const chars = await fn();
  if (chars === 0) throw new Error("nothing written");
  return performance.now() - start;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

if (values.archive) {
  await fromArchive();
  process.exit(0);
}

/** The `--archive` bench: exports end to end from a SQLite archive, brief rows against whole. */
async function fromArchive(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "douyu-bench-export-"));
  try {
    const path = join(dir, "archive.db");
    const archive = await Archive.open(path);
    let room = 0;
    const source = await loadSource();
    for (const item of generate(source, { messages: total, rooms: 1, days: 1, start: T0 })) {
      room = item.room;
      const wait = archive.write(item);
      if (wait) await wait;
    }
    await archive.close();
    const reader = await Archive.open(path, { readOnly: true });
    const encoder = new TextEncoder();
    const once = async (format: ExportFormat, brief: boolean): Promise<number> => {
      const types = exportTypes(format);
      const query = { room, ...(types === undefined ? {} : { types }), brief };
      const file = await open(join(dir, `out.${format}`), "w");
      let chars = 0;
      try {
        for await (const chunk of exportAs(format, reader.items(query))) {
          chars += chunk.length;
          await file.write(encoder.encode(chunk));
        }
      } finally {
        await file.close();
      }
      return chars;
    };
    console.log(
      `export of an archive of ${total} messages of one room, ${rounds} rounds, ${navigator.userAgent}`,
    );
    try {
      for (const format of formats.filter((format) => exportTypes(format) !== undefined)) {
        const brief: number[] = [];
        const whole: number[] = [];
        for (let round = 0; round < rounds; round++) {
          whole.push(await time(() => once(format, false)));
          brief.push(await time(() => once(format, true)));
        }
        const [b, w] = [median(brief), median(whole)];
        console.log(
          `  ${format.padEnd(5)} brief rows ${(b / 1000).toFixed(2)} s, every message whole ${
            (w / 1000).toFixed(2)
          } s: ${(b / w).toFixed(2)}×`,
        );
      }
    } finally {
      await reader.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(`${total} rows per export, ${rounds} rounds, ${navigator.userAgent}`);
for (const [name, pool] of [["chat", chatPool], ["capture", messages]] as const) {
  const base: number[] = [];
  const took = new Map<ExportFormat, number[]>(formats.map((f) => [f, []]));
  for (let round = 0; round < rounds; round++) {
    for (const format of formats) {
      base.push(await time(() => baseline(pool)));
      took.get(format)!.push(await time(() => exportOnce(format, pool)));
    }
  }
  const b = median(base);
  console.log(`\n${name} rows: JSON.stringify pass ${(b / 1000).toFixed(2)} s (= 1.00)`);
  for (const format of formats) {
    const ms = median(took.get(format)!);
    console.log(
      `  ${format.padEnd(5)} ${(ms / b).toFixed(2)}× the JSON.stringify pass (${
        (ms / 1000).toFixed(2)
      } s, ${Math.round(total / (ms / 1000)).toLocaleString("en")} rows/s)`,
    );
  }
}
