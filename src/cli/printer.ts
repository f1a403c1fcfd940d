/**
 * Turning messages into output lines for `watch`, `replay` and `consume`:
 * the type and filter rules, gift names and values (priced on arrival by a
 * `GiftPricer`), repeat folding, text or NDJSON with `_t` and `_gift`,
 * `--count`, and a stdout that may block or fail.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { createFilter, type MessageFilter, RepeatFolder } from "../output/filters.ts";
import { formatJson, formatMessage, jsonGift } from "../output/format.ts";
import { giftOf } from "../protocol/gifts.ts";
import { BOOKKEEPING_TYPES } from "../protocol/messages.ts";
import { GiftPricer } from "../archive/pricing.ts";
import type { TimedMessage } from "../archive/timed.ts";
import type { GiftCatalogCache } from "../web/gifts.ts";
import { type CliIO, FAILURE, isBrokenPipe, OK, say, unlessStopped } from "./io.ts";
import type { OutputOptions } from "./options.ts";

/** Message types whose line shows a gift, which the catalogue names and prices. */
const GIFT_TYPES: ReadonlySet<string> = new Set(["dgb", "gdp", "spbc"]);

/** What a {@linkcode Printer} prints with. */
export interface PrinterSettings {
  io: CliIO;
  options: OutputOptions;
  /** Ends a write that is waiting on a blocked stdout (a pipe nobody reads). */
  stop: AbortSignal;
  /** Show each message's room (a column, or `_room` in JSON): true when several rooms are watched. */
  showRoom: boolean;
}

/** A message to print: a {@linkcode TimedMessage}, whose room may be unknown (an old recording). */
export type PrintItem = Omit<TimedMessage, "room"> & { room?: number | undefined };

/** Applies the filters and prints; counts what was printed. */
export class Printer {
  printed = 0;
  /** The error that made stdout fail, if any. */
  outputError: unknown;
  readonly #settings: PrinterSettings;
  readonly #filters = new Map<number | undefined, MessageFilter>();
  readonly #folders = new Map<number | undefined, RepeatFolder>();

  constructor(settings: PrinterSettings) {
    this.#settings = settings;
  }

  /**
   * Prints a message if it passes the filters, with its gift as priced
   * (see {@linkcode giftPricer}). Returns false once the command should
   * stop: the count is reached, stdout failed, or `stop` aborted while the
   * line was waiting to be written.
   *
   * @param item The message, when it arrived (the time column, `_t`) and its room.
   */
  async print(item: PrintItem): Promise<boolean> {
    const { io, options, stop, showRoom } = this.#settings;
    const { message: msg, t: receivedAt, room } = item;
    if (
      options.types !== undefined ? !options.types.has(msg.type) : BOOKKEEPING_TYPES.has(msg.type)
    ) {
      return true;
    }
    // Unpriced (no catalogue wanted): what the message itself tells.
    const gift = item.gift ?? giftOf(msg);
    if (!this.#filter(room)(msg, undefined, gift).keep) return true;
    let repeat: number | undefined;
    if (options.fold && msg.type === "chatmsg" && typeof msg.txt === "string") {
      const folded = this.#folder(room).fold(msg.txt, receivedAt);
      if (folded.repeat) {
        // A chant prints at 2, 5, 10, 20, 50, … repeats, not once per message.
        if (!isMilestone(folded.count)) return true;
        repeat = folded.count;
      }
    }
    const shownRoom = showRoom ? room : undefined;
    const line = options.json
      ? formatJson(msg, {
        _room: shownRoom,
        _repeat: repeat,
        _t: receivedAt,
        _gift: jsonGift(gift),
      })
      : formatMessage(msg, {
        color: io.color ?? false,
        now: receivedAt,
        // Asking for types by name means wanting to see them, text line or not.
        all: options.types !== undefined,
        ...(shownRoom !== undefined ? { room: shownRoom } : {}),
        ...(gift ? { gift } : {}),
        ...(repeat !== undefined ? { repeat } : {}),
      });
    if (line === undefined) return true;
    let written: boolean;
    try {
      written = await unlessStopped(io.stdout(line + "\n"), stop);
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
    if (isBrokenPipe(this.outputError)) return OK;
    await say(io, `cannot write to stdout: ${errorText(this.outputError)}`);
    return FAILURE;
  }

  /** The filter of one room: the same rules, with `--only-room` meaning that room. */
  #filter(room: number | undefined): MessageFilter {
    let filter = this.#filters.get(room);
    if (filter === undefined) {
      const { rules, onlyRoom } = this.#settings.options;
      filter = createFilter({
        ...rules,
        ...(onlyRoom && room !== undefined ? { onlyRoom: room } : {}),
      });
      this.#filters.set(room, filter);
    }
    return filter;
  }

  #folder(room: number | undefined): RepeatFolder {
    let folder = this.#folders.get(room);
    if (folder === undefined) this.#folders.set(room, folder = new RepeatFolder());
    return folder;
  }
}

/**
 * The gift pricer of a printing command, or `undefined` when no catalogue is
 * wanted: no gift API to ask, or `--types` leaves out every gift type. A
 * room's catalogue is asked for when the room is joined (`join`) or first
 * seen; its output waits for it up to `wait` ms from its first gift, so that
 * the first gifts print with their values too. The first failure costs one
 * warning; the cache asks again later.
 */
export function giftPricer(
  io: CliIO,
  options: Pick<OutputOptions, "types">,
  gifts: GiftCatalogCache | undefined,
  wait: number | undefined,
  stop: AbortSignal,
): GiftPricer | undefined {
  const { types } = options;
  if (gifts === undefined) return undefined;
  if (types !== undefined && ![...GIFT_TYPES].some((type) => types.has(type))) return undefined;
  let warned = false;
  return new GiftPricer({
    gifts,
    ...(wait === undefined ? {} : { catalogWait: wait }),
    signal: stop,
    onError: (_room, error) => {
      if (warned || stop.aborted) return;
      warned = true;
      void say(
        io,
        `gift names and values unavailable for now (${
          errorText(error)
        }); gifts show as sent, or as gift #<id>`,
      );
    },
  });
}

/** 2, 5, 10, 20, 50, 100, 200, 500, …: when a folded repeat is worth a line. */
export function isMilestone(count: number): boolean {
  if (count < 2) return false;
  let scale = 1;
  while (scale * 10 <= count) scale *= 10;
  return count === scale || count === 2 * scale || count === 5 * scale;
}
