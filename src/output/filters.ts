/**
 * Which messages to show, and folding repeated chat ("666 ×12"): the rules
 * the `douyu` command uses, written so that a browser overlay can use the
 * very same code.
 *
 * - {@linkcode createFilter} turns plain, JSON-friendly
 *   {@linkcode FilterRules} into a function that says, for each message,
 *   keep or drop (and why). It is pure: the same message, rules and
 *   catalogue always give the same answer.
 * - {@linkcode RepeatFolder} is the one stateful part: given chat texts with
 *   their times, it says "new line" or "repeat of line X, now ×N". Its memory
 *   is bounded.
 *
 * No I/O, no timers, no runtime API: only the language and the message
 * helpers, so it runs the same in Deno, Bun, Node and a browser page.
 *
 * @module
 */

import { ownString } from "../base/fields.ts";
import { isFromRoom, isLikelyBot, type Message, toNumber } from "../protocol/messages.ts";
import type { CommChatMessage, DeserveMessage } from "../protocol/message_types.ts";
import { type GiftCatalog, type GiftDetails, giftOf } from "../protocol/gifts.ts";

/**
 * What to drop. Every rule is optional and off when absent; the object is
 * plain data (it survives `JSON.stringify`), so a page can receive it as
 * configuration.
 *
 * Which messages each rule looks at:
 *
 * | rule | messages | drops when |
 * | --- | --- | --- |
 * | `noBots` | `chatmsg` | it has no `dms` field (see `isLikelyBot`) |
 * | `onlyRoom` | any with `rid` | `rid` names another room (see `isFromRoom`) |
 * | `blockUsers` | any with a sender (below) | the sender's uid or nickname is listed, exactly |
 * | `minLevel` | `chatmsg`, `uenter` | `level` is below it (no level: kept) |
 * | `blockWords` | `chatmsg`, super chats | the text contains a listed word |
 * | `minGiftValue` | gifts and super chats (what `giftOf` reads) | the message is worth less (yuan) |
 *
 * The sender is `uid`/`nn` for most types, the nested chat's `uid`/`nn` for
 * `comm_chatmsg`, `sn` for `spbc`, `unk` for `anbc`/`rnewbc`, and
 * `sui.id`/`sui.nick` for `bc_buy_deserve`. Gifts and super chats are not
 * subject to `minLevel`: they are governed by `minGiftValue`.
 *
 * Word matching ignores case, Unicode compatibility forms (fullwidth `ＡＤ`
 * matches `ad`) and invisible characters (`a\u200Bd` matches `ad`), so the
 * usual tricks to slip a word past a filter do not work.
 *
 * @example
 * ```ts
 * import type { FilterRules } from "@x/douyu";
 *
 * const rules: FilterRules = { noBots: true, onlyRoom: 9999, blockWords: ["加群"], minGiftValue: 1 };
 * console.log(JSON.stringify(rules));
 * ```
 */
export interface FilterRules {
  /** Drop chat that looks automated (no `dms` field). */
  noBots?: boolean;
  /** Drop messages whose `rid` names another room than this one. */
  onlyRoom?: number | string;
  /** Drop chat and super chats whose text contains one of these words. Blank words are ignored. */
  blockWords?: readonly string[];
  /** Drop everything sent by these users: each entry is a uid or a nickname, matched exactly. */
  blockUsers?: readonly string[];
  /** Drop chat and room entries of users below this level. */
  minLevel?: number;
  /**
   * Drop gifts and super chats worth less than this many yuan, for the whole
   * message (unit price × count; a free gift is worth 0). Gift values come
   * from the {@linkcode GiftCatalog} passed with each message.
   */
  minGiftValue?: number;
  /**
   * What `minGiftValue` does with a gift whose value is unknown (no
   * catalogue, or a gift it lacks): `"keep"` it (the default: a filter that
   * cannot price a gift should not hide it, or a failed catalogue fetch would
   * silently hide every gift) or `"drop"` it.
   */
  unknownGiftValue?: "keep" | "drop";
}

/**
 * Why a message was dropped: the rule that dropped it.
 *
 * @example
 * ```ts
 * import type { FilterReason } from "@x/douyu";
 *
 * const counts = new Map<FilterReason, number>();
 * counts.set("bot", (counts.get("bot") ?? 0) + 1);
 * console.log(counts.get("bot")); // 1
 * ```
 */
export type FilterReason =
  | "bot"
  | "other-room"
  | "blocked-user"
  | "low-level"
  | "blocked-word"
  | "low-gift-value";

/**
 * The verdict on one message: `{ keep: true }`, or `{ keep: false, reason }`.
 * The objects are frozen and shared: compare fields, not identity.
 *
 * @example
 * ```ts
 * import type { FilterDecision } from "@x/douyu";
 *
 * const decision: FilterDecision = { keep: false, reason: "bot" };
 * if (!decision.keep) console.log(`dropped: ${decision.reason}`); // "dropped: bot"
 * ```
 */
export type FilterDecision =
  | { readonly keep: true }
  | { readonly keep: false; readonly reason: FilterReason };

/**
 * A filter made by {@linkcode createFilter}: the verdict on one message.
 * `catalog` is the room's gift catalogue, needed only by `minGiftValue`;
 * `gift`, the message's gift as already priced (by a `GiftPricer`, or
 * stored in an archive), is used instead when given.
 *
 * @example
 * ```ts
 * import { createFilter, type MessageFilter, parseMessage } from "@x/douyu";
 *
 * const filter: MessageFilter = createFilter({ noBots: true });
 * console.log(filter(parseMessage("type@=chatmsg/txt@=hi/")).keep); // false
 * ```
 */
export type MessageFilter = (
  msg: Message,
  catalog?: GiftCatalog,
  gift?: GiftDetails,
) => FilterDecision;

const KEEP: FilterDecision = Object.freeze({ keep: true });

function drop(reason: FilterReason): FilterDecision {
  return Object.freeze({ keep: false, reason });
}

const DROPPED: Readonly<Record<FilterReason, FilterDecision>> = {
  "bot": drop("bot"),
  "other-room": drop("other-room"),
  "blocked-user": drop("blocked-user"),
  "low-level": drop("low-level"),
  "blocked-word": drop("blocked-word"),
  "low-gift-value": drop("low-gift-value"),
};

/**
 * Makes a filter from rules. The rules are read once (words normalised, users
 * put in a set), so keep the filter and call it for every message. The
 * cheapest checks run first; the reason given is the first rule that drops
 * the message, in the order of {@linkcode FilterRules}' table.
 *
 * @param rules What to drop; see {@linkcode FilterRules}.
 * @returns The filter.
 * @throws {RangeError} `minLevel` or `minGiftValue` is not a number ≥ 0, or
 * `unknownGiftValue` is neither `"keep"` nor `"drop"`.
 *
 * @example
 * ```ts
 * import { createFilter, GiftCatalog, parseMessage } from "@x/douyu";
 *
 * const filter = createFilter({ blockUsers: ["spammer"], blockWords: ["加群"], minGiftValue: 1 });
 * const catalog = new GiftCatalog({
 *   roomId: 9999,
 *   gifts: [{ id: "20006", name: "赞", price: 10, paid: true, source: "room" }],
 * });
 * console.log(filter(parseMessage("type@=chatmsg/nn@=spammer/txt@=hi/dms@=4/"))); // { keep: false, reason: "blocked-user" }
 * console.log(filter(parseMessage("type@=chatmsg/nn@=Ann/txt@=快来加群/dms@=4/"))); // { keep: false, reason: "blocked-word" }
 * console.log(filter(parseMessage("type@=dgb/gfid@=20006/gfcnt@=3/"), catalog)); // { keep: false, reason: "low-gift-value" }: ¥0.30
 * console.log(filter(parseMessage("type@=dgb/gfid@=20006/gfcnt@=10/"), catalog)); // { keep: true }: ¥1.00
 * ```
 */
export function createFilter(rules: FilterRules): MessageFilter {
  const noBots = rules.noBots ?? false;
  const room = rules.onlyRoom;
  // A blank word (say, from "a, ,b") would match every space: it is a slip, not a rule.
  const words = (rules.blockWords ?? []).map(normalizeForMatch).filter((word) =>
    word.trim() !== ""
  );
  const users = new Set((rules.blockUsers ?? []).filter((user) => user !== ""));
  const minLevel = rules.minLevel === undefined ? undefined : checkMin(rules.minLevel, "minLevel");
  const minValue = rules.minGiftValue === undefined
    ? undefined
    : checkMin(rules.minGiftValue, "minGiftValue");
  const unknown = rules.unknownGiftValue ?? "keep";
  if (unknown !== "keep" && unknown !== "drop") {
    throw new RangeError(`unknownGiftValue must be "keep" or "drop", got ${String(unknown)}`);
  }

  return (msg, catalog, priced) => {
    if (noBots && isLikelyBot(msg)) return DROPPED["bot"];
    if (room !== undefined && !isFromRoom(msg, room)) return DROPPED["other-room"];
    if (users.size > 0 && isBlockedSender(msg, users)) return DROPPED["blocked-user"];
    if (minLevel !== undefined && (msg.type === "chatmsg" || msg.type === "uenter")) {
      const level = toNumber(ownString(msg, "level"));
      if (level !== undefined && level < minLevel) return DROPPED["low-level"];
    }
    if (words.length > 0) {
      const text = textOf(msg);
      if (text !== undefined && text !== "") {
        const haystack = normalizeForMatch(text);
        if (words.some((word) => haystack.includes(word))) return DROPPED["blocked-word"];
      }
    }
    if (minValue !== undefined) {
      const gift = priced ?? giftOf(msg, catalog);
      if (gift !== undefined) {
        if (gift.value === undefined) {
          if (unknown === "drop") return DROPPED["low-gift-value"];
        } else if (gift.value < minValue) {
          return DROPPED["low-gift-value"];
        }
      }
    }
    return KEEP;
  };
}

function checkMin(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0) || value === Infinity) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

/** The text a word filter reads: chat's `txt`, or a super chat's nested `txt`. */
function textOf(msg: Message): string | undefined {
  if (msg.type === "chatmsg") return ownString(msg, "txt");
  if (msg.type === "comm_chatmsg") {
    const chat = (msg as CommChatMessage).chatmsg;
    return typeof chat === "object" && chat !== null ? ownString(chat, "txt") : undefined;
  }
  return undefined;
}

/** Whether the sender's uid or nickname is in `users` (see the table of {@linkcode FilterRules}). */
function isBlockedSender(msg: Message, users: ReadonlySet<string>): boolean {
  const listed = (value: string | undefined) => value !== undefined && users.has(value);
  switch (msg.type) {
    case "comm_chatmsg": {
      const chat = (msg as CommChatMessage).chatmsg;
      const nested = typeof chat === "object" && chat !== null ? chat : {};
      return listed(ownString(nested, "uid") ?? ownString(msg, "uid")) ||
        listed(ownString(nested, "nn"));
    }
    case "spbc":
      return listed(ownString(msg, "sn"));
    case "anbc":
    case "rnewbc":
      return listed(ownString(msg, "uid")) || listed(ownString(msg, "unk"));
    case "bc_buy_deserve": {
      const buyer = (msg as DeserveMessage).sui;
      const sui = typeof buyer === "object" && buyer !== null ? buyer : {};
      return listed(ownString(sui, "id") ?? ownString(msg, "sid")) ||
        listed(ownString(sui, "nick")) ||
        listed(ownString(sui, "name"));
    }
    case "newblackres":
      // A ban notice is about its target, not sent by them: it stays visible.
      return false;
    default:
      return listed(ownString(msg, "uid")) || listed(ownString(msg, "nn"));
  }
}

// Characters that render as nothing (zero-width spaces and joiners, bidi
// marks, soft hyphens, variation selectors, tag characters, Hangul fillers):
// spammers put them inside words to slip past filters.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}]/gu;

/** Text as a filter compares it: compatibility forms folded, lower case, nothing invisible. */
function normalizeForMatch(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(INVISIBLE, "");
}

/**
 * Options of a {@linkcode RepeatFolder}.
 *
 * @example
 * ```ts
 * import { RepeatFolder, type RepeatFolderOptions } from "@x/douyu";
 *
 * const options: RepeatFolderOptions = { window: 5000, maxEntries: 200 };
 * console.log(new RepeatFolder(options).size); // 0
 * ```
 */
export interface RepeatFolderOptions {
  /**
   * How long after a line first appeared the same text still folds into it,
   * ms. Later, the text starts a new line (whose count starts again at 1),
   * so a chant that goes on for minutes gives one line per window rather
   * than one line far up the screen. Default 10000.
   */
  window?: number;
  /** Most distinct texts remembered at once; the oldest line is forgotten first. Default 1000. */
  maxEntries?: number;
  /**
   * Texts longer than this (in characters, after normalising) never fold:
   * long messages rarely repeat, and this bounds the memory held per entry.
   * Default 200.
   */
  maxTextLength?: number;
}

/**
 * What {@linkcode RepeatFolder.fold} says about a text: a new line, numbered
 * `line` (1, 2, 3… in the order they were made), or a repeat of line `line`,
 * which has now been seen `count` times in all (the first one included).
 *
 * @example
 * ```ts
 * import type { FoldResult } from "@x/douyu";
 *
 * const show = (r: FoldResult, text: string) =>
 *   r.repeat ? `update line ${r.line}: ${text} ×${r.count}` : `line ${r.line}: ${text}`;
 * console.log(show({ repeat: true, line: 3, count: 12 }, "666")); // "update line 3: 666 ×12"
 * ```
 */
export type FoldResult =
  | { readonly repeat: false; readonly line: number; readonly count: 1 }
  | { readonly repeat: true; readonly line: number; readonly count: number };

interface FoldedLine {
  line: number;
  count: number;
  first: number;
}

/**
 * Folds repeated chat into one line with a count ("666 ×12"). Feed it each
 * chat text with its time, in order; it answers "new line" or "repeat of
 * line X, now ×N", and the display decides how to show that (a page updates
 * line X in place; a terminal may print `×N` when the run ends).
 *
 * Texts are the same when they match after normalising: case, compatibility
 * forms (fullwidth), invisible characters and runs of whitespace are ignored,
 * so `666`, `６６６` and ` 666 ` fold together. Who sent them does not matter:
 * a chant is many users saying the same thing. A repeat folds only within
 * `window` ms of its line's first appearance. Memory is bounded by
 * `maxEntries` × `maxTextLength`; expired lines are forgotten as time moves on.
 *
 * @example
 * ```ts
 * import { RepeatFolder } from "@x/douyu";
 *
 * const folder = new RepeatFolder({ window: 10_000 });
 * console.log(folder.fold("666", 0)); // { repeat: false, line: 1, count: 1 }
 * console.log(folder.fold("hello", 100)); // { repeat: false, line: 2, count: 1 }
 * console.log(folder.fold("６６６ ", 200)); // { repeat: true, line: 1, count: 2 }
 * console.log(folder.fold("666", 10_001)); // { repeat: false, line: 3, count: 1 }: window over
 * ```
 */
export class RepeatFolder {
  readonly #window: number;
  readonly #maxEntries: number;
  readonly #maxTextLength: number;
  /** By normalised text, in the order the lines were made (oldest first). */
  readonly #lines = new Map<string, FoldedLine>();
  #lastLine = 0;

  /**
   * Creates an empty folder.
   *
   * @param options `window`, `maxEntries`, `maxTextLength`.
   * @throws {RangeError} An option is not a number ≥ 0 (`maxEntries` ≥ 1).
   */
  constructor(options: RepeatFolderOptions = {}) {
    this.#window = checkMin(options.window ?? 10_000, "window");
    this.#maxEntries = checkMin(options.maxEntries ?? 1000, "maxEntries");
    if (this.#maxEntries < 1) throw new RangeError("maxEntries must be at least 1");
    this.#maxTextLength = checkMin(options.maxTextLength ?? 200, "maxTextLength");
  }

  /**
   * Says whether `text` starts a new line or repeats a recent one.
   *
   * @param text The chat text, as received.
   * @param at When it arrived, ms (any clock, as long as it is the same for every call).
   * @returns A new line, or a repeat with the line it repeats and the count so far.
   * @throws {RangeError} `at` is not a finite number.
   */
  fold(text: string, at: number): FoldResult {
    if (!Number.isFinite(at)) throw new RangeError(`at must be a finite number, got ${at}`);
    this.#forgetBefore(at);
    const key = normalizeForMatch(text).replace(/\s+/g, " ").trim();
    if (key === "" || key.length > this.#maxTextLength) return this.#newLine(undefined, at);
    const seen = this.#lines.get(key);
    if (seen !== undefined && at - seen.first <= this.#window) {
      seen.count++;
      return { repeat: true, line: seen.line, count: seen.count };
    }
    return this.#newLine(key, at);
  }

  /** Forgets every line; numbering goes on where it was. */
  clear(): void {
    this.#lines.clear();
  }

  /** How many texts are remembered. */
  get size(): number {
    return this.#lines.size;
  }

  #newLine(key: string | undefined, at: number): FoldResult {
    const line = ++this.#lastLine;
    if (key !== undefined) {
      // Re-inserted, so the Map's order stays the order lines were made.
      this.#lines.delete(key);
      this.#lines.set(key, { line, count: 1, first: at });
      if (this.#lines.size > this.#maxEntries) {
        const oldest = this.#lines.keys().next().value;
        if (oldest !== undefined) this.#lines.delete(oldest);
      }
    }
    return { repeat: false, line, count: 1 };
  }

  /** Drops lines whose window has passed, oldest first, stopping at the first one still open. */
  #forgetBefore(at: number): void {
    for (const [key, folded] of this.#lines) {
      if (at - folded.first <= this.#window) break;
      this.#lines.delete(key);
    }
  }
}
