/**
 * `douyu export --db TARGET <room> --format F`: a room's archived messages
 * as a file other programs read: the `--json` lines, CSV, the danmaku XML
 * of BililiveRecorder, scrolling ASS subtitles or SRT, with the
 * connection's gaps marked (`src/archive/export/`). Times count from
 * `--start` (the recording's start; default the first message).
 *
 * @module
 */

import { EXPORT_FORMATS, exportAs, type ExportFormat, exportTypes } from "../archive/export/mod.ts";
import type { ArchiveQuery } from "../archive/store.ts";
import { errorText } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { openForWriting, type WritableFile } from "./files.ts";
import {
  CliFailure,
  type CliIO,
  interruptCode,
  INTERRUPTED,
  isBrokenPipe,
  OK,
  say,
  stopController,
  UsageError,
} from "./io.ts";
import { invalid, runCommand } from "./nats_setup.ts";
import { defineOptions, HELP_OPTION, parseCommand } from "./options.ts";
import { archiveReading, openForReading } from "./logs.ts";

/** The options of `douyu export`. */
export const EXPORT_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    db: { type: "string" },
    format: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    start: { type: "string" },
    out: { type: "string" },
  } as const,
);

const HELP = `Usage:
  douyu export --db TARGET <room> --format jsonl|csv|xml|ass|srt [options]

Writes a room's archived messages (douyu archive) as a file, with the gaps
of its connection marked:

  jsonl                  the --json lines, with _t and _gift
  csv                    RFC 4180, with a header row
  xml                    danmaku XML as BililiveRecorder writes it, which players read
  ass                    scrolling danmaku subtitles for a 1920x1080 video
  srt                    one cue per chat

  --db TARGET            the archive: a file, or postgres://… (required)
  --since D, --until D   from, and before: 10m, 2h, 3d ago, or a date
  --start TIME           time zero, when the recording started (a date, or 2h ago);
                         default: the first message
  --out FILE             write FILE (default: standard output)
`;

/** How often the progress line is rewritten, ms. */
const PROGRESS_EVERY_MS = 250;

/**
 * `douyu export`: writes a room's archived messages in a format.
 *
 * @param args The arguments after `export`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 done, 1 failure, 2 usage error, 130/143 interrupted.
 *
 * @example
 * ```ts ignore
 * import { exportCommand } from "./export.ts";
 *
 * const io = { stdout: (text: string) => void console.log(text), stderr: () => {} };
 * await exportCommand(["--db", "rooms.db", "9999", "--format", "srt", "--out", "chat.srt"], io);
 * ```
 */
export function exportCommand(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseCommand(args, EXPORT_OPTIONS, "douyu export");
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    const { target, room, time } = archiveReading(values, positionals, "export");
    const format = values.format;
    if (format === undefined) {
      throw new UsageError(`missing --format: ${EXPORT_FORMATS.join(", ")}`);
    }
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw invalid("format", format, EXPORT_FORMATS.join(", "));
    }
    const range: ArchiveQuery = { room, since: time("since"), until: time("until") };
    // Only the types the format writes are read: a subtitle file of a day of a busy room
    // reads its chats, not its entries and gifts.
    const types = exportTypes(format as ExportFormat);
    // Those formats show only what brief rows hold: most rows are read without their blocks.
    const query: ArchiveQuery = types === undefined ? range : { ...range, types, brief: true };
    let start = time("start");

    const archive = await openForReading(target);
    let out: WritableFile | undefined;
    const { stop, unlink } = stopController(io);
    let items = 0;
    let shownAt = 0;
    try {
      if (start === undefined && types !== undefined) start = await firstTime(archive, range);
      out = values.out === undefined ? undefined : await openForWriting(values.out, "export");
      const write = out === undefined ? (text: string) => io.stdout(text) : out.write;
      const counted = async function* () {
        for await (const item of archive.items(query)) {
          if (stop.signal.aborted) return;
          items++;
          if (io.progress && Date.now() - shownAt >= PROGRESS_EVERY_MS) {
            shownAt = Date.now();
            await io.stderr(`\rdouyu: exporting: ${items} messages\x1b[K`);
          }
          yield item;
        }
      };
      const chunks = exportAs(
        format as ExportFormat,
        counted(),
        start === undefined ? { room } : { start, room },
      );
      let next = await chunks.next();
      while (!next.done) {
        try {
          await write(next.value);
        } catch (error) {
          await chunks.return(undefined as never);
          if (out !== undefined) throw error; // it names the file
          // A reader that went away (`| head`) is not an error.
          if (isBrokenPipe(error)) return OK;
          throw new CliFailure(`cannot write to stdout: ${errorText(error)}`, { cause: error });
        }
        next = await chunks.next();
      }
      if (shownAt > 0) await io.stderr("\r\x1b[K");
      const summary = next.value;
      const where = values.out === undefined ? "" : ` to ${sanitizeForTerminal(values.out)}`;
      await say(
        io,
        `${summary.written} entries written${where} (${summary.items} messages and status ` +
          "changes read" +
          (summary.gaps > 0 ? `, ${summary.gaps} gaps marked` : "") +
          (summary.hidden > 0 ? `, ${summary.hidden} chats without room on screen` : "") +
          ")",
      );
    } finally {
      unlink();
      await out?.close();
      await archive.close();
    }
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    return OK;
  });
}

/**
 * The time of the first message (of any type) or status change in a range:
 * time zero when the export reads only some types, as it is when it reads
 * them all.
 */
async function firstTime(
  archive: Awaited<ReturnType<typeof openForReading>>,
  range: ArchiveQuery,
): Promise<number | undefined> {
  for await (const item of archive.items(range)) return item.t;
  return undefined;
}
