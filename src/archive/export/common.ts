/**
 * What the exporters share: the source they read, their options and
 * summary, the loop that turns items into chunks of text, and the few facts
 * about a message that every format shows (who, what text, which gift).
 *
 * @module
 */

import { sanitizeForTerminal } from "../../base/sanitize.ts";
import { type Message, superChatOf, toNumber } from "../../protocol/messages.ts";
import { type GiftDetails, giftOf } from "../../protocol/gifts.ts";
import {
  type Gap,
  GapTracker,
  isStatus,
  type TimedItem,
  type TimedMessage,
  type TimedStatus,
} from "../timed.ts";

/**
 * What an exporter reads: items in time order, from an array, a generator
 * or an archive query.
 *
 * @example
 * ```ts
 * import type { ExportSource } from "./common.ts";
 *
 * const source: ExportSource = [{ t: 1000, room: 1, message: { type: "chatmsg", txt: "hi" } }];
 * console.log(Array.isArray(source)); // true
 * ```
 */
export type ExportSource = Iterable<TimedItem> | AsyncIterable<TimedItem>;

/**
 * Options every exporter takes.
 *
 * @example
 * ```ts
 * import type { ExportOptions } from "./common.ts";
 *
 * const options: ExportOptions = { start: Date.parse("2024-05-01T20:00:00Z") };
 * console.log(options.start);
 * ```
 */
export interface ExportOptions {
  /**
   * Time zero of the export, ms since the epoch (or a `Date`): usually when
   * the video the subtitles go with started. Items before it are left out
   * (and counted). Default: the first item's time.
   */
  start?: number | Date;
  /**
   * The room exported, for a header that names it (XML's) when no item
   * tells it: an export with nothing in it still says which room it is.
   */
  room?: number;
}

/**
 * What an export did, the return value of every exporter's generator.
 *
 * @example
 * ```ts
 * import type { ExportSummary } from "./common.ts";
 *
 * const summary: ExportSummary = {
 *   start: 1000, items: 3, written: 2, beforeStart: 0, hidden: 0, gaps: 1,
 * };
 * console.log(summary.written);
 * ```
 */
export interface ExportSummary {
  /** Time zero, ms since the epoch; `undefined` when there was nothing to export and no `start`. */
  start: number | undefined;
  /** Items read. */
  items: number;
  /** Entries written: lines, rows, elements or cues, gap marks included. */
  written: number;
  /** Items left out because they came before `start`. */
  beforeStart: number;
  /** Chats kept in the file but not shown, for lack of room on screen (ASS only). */
  hidden: number;
  /** Gaps and losses marked. */
  gaps: number;
}

/** One format, fed item by item by {@linkcode runExport}. */
export interface FormatWriter {
  /**
   * Text before the first entry. `start` is time zero and `first` the first
   * item, when there is one.
   */
  begin(start: number | undefined, first: TimedItem | undefined): string;
  /** The text of one message, `offset` ms after time zero (`""` for none). */
  message(item: TimedMessage, offset: number): string;
  /** The text of one status change, `offset` ms after time zero (`""` for none). */
  status(item: TimedStatus, offset: number): string;
  /**
   * The text marking a gap that a status change completed (or a loss it
   * reported, or the gap still open at the end), from `start` to `end` ms
   * after time zero (`start` is 0 for a gap that began earlier). Called
   * after {@linkcode FormatWriter.status} of that change.
   */
  gap?(gap: Gap, start: number, end: number): string;
  /** Text after the last entry; `last` is the last item's offset, ms. */
  end(last: number | undefined): string;
}

/** How much text is gathered before a chunk is handed on. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Runs a {@linkcode FormatWriter} over a source: fixes time zero, leaves out
 * what came before it, and yields the text in chunks of about 64 KiB. The
 * writer counts what it writes in `summary`; the generator returns it.
 *
 * @param source The items, in time order.
 * @param options `start`.
 * @param make Builds the format's writer, given the summary it updates.
 */
export async function* runExport(
  source: ExportSource,
  options: ExportOptions,
  make: (summary: ExportSummary) => FormatWriter,
): AsyncGenerator<string, ExportSummary, undefined> {
  const given = options.start === undefined ? undefined : +options.start;
  if (given !== undefined && !Number.isFinite(given)) {
    throw new RangeError(`start must be a time, got ${options.start}`);
  }
  const summary: ExportSummary = {
    start: given,
    items: 0,
    written: 0,
    beforeStart: 0,
    hidden: 0,
    gaps: 0,
  };
  const writer = make(summary);
  const gaps = new GapTracker();
  let out = "";
  let begun = false;
  let last: number | undefined;
  const markGap = (gap: Gap | undefined): void => {
    if (gap === undefined) return;
    summary.gaps++;
    const zero = summary.start!;
    out += writer.gap?.(gap, Math.max(0, gap.start - zero), Math.max(0, gap.end - zero)) ?? "";
  };
  const take = (item: TimedItem): void => {
    summary.items++;
    if (!begun) {
      summary.start ??= item.t;
      out += writer.begin(summary.start, item);
      begun = true;
    }
    const offset = item.t - summary.start!;
    const status = isStatus(item);
    if (offset < 0) {
      summary.beforeStart++;
      // A gap that began before time zero still shows from time zero.
      if (status) gaps.observe(item);
      return;
    }
    last = offset;
    if (!status) {
      out += writer.message(item, offset);
      return;
    }
    out += writer.status(item, offset);
    markGap(gaps.observe(item));
  };
  // A plain iterable (an array, a query's rows) costs no await per item.
  if (Symbol.iterator in source) {
    for (const item of source) {
      take(item);
      if (out.length >= CHUNK_CHARS) {
        yield out;
        out = "";
      }
    }
  } else {
    for await (const item of source) {
      take(item);
      if (out.length >= CHUNK_CHARS) {
        yield out;
        out = "";
      }
    }
  }
  if (begun && last !== undefined) markGap(gaps.finish(summary.start! + last));
  if (!begun) out += writer.begin(summary.start, undefined);
  out += writer.end(last);
  if (out !== "") yield out;
  return summary;
}

/**
 * A whole export as one string, with its summary: for tests and small
 * exports. Large ones should write the chunks as they come.
 *
 * @param chunks What an exporter returned.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportSrt } from "./srt.ts";
 *
 * const { text, summary } = await collectExport(
 *   exportSrt([{ t: 1000, room: 1, message: { type: "chatmsg", nn: "Ann", txt: "hi" } }]),
 * );
 * console.log(summary.written, text.split("\n")[2]); // 1 "Ann: hi"
 * ```
 */
export async function collectExport(
  chunks: AsyncGenerator<string, ExportSummary, undefined>,
): Promise<{ text: string; summary: ExportSummary }> {
  let text = "";
  for (;;) {
    const next = await chunks.next();
    if (next.done) return { text, summary: next.value };
    text += next.value;
  }
}

/**
 * The message types {@linkcode chatOf} finds a chat in: every other type
 * has none.
 *
 * @example
 * ```ts
 * import { CHAT_TYPES } from "./common.ts";
 *
 * console.log([...CHAT_TYPES]); // [ "chatmsg", "comm_chatmsg" ]
 * ```
 */
export const CHAT_TYPES: ReadonlySet<string> = new Set(["chatmsg", "comm_chatmsg"]);

/**
 * The chat of a message: a `chatmsg`, or a paid super chat (with its price
 * in yuan). `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { chatOf } from "./common.ts";
 *
 * console.log(chatOf({ type: "chatmsg", nn: "Ann", uid: "7", txt: "hi", col: "1" }));
 * // { name: "Ann", uid: "7", text: "hi", color: "1", price: undefined }
 * ```
 */
export function chatOf(message: Message): Chat | undefined {
  if (message.type === "chatmsg") {
    return {
      name: wireString(message.nn),
      uid: wireString(message.uid),
      text: wireString(message.txt),
      color: wireString(message.col),
      price: undefined,
    };
  }
  const sc = superChatOf(message);
  if (sc === undefined) return undefined;
  return {
    name: sc.name,
    uid: sc.uid === undefined ? "" : String(sc.uid),
    text: sc.text,
    color: "",
    price: sc.price,
  };
}

/** A chat as {@linkcode chatOf} reads it; strings as sent (`""` when absent). */
export interface Chat {
  /** Sender's nickname. */
  name: string;
  /** Sender's uid. */
  uid: string;
  /** The text. */
  text: string;
  /** Douyu's colour number (`col`), `""` for the default. */
  color: string;
  /** For a super chat, its price in yuan. */
  price: number | undefined;
}

/**
 * The gift of an item: as priced when it arrived, or else as the message
 * alone tells it (its own name, no value). `undefined` for a message that
 * is no gift or super chat.
 *
 * @example
 * ```ts
 * import { giftFor } from "./common.ts";
 *
 * const gift = giftFor({ t: 1, room: 1, message: { type: "dgb", gfid: "824", gfcnt: "2" } });
 * console.log(gift?.id, gift?.count, gift?.value); // "824" 2 undefined
 * ```
 */
export function giftFor(item: TimedMessage): GiftDetails | undefined {
  return item.gift ?? giftOf(item.message);
}

/** A gift's name for people: its name, or `gift #<id>` when unknown. */
export function giftName(gift: GiftDetails): string {
  if (gift.name !== undefined) return gift.name;
  if (gift.kind === "superchat") return "super chat";
  return gift.id === undefined ? "gift" : `gift #${gift.id}`;
}

/** A wire value as a string; anything else (absent, nested) as `""`. */
export function wireString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The sender's nickname of any message (`nn`, or a noble's `unk`), `""` when none. */
export function senderName(message: Message): string {
  return wireString(message.nn ?? message.unk);
}

/** The sender's level of any message, or `undefined`. */
export function senderLevel(message: Message): number | undefined {
  return toNumber(wireString(message.level) || undefined);
}

const REVEAL = { reveal: true } as const;

/**
 * The two non-characters U+FFFE and U+FFFF, which the terminal's rules
 * leave alone but XML cannot hold and no text needs.
 */
const NON_CHARACTER = /[\uFFFE\uFFFF]/;
const NON_CHARACTER_GLOBAL = /[\uFFFE\uFFFF]/g;

/**
 * Text from the wire made safe to show, as the terminal shows it: controls,
 * invisible and bidi characters removed (a TAB becomes a space), and
 * U+FFFE and U+FFFF too.
 */
export function cleanText(text: string): string {
  const clean = sanitizeForTerminal(text);
  return NON_CHARACTER.test(clean) ? clean.replace(NON_CHARACTER_GLOBAL, "") : clean;
}

/**
 * A name from the wire made safe to show, as the terminal shows it: the
 * same characters shown as visible escapes (`<U+200B>`), so that one name
 * cannot pass for another.
 */
export function cleanName(name: string): string {
  const clean = sanitizeForTerminal(name, REVEAL);
  return NON_CHARACTER.test(clean)
    ? clean.replace(
      NON_CHARACTER_GLOBAL,
      (char) => `<U+${char.charCodeAt(0).toString(16).toUpperCase()}>`,
    )
    : clean;
}

/** Douyu's chat colours (`col`) as RGB numbers; absent or unknown is white. */
const COLORS: ReadonlyMap<string, number> = new Map([
  ["1", 0xff0000],
  ["2", 0x1e87f0],
  ["3", 0x7ac84b],
  ["4", 0xff7f00],
  ["5", 0x9b39f4],
  ["6", 0xff69b4],
]);

/** The RGB colour of a chat's `col`: one of Douyu's six, else white. */
export function chatColor(col: string): number {
  return COLORS.get(col) ?? 0xffffff;
}

/**
 * A function that replaces each character of `table`'s keys in a text by
 * its value: the escaping of a format. A text with none of them is returned
 * as it is, at the cost of one regular expression test.
 *
 * @example
 * ```ts
 * import { replacer } from "./common.ts";
 *
 * const escape = replacer({ "<": "&lt;", "&": "&amp;" });
 * console.log(escape("a<b & c"), escape("plain")); // "a&lt;b &amp; c" "plain"
 * ```
 */
export function replacer(table: Readonly<Record<string, string>>): (text: string) => string {
  const map = new Map(Object.entries(table));
  const chars = [...map.keys()].map((char) => char.replace(/[\\\]^-]/g, "\\$&")).join("");
  const any = new RegExp(`[${chars}]`);
  const every = new RegExp(`[${chars}]`, "g");
  const swap = (char: string) => map.get(char) ?? char;
  return (text) => any.test(text) ? text.replace(every, swap) : text;
}

/** `ms` as seconds with three decimals: `1.234`. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
