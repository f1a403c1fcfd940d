/**
 * How the `douyu` command line tool prints messages: one aligned, sanitised
 * line per message for people, or one JSON object per line for programs.
 * Pure functions: no runtime API, no I/O.
 *
 * A human line is `HH:MM:SS kind level name text`, for example
 *
 * ```text
 * 20:15:03 chat     Lv38 小鱼干              今晚也来了
 * 20:15:04 gift     Lv12 Lucky_Cat           sent 荧光棒 x1 (combo 5)
 * ```
 *
 * Every value that came from the wire passes through
 * {@linkcode sanitizeForTerminal}, so no escape sequence, bell, carriage
 * return, line break or invisible character in a nickname or message reaches
 * the terminal. Message texts lose such characters; names (every nickname a
 * line shows: `nn`, `unk`, `sn`, `dn`, `snic`, `dnic`, `donk`, `nk`,
 * `receive_nn`, a super chat's or buyer's name) show them as visible escapes
 * such as `<U+200B>` instead (dim in the name column when coloured), so that
 * `"A\u200Bnn"` cannot pass for `Ann`.
 *
 * @module
 */

import { type Message, superChatOf, toNumber } from "../protocol/messages.ts";
import type { UserFields } from "../protocol/message_types.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { isEpochMs } from "../base/when.ts";
import { type GiftCatalog, type GiftDetails, giftOf } from "../protocol/gifts.ts";

/** Options of {@linkcode formatMessage}. */
export interface FormatOptions {
  /** Colour the line with ANSI SGR codes (only for a terminal that wants them). Default false. */
  color?: boolean;
  /** When the message arrived, ms since the epoch or a `Date`: the time column. Default now. */
  now?: number | Date;
  /**
   * Also show messages that have no dedicated line (rankings, noble counts,
   * session messages, types this library does not know) as a compact
   * `key=value` line, instead of skipping them. Default false.
   */
  all?: boolean;
  /** Show this room id in a column after the time (when watching several rooms). */
  room?: number;
  /**
   * Gift names and prices: a gift line then reads `sent 火箭 x1 (¥500.00)`.
   * Without it (or for a gift it does not know) the message's own name is
   * shown, else `gift #<id>`.
   */
  catalog?: GiftCatalog;
  /**
   * The message's gift as already priced (by a `GiftPricer`, or stored in an
   * archive): shown as it is, instead of a look-up in `catalog`.
   */
  gift?: GiftDetails;
  /** The line folds this many repeats of the same text: ` ×N` is added to it. */
  repeat?: number;
}

/** Width of the room column, when there is one. */
const ROOM_WIDTH = 9;
/** Width of the kind column (`chat`, `gift`, …). */
const KIND_WIDTH = 7;
/** Width of the level column (`Lv38`, right-aligned). */
const LEVEL_WIDTH = 5;
/** Width of the name column, in terminal columns (a CJK character takes 2). */
export const NAME_WIDTH = 18;
/** Longest compact `key=value` text, in columns, before it is cut with `…`. */
const COMPACT_WIDTH = 160;

/** How {@linkcode sanitizeForTerminal} shows an unsafe character of a name. */
const REVEALED = /<U\+[0-9A-F]{4,6}>/g;

const SGR = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  blue: "\x1b[34m",
  magenta: "\x1b[35m",
  cyan: "\x1b[36m",
  gray: "\x1b[90m",
} as const;
type Style = keyof typeof SGR;

// Tables indexed by a wire value are Maps: a plain object would answer
// `constructor`, `__proto__` or `toString` from Object.prototype.

/** Chat colours (`col`), as close as the 8 basic ANSI colours get. */
const CHAT_COLORS: ReadonlyMap<string, Style> = new Map([
  ["1", "red"],
  ["2", "blue"],
  ["3", "green"],
  ["4", "yellow"],
  ["5", "magenta"],
  ["6", "magenta"],
]);

/** Who muted someone, by `newblackres.otype`. */
const OPERATORS: ReadonlyMap<string, string> = new Map([
  ["0", "user"],
  ["1", "admin"],
  ["2", "host"],
  ["3", "super admin"],
]);

/** The parts of a human line before they are padded, coloured and joined. */
interface Line {
  kind: string;
  kindStyle: Style;
  level?: string | undefined;
  name?: string | undefined;
  text: string;
  textStyle?: Style | undefined;
}

/**
 * One human-readable line for a message, without a trailing newline, or
 * `undefined` for a message that has no line of its own: session messages
 * (`loginres`, `mrkl`, `pingreq`), rankings and counters (`ranklist`,
 * `frank`, `fswrank`, `noble_num_info`), `comm_chatmsg` notices that are not
 * super chats, and types this library does not know. With `all`, those
 * appear as a compact `type key=value …` line instead.
 *
 * Wire text is sanitised (no control characters, bidi overrides, line
 * separators or invisible characters), so the result is always exactly one
 * line and safe to print; names show such characters as `<U+200B>` escapes.
 *
 * @param msg A message as `parseMessage` or a `Session` gives it.
 * @param options `color`, `now` (the time column), `all`.
 * @returns The line, or `undefined` when the message is not shown.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@x/douyu";
 * import { formatMessage } from "./format.ts";
 *
 * const msg = parseMessage("type@=chatmsg/nn@=Ann/level@=12/txt@=hello/");
 * console.log(formatMessage(msg, { now: new Date(2024, 0, 1, 20, 15, 3) }));
 * // "20:15:03 chat     Lv12 Ann                hello"
 * ```
 */
export function formatMessage(msg: Message, options: FormatOptions = {}): string | undefined {
  const gift = options.gift ?? (options.catalog ? giftOf(msg, options.catalog) : undefined);
  const line = describe(msg, gift) ?? (options.all ? compact(msg) : undefined);
  if (line === undefined) return undefined;
  if (options.repeat !== undefined && options.repeat > 1) line.text += ` ×${options.repeat}`;
  const time = clock(options.now ?? Date.now());
  const column = options.room === undefined
    ? time
    : `${time} ${fitWidth(String(options.room), ROOM_WIDTH - 1)}`;
  return render(line, column, options.color ?? false);
}

/**
 * A message as one line of JSON: `JSON.stringify(msg)`, with the few
 * characters JSON leaves raw but a terminal would act on (DEL, C1 controls
 * such as the 8-bit CSI, bidi overrides and marks, U+2028/U+2029) written as
 * `\uXXXX` escapes. `JSON.parse` of the line gives back exactly the same message.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@x/douyu";
 * import { formatJson } from "./format.ts";
 *
 * console.log(formatJson(parseMessage("type@=chatmsg/txt@=hi\u009b2J/")));
 * // {"type":"chatmsg","txt":"hi\u009b2J"}
 * ```
 */
export function formatJson(msg: Message | object, extra?: JsonExtra): string {
  let value = msg;
  if (extra !== undefined) {
    // Ours over a wire key of the same name, so that it cannot pass for them; and where we
    // add nothing (no catalogue, one room), a wire key of that name is left out.
    const copy: Record<string, unknown> = { ...msg };
    for (const key of EXTRA_KEYS) {
      const ours = extra[key];
      if (ours !== undefined) copy[key] = ours;
      else if (Object.hasOwn(copy, key)) delete copy[key];
    }
    value = copy;
  }
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, escapeUnit);
}

/** The names of {@linkcode JsonExtra}'s fields, in the order a line adds them. */
const EXTRA_KEYS = ["_room", "_repeat", "_t", "_gift"] as const;

/**
 * Fields {@linkcode formatJson} adds to a message, named with a leading `_`
 * because Douyu's own keys never start with one: `_room`, the room the
 * message came from, when watching through a hub or replaying a multi-room
 * recording; `_repeat`, how many repeats of the same text the line folds
 * (`--fold-repeats`); `_t`, when the message arrived (ms since the epoch);
 * `_gift`, for gifts and super chats, the gift's name and value in yuan, as
 * far as they are known. A message's own key of one of these names (a
 * forgery: Douyu sends none) is left out of a line given these fields.
 *
 * @example
 * ```ts
 * import type { JsonExtra } from "./format.ts";
 *
 * const extra: JsonExtra = { _room: 9999, _t: 1714564800000, _gift: { name: "火箭", value: 500 } };
 * console.log(extra._gift?.value); // 500
 * ```
 */
export interface JsonExtra {
  /** The room the message was received for. */
  _room?: number | undefined;
  /** The number of repeats this line folds. */
  _repeat?: number | undefined;
  /** When the message arrived, ms since the epoch. */
  _t?: number | undefined;
  /** For a gift or super chat: its name and value in yuan, each when known. */
  _gift?: JsonGift | undefined;
}

/**
 * The `_gift` of an NDJSON line: what a gift or super chat was worth.
 *
 * @example
 * ```ts
 * import type { JsonGift } from "./format.ts";
 *
 * const gift: JsonGift = { name: "荧光棒", value: 0 };
 * console.log(gift.name);
 * ```
 */
export interface JsonGift {
  /** The gift's name (the message's own, else the catalogue's); absent when unknown. */
  name?: string;
  /** The message's whole value in yuan (0 for a free gift); absent when unknown. */
  value?: number;
}

/**
 * The `_gift` of a gift's details: its name and value as far as known, or
 * `undefined` when neither is (or there is no gift).
 *
 * @example
 * ```ts
 * import { jsonGift } from "./format.ts";
 * import { giftOf, parseMessage } from "@x/douyu";
 *
 * console.log(jsonGift(giftOf(parseMessage("type@=dgb/gfid@=1/gfn@=花/"))));
 * // { name: "花" }
 * console.log(jsonGift(giftOf(parseMessage("type@=comm_chatmsg/cprice@=3000/cet@=60/"))));
 * // { value: 30 }
 * ```
 */
export function jsonGift(gift: GiftDetails | undefined): JsonGift | undefined {
  if (gift === undefined || (gift.name === undefined && gift.value === undefined)) return undefined;
  const out: JsonGift = {};
  if (gift.name !== undefined) out.name = gift.name;
  if (gift.value !== undefined) out.value = gift.value;
  return out;
}

/**
 * DEL and the C1 controls, the line and paragraph separators, and bidi
 * controls: the overrides and isolates, and the marks (LRM, RLM, ALM),
 * which a bidi-aware terminal acts on as well.
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeUnit(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * How many terminal columns `text` takes: East Asian wide and fullwidth
 * characters and emoji count 2, combining marks and zero-width characters 0,
 * everything else 1. Meant for sanitised text (control characters count 1).
 *
 * @example
 * ```ts
 * import { displayWidth } from "./format.ts";
 *
 * console.log(displayWidth("abc"), displayWidth("斗鱼"), displayWidth("e\u0301")); // 3 4 1
 * ```
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/**
 * Pads `text` with spaces to exactly `width` columns, cutting it (with `…`)
 * when it is wider.
 *
 * @example
 * ```ts
 * import { fitWidth } from "./format.ts";
 *
 * console.log(`[${fitWidth("斗鱼", 6)}]`); // "[斗鱼  ]"
 * console.log(`[${fitWidth("abcdefgh", 5)}]`); // "[abcd…]"
 * ```
 */
export function fitWidth(text: string, width: number): string {
  const have = displayWidth(text);
  if (have <= width) return text + " ".repeat(width - have);
  return truncate(text, width);
}

/** `text` cut to at most `width` columns, ending in `…` when cut. */
function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (used + w > width - 1) break;
    out += char;
    used += w;
  }
  return out + "…" + " ".repeat(Math.max(0, width - 1 - used));
}

// Zero-width: combining marks, variation selectors, zero-width space/joiners.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

function charWidth(char: string): number {
  const code = char.codePointAt(0)!;
  if (code < 0x300) return 1; // the common case: ASCII and Latin
  if (ZERO_WIDTH.test(char)) return 0;
  if (isWide(code) || EMOJI.test(char)) return 2;
  return 1;
}

/** East Asian Wide (W) and Fullwidth (F) ranges, condensed from Unicode's EastAsianWidth.txt. */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || // Hangul Jamo initials
    (code >= 0x2e80 && code <= 0x303e) || // CJK radicals, punctuation
    (code >= 0x3041 && code <= 0x33ff) || // kana, bopomofo, CJK compatibility
    (code >= 0x3400 && code <= 0x4dbf) || // CJK extension A
    (code >= 0x4e00 && code <= 0x9fff) || // CJK unified ideographs
    (code >= 0xa000 && code <= 0xa4cf) || // Yi
    (code >= 0xa960 && code <= 0xa97f) || // Hangul Jamo extended A
    (code >= 0xac00 && code <= 0xd7a3) || // Hangul syllables
    (code >= 0xf900 && code <= 0xfaff) || // CJK compatibility ideographs
    (code >= 0xfe10 && code <= 0xfe19) || // vertical forms
    (code >= 0xfe30 && code <= 0xfe6f) || // CJK compatibility forms, small forms
    (code >= 0xff00 && code <= 0xff60) || // fullwidth forms
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) || // pictographs, emoticons
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd); // CJK extensions B and later
}

/** `HH:MM:SS` in local time. */
function clock(when: number | Date): string {
  const date = typeof when === "number" ? new Date(when) : when;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** A wire value made safe to print; absent values become `""`. */
function safe(value: unknown): string {
  return typeof value === "string" ? sanitizeForTerminal(value) : "";
}

const REVEAL = { reveal: true } as const;

/** A wire name made safe to print, its invisible characters shown as escapes. */
function safeName(value: unknown): string {
  return typeof value === "string" ? sanitizeForTerminal(value, REVEAL) : "";
}

/** Wire keys whose values are nicknames, for compact lines. */
const NAME_KEYS: ReadonlySet<string> = new Set([
  "nn",
  "nk",
  "nick",
  "nickname",
  "unk",
  "sn",
  "dn",
  "snic",
  "dnic",
  "donk",
  "receive_nn",
]);

function str(msg: Message, key: string): string | undefined {
  const value = (msg as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
}

/** ` (combo N)` when a gift is part of a combo of more than one. */
function combo(hits: string | undefined): string {
  const n = toNumber(hits);
  return n !== undefined && n > 1 ? ` (combo ${n})` : "";
}

/** ` in room N` / ` in X's room N` for a message about another room. */
function where(room: string | undefined, host?: string): string {
  if (room === undefined || room === "" || room === "0") {
    return host ? ` for ${safeName(host)}` : "";
  }
  return host ? ` in ${safeName(host)}'s room ${safe(room)}` : ` in room ${safe(room)}`;
}

/** ` (¥500.00)`, ` (free)`, with the combo when there is one; only what is known. */
function worth(msg: Message, details: GiftDetails | undefined): string {
  const hits = toNumber(str(msg, "hits"));
  const comboText = hits !== undefined && hits > 1 ? `combo ${hits}` : undefined;
  const value = details?.paid === false
    ? "free"
    : details?.value !== undefined
    ? `¥${details.value.toFixed(2)}`
    : undefined;
  const parts = [value, comboText].filter((part) => part !== undefined);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/**
 * The message types {@linkcode formatMessage} can give a line (without
 * `all`); every other type has none. Some messages of these types have
 * none either (a `comm_chatmsg` that is no super chat).
 *
 * @example
 * ```ts
 * import { TEXT_TYPES } from "./format.ts";
 *
 * console.log(TEXT_TYPES.has("chatmsg"), TEXT_TYPES.has("frank")); // true false
 * ```
 */
export const TEXT_TYPES: ReadonlySet<string> = new Set([
  "chatmsg",
  "uenter",
  "dgb",
  "gdp",
  "spbc",
  "ssd",
  "rss",
  "comm_chatmsg",
  "newblackres",
  "anbc",
  "rnewbc",
  "upgrade",
  "blab",
  "rankup",
  "bc_buy_deserve",
]);

/** The dedicated line of a message, or undefined for types shown only with `all`. */
function describe(msg: Message, details?: GiftDetails): Line | undefined {
  const user = msg as UserFields & Record<string, unknown>;
  switch (msg.type) {
    case "chatmsg":
      return {
        kind: "chat",
        kindStyle: "cyan",
        level: user.level,
        name: user.nn,
        text: safe(str(msg, "txt")),
        textStyle: CHAT_COLORS.get(str(msg, "col") ?? ""),
      };
    case "uenter":
      return {
        kind: "enter",
        kindStyle: "gray",
        level: user.level,
        name: user.nn,
        text: "entered the room",
        textStyle: "dim",
      };
    case "dgb":
    case "gdp": {
      const id = details?.id ?? str(msg, "gfid");
      const gift = details?.name ?? str(msg, "gfn") ?? (id ? `gift #${id}` : "a gift");
      const count = str(msg, "gfcnt") ?? "1";
      const to = str(msg, "receive_nn");
      return {
        kind: "gift",
        kindStyle: "yellow",
        level: user.level,
        name: user.nn,
        text: `sent ${safe(gift)} x${safe(count)}${worth(msg, details)}${
          to ? ` to ${safeName(to)}` : ""
        }`,
        textStyle: "yellow",
      };
    }
    case "spbc":
      return {
        kind: "bcast",
        kindStyle: "yellow",
        name: str(msg, "sn"),
        text: `sent ${safeName(str(msg, "dn") ?? "the host")} ${
          safe(str(msg, "gn") ?? "a gift")
        } x${safe(str(msg, "gc") ?? "1")}${where(str(msg, "drid"))}`,
        textStyle: "yellow",
      };
    case "ssd":
      return {
        kind: "barrage",
        kindStyle: "magenta",
        text: `${safe(str(msg, "content"))}${where(str(msg, "trid"))}`,
        textStyle: "magenta",
      };
    case "rss": {
      const live = str(msg, "ss") === "1";
      const loop = str(msg, "ivl") === "1";
      return {
        kind: "live",
        kindStyle: live ? "green" : "red",
        text: live
          ? loop ? "a replay loop started (not live)" : "the stream is live"
          : "the stream ended",
        textStyle: "bold",
      };
    }
    case "comm_chatmsg": {
      const sc = superChatOf(msg);
      if (sc === undefined) return undefined;
      const chat = (msg as { chatmsg?: Record<string, unknown> }).chatmsg ?? {};
      return {
        kind: "sc",
        kindStyle: "red",
        level: typeof chat.level === "string" ? chat.level : undefined,
        name: sc.name,
        text: `¥${sc.price} ${safe(sc.text)}`,
        textStyle: "bold",
      };
    }
    case "newblackres": {
      const role = OPERATORS.get(str(msg, "otype") ?? "") ?? "someone";
      const operator = str(msg, "snic");
      const end = toNumber(str(msg, "endtime"));
      return {
        kind: "ban",
        kindStyle: "red",
        name: str(msg, "dnic"),
        text: `was muted by ${role}${operator ? ` ${safeName(operator)}` : ""}${
          end !== undefined && end > 0 && isEpochMs(Math.round(end * 1000))
            ? ` until ${clock(end * 1000)}`
            : ""
        }`,
        textStyle: "red",
      };
    }
    case "anbc":
    case "rnewbc":
      return {
        kind: "noble",
        kindStyle: "magenta",
        name: str(msg, "unk"),
        text: `${msg.type === "anbc" ? "became" : "renewed"} noble level ${
          safe(str(msg, "nl") ?? "?")
        }${where(str(msg, "drid"), str(msg, "donk"))}`,
        textStyle: "magenta",
      };
    case "upgrade":
      return {
        kind: "level",
        kindStyle: "green",
        level: user.level,
        name: user.nn,
        text: `reached level ${safe(user.level ?? "?")}`,
      };
    case "blab":
      return {
        kind: "badge",
        kindStyle: "green",
        name: user.nn,
        text: `fan badge ${safe(user.bnn ?? "")} reached level ${safe(user.bl ?? "?")}`,
      };
    case "rankup":
      return {
        kind: "rank",
        kindStyle: "green",
        name: str(msg, "nk"),
        text: `rose to rank ${safe(str(msg, "rn") ?? "?")}`,
      };
    case "bc_buy_deserve": {
      const buyer = (msg as { sui?: Record<string, string> }).sui ?? {};
      return {
        kind: "deserve",
        kindStyle: "yellow",
        level: buyer.level ?? str(msg, "level"),
        name: buyer.nick ?? buyer.name,
        text: `bought deserve level ${safe(str(msg, "lev") ?? "?")} x${
          safe(str(msg, "cnt") ?? "1")
        }${combo(str(msg, "hits"))}`,
        textStyle: "yellow",
      };
    }
    default:
      return undefined;
  }
}

/** `type key=value …` for a message without a dedicated line. */
function compact(msg: Message): Line {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(msg)) {
    if (key === "type") continue;
    const shown = typeof value === "string"
      ? value
      : Array.isArray(value)
      ? `[${value.length}]`
      : value !== null && typeof value === "object"
      ? "{…}"
      : String(value);
    parts.push(`${sanitizeForTerminal(key)}=${NAME_KEYS.has(key) ? safeName(shown) : safe(shown)}`);
  }
  return {
    kind: sanitizeForTerminal(msg.type) || "?",
    kindStyle: "gray",
    text: truncate(parts.join(" "), COMPACT_WIDTH).trimEnd(),
    textStyle: "dim",
  };
}

function render(line: Line, time: string, color: boolean): string {
  const paint = (style: Style | undefined, text: string) =>
    color && style !== undefined && text !== "" ? `${SGR[style]}${text}${SGR.reset}` : text;
  const kind = line.kind.length >= KIND_WIDTH ? line.kind : line.kind.padEnd(KIND_WIDTH);
  const levelValue = toNumber(line.level);
  const level = (levelValue !== undefined ? `Lv${levelValue}` : "").padStart(LEVEL_WIDTH);
  const name = fitWidth(safeName(line.name), NAME_WIDTH);
  return [
    paint("dim", time),
    paint(line.kindStyle, kind),
    paint("gray", level),
    paint("bold", color ? dimEscapes(name) : name),
    paint(line.textStyle, line.text),
  ].join(" ").trimEnd();
}

/** Dims the `<U+…>` escapes inside the (bold) name column, then goes back to bold. */
function dimEscapes(name: string): string {
  if (!name.includes("<U+")) return name;
  return name.replace(REVEALED, `${SGR.reset}${SGR.dim}$&${SGR.reset}${SGR.bold}`);
}
