/**
 * `douyu archive`: keeps every message of rooms in an archive (a SQLite
 * file, or PostgreSQL at a `postgres://` URL), from three sources:
 *
 * - rooms watched live, through a hub (`archive_live.ts`);
 * - the cluster's `DOUYU` stream, with a durable consumer (`--nats`);
 * - files: recordings and NDJSON (`--import`, `archive_import.ts`).
 *
 * Loaded on demand by `cli.ts`; it opens the archive through
 * `@x/douyu/archive`, which loads `node:sqlite` or the PostgreSQL client
 * only then.
 *
 * @module
 */

import { Archive, isPostgresUrl } from "../archive/archive.ts";
import { parseRetention } from "../archive/days.ts";
import { errorText } from "../base/errors.ts";
import { BOOKKEEPING_TYPES } from "../protocol/messages.ts";
import { archiveFiles } from "./archive_import.ts";
import { existsAt, removeSqliteFile } from "./files.ts";
import { archiveLive, archiveStream } from "./archive_live.ts";
import { CliFailure, type CliIO, describeError, OK, say, UsageError } from "./io.ts";
import {
  CONNECT_OPTIONS,
  defineOptions,
  HELP_OPTION,
  LOOKUP_OPTIONS,
  numberOption,
  parseCommand,
} from "./options.ts";
import { invalid, runCommand } from "./nats_setup.ts";

/** The options of `douyu archive`. */
export const ARCHIVE_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    ...LOOKUP_OPTIONS,
    ...CONNECT_OPTIONS,
    db: { type: "string" },
    retain: { type: "string" },
    types: { type: "string" },
    count: { type: "string" },
    duration: { type: "string" },
    "rooms-file": { type: "string" },
    import: { type: "boolean" },
    room: { type: "string" },
    nats: { type: "string", multiple: true },
    durable: { type: "string" },
    rooms: { type: "string", multiple: true },
    since: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  } as const,
);

const HELP = `Usage:
  douyu archive [options] <room…> --db TARGET     watch rooms and keep every message
  douyu archive --nats URL [--durable NAME] --db TARGET
                                                 keep what the cluster collects
  douyu archive --import FILE… --db TARGET       load recordings (--record) and NDJSON (--json)

TARGET is a file (a SQLite archive, created when missing) or a PostgreSQL URL,
postgres://user:password@host:5432/database. Messages are committed within a
second of arrival, and never stored twice; Ctrl-C or SIGTERM commit what is
left and end with status 0. Read an archive with douyu logs.

  --db TARGET            the archive (required)
  --retain D             drop whole days older than D: 30d, 8w (default: keep all)
  --types a,b,c          keep only these message types (default: all but the
                         session's own loginres, pingreq and mrkl)
  -q, --quiet            report only problems, not each room and file

Watching rooms (as douyu <room…>): --url URL, --rooms-file FILE, --heartbeat S,
  --count N (stop after N messages stored), --duration S, and the gift and room
  APIs: --api-base, --mobile-base, --gift-api-base (gifts are priced on arrival)

From the cluster's stream:
  --nats URL             NATS server, repeatable
  --durable NAME         a durable consumer: created, it takes all the stream holds
                         (or from --since); a restart, even after kill -9, resumes
                         where it stopped; archivers with the same NAME share the
                         work. Without it: from now on (or from --since) only
  --rooms a,b            only these rooms; --since T: from T ago (10m, 2h) or a date

Importing files (idempotent: importing a file again stores nothing twice):
  --import               the arguments are files: recordings and NDJSON with _t
  --room ID              the room of lines that do not say theirs
  --gift-api-base URL    price the gifts a file does not price (recordings), with
                         today's catalogue (https://gift.douyucdn.cn: Douyu's); without
                         it they are stored with what their messages say
`;

/** What every source of `douyu archive` needs. */
export interface ArchiveRun {
  io: CliIO;
  archive: Archive;
  /** The types to keep, or undefined for all but the bookkeeping ones. */
  types: ReadonlySet<string> | undefined;
  /** Stop after this many messages stored. */
  count: number | undefined;
  /** Stop after this many seconds. */
  duration: number | undefined;
  quiet: boolean;
}

/**
 * `douyu archive`: runs one of the three sources into the archive.
 *
 * @param args The arguments after `archive`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 done or stopped (Ctrl-C, SIGTERM), 1 failure, 2 usage error.
 *
 * @example
 * ```ts ignore
 * import { archiveCommand } from "./archive.ts";
 *
 * const io = { stdout: () => {}, stderr: (text: string) => void console.error(text) };
 * await archiveCommand(["--db", "rooms.db", "9999"], io);
 * ```
 */
export function archiveCommand(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseCommand(args, ARCHIVE_OPTIONS, "douyu archive");
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    const target = values.db;
    if (target === undefined) {
      throw new UsageError("missing --db TARGET: a file (SQLite) or a postgres:// URL");
    }
    const mode = values.import ? "import" : values.nats !== undefined ? "stream" : "live";
    const misplaced = (names: string[]) =>
      names.find((name) => (values as Record<string, unknown>)[name] !== undefined);
    const wrong = mode === "import"
      ? misplaced(["nats", "durable", "rooms", "since", "url", "rooms-file", "duration"])
      : mode === "stream"
      ? misplaced(["room", "url", "rooms-file", "heartbeat"])
      : misplaced(["room", "durable", "rooms", "since"]);
    if (wrong !== undefined) {
      throw new UsageError(`option --${wrong} does not apply to ${mode} archiving`);
    }
    if (mode === "live" && positionals.length === 0 && values["rooms-file"] === undefined) {
      throw new UsageError("missing <room>: a room id, name or URL");
    }
    if (mode === "import" && positionals.length === 0) {
      throw new UsageError("missing FILE: recordings or NDJSON to import");
    }
    if (mode === "stream" && positionals.length > 0) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(positionals[0])} (with --nats, use --rooms)`,
      );
    }
    let retain: number | undefined;
    if (values.retain !== undefined) {
      retain = parseRetention(values.retain);
      if (retain === undefined) throw invalid("retain", values.retain, "days or weeks: 30d, 8w");
    }
    const run: Omit<ArchiveRun, "archive"> = {
      io,
      types: typeSet(values.types),
      count: numberOption(values.count, "count", "positive integer"),
      duration: numberOption(values.duration, "duration", "seconds"),
      quiet: values.quiet ?? false,
    };
    // A file this run creates is removed again if the run fails before committing anything
    // (NATS down, a room that does not resolve): no empty archive is left behind.
    const creates = !isPostgresUrl(target) && !(await existsAt(target));
    let archive: Archive;
    try {
      archive = await Archive.open(target);
    } catch (error) {
      throw new CliFailure(describeError(error));
    }
    const full = { ...run, archive };
    const sources = async () => {
      if (retain !== undefined) await applyRetention(archive, retain, io);
      if (mode === "import") return await archiveFiles(full, positionals, values);
      if (mode === "live") return await archiveLive(full, positionals, values, retain);
      return await archiveStream(full, values, retain);
    };
    let code: number;
    try {
      code = await sources();
    } catch (error) {
      // The first failure is the one to report; what was written is still committed.
      await archive.close().catch(() => {});
      if (archive.counters.stored > 0) await summary(run, archive);
      else if (creates && archive.counters.commits === 0) await removeSqliteFile(target);
      throw error;
    }
    try {
      await archive.close();
    } catch (error) {
      throw new CliFailure(describeError(error));
    } finally {
      await summary(run, archive);
    }
    return code;
  });
}

/** How many messages were stored, on stderr. */
async function summary(run: Omit<ArchiveRun, "archive">, archive: Archive): Promise<void> {
  const { stored, duplicates } = archive.counters;
  if (run.quiet && stored === 0) return;
  await say(
    run.io,
    `${stored} messages stored in ${archive.target}` +
      (duplicates > 0 ? `, ${duplicates} already there` : ""),
  );
}

/** `--types`: a set of type names, or undefined. */
function typeSet(text: string | undefined): ReadonlySet<string> | undefined {
  if (text === undefined) return undefined;
  const list = text.split(",").map((type) => type.trim()).filter((type) => type !== "");
  if (list.length === 0 || list.some((type) => !/^[A-Za-z0-9_]{1,64}$/.test(type))) {
    throw invalid("types", text, "type names such as chatmsg,dgb");
  }
  return new Set(list);
}

/** Whether a run keeps messages of `type`. */
export function keeps(run: Pick<ArchiveRun, "types">, type: string): boolean {
  return run.types !== undefined ? run.types.has(type) : !BOOKKEEPING_TYPES.has(type);
}

/** Drops the days past the retention, saying which. */
export async function applyRetention(archive: Archive, days: number, io: CliIO): Promise<void> {
  try {
    const dropped = await archive.retain(days);
    if (dropped.length > 0) {
      const name = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
      await say(
        io,
        `retention ${days} days: dropped ${dropped.length} day${dropped.length > 1 ? "s" : ""} ` +
          `(${name(dropped[0]!)}${dropped.length > 1 ? ` to ${name(dropped.at(-1)!)}` : ""})`,
      );
    }
  } catch (error) {
    await say(io, `retention: ${errorText(error)}`);
  }
}
