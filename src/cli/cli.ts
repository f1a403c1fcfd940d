/**
 * The `douyu` command line tool: watch rooms' barrage, follow their live
 * status, replay a recording, run the mock server, resolve a room name.
 * `mod.ts` runs it (through `runCli` in `process_io.ts`) when it is the main
 * module, and so does the compiled binary; `bin.ts`, the npm build's `douyu`,
 * runs it unconditionally.
 *
 * {@linkcode main} takes the arguments and a {@linkcode CliIO} and returns
 * the exit code, so tests run it in-process with fake streams and an
 * `AbortSignal` standing in for Ctrl-C. Each command lives in a file of its
 * own (`watch.ts`, `live.ts`, `replay.ts`, `serve.ts`, `resolve.ts`) and
 * parses its own options.
 *
 * @module
 */

import { type CliIO, describeError, FAILURE, OK, say, USAGE, UsageError } from "./io.ts";
import { liveCommand } from "./live.ts";
import { replayCommand } from "./replay.ts";
import { resolveCommand } from "./resolve.ts";
import { serveCommand } from "./serve.ts";
import { watchCommand } from "./watch.ts";

export type { CliIO } from "./io.ts";

/** The version `douyu --version` prints; kept equal to `deno.json` by a test. */
export const VERSION = "0.1.0";

/** A command: its arguments (after its name) and the streams in, the exit code out. */
type Command = (args: string[], io: CliIO) => Promise<number>;

/** The commands named by the first argument; anything else watches rooms. */
const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ["live", liveCommand],
  ["replay", replayCommand],
  ["serve", serveCommand],
  ["resolve", resolveCommand],
  // Loaded on demand: the other commands never load the overlay's server and page.
  ["overlay", async (args, io) => (await import("./overlay.ts")).overlayCommand(args, io)],
  // On NATS JetStream; each loads src/nats/ (and the NATS client) itself, only when it runs.
  ["rooms", async (args, io) => (await import("./rooms.ts")).roomsCommand(args, io)],
  ["collect", async (args, io) => (await import("./collect.ts")).collectCommand(args, io)],
  ["consume", async (args, io) => (await import("./consume.ts")).consumeCommand(args, io)],
  // The archive's; node:sqlite and the PostgreSQL client load only when an archive is opened.
  ["archive", async (args, io) => (await import("./archive.ts")).archiveCommand(args, io)],
  ["logs", async (args, io) => (await import("./logs.ts")).logsCommand(args, io)],
  ["export", async (args, io) => (await import("./export.ts")).exportCommand(args, io)],
  ["stats", async (args, io) => (await import("./stats.ts")).statsCommand(args, io)],
]);

/**
 * The commands that print a help of their own for `--help`. Their help needs
 * none of the NATS client, which they load only once they run.
 */
const COMMANDS_WITH_OWN_HELP: ReadonlySet<string> = new Set([
  "rooms",
  "collect",
  "consume",
  "archive",
  "logs",
  "export",
  "stats",
]);

const HELP = `douyu ${VERSION}: Douyu (斗鱼) live chat ("barrage") in your terminal

Usage:
  douyu [options] <room…>          live barrage of one room or several
  douyu live [options] <room…>     a line each time a room goes live or offline
  douyu overlay [options] <room…>  a chat overlay page for OBS (--demo: the sample room)
  douyu replay <file> [options]    print a recording as if live
  douyu serve [file] [options]     run the mock server (the bundled sample by default)
  douyu resolve <room>             print the numeric room id of a name or URL
  douyu rooms --nats URL add|remove|list [room…]
                                   the rooms a cluster of collectors watches (NATS)
  douyu collect --nats URL --name NAME
                                   one collector of the cluster: claims rooms, publishes
                                   their messages into NATS JetStream
  douyu consume --nats URL [options]
                                   the collected messages, printed as when watching
  douyu archive [options] <room…> --db TARGET
                                   keep every message in an archive (a SQLite file or
                                   postgres://…); also --nats URL, --import FILE…
  douyu logs --db TARGET <room> [options]
                                   what an archive kept, printed as when watching
  douyu export --db TARGET <room> --format jsonl|csv|xml|ass|srt [--out FILE]
                                   an archived room as a file: NDJSON, CSV, danmaku
                                   XML, ASS or SRT subtitles
  douyu stats --db TARGET <room> [--since D] [--until D] [--json] [--html FILE]
                                   a room's statistics from an archive (docs/statistics.md)

<room> is a numeric room id, a name such as yyf, or a URL such as
douyu.com/yyf or https://www.douyu.com/9999.

Watching rooms (options marked * also work with replay):
  --url URL          endpoint, repeatable: tcp://host:port, ws://host:port/, wss://...
                     (default: Douyu's servers, TCP first, then wss)
  --rooms-file FILE  more rooms, one per line (# starts a comment)
  --json          *  one JSON message per line (NDJSON) instead of text, with its
                     arrival time as "_t" (ms), for gifts and super chats "_gift"
                     (name, value in yuan), and with several rooms "_room"
  --types a,b,c   *  only these message types, e.g. chatmsg,dgb; types without a
                     text line of their own are then shown as key=value
  --count N       *  exit after printing N messages
  --duration S    *  exit S seconds after connecting (replay: after starting)
  --heartbeat S      seconds between heartbeats (default 45)
  --record FILE      also save every message received to FILE (JSON Lines)

Filters (watching and replay):
  --no-bots       *  drop chat messages that look automated (no dms field)
  --only-room     *  drop messages that belong to another room
  --block-words a,b  *  drop chat and super chats containing one of these words
  --block-users a,b  *  drop everything from these users (uid or nickname)
  --min-level N      *  drop chat and entries of users below level N
  --min-gift-value Y *  drop gifts and super chats worth less than Y yuan
                        (a gift whose value is not known yet is kept)
  --fold-repeats     *  fold repeated chat ("666"): a line at 2, 5, 10, 20, 50… repeats

Douyu's web APIs (asked only when needed; with --url, only those given here):
  --api-base URL       room lookup and live status (default https://www.douyu.com)
  --mobile-base URL    room lookup fallback (default https://m.douyu.com)
  --gift-api-base URL  gift names and prices: the gift list and the props config
                       (default https://gift.douyucdn.cn and https://webconf.douyucdn.cn)
  --open-api-base URL  live status fallback (default https://open.douyucdn.cn)
  --gift-wait S        how long a room's first gifts may wait for its gift list,
                       so that they print with their values (default 1.5; 0 = never)

Live status (douyu live):
  --json             one JSON object per transition
  --offline-confirmation S  how long offline must last before it is said (default 90)
  --resync S         also re-check the room API every S seconds (default: only
                     after each (re)connect)
  --state FILE       remember what was said in FILE, so a restart does not repeat it
  --count N, --duration S, --url URL, --rooms-file FILE  as above

Overlay (douyu overlay): prints the page's URL, for an OBS "Browser source".
The page takes parameters (max, fade, minGift, enter, block, blockUsers,
minLevel, fold, avatars, icons, css, theme, status, lang): see docs/overlay.md.
The same server has widgets: /leaderboard (top givers) and /goal?target=YUAN.
  --demo             play the bundled sample room, looping, to style offline
  --host ADDR        address to listen on (default 127.0.0.1)
  --port N           port to listen on (default 8765; 0 = a free one)
  --allow-origin O   let pages of origin O (or * for any) read the overlay; repeatable
                     (default: only its own pages)
  --allow-host NAME  answer for this host name too (default: localhost and --host)
  --max-streams N    most event streams (pages) open at once (default 100)
  --enter            show room entries by default
  --db TARGET        widgets (leaderboard, goal) start from an archive's totals,
                     so a restart keeps them (a file, or postgres://…)
  --url, the filters and the web API options above set every page's defaults

Replay:
  --speed X          1 = as recorded (default), 4 = four times faster, 0 = at once
  --room ID          the recording's room, needed by --only-room when the
                     recording does not name it

Serve:
  --port N           TCP port (default: a free one; a WebSocket port is added)
  --host ADDR        address to listen on (default 127.0.0.1)
  --speed X          replay speed (default 1)
  --loop             replay the recording forever (without it, each client gets
                     it once, then stays connected with nothing more to come)
  --max-clients N    most clients connected at once; more are refused (default 1000)
  --idle-timeout S   drop a client that sent nothing (no heartbeat) for S seconds;
                     0 never does (default 180)

Scale out on NATS JetStream (see docs/scale-out.md; douyu rooms|collect|consume --help):
  --nats URL         NATS server, repeatable (required)
  --lease-ttl S      lease lifetime (default 15); --retention-age D (7d) and
                     --retention-bytes N (1G) bound the stream; --replicas N
  rooms add --types a,b   collect only these types in these rooms
  rooms list --json  the overview as one JSON object
  collect: --max-rooms N (default 200), --buffer N (messages awaiting NATS's
                     ack, default 10000; when full the rooms pause), --queue-size N,
                     --max-pending N, -q; --url, --types, --heartbeat as above;
                     Ctrl-C or SIGTERM release its rooms and end it with status 0
  consume: --rooms a,b, --types a,b, --since T (10m, 2h, or a date),
                     --durable NAME (resume where it stopped), and the output
                     and filter options above

Keep a room's history (see docs/archive.md; douyu archive|logs --help):
  archive: --db TARGET (a file, or postgres://…), --retain D (30d: drop whole
                     days), --types, --count, --duration, --url as above; --nats
                     URL --durable NAME to keep the cluster's stream; --import
                     FILE… for recordings and NDJSON; Ctrl-C or SIGTERM commit
                     what is left and end it with status 0
  logs: --user NAME|UID, --since D, --until D, --types a,b, --search WORDS,
                     --limit N (the newest N), --json
  export: --format F, --since D, --until D, --start TIME (time zero; default the
                     first message), --out FILE

  -h, --help         show this help
  --version          show the version

Output: messages on stdout, one per line; status and errors on stderr.
Exit status: 0 done, 1 failure (no endpoint reachable, room lookup, file),
2 usage error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
serve runs until it is stopped: Ctrl-C or SIGTERM end it with status 0.
archive runs until it is stopped: Ctrl-C or SIGTERM commit and end it with status 0.
`;

const SHORT_USAGE =
  "usage: douyu [options] <room…> | live <room…> | overlay <room…> | replay <file> | " +
  "serve [file] | resolve <room>\n" +
  "Try 'douyu --help' for more information.\n";

/**
 * Runs the `douyu` command line with the given arguments (without the
 * program name) and returns the exit code: 0 done, 1 failure (no endpoint
 * reachable, room lookup failed, file error), 2 usage error, 130
 * interrupted (143 for SIGTERM; `serve` returns 0 when stopped). Never throws
 * for expected failures: they are one line `douyu: <message>` on `io.stderr`.
 *
 * @param args Command line arguments, e.g. `["--json", "--count", "5", "9999"]`.
 * @param io Standard streams, colour and the interrupt signal.
 * @returns The exit code.
 *
 * @example Ten chat messages of a (mock) room, as NDJSON
 * ```ts
 * import { main } from "./cli.ts";
 * import { MockServer } from "../testing/mock_server.ts";
 *
 * await using server = await MockServer.start({
 *   messages: Array.from({ length: 10 }, (_, i) => ({ type: "chatmsg", nn: "Ann", txt: `#${i}` })),
 * });
 * const lines: string[] = [];
 * const code = await main(["--url", server.url, "--json", "--count", "10", "9999"], {
 *   stdout: (text) => void lines.push(text),
 *   stderr: () => {},
 * });
 * console.log(code, lines.length); // 0 10
 * ```
 */
export async function main(args: string[], io: CliIO): Promise<number> {
  try {
    if (args.includes("--version") && !args.includes("--")) {
      await io.stdout(`douyu ${VERSION}\n`);
      return OK;
    }
    const command = COMMANDS.get(args[0] ?? "");
    const wantsHelp = args.includes("--help") || args.includes("-h");
    if (wantsHelp && !COMMANDS_WITH_OWN_HELP.has(args[0] ?? "")) {
      await io.stdout(HELP);
      return OK;
    }
    return command ? await command(args.slice(1), io) : await watchCommand(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      await say(io, `${error.message}\n${SHORT_USAGE}`);
      return USAGE;
    }
    // Expected failures (library errors, files, bad input) are one line, never a stack trace.
    await say(io, `${describeError(error)}\n`);
    return FAILURE;
  }
}
