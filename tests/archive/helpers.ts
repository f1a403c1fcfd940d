/** Shared by the archive tests: temporary archives, and collecting what a query gives. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Archive, type ArchiveOptions } from "../../src/archive/archive.ts";
import type { TimedMessage } from "../../src/archive/timed.ts";

/** Runs `fn` with a fresh directory, removed afterwards. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "douyu-archive-test-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with a new SQLite archive in a fresh directory; closes it and removes the directory. */
export async function withArchive(
  fn: (archive: Archive, path: string) => Promise<void>,
  options: ArchiveOptions = {},
): Promise<void> {
  await withDir(async (dir) => {
    const path = join(dir, "archive.db");
    const archive = await Archive.open(path, options);
    try {
      await fn(archive, path);
    } finally {
      await archive.close();
    }
  });
}

/** Everything an async iterable gives. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** An item as comparable text: its time, room, message (keys in order) and gift. */
export function itemText(item: TimedMessage): string {
  return JSON.stringify([item.t, item.room, item.message, item.gift ?? null]);
}

/** A chat message item. */
export function chat(
  t: number,
  room: number,
  text: string,
  extra: Record<string, string> = {},
): TimedMessage {
  return {
    t,
    room,
    message: { type: "chatmsg", uid: "1", nn: "Ann", txt: text, level: "3", ...extra },
  };
}

/** Common chat characters, so that short queries find many texts. */
const HAN = "主播好哈来了牛逼的我你是不这个就有人啊吗么在看天下一大小说拒绝酸奶池";
const LATIN = "abcdefgGGhijklmnopqrsSTUVWXYZ0123456789";
const OTHER = [
  " ",
  "，",
  "!",
  "?",
  "%",
  "_",
  "\\",
  "'",
  '"',
  "😀",
  "👍🏻",
  "é",
  "É",
  "ß",
  "Ａ",
  "\u0301",
];

export function randomText(random: () => number): string {
  const length = 1 + Math.floor(random() * 14);
  let text = "";
  for (let i = 0; i < length; i++) {
    const r = random();
    text += r < 0.55
      ? HAN[Math.floor(random() * HAN.length)]
      : r < 0.85
      ? LATIN[Math.floor(random() * LATIN.length)]
      : OTHER[Math.floor(random() * OTHER.length)];
  }
  return text;
}

/** A query: a piece of a stored text (1 to 4 characters, or a word), recased, or anything. */
export function randomQuery(random: () => number, texts: readonly string[]): string {
  const r = random();
  if (r < 0.75) {
    const chars = Array.from(texts[Math.floor(random() * texts.length)]!);
    const length = 1 + Math.floor(random() * Math.min(4, chars.length));
    const from = Math.floor(random() * (chars.length - length + 1));
    const piece = chars.slice(from, from + length).join("");
    return random() < 0.3 ? piece.toUpperCase() : piece;
  }
  if (r < 0.9) {
    return [
      "gg",
      "GG",
      "666",
      "abc",
      "a_c",
      "5%",
      "\\",
      "主播好",
      "好哈",
    ][Math.floor(random() * 9)]!;
  }
  return randomText(random);
}
