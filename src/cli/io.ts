/**
 * What every `douyu` command shares: the {@linkcode CliIO} it talks through,
 * exit codes, the two kinds of expected failure, one-line notices on stderr,
 * and stopping (Ctrl-C, a deadline).
 *
 * @module
 */

import { abortable } from "../base/abortable.ts";
import { DouyuError, errorText } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";

/**
 * What a command needs from the outside world.
 *
 * @example An in-memory CliIO, as the tests use
 * ```ts
 * import type { CliIO } from "./io.ts";
 *
 * let out = "";
 * const io: CliIO = { stdout: (text) => void (out += text), stderr: () => {} };
 * await io.stdout("hello\n");
 * console.log(out); // "hello\n"
 * ```
 */
export interface CliIO {
  /**
   * Writes to standard output. Commands await it before printing the next
   * message, so a slow reader slows the session down (backpressure) instead
   * of filling memory. A rejection ends the command.
   */
  stdout(text: string): void | Promise<void>;
  /** Writes to standard error: status, notices and errors. */
  stderr(text: string): void | Promise<void>;
  /** Colour human output. Default false; `runCli` sets it for a terminal without NO_COLOR. */
  color?: boolean;
  /**
   * Standard error is a terminal: a long command (an import) may show its
   * progress there, on a line it rewrites. Default false: never in a pipe
   * or a file.
   */
  progress?: boolean;
  /**
   * Aborted on SIGINT or SIGTERM: the command logs out, flushes the
   * recording and returns 130 (143 when the reason is `"SIGTERM"`).
   * Commands that run until stopped (`serve`, `overlay`) return 0.
   */
  signal?: AbortSignal;
}

/** The command did what was asked. */
export const OK = 0;
/** An expected failure: no endpoint reachable, a room lookup or a file failed. */
export const FAILURE = 1;
/** A bad command line. */
export const USAGE = 2;

/** A bad command line: exit 2 with the message and a usage hint. */
export class UsageError extends Error {}

/** An expected failure with a one-line message: exit 1. */
export class CliFailure extends Error {}

/** Why a command stopped early, as the reason of its stop signal: Ctrl-C or SIGTERM. */
export const INTERRUPTED: unique symbol = Symbol("interrupted");
/** …its `--count` or `--duration` was reached. */
export const DONE: unique symbol = Symbol("done");
/** …its recording could not be written. */
export const RECORDING_FAILED: unique symbol = Symbol("recording failed");

/** Writes `douyu: <text>` to stderr, every line sanitised; never throws. */
export async function say(io: CliIO, text: string): Promise<void> {
  const lines = text.replace(/\n$/, "").split("\n").map((line) => sanitizeForTerminal(line));
  try {
    await io.stderr(`douyu: ${lines.join("\n")}\n`);
  } catch {
    // Nowhere left to report to.
  }
}

/** Line breaks, which would cut a failure's one line in several. */
const LINE_BREAKS = /[\r\n\v\f\u0085\u2028\u2029]+/g;

/**
 * The one-line message of an expected failure (or of anything thrown): one
 * line whatever a file name, a URL or a file's contents put in it.
 */
export function describeError(error: unknown): string {
  const text = error instanceof CliFailure || error instanceof DouyuError
    ? error.message
    : errorText(error);
  return text.replace(LINE_BREAKS, " ");
}

/** Whether writing failed because the reader went away (`| head`): not an error of ours. */
export function isBrokenPipe(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === "BrokenPipe" || code === "EPIPE";
}

/** The exit code of an interrupted command: 143 for SIGTERM, else 130. */
export function interruptCode(io: CliIO): number {
  return io.signal?.reason === "SIGTERM" ? 143 : 130;
}

/** `value` quoted for a message, cut to 40 characters. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
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
export function deadline(stop: AbortController, seconds: number | undefined): () => void {
  if (seconds === undefined) return () => {};
  const timer = setTimeout(() => stop.abort(DONE), seconds * 1000);
  return () => clearTimeout(timer);
}

export { untilAborted } from "../base/abortable.ts";

/**
 * Waits for a write, or for `signal` to abort, whichever comes first: true
 * when the write completed. A write given up on is left to finish (or fail)
 * on its own; its outcome is ignored.
 */
export function unlessStopped(write: void | Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (write === undefined) return Promise.resolve(true);
  return abortable(Promise.resolve(write).then(() => true), signal).catch(
    (error: unknown): boolean => {
      if (signal.aborted) return false;
      throw error;
    },
  );
}

/** Writes all of `bytes` through `write`, which may take only a part and says how many bytes. */
export async function writeAll(
  bytes: Uint8Array,
  write: (chunk: Uint8Array) => Promise<number>,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await write(bytes.subarray(offset));
  }
}
