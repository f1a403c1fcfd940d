/**
 * Turning messages into output lines for `watch`, `replay` and `consume`:
 * the type and filter rules, gift names and values, repeat folding, text or
 * NDJSON, `--count`, and a stdout that may block or fail.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { createFilter, type MessageFilter, RepeatFolder } from "../output/filters.ts";
import { formatJson, formatMessage } from "../output/format.ts";
import { BOOKKEEPING_TYPES, type Message } from "../protocol/messages.ts";
import type { GiftCatalog } from "../protocol/gifts.ts";
import type { GiftCatalogCache } from "../web/gifts.ts";
import { type CliIO, FAILURE, OK, say, unlessStopped } from "./io.ts";
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
  /** Gift names and prices, looked up per room the first time a gift needs them. */
  gifts?: GiftCatalogCache | undefined;
}

/** Applies the filters and prints; counts what was printed. */
export class Printer {
  printed = 0;
  /** The error that made stdout fail, if any. */
  outputError: unknown;
  readonly #settings: PrinterSettings;
  readonly #filters = new Map<number | undefined, MessageFilter>();
  readonly #folders = new Map<number | undefined, RepeatFolder>();
  #catalogWarned = false;
  /** Rooms whose catalogue has been asked for since this printer began. */
  readonly #catalogAsked = new Set<number>();

  /** False when `--types` leaves out every gift type: no catalogue is needed then. */
  readonly #printsGifts: boolean;

  constructor(settings: PrinterSettings) {
    this.#settings = settings;
    const { types } = settings.options;
    this.#printsGifts = types === undefined || [...GIFT_TYPES].some((type) => types.has(type));
  }

  /**
   * Prints `msg` if it passes the filters. Returns false once the command
   * should stop: the count is reached, stdout failed, or `stop` aborted
   * while the line was waiting to be written.
   *
   * @param msg The message.
   * @param receivedAt When it arrived, ms since the epoch (the time column).
   * @param room The room it was received for, when known.
   * @param priced The gift's prices as they were when it arrived (`douyu logs`), instead of
   * the room's catalogue now.
   */
  async print(
    msg: Message,
    receivedAt: number,
    room?: number,
    priced?: GiftCatalog,
  ): Promise<boolean> {
    const { io, options, stop, showRoom } = this.#settings;
    if (
      options.types !== undefined ? !options.types.has(msg.type) : BOOKKEEPING_TYPES.has(msg.type)
    ) {
      return true;
    }
    const catalog = priced ?? this.#catalog(msg, room);
    if (!this.#filter(room)(msg, catalog).keep) return true;
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
      ? formatJson(msg, { _room: shownRoom, _repeat: repeat })
      : formatMessage(msg, {
        color: io.color ?? false,
        now: receivedAt,
        // Asking for types by name means wanting to see them, text line or not.
        all: options.types !== undefined,
        ...(shownRoom !== undefined ? { room: shownRoom } : {}),
        ...(catalog ? { catalog } : {}),
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
    const error = this.outputError as { name?: unknown; code?: unknown };
    if (error?.name === "BrokenPipe" || error?.code === "EPIPE") return OK;
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

  /**
   * The room's gift catalogue when it is at hand. It is asked for in the
   * background and a gift prints with what is there: output never waits for
   * an HTTP API. A room's first printable message asks already, so that the
   * catalogue is usually in by its first gift. Every gift asks again: the
   * cache fetches at most once per `ttl` (after a failure, once per
   * `retryAfter`), so a lookup that failed is tried again and a stale
   * catalogue refreshed; the first failure costs one warning.
   */
  #catalog(msg: Message, room: number | undefined): GiftCatalog | undefined {
    const gifts = this.#settings.gifts;
    if (gifts === undefined || room === undefined || !this.#printsGifts) return undefined;
    const isGift = GIFT_TYPES.has(msg.type);
    if (!isGift) {
      if (this.#catalogAsked.has(room)) return undefined;
      this.#catalogAsked.add(room);
    }
    gifts.get(room).catch((error) => {
      if (this.#catalogWarned || this.#settings.stop.aborted) return;
      this.#catalogWarned = true;
      return say(
        this.#settings.io,
        `gift names and values unavailable for now (${
          errorText(error)
        }); gifts show as sent, or as gift #<id>`,
      );
    });
    return isGift ? gifts.peek(room) : undefined;
  }
}

/** 2, 5, 10, 20, 50, 100, 200, 500, …: when a folded repeat is worth a line. */
export function isMilestone(count: number): boolean {
  if (count < 2) return false;
  let scale = 1;
  while (scale * 10 <= count) scale *= 10;
  return count === scale || count === 2 * scale || count === 5 * scale;
}
