/**
 * `@x/douyu/archive`: keep every message of the rooms you watch, and read
 * them back. An archive is a SQLite file (through `node:sqlite`, built into
 * Deno 2.2+, Bun 1.4+ and Node 22.13+: no dependency) or a PostgreSQL
 * database (`postgres://`, through the `postgres` npm client, loaded only
 * then). Messages are written in batched transactions within a second of
 * arrival, never twice, kept in one partition per day (retention drops
 * whole days), and read back by room, time, type, user and text, with a
 * search that finds what `LIKE '%text%'` finds, Chinese included, or
 * exported as NDJSON, CSV, danmaku XML, ASS or SRT. See `docs/archive.md`.
 *
 * Importing `@x/douyu` never loads this entry, `node:sqlite` or the
 * PostgreSQL client.
 *
 * @example Keep a room's chat, then read its last messages
 * ```ts
 * import { Archive } from "@x/douyu/archive";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using archive = await Archive.open(`${dir}/rooms.db`);
 *   const t = Date.now();
 *   archive.write({ t, room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "hello", cid: "c1" } });
 *   await archive.flush();
 *   for await (const { message } of archive.query({ room: 9999, limit: 100 })) {
 *     console.log(message.type, message.nn); // "chatmsg" "Ann"
 *   }
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Export a room as SRT subtitles, gaps marked
 * ```ts
 * import { Archive, collectExport, exportAs } from "@x/douyu/archive";
 *
 * await using archive = await Archive.open(":memory:");
 * archive.write({ t: 61_250, room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "hi", cid: "c1" } });
 * await archive.flush();
 * const { text } = await collectExport(exportAs("srt", archive.items({ room: 9999 }), { start: 0 }));
 * console.log(text.split("\n").slice(0, 3)); // [ "1", "00:01:01,250 --> 00:01:05,250", "Ann: hi" ]
 * ```
 *
 * @module
 */

export {
  Archive,
  type ArchiveCounters,
  type ArchiveOptions,
  openArchive,
  type WriteOptions,
} from "./archive.ts";
export type { ArchiveQuery } from "./store.ts";
export type { LiveChange, MinuteStats, RoomStats, StatsTimeline, UserSum } from "./stats.ts";
export { statsPage } from "./stats_page.ts";
export {
  type Gap,
  GapTracker,
  isStatus,
  type TimedItem,
  type TimedMessage,
  type TimedStatus,
} from "./timed.ts";
export { parseRetention } from "./days.ts";
export {
  type AssOptions,
  collectExport,
  EXPORT_FORMATS,
  exportAs,
  type ExportAsOptions,
  exportAss,
  exportCsv,
  type ExportFormat,
  exportJsonl,
  type ExportOptions,
  type ExportSource,
  exportSrt,
  type ExportSummary,
  exportTypes,
  exportXml,
  type SrtOptions,
} from "./export/mod.ts";
export { ArchiveError } from "./errors.ts";
