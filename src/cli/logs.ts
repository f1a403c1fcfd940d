/**
 * `douyu logs --db TARGET <room>`: what an archive kept of a room, printed
 * exactly as watching prints it (text lines, or the same NDJSON), oldest
 * first, filtered by user, time, type and text; `--limit N` gives the
 * newest N, still oldest first, as `tail` does. Gifts show the value they
 * had when they arrived.
 *
 * @module
 */

import { Archive } from "../archive/archive.ts";
import type { ArchiveQuery } from "../archive/store.ts";
import { parseSince } from "../base/when.ts";
import { TEXT_TYPES } from "../output/format.ts";
import {
  CliFailure,
  type CliIO,
  describeError,
  interruptCode,
  INTERRUPTED,
  OK,
  stopController,
  UsageError,
} from "./io.ts";
import {
  defineOptions,
  HELP_OPTION,
  numberOption,
  one,
  outputOptions,
  parseCommand,
  parseRoom,
} from "./options.ts";
import { invalid, runCommand } from "./nats_setup.ts";
import { Printer } from "./printer.ts";

/** The options of `douyu logs`. */
export const LOGS_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    db: { type: "string" },
    user: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    types: { type: "string" },
    search: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
  } as const,
);

const HELP = `Usage:
  douyu logs --db TARGET <room> [options]

Prints what an archive (douyu archive) kept of a room, as watching prints it,
oldest first. <room> is its numeric id.

  --db TARGET            the archive: a file, or postgres://… (required)
  --user NAME|UID        only this user's messages: by name, or by id (digits
                         match either)
  --since D, --until D   from, and before: 10m, 2h, 3d ago, or a date
                         (2024-05-01, 2024-05-01T20:00:00Z)
  --types a,b,c          only these types (and show them even without a line of
                         their own, as key=value)
  --search WORDS         only messages whose text contains WORDS (any script;
                         ASCII letters in either case)
  --limit N              only the newest N (printed oldest first)
  --json                 one JSON message per line, as douyu --json prints it
`;

/**
 * `douyu logs`: prints a room's archived messages.
 *
 * @param args The arguments after `logs`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 done, 1 failure, 2 usage error, 130/143 interrupted.
 *
 * @example
 * ```ts ignore
 * import { logsCommand } from "./logs.ts";
 *
 * const io = { stdout: (text: string) => void console.log(text), stderr: () => {} };
 * await logsCommand(["--db", "rooms.db", "9999", "--limit", "100"], io);
 * ```
 */
export function logsCommand(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseCommand(args, LOGS_OPTIONS, "douyu logs");
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    const { target, room, time } = archiveReading(values, positionals, "logs");
    const query: ArchiveQuery = {
      room,
      since: time("since"),
      until: time("until"),
      limit: numberOption(values.limit, "limit", "positive integer"),
    };
    const output = outputOptions({ json: values.json, types: values.types });
    if (output.types !== undefined) query.types = [...output.types];
    // Text lines: only the types that print one, so that --limit N counts lines, not the
    // rankings and the like stored between them.
    else if (!output.json) query.types = [...TEXT_TYPES];
    if (values.user !== undefined) {
      const user = values.user.trim();
      if (user === "") throw invalid("user", values.user, "a name or a user id");
      query.user = /^[0-9]{1,15}$/.test(user) ? { uid: Number(user), name: user } : { name: user };
    }
    if (values.search !== undefined) {
      if (values.search.trim() === "") throw invalid("search", values.search, "words to find");
      query.search = values.search;
    }

    const archive = await openForReading(target);
    const { stop, unlink } = stopController(io);
    const printer = new Printer({ io, options: output, stop: stop.signal, showRoom: false });
    try {
      for await (const item of archive.query(query)) {
        if (stop.signal.aborted) break;
        // The gift as priced when it arrived: the line shows that value, not today's.
        if (!await printer.print(item)) break;
      }
    } finally {
      unlink();
      await archive.close();
    }
    if (printer.outputError !== undefined) return await printer.outputFailure(io);
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    return OK;
  });
}

/**
 * What `logs` and `export` take alike: the archive (`--db`), the room (its
 * numeric id), and a reader of their times (`--since`, `--until`, …: a
 * duration back from now, or a date).
 *
 * @throws {UsageError} naming what is missing or wrong.
 */
export function archiveReading<N extends string>(
  values: { db?: string | undefined } & { [name in N]?: string | boolean | undefined },
  positionals: string[],
  command: string,
): { target: string; room: number; time: (name: N) => number | undefined } {
  const target = values.db;
  if (target === undefined) {
    throw new UsageError("missing --db TARGET: the archive (a file, or a postgres:// URL)");
  }
  const roomText = one(positionals, "<room>: the room's numeric id");
  const input = parseRoom(roomText);
  if (!("id" in input)) {
    throw new UsageError(
      `${JSON.stringify(roomText)} is a name: ${command} takes the room's numeric id`,
    );
  }
  const now = Date.now();
  const time = (name: N) => {
    const text = values[name];
    if (typeof text !== "string") return undefined;
    const t = parseSince(text, now);
    if (t === undefined) throw invalid(name, text, "a duration such as 10m or 2h, or a date");
    return t;
  };
  return { target, room: input.id, time };
}

/** Opens an archive read-only, as a one-line failure (exit 1) when it cannot. */
export async function openForReading(target: string): Promise<Archive> {
  try {
    return await Archive.open(target, { readOnly: true });
  } catch (error) {
    throw new CliFailure(describeError(error));
  }
}
