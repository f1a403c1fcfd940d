/**
 * `douyu stats --db TARGET <room>`: a room's statistics over a range, from
 * the archive's roll-ups: a short summary on the terminal, one JSON object
 * (`--json`), or a page to share (`--html FILE`).
 *
 * @module
 */

import type { RoomStats } from "../archive/stats.ts";
import { formatCount, formatYuan, statsPage } from "../archive/stats_page.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { formatJson } from "../output/format.ts";
import { CliFailure, type CliIO, describeError, OK } from "./io.ts";
import { defineOptions, HELP_OPTION, parseCommand } from "./options.ts";
import { archiveReading, openForReading } from "./logs.ts";
import { invalid, runCommand } from "./nats_setup.ts";
import { openForWriting } from "./files.ts";

/** The options of `douyu stats`. */
export const STATS_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    db: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    json: { type: "boolean" },
    html: { type: "string" },
  } as const,
);

const HELP = `Usage:
  douyu stats --db TARGET <room> [options]

A room's statistics from an archive (douyu archive): totals, chat per minute,
top chatters and gifters, revenue (yuan, as priced when each gift arrived).
<room> is its numeric id. See docs/statistics.md.

  --db TARGET            the archive: a file, or postgres://… (required)
  --since D, --until D   from, and before: 10m, 2h, 3d ago, or a date
                         (2024-05-01, 2024-05-01T20:00:00Z); whole minutes
  --json                 print one JSON object (fields in docs/statistics.md)
  --html FILE            write a self-contained page with charts to FILE
`;

const SPARKS = "▁▂▃▄▅▆▇█";
/** The sparkline's width, in characters. */
const SPARK_WIDTH = 60;

/**
 * A sparkline of values, squeezed into `width` characters (each the sum of
 * its share of values).
 *
 * @example
 * ```ts
 * import { sparkline } from "./stats.ts";
 *
 * console.log(sparkline([0, 1, 2, 4, 8], 5)); // "▁▁▂▄█"
 * ```
 */
export function sparkline(values: readonly number[], width: number = SPARK_WIDTH): string {
  if (values.length === 0) return "";
  const buckets = Math.min(width, values.length);
  const sums = new Array<number>(buckets).fill(0);
  for (let i = 0; i < values.length; i++) {
    sums[Math.floor((i * buckets) / values.length)]! += values[i]!;
  }
  const max = Math.max(...sums);
  return sums.map((n) => max <= 0 ? SPARKS[0] : SPARKS[Math.min(7, Math.floor((n / max) * 7.999))])
    .join("");
}

/** A name fit for the terminal: no control character, no bidi override; at most 24 characters. */
function shown(name: string | null, uid: number): string {
  if (name === null || name === "") return `#${uid}`;
  const clean = sanitizeForTerminal(name);
  const chars = [...clean];
  return chars.length > 24 ? `${chars.slice(0, 23).join("")}…` : clean;
}

/**
 * The terminal summary of a room's statistics.
 *
 * @example
 * ```ts
 * import { summaryText } from "./stats.ts";
 * import { summarize } from "../archive/stats.ts";
 *
 * const stats = summarize(9999, 0, 60_000, {
 *   minutes: [{ minute: 0, type: "chatmsg", messages: 2, items: 0, value: 0, unpriced: 0 }],
 *   gifts: [],
 *   users: [{ uid: 7, name: "Ann\u001b[2J", chats: 2, gifts: 0, value: 0 }],
 * });
 * console.log(summaryText(stats).includes("\u001b")); // false
 * ```
 */
export function summaryText(stats: RoomStats): string {
  const time = (t: number) => new Date(t).toISOString().slice(0, 16).replace("T", " ");
  const minutes = Math.round((stats.until - stats.since) / 60_000);
  const total = Object.values(stats.messages).reduce((a, b) => a + b, 0);
  const byType = Object.entries(stats.messages).sort((a, b) => b[1] - a[1]).slice(0, 6)
    .map(([type, n]) => `${sanitizeForTerminal(type)} ${formatCount(n)}`).join(", ");
  const chat = stats.perMinute.map((m) => m.chat);
  let peak = 0;
  for (let i = 1; i < chat.length; i++) if (chat[i]! > chat[peak]!) peak = i;
  const lines = [
    `room ${stats.room}: ${time(stats.since)} → ${time(stats.until)} UTC (${minutes} min)`,
    `messages   ${formatCount(total)}${byType === "" ? "" : ` (${byType})`}`,
    `chatters   ${formatCount(stats.chatters)}`,
    `revenue    ${formatYuan(stats.revenue.total)}; super chats ${
      formatCount(stats.superChats.count)
    } (${formatYuan(stats.superChats.value)})`,
  ];
  if (chat.length > 0) {
    lines.push(
      `chat/min   ${sparkline(chat)}  peak ${formatCount(chat[peak]!)} at ${
        time(stats.perMinute[peak]!.t).slice(11)
      }`,
    );
  }
  if (stats.topChatters.length > 0) {
    lines.push("top chatters");
    stats.topChatters.forEach((user, i) =>
      lines.push(
        `  ${String(i + 1).padStart(2)}. ${shown(user.name, user.uid)}  ${formatCount(user.count)}`,
      )
    );
  }
  if (stats.topGifters.length > 0) {
    lines.push("top gifters");
    stats.topGifters.forEach((user, i) =>
      lines.push(
        `  ${String(i + 1).padStart(2)}. ${shown(user.name, user.uid)}  ${
          formatYuan(user.value)
        } (${formatCount(user.count)} gifts)`,
      )
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `douyu stats`: prints (or writes) a room's statistics.
 *
 * @param args The arguments after `stats`.
 * @param io Standard streams.
 * @returns The exit code: 0 done, 1 failure, 2 usage error.
 *
 * @example
 * ```ts ignore
 * import { statsCommand } from "./stats.ts";
 *
 * const io = { stdout: (text: string) => void console.log(text), stderr: () => {} };
 * await statsCommand(["--db", "rooms.db", "9999", "--json"], io);
 * ```
 */
export function statsCommand(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseCommand(args, STATS_OPTIONS, "douyu stats");
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    if (values.html === "") throw invalid("html", "", "a file name");
    const { target, room, time } = archiveReading<"since" | "until">(values, positionals, "stats");
    const range = { since: time("since"), until: time("until") };
    const archive = await openForReading(target);
    let result;
    try {
      result = await archive.stats(room, range);
    } catch (error) {
      throw new CliFailure(describeError(error));
    } finally {
      await archive.close();
    }
    if (values.html !== undefined) {
      const file = await openForWriting(values.html, "the page");
      try {
        await file.write(statsPage(result.stats, result.timeline));
      } finally {
        await file.close();
      }
    }
    if (values.json) await io.stdout(`${formatJson(result.stats)}\n`);
    else if (values.html === undefined) await io.stdout(summaryText(result.stats));
    return OK;
  });
}
