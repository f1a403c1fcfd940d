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
