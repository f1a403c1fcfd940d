/**
 * The recording format of `douyu --record` and `douyu replay`: JSON Lines,
 * one `{"t": <arrival time, ms since the epoch>, "body": "<STT body>"}` per
 * server message, in arrival order, with `"room": <id>` when the recorder
 * knew which room it came from (a multi-room recording keeps each line's
 * room). It is the format of the real capture in
 * `tests/fixtures/`, and what `MockServer`'s `recording` option takes, so a
 * recording can be replayed to a bot. The body is kept raw, so replaying
 * re-frames exactly the bytes that arrived.
 *
 * Pure: parsing and serialising are string functions, and
 * {@linkcode RecordWriter} writes through a function it is given.
 *
 * @module
 */

import { isEpochMs } from "../base/when.ts";
import { DouyuError } from "../base/errors.ts";

/**
 * One recorded message.
 *
 * @example
 * ```ts
 * import type { RecordLine } from "./record.ts";
 *
 * const line: RecordLine = { t: 1714564800000, body: "type@=chatmsg/nn@=Ann/txt@=hi/" };
 * console.log(line.body);
 * ```
 */
export interface RecordLine {
  /** When the message arrived, in ms since the epoch. */
  t: number;
  /** The STT body as it arrived. */
  body: string;
  /** The room it was received for, when recorded (absent in older recordings and the capture). */
  room?: number;
}

/**
 * How many milliseconds to wait before `line` is due when replaying at
 * `speed`: its offset from the first line divided by `speed`, less the time
 * already `elapsed` since the replay started. Scheduling against the start,
 * not the previous line, keeps slow output from accumulating drift. At speed
 * 0 (as fast as possible) nothing waits.
 *
 * @example
 * ```ts
 * import { replayDelay } from "./record.ts";
 *
 * const first = { t: 1000, body: "type@=mrkl/" };
 * console.log(replayDelay({ t: 3000, body: "type@=mrkl/" }, first, 500, 2)); // 500
 * ```
 */
export function replayDelay(
  line: RecordLine,
  first: RecordLine,
  elapsed: number,
  speed: number,
): number {
  return speed > 0 ? (line.t - first.t) / speed - elapsed : 0;
}

/**
 * A recording file is malformed (the message names the file and line), or a
 * {@linkcode RecordWriter} fell too far behind the messages it records.
 *
 * @example
 * ```ts
 * import { parseRecording, RecordingError } from "./record.ts";
 *
 * try {
 *   parseRecording('{"t": 1, "body": "type@=mrkl/"}\nnot json\n', "rec.jsonl");
 * } catch (error) {
 *   if (error instanceof RecordingError) console.log(error.message); // "rec.jsonl:2: not JSON"
 * }
 * ```
 */
export class RecordingError extends DouyuError {}

/**
 * One line of a recording, with its newline.
 *
 * @example
 * ```ts
 * import { serializeRecordLine } from "./record.ts";
 *
 * console.log(serializeRecordLine({ t: 1, body: "type@=mrkl/" })); // '{"t":1,"body":"type@=mrkl/"}\n'
 * ```
 */
export function serializeRecordLine(line: RecordLine): string {
  const record = line.room === undefined
    ? { t: line.t, body: line.body }
    : { t: line.t, room: line.room, body: line.body };
  return JSON.stringify(record) + "\n";
}

/** Options of {@linkcode parseRecording}. */
export interface ParseRecordingOptions {
  /**
   * Called, at most once, when the last line was cut off and skipped.
   *
   * @param line Its number, from 1.
   */
  onIncompleteLine?: (line: number) => void;
}

/**
 * Parses a whole recording. Blank lines are skipped and CRLF line ends are
 * accepted; anything else must be an object with a finite number `t` and a
 * string `body` (other keys are ignored).
 *
 * One exception: a last line that was cut off is skipped, and reported
 * through `onIncompleteLine`. A recording is written line by line, so a kill
 * or a full disk leaves one: its text after the last newline is not JSON.
 * A line that ends with a newline is whole, and must be valid wherever it is.
 *
 * @param text The file's content.
 * @param source How to name the file in errors.
 * @param options `onIncompleteLine`: told when a cut last line was skipped.
 * @returns The lines, in file order.
 * @throws {RecordingError} naming the first bad line (`source:line: reason`).
 *
 * @example
 * ```ts
 * import { parseRecording } from "./record.ts";
 *
 * const lines = parseRecording('{"t": 1000, "body": "type@=chatmsg/txt@=hi/"}\n');
 * console.log(lines); // [ { t: 1000, body: "type@=chatmsg/txt@=hi/" } ]
 * ```
 *
 * @example A recording cut off while its last line was written
 * ```ts
 * import { parseRecording } from "./record.ts";
 *
 * const text = '{"t": 1000, "body": "type@=mrkl/"}\n{"t": 1001, "bo';
 * const lines = parseRecording(text, "rec.jsonl", {
 *   onIncompleteLine: (line) => console.log(`rec.jsonl:${line}: incomplete; skipped`), // line 2
 * });
 * console.log(lines.length); // 1
 * ```
 */
export function parseRecording(
  text: string,
  source = "recording",
  options: ParseRecordingOptions = {},
): RecordLine[] {
  const lines: RecordLine[] = [];
  // A byte order mark (some editors write one) is no part of the first line.
  const raws = (text.startsWith("\uFEFF") ? text.slice(1) : text).split("\n");
  for (let index = 0; index < raws.length; index++) {
    const raw = raws[index]!;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const value = parseJson(line);
    if (value === NOT_JSON) {
      // After the last newline: a line whose writing was cut short.
      if (index === raws.length - 1) {
        options.onIncompleteLine?.(index + 1);
        break;
      }
      throw notJson(`${source}:${index + 1}`);
    }
    lines.push(recordLineOf(value, `${source}:${index + 1}`));
  }
  return lines;
}

/**
 * Parses one line of a recording.
 *
 * @param line One JSON line, without its newline.
 * @param where How to name the line in errors, e.g. `rec.jsonl:12`.
 * @throws {RecordingError} when the line is not a valid record.
 *
 * @example
 * ```ts
 * import { parseRecordLine } from "./record.ts";
 *
 * console.log(parseRecordLine('{"t": 5, "body": "type@=mrkl/"}').t); // 5
 * ```
 */
export function parseRecordLine(line: string, where = "recording"): RecordLine {
  const value = parseJson(line);
  if (value === NOT_JSON) throw notJson(where);
  return recordLineOf(value, where);
}

const NOT_JSON: unique symbol = Symbol("not JSON");

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return NOT_JSON;
  }
}

// Not the parser's message: it would quote a slice of the (untrusted) line.
function notJson(where: string): RecordingError {
  return new RecordingError(`${where}: not JSON`);
}

/** Checks a parsed line's shape. */
function recordLineOf(value: unknown, where: string): RecordLine {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RecordingError(`${where}: expected an object with "t" and "body"`);
  }
  const { t, body, room } = value as Record<string, unknown>;
  // A time no clock can show (printed as NaN:NaN:NaN) is refused, as an import refuses it.
  if (!isEpochMs(t)) {
    throw new RecordingError(
      `${where}: "t" must be a whole number of ms since the epoch, from 1970 to the year 9999`,
    );
  }
  if (typeof body !== "string") throw new RecordingError(`${where}: "body" must be a string`);
  if (room === undefined) return { t, body };
  if (typeof room !== "number" || !Number.isSafeInteger(room) || room <= 0) {
    throw new RecordingError(`${where}: "room" must be a positive integer room id`);
  }
  return { t, body, room };
}

/** Options of {@linkcode RecordWriter}. */
export interface RecordWriterOptions {
  /** Milliseconds a line may wait in memory before it is written. Default 250. */
  flushInterval?: number;
  /** Write at once when this many characters are waiting. Default 65 536. */
  maxBuffer?: number;
  /**
   * Most characters that may wait in memory, buffered or handed to `write`
   * but not yet written. A line that would go past it fails the writer with
   * a {@linkcode RecordingError} (through `onError`, and `close()` throws
   * it): the file is slower than the messages arrive, and memory must not
   * grow without bound. Default 16 777 216 (16 Mi).
   */
  maxPending?: number;
  /** Called once with the first error (a write error, or `maxPending`); later lines are then discarded. */
  onError?: (error: unknown) => void;
}

/**
 * Buffers recorded lines and writes them in order through `write`, at most
 * `flushInterval` ms late, so recording a busy room costs one write per
 * batch instead of one per message. {@linkcode RecordWriter.close} writes
 * what is left: call it before exiting, also on Ctrl-C.
 *
 * @example Recording a session's bodies
 * ```ts
 * import { RecordWriter } from "./record.ts";
 *
 * let file = "";
 * const writer = new RecordWriter(async (text) => {
 *   file += text;
 * });
 * writer.add("type@=chatmsg/txt@=hi/", 1714564800000); // e.g. from connect()'s onBody
 * await writer.close();
 * console.log(file); // '{"t":1714564800000,"body":"type@=chatmsg/txt@=hi/"}\n'
 * ```
 */
export class RecordWriter {
  readonly #write: (text: string) => Promise<void>;
  readonly #flushInterval: number;
  readonly #maxBuffer: number;
  readonly #maxPending: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  #buffer: string[] = [];
  #buffered = 0;
  /** Characters added but not yet written: the buffer and the writes in flight or queued. */
  #pending = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #error: unknown;
  #failed = false;
  #closed = false;
  #count = 0;

  /**
   * Creates a writer; nothing is written until the first line is added.
   *
   * @param write Appends text to the recording; called with whole lines, one call at a time.
   * @param options Flush timing and an error callback.
   */
  constructor(write: (text: string) => Promise<void>, options: RecordWriterOptions = {}) {
    this.#write = write;
    this.#flushInterval = options.flushInterval ?? 250;
    this.#maxBuffer = options.maxBuffer ?? 65_536;
    this.#maxPending = options.maxPending ?? 16 * 1024 * 1024;
    this.#onError = options.onError;
  }

  /** How many lines were added (written or waiting). */
  get lines(): number {
    return this.#count;
  }

  /**
   * Adds one message; ignored once `close()` was called or the writer
   * failed. A line that would make more than `maxPending` characters wait
   * fails the writer instead.
   *
   * @param body The STT body as it arrived.
   * @param t When it arrived, ms since the epoch.
   * @param room The room it was received for, kept in the line when given.
   */
  add(body: string, t: number, room?: number): void {
    if (this.#closed || this.#failed) return;
    const line = serializeRecordLine(room === undefined ? { t, body } : { t, body, room });
    if (this.#pending + line.length > this.#maxPending) {
      this.#fail(
        new RecordingError(
          `fell behind: more than ${this.#maxPending} characters were waiting to be written ` +
            "(the file is slower than the messages arrive)",
        ),
      );
      return;
    }
    this.#pending += line.length;
    this.#buffer.push(line);
    this.#buffered += line.length;
    this.#count++;
    if (this.#buffered >= this.#maxBuffer) {
      void this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#flushInterval);
    }
  }

  /** Writes every waiting line; resolves once written. Never rejects: see `close()`. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length > 0 && !this.#failed) {
      const text = this.#buffer.join("");
      this.#buffer = [];
      this.#buffered = 0;
      this.#chain = this.#chain.then(async () => {
        if (this.#failed) return;
        try {
          await this.#write(text);
        } catch (error) {
          this.#fail(error);
          return;
        }
        this.#pending -= text.length;
      });
    }
    return this.#chain;
  }

  /**
   * Writes what is left and stops: `add()` is a no-op from the moment it is
   * called, and no timer is left behind. Idempotent.
   *
   * @throws The first error: a failed write, or the {@linkcode RecordingError}
   * of going past `maxPending`.
   */
  async close(): Promise<void> {
    // Closed first: an add() while the last lines are written must not start a timer.
    this.#closed = true;
    await this.flush();
    if (this.#failed) throw this.#error;
  }

  /** Stops for good after the first error: drops what waits, reports the error once. */
  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#buffer = [];
    this.#buffered = 0;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#onError?.(error);
  }
}
