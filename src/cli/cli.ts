/**
 * The `douyu` command line tool: watch a room's barrage, replay a
 * recording, run the mock server, resolve a room name. `mod.ts` runs
 * {@linkcode runCli} when it is the main module (and so does the compiled
 * binary); `bin.ts`, the npm build's `douyu`, runs it unconditionally.
 *
 * Everything runtime-specific (arguments, standard streams, terminal
 * detection, signals, exiting) is in {@linkcode runCli}; {@linkcode main}
 * takes those as a {@linkcode CliIO} and returns the exit code, so tests run
 * it in-process with fake streams and an `AbortSignal` standing in for
 * Ctrl-C. Files (`--record`, `replay`, `serve <file>`) are read and written
 * with `node:fs/promises`, which Deno, Bun and Node all provide.
 *
 * @module
 */

import { open, readFile } from "node:fs/promises";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { DouyuError, errorText } from "../base/errors.ts";
import { formatJson, formatMessage } from "../output/format.ts";
import { createFilter, type MessageFilter } from "../output/filters.ts";
import { type Message, parseMessage } from "../protocol/messages.ts";
import { MockServer } from "../testing/mock_server.ts";
import { parseRecording, type RecordLine, RecordWriter, replayDelay } from "../protocol/record.ts";
import { parseRoomInput, resolveRoom, type RoomInput } from "../web/room.ts";
import { sampleRecording } from "../testing/sample.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { connect, type Session } from "../session/session.ts";
import { peekType } from "../protocol/stt.ts";
import { sleep } from "../base/timers.ts";
import { parseEndpoint } from "../transport/seam.ts";
import { isDeno } from "../transport/default.ts";

/** The version `douyu --version` prints; kept equal to `deno.json` by a test. */
export const VERSION = "0.1.0";

/**
 * What {@linkcode main} needs from the outside world.
 *
 * @example An in-memory CliIO, as the tests use
 * ```ts
 * import { type CliIO, main } from "./cli.ts";
 *
 * let out = "";
 * const io: CliIO = { stdout: (text) => void (out += text), stderr: () => {} };
 * console.log(await main(["resolve", "9999"], io), out); // 0 "9999\n"
 * ```
 */
export interface CliIO {
  /**
   * Writes to standard output. `main` awaits it before printing the next
   * message, so a slow reader slows the session down (backpressure) instead
   * of filling memory. A rejection ends the command.
   */
  stdout(text: string): void | Promise<void>;
  /** Writes to standard error: status, notices and errors. */
  stderr(text: string): void | Promise<void>;
  /** Colour human output. Default false; `runCli` sets it for a terminal without NO_COLOR. */
  color?: boolean;
  /**
   * Aborted on SIGINT or SIGTERM: the command logs out, flushes the
   * recording and returns 130 (143 when the reason is `"SIGTERM"`). `serve`,
   * which runs until it is stopped, returns 0.
   */
  signal?: AbortSignal;
}

/** Exit codes. */
const OK = 0;
const FAILURE = 1;
const USAGE = 2;

/** How long an interrupted process waits for stdout and stderr to drain before exiting, ms. */
const INTERRUPTED_FLUSH_MS = 500;

/** The longest delay `setTimeout` supports, ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The handshake and keepalive messages (`loginres`, `pingreq`, `mrkl`): not
 * printed unless `--types` names them, and not replayed by `serve`, whose
 * mock sends its own. (Not `session/session.ts`'s set of types the session needs.)
 */
const HIDDEN_BY_DEFAULT: ReadonlySet<string> = new Set(["loginres", "pingreq", "mrkl"]);

const COMMANDS = ["replay", "serve", "resolve"] as const;
type Command = "watch" | typeof COMMANDS[number];

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  url: { type: "string", multiple: true },
  json: { type: "boolean" },
  types: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  heartbeat: { type: "string" },
  record: { type: "string" },
  "no-bots": { type: "boolean" },
  "only-room": { type: "boolean" },
  "api-base": { type: "string" },
  "mobile-base": { type: "string" },
  speed: { type: "string" },
  room: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  loop: { type: "boolean" },
  "max-clients": { type: "string" },
  "idle-timeout": { type: "string" },
} as const;
type OptionName = keyof typeof OPTIONS;

const FILTER_OPTIONS: OptionName[] = ["json", "types", "count", "duration", "no-bots", "only-room"];
const ALLOWED: Record<Command, ReadonlySet<OptionName>> = {
  watch: new Set<OptionName>([
    ...FILTER_OPTIONS,
    "url",
    "heartbeat",
    "record",
    "api-base",
    "mobile-base",
  ]),
  replay: new Set<OptionName>([...FILTER_OPTIONS, "speed", "room"]),
  serve: new Set<OptionName>(["port", "host", "speed", "loop", "max-clients", "idle-timeout"]),
  resolve: new Set<OptionName>(["api-base", "mobile-base"]),
};

const HELP = `douyu ${VERSION}: Douyu (斗鱼) live chat ("barrage") in your terminal

Usage:
  douyu [options] <room>           live barrage of a room
  douyu replay <file> [options]    print a recording as if live
  douyu serve [file] [options]     run the mock server (the bundled sample by default)
  douyu resolve <room>             print the numeric room id of a name or URL
  douyu overlay <room...>          a chat overlay page for OBS (douyu overlay --help)

<room> is a numeric room id, a name such as yyf, or a URL such as
douyu.com/yyf or https://www.douyu.com/9999.

Watching a room (options marked * also work with replay):
  --url URL          endpoint, repeatable: tcp://host:port, ws://host:port/, wss://...
                     (default: Douyu's servers, TCP first, then wss)
  --json          *  one JSON message per line (NDJSON) instead of text
  --types a,b,c   *  only these message types, e.g. chatmsg,dgb; types without a
                     text line of their own are then shown as key=value
  --count N       *  exit after printing N messages
  --duration S    *  exit S seconds after connecting (replay: after starting)
  --no-bots       *  drop chat messages that look automated (no dms field)
  --only-room     *  drop messages that belong to another room
  --heartbeat S      seconds between heartbeats (default 45)
  --record FILE      also save every message received to FILE (JSON Lines)
  --api-base URL     room lookup API (default https://www.douyu.com)
  --mobile-base URL  room lookup fallback (default https://m.douyu.com)

Replay:
  --speed X          1 = as recorded (default), 4 = four times faster, 0 = at once
  --room ID          the recording's room, needed by --only-room

Serve:
  --port N           TCP port (default: a free one; a WebSocket port is added under Deno and Bun)
  --host ADDR        address to listen on (default 127.0.0.1)
  --speed X          replay speed (default 1)
  --loop             replay the recording forever (without it, each client gets
                     it once, then stays connected with nothing more to come)
  --max-clients N    most clients connected at once; more are refused (default 1000)
  --idle-timeout S   drop a client that sent nothing (no heartbeat) for S seconds;
                     0 never does (default 180)

  -h, --help         show this help
  --version          show the version

Output: messages on stdout, one per line; status and errors on stderr.
Exit status: 0 done, 1 failure (no endpoint reachable, room lookup, file),
2 usage error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
serve runs until it is stopped: Ctrl-C or SIGTERM end it with status 0.
`;

const SHORT_USAGE =
  "usage: douyu [options] <room> | replay <file> | serve [file] | resolve <room> | overlay <room...>\n" +
  "Try 'douyu --help' for more information.\n";

/** Bad command line: exit 2 with a usage message. */
class UsageError extends Error {}

/** An expected failure with a one-line message: exit 1. */
class CliFailure extends Error {}

/** Why a command stopped early, as the reason of its stop signal. */
const INTERRUPTED = Symbol("interrupted");
const DONE = Symbol("done");
const RECORDING_FAILED = Symbol("recording failed");

/** What the message filters and printer need, from the options. */
interface OutputOptions {
  json: boolean;
  types: ReadonlySet<string> | undefined;
  count: number | undefined;
  duration: number | undefined;
  noBots: boolean;
  onlyRoom: boolean;
}

type Values = ReturnType<typeof parse>["values"];

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
  if (args[0] === "overlay") {
    // Loaded on demand: the other commands never load the overlay's server and page.
    const { overlayCommand } = await import("./overlay.ts");
    return await overlayCommand(args.slice(1), io);
  }
  try {
    const { command, values, positionals } = parseCommandLine(args);
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    if (values.version) {
      await io.stdout(`douyu ${VERSION}\n`);
      return OK;
    }
    switch (command) {
      case "watch":
        return await watch(values, positionals, io);
      case "replay":
        return await replay(values, positionals, io);
      case "serve":
        return await serve(values, positionals, io);
      case "resolve":
        return await resolve(values, positionals, io);
    }
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

/** Writes `douyu: <text>` to stderr, sanitised; never throws. */
export async function say(io: CliIO, text: string): Promise<void> {
  const lines = text.replace(/\n$/, "").split("\n").map((line) => sanitizeForTerminal(line));
  try {
    await io.stderr(`douyu: ${lines.join("\n")}\n`);
  } catch {
    // Nowhere left to report to.
  }
}

function describeError(error: unknown): string {
  if (error instanceof CliFailure || error instanceof DouyuError) return error.message;
  return errorText(error);
}

function interruptCode(io: CliIO): number {
  return io.signal?.reason === "SIGTERM" ? 143 : 130;
}

// ---------------------------------------------------------------------------
// Command line parsing

function parse(args: string[]) {
  return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
}

function parseCommandLine(
  args: string[],
): { command: Command; values: Values; positionals: string[] } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values } = parsed;
  let positionals = parsed.positionals;
  let command: Command = "watch";
  const first = positionals[0];
  if (first !== undefined && (COMMANDS as readonly string[]).includes(first)) {
    command = first as Command;
    positionals = positionals.slice(1);
  }
  if (values.help || values.version) return { command, values, positionals };
  for (const name of Object.keys(values) as OptionName[]) {
    if (values[name] === undefined || ALLOWED[command].has(name)) continue;
    const where = command === "watch" ? "watching a room" : `douyu ${command}`;
    throw new UsageError(`option --${name} does not apply to ${where}`);
  }
  return { command, values, positionals };
}

/**
 * One line out of a `parseArgs` error, naming the offending argument.
 * `options` are the option definitions that were parsed.
 */
export function parseArgsMessage(
  error: unknown,
  options: Readonly<Record<string, { type: "string" | "boolean" }>> = OPTIONS,
): string {
  const code = (error as { code?: unknown }).code;
  const message = errorText(error).split("\n")[0]!;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const name = /'([^']+)'/.exec(message)?.[1];
    if (name !== undefined) return `unknown option ${name}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = /'(--?[\w-]+)/.exec(message)?.[1];
    if (name !== undefined) {
      const option = options[name.replace(/^-+/, "")];
      return option?.type === "boolean"
        ? `option ${name} takes no value`
        : `option ${name} needs a value (write ${name}=VALUE for a value starting with -)`;
    }
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}

function one(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing ${what}`);
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  return positionals[0]!;
}

function parseRoom(text: string): RoomInput {
  try {
    return parseRoomInput(text);
  } catch (error) {
    throw new UsageError(errorText(error));
  }
}

function quoted(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

function numberOption(
  values: Values,
  name:
    | "count"
    | "duration"
    | "heartbeat"
    | "speed"
    | "port"
    | "room"
    | "max-clients"
    | "idle-timeout",
  kind: "positive integer" | "seconds" | "number >= 0" | "port",
): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = /^\s*$/.test(text) ? NaN : Number(text);
  const ok = kind === "positive integer" ? Number.isSafeInteger(n) && n > 0 : kind === "seconds"
    // Timers take at most 2^31-1 ms; a longer one would fire at once.
    ? Number.isFinite(n) && n > 0 && n * 1000 <= MAX_TIMER_MS
    : kind === "number >= 0"
    ? Number.isFinite(n) && n >= 0
    : Number.isInteger(n) && n >= 0 && n <= 65535;
  if (!ok) {
    const expected = kind === "port"
      ? "a port number from 0 to 65535"
      : kind === "seconds"
      ? `a positive number of seconds, at most ${Math.floor(MAX_TIMER_MS / 1000)}`
      : `a ${kind}`;
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected ${expected})`);
  }
  return n;
}

function outputOptions(values: Values): OutputOptions {
  let types: Set<string> | undefined;
  if (values.types !== undefined) {
    const list = values.types.split(",").map((type) => type.trim()).filter((type) => type !== "");
    const bad = list.find((type) => !/^[A-Za-z0-9_]+$/.test(type));
    if (list.length === 0 || bad !== undefined) {
      throw new UsageError(
        `invalid value for --types: ${
          quoted(bad ?? values.types)
        } (expected type names such as chatmsg,dgb)`,
      );
    }
    types = new Set(list);
  }
  return {
    json: values.json ?? false,
    types,
    count: numberOption(values, "count", "positive integer"),
    duration: numberOption(values, "duration", "seconds"),
    noBots: values["no-bots"] ?? false,
    onlyRoom: values["only-room"] ?? false,
  };
}

function httpBase(values: Values, name: "api-base" | "mobile-base"): string | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected an http(s) URL)`);
  }
  return text;
}

// ---------------------------------------------------------------------------
// Printing

/** Applies the filters and prints; counts what was printed. */
class Printer {
  printed = 0;
  /** The error that made stdout fail, if any. */
  outputError: unknown;
  readonly #io: CliIO;
  readonly #options: OutputOptions;
  readonly #filter: MessageFilter;
  readonly #stop: AbortSignal;

  /** `stop` ends a write that is waiting on a blocked stdout (a pipe nobody reads). */
  constructor(io: CliIO, options: OutputOptions, room: number | undefined, stop: AbortSignal) {
    this.#io = io;
    this.#options = options;
    // The same rules as the library's (and a browser overlay's): one module.
    this.#filter = createFilter({
      noBots: options.noBots,
      ...(options.onlyRoom && room !== undefined ? { onlyRoom: room } : {}),
    });
    this.#stop = stop;
  }

  /**
   * Prints `msg` if it passes the filters. Returns false once the command
   * should stop: the count is reached, stdout failed, or `stop` aborted
   * while the line was waiting to be written.
   */
  async print(msg: Message, receivedAt: number): Promise<boolean> {
    const options = this.#options;
    if (
      options.types !== undefined ? !options.types.has(msg.type) : HIDDEN_BY_DEFAULT.has(msg.type)
    ) {
      return true;
    }
    if (!this.#filter(msg).keep) return true;
    const line = options.json ? formatJson(msg) : formatMessage(msg, {
      color: this.#io.color ?? false,
      now: receivedAt,
      // Asking for types by name means wanting to see them, text line or not.
      all: options.types !== undefined,
    });
    if (line === undefined) return true;
    let written: boolean;
    try {
      written = await unlessStopped(this.#io.stdout(line + "\n"), this.#stop);
    } catch (error) {
      this.outputError = error;
      return false;
    }
    if (!written) return false;
    this.printed++;
    return options.count === undefined || this.printed < options.count;
  }

  /** The exit code for a failed stdout: a reader that went away (`| head`) is not an error. */
  async outputFailure(io: CliIO): Promise<number> {
    const error = this.outputError as { name?: unknown; code?: unknown };
    if (error?.name === "BrokenPipe" || error?.code === "EPIPE") return OK;
    await say(io, `cannot write to stdout: ${errorText(this.outputError)}`);
    return FAILURE;
  }
}

/**
 * Waits for a write, or for `signal` to abort, whichever comes first: true
 * when the write completed. A write given up on is left to finish (or fail)
 * on its own; its outcome is ignored.
 */
function unlessStopped(write: void | Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (write === undefined) return Promise.resolve(true);
  let onAbort = () => {};
  const stopped = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  // The write first: one that has already completed wins over an abort.
  return Promise.race([Promise.resolve(write).then(() => true), stopped]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

/** A stop controller that aborts with INTERRUPTED when the io signal does; `unlink` detaches. */
export function stopController(io: CliIO): { stop: AbortController; unlink: () => void } {
  const stop = new AbortController();
  const signal = io.signal;
  if (signal === undefined) return { stop, unlink: () => {} };
  const onAbort = () => stop.abort(INTERRUPTED);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return { stop, unlink: () => signal.removeEventListener("abort", onAbort) };
}

/** Aborts `stop` with DONE after `seconds`; returns the cancel function. */
function deadline(stop: AbortController, seconds: number | undefined): () => void {
  if (seconds === undefined) return () => {};
  const timer = setTimeout(() => stop.abort(DONE), seconds * 1000);
  return () => clearTimeout(timer);
}

// ---------------------------------------------------------------------------
// douyu <room>

async function watch(values: Values, positionals: string[], io: CliIO): Promise<number> {
  const text = one(positionals, "<room>: a room id, name or URL");
  const input = parseRoom(text);
  const output = outputOptions(values);
  const urls = (values.url ?? []).map((url) => {
    try {
      return parseEndpoint(url).url;
    } catch {
      throw new UsageError(
        `invalid value for --url: ${quoted(url)} (expected tcp://host:port, ws://... or wss://...)`,
      );
    }
  });
  const heartbeat = numberOption(values, "heartbeat", "seconds");
  const apiBase = httpBase(values, "api-base");
  const mobileBase = httpBase(values, "mobile-base");

  let recorder: RecordWriter | undefined;
  let recordError: unknown;
  let closeFile = async () => {};
  const { stop, unlink } = stopController(io);
  let code: number;
  try {
    if (values.record !== undefined) {
      // Opened first: a recording that cannot be written should fail before connecting.
      const file = await openForWriting(values.record);
      closeFile = () => file.close();
      recorder = new RecordWriter((text) => file.write(text), {
        onError: (error) => {
          recordError = error;
          stop.abort(RECORDING_FAILED);
        },
      });
    }
    code = await watchRoom(text, input, { urls, output, heartbeat, apiBase, mobileBase }, {
      io,
      stop,
      recorder,
    });
  } finally {
    unlink();
    // After the session closed (no more bodies), and also on Ctrl-C: flush and close.
    try {
      await recorder?.close();
    } catch (error) {
      recordError ??= error;
    }
    await closeFile().catch((error) => (recordError ??= error));
  }
  if (recordError !== undefined) {
    await say(io, `cannot write recording ${values.record}: ${errorText(recordError)}`);
    return FAILURE;
  }
  return code;
}

interface WatchSettings {
  urls: string[];
  output: OutputOptions;
  heartbeat: number | undefined;
  apiBase: string | undefined;
  mobileBase: string | undefined;
}

interface WatchContext {
  io: CliIO;
  stop: AbortController;
  recorder: RecordWriter | undefined;
}

/** Resolves the room, connects, prints until a stop; returns the exit code. */
async function watchRoom(
  text: string,
  input: RoomInput,
  settings: WatchSettings,
  { io, stop, recorder }: WatchContext,
): Promise<number> {
  const { urls, output, heartbeat, apiBase, mobileBase } = settings;
  let room: number;
  if ("id" in input) {
    room = input.id;
  } else {
    try {
      // The text as typed, not the parsed name: `douyu.com/6657` is a name
      // (a "good number") to look up, while a bare `6657` is an id.
      room = await resolveRoom(text, {
        ...(apiBase ? { apiBase } : {}),
        ...(mobileBase ? { mobileBase } : {}),
        signal: stop.signal,
      });
    } catch (error) {
      if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
      throw error;
    }
    await say(io, `room ${input.name} is room ${room}`);
  }

  let session: Session;
  try {
    session = await connect(room, {
      ...(urls.length > 0 ? { url: urls } : {}),
      ...(output.types ? { types: [...output.types] } : {}),
      ...(heartbeat !== undefined ? { heartbeatInterval: heartbeat * 1000 } : {}),
      ...(recorder ? { onBody: (body: string, t: number) => recorder.add(body, t) } : {}),
      signal: stop.signal,
    });
  } catch (error) {
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    if (stop.signal.reason === RECORDING_FAILED) return FAILURE; // reported by watch()
    throw error;
  }
  await say(io, `room ${room}: connected to ${session.url ?? "?"}`);
  const status = reportStatus(session, io);
  const printer = new Printer(io, output, room, stop.signal);
  const cancelDeadline = deadline(stop, output.duration);
  try {
    for await (const msg of session) {
      // After a stop, the session hands over what it had queued: drop it.
      if (stop.signal.aborted) break;
      if (!await printer.print(msg, Date.now())) break;
    }
  } finally {
    cancelDeadline();
    await session.close(); // logout; idempotent
  }
  const info = await session.closed;
  await status;
  if (printer.outputError !== undefined) return await printer.outputFailure(io);
  if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
  if (stop.signal.reason === RECORDING_FAILED) return FAILURE;
  if (info.reason === "error") {
    await say(io, `connection lost: ${errorText(info.error)}`);
    return FAILURE;
  }
  return OK;
}

/** Reports reconnects and other session events on stderr until the session closes. */
async function reportStatus(session: Session, io: CliIO): Promise<void> {
  for await (const event of session.status()) {
    switch (event.type) {
      case "connected":
        await say(io, `reconnected to ${event.url}`);
        break;
      case "disconnected":
        await say(io, `disconnected from ${event.url}: ${errorText(event.error)}`);
        break;
      case "reconnecting":
        await say(
          io,
          `reconnecting in ${(event.delay / 1000).toFixed(1)} s (attempt ${event.attempt})`,
        );
        break;
      case "dropped":
        await say(io, `${event.count} messages dropped (output too slow; ${event.total} in all)`);
        break;
      case "error":
        await say(io, `error: ${errorText(event.error)}`);
        break;
    }
  }
}

interface WritableFile {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

async function openForWriting(path: string): Promise<WritableFile> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "w");
  } catch (error) {
    throw new CliFailure(`cannot write recording ${path}: ${errorText(error)}`);
  }
  const encoder = new TextEncoder();
  return {
    write: (text) =>
      writeAll(encoder.encode(text), async (chunk) => (await handle.write(chunk)).bytesWritten),
    close: () => handle.close(),
  };
}

/** Writes all of `bytes` through `write`, which may take only a part and says how many bytes. */
async function writeAll(
  bytes: Uint8Array,
  write: (chunk: Uint8Array) => Promise<number>,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await write(bytes.subarray(offset));
  }
}

/** Reads a recording; a last line cut off (by a kill, a full disk) is skipped with a warning. */
async function readRecording(path: string, io: CliIO): Promise<RecordLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new CliFailure(`cannot read recording ${path}: ${errorText(error)}`);
  }
  let incomplete: number | undefined;
  const lines = parseRecording(text, path, { onIncompleteLine: (line) => (incomplete = line) });
  if (incomplete !== undefined) {
    await say(io, `${path}:${incomplete}: last line is incomplete (cut off?); skipped`);
  }
  return lines;
}

// ---------------------------------------------------------------------------
// douyu replay <file>

async function replay(values: Values, positionals: string[], io: CliIO): Promise<number> {
  const path = one(positionals, "<file>: the recording to replay");
  const output = outputOptions(values);
  const speed = numberOption(values, "speed", "number >= 0") ?? 1;
  const room = numberOption(values, "room", "positive integer");
  if (output.onlyRoom && room === undefined) {
    throw new UsageError(
      "--only-room needs --room ID with replay (a recording does not name its room)",
    );
  }
  const lines = await readRecording(path, io);
  const { stop, unlink } = stopController(io);
  const printer = new Printer(io, output, room, stop.signal);
  const cancelDeadline = deadline(stop, output.duration);
  try {
    const start = performance.now();
    for (const line of lines) {
      const wait = replayDelay(line, lines[0]!, performance.now() - start, speed);
      if (wait > 0) await sleep(wait, stop.signal);
      if (stop.signal.aborted) break;
      if (!await printer.print(parseMessage(line.body), line.t)) break;
    }
  } finally {
    cancelDeadline();
    unlink();
  }
  if (printer.outputError !== undefined) return await printer.outputFailure(io);
  if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
  return OK;
}

// ---------------------------------------------------------------------------
// douyu serve [file]

/** `serve --max-clients` by default. */
const SERVE_MAX_CLIENTS = 1000;
/**
 * `serve --idle-timeout` by default, seconds: like the real server, drop a
 * client that stopped heartbeating. Clients beat every 45 s by default.
 */
const SERVE_IDLE_TIMEOUT_S = 180;
/**
 * What `serve` lets each client make it hold, tighter than the library's
 * defaults since nobody reads the log here: a few messages, small packets,
 * and little queued for a client that does not read before it is dropped.
 */
const SERVE_CLIENT_LIMITS = {
  maxReceived: 16,
  maxReceivedChars: 16 * 1024,
  maxMessageTypes: 16,
  maxPendingBytes: 128 * 1024,
  maxFrameSize: 16 * 1024,
} as const;

async function serve(values: Values, positionals: string[], io: CliIO): Promise<number> {
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  const path = positionals[0];
  const port = numberOption(values, "port", "port") ?? 0;
  const speed = numberOption(values, "speed", "number >= 0") ?? 1;
  const host = values.host ?? "127.0.0.1";
  const loop = values.loop ?? false;
  const maxClients = numberOption(values, "max-clients", "positive integer") ?? SERVE_MAX_CLIENTS;
  const idleTimeout = numberOption(values, "idle-timeout", "number >= 0") ?? SERVE_IDLE_TIMEOUT_S;
  const lines = path === undefined ? sampleRecording(Date.now()) : await readRecording(path, io);
  // The mock answers the handshake and heartbeats itself; replaying recorded
  // ones would confuse clients.
  const recording = lines.filter((line) => !HIDDEN_BY_DEFAULT.has(peekType(line.body) ?? ""));

  const start = (protocols: ("tcp" | "ws")[]) =>
    MockServer.start({
      host,
      port,
      protocols,
      recording,
      speed,
      loop,
      maxClients,
      idleTimeout: idleTimeout * 1000,
      ...SERVE_CLIENT_LIMITS,
    });
  let server: MockServer;
  try {
    server = await start(["tcp", "ws"]);
  } catch {
    // No WebSocket server on this runtime (Node): TCP alone still serves bots.
    try {
      server = await start(["tcp"]);
    } catch (error) {
      throw new CliFailure(`cannot start the mock server on ${host}:${port}: ${errorText(error)}`);
    }
  }
  const { stop, unlink } = stopController(io);
  try {
    const { tcp, ws } = server.urls;
    await say(io, `mock server listening on ${tcp}${ws ? ` and ${ws}` : ""}`);
    await say(
      io,
      `streaming ${recording.length} messages from ${
        path ?? "the bundled sample"
      } to each client ` +
        `that joins (speed ${speed}${loop ? ", looping" : ""}); Ctrl-C stops`,
    );
    const announce = (async () => {
      for (;;) {
        const client = await server.nextClient({ signal: stop.signal });
        // The log may have moved past `joingroup` already (a client can send a lot).
        const join = await client.joined.catch(() => undefined);
        await say(
          io,
          `client ${client.id} joined room ${join?.rid ?? "?"} over ${client.protocol}`,
        );
      }
    })().catch(() => {});
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await announce;
  } finally {
    unlink();
    await server.close();
  }
  return OK;
}

// ---------------------------------------------------------------------------
// douyu resolve <room>

async function resolve(values: Values, positionals: string[], io: CliIO): Promise<number> {
  const text = one(positionals, "<room>: a room id, name or URL");
  const input = parseRoom(text);
  const apiBase = httpBase(values, "api-base");
  const mobileBase = httpBase(values, "mobile-base");
  const { stop, unlink } = stopController(io);
  try {
    const id = "id" in input ? input.id : await resolveRoom(text, {
      ...(apiBase ? { apiBase } : {}),
      ...(mobileBase ? { mobileBase } : {}),
      signal: stop.signal,
    });
    await io.stdout(`${id}\n`);
    return OK;
  } catch (error) {
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    throw error;
  } finally {
    unlink();
  }
}

// ---------------------------------------------------------------------------
// The real process: Deno, Bun or Node

/** The runtime's side of a {@linkcode CliIO}. */
interface SystemIO {
  io: CliIO;
  args: string[];
  /** Waits until everything written has been handed to the OS. */
  flush(): Promise<void>;
  /** Removes the signal handlers. */
  dispose(): void;
  exit(code: number): void;
}

/** Serialises writes to one stream, so concurrent notes never interleave mid-line. */
function serialized(write: (text: string) => Promise<void>): (text: string) => Promise<void> {
  let chain = Promise.resolve();
  return (text) => {
    const next = chain.then(() => write(text));
    chain = next.catch(() => {});
    return next;
  };
}

function denoIO(): SystemIO {
  const encoder = new TextEncoder();
  const writer = (file: typeof Deno.stdout) =>
    serialized((text) => writeAll(encoder.encode(text), (chunk) => file.write(chunk)));
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((name) => {
    const handler = () => {
      // A second Ctrl-C while logging out means "now".
      if (controller.signal.aborted) Deno.exit(name === "SIGTERM" ? 143 : 130);
      controller.abort(name);
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  const stdout = writer(Deno.stdout);
  const stderr = writer(Deno.stderr);
  return {
    io: {
      stdout,
      stderr,
      // Deno.noColor reflects NO_COLOR without reading the environment (no --allow-env).
      color: Deno.stdout.isTerminal() && !Deno.noColor,
      signal: controller.signal,
    },
    args: Deno.args,
    flush: async () => {
      await stdout("").catch(() => {});
      await stderr("").catch(() => {});
    },
    dispose: () => {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    },
    exit: (code) => Deno.exit(code),
  };
}

type Stream = Writable;

async function nodeIO(): Promise<SystemIO> {
  const { default: process } = await import("node:process");
  const writer = (stream: Stream) => {
    let failure: unknown;
    stream.on("error", (error) => (failure ??= error));
    return serialized((text) =>
      new Promise<void>((resolve, reject) => {
        if (failure !== undefined) return reject(failure);
        const done = () => {
          stream.off("error", onError);
          resolve();
        };
        const onError = (error: unknown) => {
          stream.off("drain", done);
          reject(error);
        };
        // Waiting for "drain" when the buffer is full is the backpressure.
        if (stream.write(text)) return resolve();
        stream.once("drain", done);
        stream.once("error", onError);
      })
    );
  };
  const controller = new AbortController();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (controller.signal.aborted) process.exit(name === "SIGTERM" ? 143 : 130);
      controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  const flushStream = (stream: Stream) =>
    new Promise<void>((resolve) => {
      if (stream.writableLength === 0) return resolve();
      stream.write("", () => resolve());
    });
  const noColor = process.env.NO_COLOR;
  return {
    io: {
      stdout: writer(process.stdout),
      stderr: writer(process.stderr),
      color: process.stdout.isTTY === true && (noColor === undefined || noColor === ""),
      signal: controller.signal,
    },
    args: process.argv.slice(2),
    flush: async () => {
      await flushStream(process.stdout);
      await flushStream(process.stderr);
    },
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
    exit: (code) => process.exit(code),
  };
}

/**
 * Runs the command line tool in this process: reads the arguments, wires
 * stdout/stderr (with backpressure), colour (a terminal, and NO_COLOR
 * unset), SIGINT and SIGTERM, then exits with {@linkcode main}'s code. A
 * second Ctrl-C exits at once.
 *
 * Under Deno it reads no environment variable (`Deno.noColor` gives
 * NO_COLOR) and no file the user did not name, so watching a room needs
 * only `--allow-net` (`-N`); `--record` adds `--allow-write`, `replay` and
 * `serve <file>` `--allow-read`.
 *
 * @param args The arguments; default: this process's.
 *
 * @example What `mod.ts` does as the main module
 * ```ts ignore
 * import { runCli } from "./cli.ts";
 *
 * if (import.meta.main) await runCli();
 * ```
 */
export async function runCli(args?: string[]): Promise<void> {
  const system = isDeno ? denoIO() : await nodeIO();
  let code: number;
  try {
    code = await main(args ?? system.args, system.io);
  } catch (error) {
    // main() reports expected failures itself; this is a bug, but still one line.
    await system.io.stderr(`douyu: unexpected error: ${errorText(error)}\n`);
    code = FAILURE;
  } finally {
    system.dispose();
  }
  if (code === 130 || code === 143) {
    // Interrupted: output a blocked stdout (a pipe nobody reads) still holds
    // must not keep the process alive.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      system.flush(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, INTERRUPTED_FLUSH_MS))),
    ]);
    clearTimeout(timer);
  } else {
    await system.flush();
  }
  system.exit(code);
}
