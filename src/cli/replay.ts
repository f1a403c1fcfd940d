/**
 * `douyu replay <file>`: prints a recording as if live, with the output and
 * filter options of watching.
 *
 * @module
 */

import type { TimedMessage } from "../archive/timed.ts";
import { sleep } from "../base/timers.ts";
import { parseMessage } from "../protocol/messages.ts";
import { type RecordLine, replayDelay } from "../protocol/record.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import {
  type CliIO,
  deadline,
  interruptCode,
  INTERRUPTED,
  OK,
  stopController,
  UsageError,
} from "./io.ts";
import { readRecording } from "./files.ts";
import {
  defineOptions,
  FILTER_OPTIONS,
  GIFT_WAIT_OPTION,
  giftBases,
  giftWait,
  HELP_OPTION,
  lookups,
  numberOption,
  one,
  OUTPUT_OPTIONS,
  outputOptions,
  parseCommand,
} from "./options.ts";
import { giftPricer, Printer, type PrintItem } from "./printer.ts";

/** The options of `douyu replay`. */
export const REPLAY_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    ...OUTPUT_OPTIONS,
    ...FILTER_OPTIONS,
    "gift-api-base": { type: "string" },
    ...GIFT_WAIT_OPTION,
    speed: { type: "string" },
    room: { type: "string" },
  } as const,
);

/**
 * `douyu replay <file> [options]`: prints the recording's messages with
 * their original spacing divided by `--speed`.
 *
 * @param args The arguments after `replay`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code.
 */
export async function replayCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, REPLAY_OPTIONS, "douyu replay");
  const path = one(positionals, "<file>: the recording to replay");
  const output = outputOptions(values);
  const speed = numberOption(values.speed, "speed", "number >= 0") ?? 1;
  const room = numberOption(values.room, "room", "positive integer");
  const lookup = lookups(values);
  const lines = await readRecording(path, io);
  const rooms = new Set(lines.map((line) => line.room ?? room));
  if (output.onlyRoom && rooms.has(undefined)) {
    throw new UsageError(
      "--only-room needs --room ID with replay (this recording does not name its room)",
    );
  }
  const catalogWait = giftWait(values["gift-wait"]);
  const { stop, unlink } = stopController(io);
  // A recording may come from anywhere: gift names and values only when asked.
  const gifts = lookup.giftApiBase ? new GiftCatalogCache(giftBases(lookup)) : undefined;
  const printer = new Printer({
    io,
    options: output,
    stop: stop.signal,
    // A multi-room recording shows each line's room, as watching them did.
    showRoom: rooms.size > 1,
  });
  // Gifts are priced per room: only when every line's room is known.
  const pricer = rooms.has(undefined)
    ? undefined
    : giftPricer(io, output, gifts, catalogWait, stop.signal);
  for (const id of rooms) if (id !== undefined) pricer?.join(id);
  const cancelDeadline = deadline(stop, output.duration);
  try {
    // With a pricer, every line has its room.
    const items = paced(lines, room, speed, stop.signal);
    const priced = pricer ? pricer.price(items as AsyncIterable<TimedMessage>) : items;
    for await (const item of priced) {
      if (stop.signal.aborted) break;
      if (!await printer.print(item)) break;
    }
  } finally {
    cancelDeadline();
    unlink();
    gifts?.clear(); // abandons a lookup still in flight
  }
  if (printer.outputError !== undefined) return await printer.outputFailure(io);
  if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
  return OK;
}

/**
 * The recording's messages, paced as recorded (divided by `speed`); each
 * keeps its recorded arrival time, which the time column and `_t` show.
 */
async function* paced(
  lines: readonly RecordLine[],
  room: number | undefined,
  speed: number,
  signal: AbortSignal,
): AsyncGenerator<PrintItem, void, undefined> {
  const start = performance.now();
  for (const line of lines) {
    const wait = replayDelay(line, lines[0]!, performance.now() - start, speed);
    if (wait > 0) await sleep(wait, signal);
    if (signal.aborted) return;
    yield { t: line.t, room: line.room ?? room, message: parseMessage(line.body) };
  }
}
