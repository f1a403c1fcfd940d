/**
 * The overlay's event format: Douyu messages turned into a few normalised,
 * display-ready events (chat, enter, gift, super chat, live status), each with
 * a stable `id`, every text sanitised. The overlay page reads them; so can
 * your own page (docs/overlay.md documents the format).
 *
 * Pure code: no I/O, no timers, no runtime API.
 *
 * @module
 */

import { ownString } from "../base/fields.ts";
import { isSafeName } from "../base/names.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { isFromRoom, type Message, superChatOf, toNumber } from "../protocol/messages.ts";
import type { CommChatMessage } from "../protocol/message_types.ts";
import { type GiftCatalog, giftOf } from "../protocol/gifts.ts";

/**
 * The sender of an event, display-ready: every text sanitised, the avatar a
 * Douyu image URL (or absent).
 *
 * @example
 * ```ts
 * import type { OverlayUser } from "./events.ts";
 *
 * const user: OverlayUser = { uid: "7", name: "Ann", level: 12 };
 * console.log(user.name); // "Ann"
 * ```
 */
export interface OverlayUser {
  /** User id, digits only; absent when the message has none. */
  uid?: string;
  /** Nickname, sanitised (no control or invisible characters), at most 64 characters. */
  name: string;
  /** User level. */
  level?: number;
  /** Avatar URL on Douyu's image host (`https://apic.douyucdn.cn/…`), when the message has one. */
  avatar?: string;
  /** Noble level, when above 0. */
  noble?: number;
  /** The room's host (room role `rg` 5): their own messages. */
  owner?: boolean;
  /** Room admin (room role `rg` 4). */
  admin?: boolean;
  /**
   * Fan badge: its name, level, and the room it belongs to (`brid`; a badge
   * of another room is often worn).
   */
  badge?: { name: string; level?: number; room?: number };
}

/**
 * A chat line. `id` is the message's `cid` (Douyu's unique id) when it has
 * one, so the same message seen twice (a reconnect, a restart) has the same id.
 *
 * @example
 * ```ts
 * import type { ChatEvent } from "./events.ts";
 *
 * const chat: ChatEvent = { id: "c1", type: "chat", room: 9999, time: 0, user: { name: "Ann" }, text: "hi" };
 * console.log(chat.text); // "hi"
 * ```
 */
export interface ChatEvent {
  /** Stable id: the chat's `cid`, or a generated one. */
  id: string;
  /** Kind. */
  type: "chat";
  /** The room it came from. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** Who said it. */
  user: OverlayUser;
  /** What they said, sanitised, at most 300 characters. */
  text: string;
  /** The user's chat colour (`#rrggbb`), when they chose one. */
  color?: string;
}

/**
 * A user entered the room.
 *
 * @example
 * ```ts
 * import type { EnterEvent } from "./events.ts";
 *
 * const enter: EnterEvent = { id: "x-1", type: "enter", room: 9999, time: 0, user: { name: "Ann" } };
 * console.log(enter.user.name); // "Ann"
 * ```
 */
export interface EnterEvent {
  /** Stable id (generated). */
  id: string;
  /** Kind. */
  type: "enter";
  /** The room. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** Who entered. */
  user: OverlayUser;
}

/**
 * A gift. `value` is the money value of the whole message in yuan, when the
 * gift catalogue knows the gift (a free gift is worth 0).
 *
 * @example
 * ```ts
 * import type { GiftEvent } from "./events.ts";
 *
 * const gift: GiftEvent = {
 *   id: "x-2", type: "gift", room: 9999, time: 0, user: { name: "Bo" },
 *   gift: { id: "20004", name: "火箭", count: 1, combo: 1, value: 500 },
 * };
 * console.log(gift.gift.name); // "火箭"
 * ```
 */
export interface GiftEvent {
  /** Stable id (generated). */
  id: string;
  /** Kind. */
  type: "gift";
  /** The room. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** Who sent it. */
  user: OverlayUser;
  /** The gift. */
  gift: {
    /** Gift id (`gfid`, or the prop id); absent when the message names none. */
    id?: string;
    /** Name, sanitised; `gift #<id>` when unknown. */
    name: string;
    /** How many in this message. */
    count: number;
    /** Combo counter (`hits`): 5 means the fifth in a row. */
    combo: number;
    /** Value of the whole message in yuan, when known. */
    value?: number;
    /** Paid with money (`true`) or free (`false`), when known. */
    paid?: boolean;
    /** Icon URL from the catalogue, when known. */
    icon?: string;
  };
}

/**
 * A paid super chat (醒目留言): pinned for `seconds` from `time`. `tier` (1 to
 * 6) grows with the price: below ¥30, ¥30, ¥50, ¥100, ¥500, ¥1000 and more.
 *
 * @example
 * ```ts
 * import type { SuperChatEvent } from "./events.ts";
 *
 * const sc: SuperChatEvent = {
 *   id: "x-3", type: "superchat", room: 9999, time: 0, user: { name: "Dee" },
 *   text: "加油", price: 30, seconds: 60, tier: 2,
 * };
 * console.log(sc.tier); // 2
 * ```
 */
export interface SuperChatEvent {
  /** Stable id (generated). */
  id: string;
  /** Kind. */
  type: "superchat";
  /** The room. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** Who paid. */
  user: OverlayUser;
  /** The message, sanitised. */
  text: string;
  /** Price in yuan. */
  price: number;
  /** How long it stays pinned, seconds (Douyu's `cet`). */
  seconds: number;
  /** Price tier, 1 (cheapest) to 6. */
  tier: number;
}

/**
 * The stream went live, offline, or to a rerun loop (Douyu's `rss`).
 *
 * @example
 * ```ts
 * import type { LiveStatusEvent } from "./events.ts";
 *
 * const live: LiveStatusEvent = { id: "x-4", type: "live", room: 9999, time: 0, state: "live" };
 * console.log(live.state); // "live"
 * ```
 */
export interface LiveStatusEvent {
  /** Stable id (generated). */
  id: string;
  /** Kind. */
  type: "live";
  /** The room. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** `live`, `offline`, or `loop` (a recording replayed: not really live). */
  state: "live" | "offline" | "loop";
}

/**
 * One line the overlay shows: the events with an `id`.
 *
 * @example
 * ```ts
 * import type { LineEvent } from "./events.ts";
 *
 * const describe = (e: LineEvent) => e.type === "chat" ? `${e.user.name}: ${e.text}` : e.type;
 * console.log(describe({ id: "1", type: "live", room: 1, time: 0, state: "live" })); // "live"
 * ```
 */
export type LineEvent = ChatEvent | EnterEvent | GiftEvent | SuperChatEvent | LiveStatusEvent;

/**
 * A repeated chat text folded into an earlier line (with the `fold`
 * parameter): the line `target` has now been said `count` times. `id` is the
 * repeating message's own id.
 *
 * @example
 * ```ts
 * import type { FoldEvent } from "./events.ts";
 *
 * const fold: FoldEvent = { id: "c2", type: "fold", room: 9999, time: 0, target: "c1", count: 2 };
 * console.log(`${fold.target} ×${fold.count}`); // "c1 ×2"
 * ```
 */
export interface FoldEvent {
  /** The repeating message's id. */
  id: string;
  /** Kind. */
  type: "fold";
  /** The room. */
  room: number;
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** The id of the line it folds into. */
  target: string;
  /** How many times the line's text has been said, the first included. */
  count: number;
}

/**
 * The state behind the page's status line: each room's connection to Douyu
 * and live state, and any problem with the page's parameters. Sent when a
 * page connects and whenever it changes. It has no `id`: it is not a line.
 *
 * @example
 * ```ts
 * import type { StatusEvent } from "./events.ts";
 *
 * const status: StatusEvent = {
 *   type: "status",
 *   rooms: [{ room: 9999, connected: true, state: "live" }],
 *   problems: [],
 * };
 * console.log(status.rooms[0]!.connected); // true
 * ```
 */
export interface StatusEvent {
  /** Kind. */
  type: "status";
  /** Every room of the overlay. */
  rooms: RoomStatus[];
  /** Problems to show, e.g. a parameter that could not be read; empty when none. */
  problems: string[];
}

/**
 * One room's part of a {@linkcode StatusEvent}.
 *
 * @example
 * ```ts
 * import type { RoomStatus } from "./events.ts";
 *
 * const room: RoomStatus = { room: 9999, connected: false, error: "reconnecting in 2.0 s" };
 * console.log(room.error);
 * ```
 */
export interface RoomStatus {
  /** The room id. */
  room: number;
  /** Connected to Douyu and joined. */
  connected: boolean;
  /** Live state, once known (Douyu says it only when it changes). */
  state?: "live" | "offline" | "loop";
  /** Why it is not connected, one line. */
  error?: string;
}

/**
 * Everything the event stream carries.
 *
 * @example
 * ```ts
 * import type { OverlayEvent } from "./events.ts";
 *
 * const events: OverlayEvent[] = [{ type: "status", rooms: [], problems: [] }];
 * console.log(events.length); // 1
 * ```
 */
export type OverlayEvent = LineEvent | FoldEvent | StatusEvent;

/** Chat colours by `col` (docs/protocol.md, "Message types"). */
const COLORS: ReadonlyMap<string, string> = new Map([
  ["1", "#ff0000"],
  ["2", "#1e87f0"],
  ["3", "#7ac84b"],
  ["4", "#ff7f00"],
  ["5", "#9b39f4"],
  ["6", "#ff69b4"],
]);

const MAX_NAME = 64;
const MAX_TEXT = 300;
/** An avatar path as Douyu sends it (`avatar_v3/202404/abc`): no scheme, no `..`. */
const AVATAR_PATH = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$/;
/** Douyu's avatar host: the path from the wire, then `_small.jpg`. */
const AVATAR_BASE = "https://apic.douyucdn.cn/upload/";
/** Super chat tiers, by price in yuan: tier n starts at TIERS[n - 2]. */
const TIERS = [30, 50, 100, 500, 1000];

/**
 * Turns Douyu messages into overlay events. Generated ids are
 * `<boot>-<sequence>`, where `<boot>` is the time this normaliser was made
 * (base 36): unique across restarts of the process, so a page that
 * reconnects to a new process never takes a new event for an old one.
 *
 * @example
 * ```ts
 * import { EventNormalizer } from "./events.ts";
 * import { parseMessage } from "../protocol/messages.ts";
 *
 * const normalizer = new EventNormalizer();
 * const event = normalizer.normalize(9999, parseMessage("type@=chatmsg/cid@=abc/nn@=A\u200Bnn/txt@=hi/"), 0);
 * console.log(event); // { id: "abc", type: "chat", room: 9999, time: 0, user: { name: "Ann" }, text: "hi" }
 * ```
 */
export class EventNormalizer {
  /** This normaliser's boot id: its creation time in base 36. */
  readonly boot: string;
  readonly #imageOrigins: ReadonlySet<string>;
  readonly #avatarBase: string;
  #sequence = 0;

  /**
   * Creates a normaliser.
   *
   * @param now The boot time, ms since the epoch. Default now.
   * @param options `imageOrigins`: origins besides Douyu's image hosts
   *   (`*.douyucdn.cn`) that gift icons may come from, e.g. a stand-in gift
   *   API's; `avatarBase`: where avatars are loaded from (the avatar path and
   *   `_small.jpg` are appended), default Douyu's image host.
   */
  constructor(
    now: number = Date.now(),
    options: { imageOrigins?: readonly string[]; avatarBase?: string } = {},
  ) {
    this.boot = Math.floor(now).toString(36);
    this.#imageOrigins = new Set(options.imageOrigins ?? []);
    this.#avatarBase = options.avatarBase ?? AVATAR_BASE;
  }

  /**
   * Whether the page may load an image from `url`: Douyu's image hosts, or
   * an origin given to the constructor. A catalogue's URL is not to make the
   * streamer's browser ask anyone else.
   */
  #allowedImage(url: string): boolean {
    try {
      const { protocol, hostname, origin } = new URL(url);
      if (this.#imageOrigins.has(origin)) return true;
      return (protocol === "https:" || protocol === "http:") &&
        (hostname === "douyucdn.cn" || hostname.endsWith(".douyucdn.cn"));
    } catch {
      return false;
    }
  }

  /** A new generated id. */
  nextId(): string {
    return `${this.boot}-${++this.#sequence}`;
  }

  /**
   * The event for a message of `room`, or `undefined` for a message the
   * overlay does not show: other types, and messages about another room
   * (gift broadcasts, other rooms' chat).
   *
   * @param room The room the message came through.
   * @param msg The message.
   * @param time When it arrived, ms since the epoch.
   * @param catalog The room's gift catalogue, for gift names, values and icons.
   * @returns The event, or `undefined`.
   */
  normalize(
    room: number,
    msg: Message,
    time: number,
    catalog?: GiftCatalog,
  ): LineEvent | undefined {
    if (!isFromRoom(msg, room)) return undefined;
    switch (msg.type) {
      case "chatmsg": {
        const cid = ownString(msg, "cid");
        const event: ChatEvent = {
          id: isSafeName(cid) ? cid : this.nextId(),
          type: "chat",
          room,
          time,
          user: userOf(msg, this.#avatarBase),
          text: clean(ownString(msg, "txt"), MAX_TEXT),
        };
        const color = COLORS.get(ownString(msg, "col") ?? "");
        if (color !== undefined) event.color = color;
        return event;
      }
      case "uenter":
        return {
          id: this.nextId(),
          type: "enter",
          room,
          time,
          user: userOf(msg, this.#avatarBase),
        };
      case "dgb": {
        const details = giftOf(msg, catalog);
        if (details === undefined) return undefined;
        const gift: GiftEvent["gift"] = {
          name: details.name !== undefined
            ? clean(details.name, MAX_NAME)
            : `gift #${clean(details.id ?? "?", 20)}`,
          count: details.count,
          combo: Math.max(1, Math.min(1_000_000, toInt(ownString(msg, "hits")) ?? 1)),
        };
        if (details.id !== undefined) gift.id = clean(details.id, 20);
        if (details.value !== undefined) gift.value = details.value;
        if (details.paid !== undefined) gift.paid = details.paid;
        if (details.icon !== undefined && this.#allowedImage(details.icon)) {
          gift.icon = details.icon;
        }
        return {
          id: this.nextId(),
          type: "gift",
          room,
          time,
          user: userOf(msg, this.#avatarBase),
          gift,
        };
      }
      case "comm_chatmsg": {
        const sc = superChatOf(msg);
        if (sc === undefined) return undefined;
        const nested = (msg as CommChatMessage).chatmsg;
        const user = userOf(
          typeof nested === "object" && nested !== null ? nested : msg,
          this.#avatarBase,
        );
        return {
          id: this.nextId(),
          type: "superchat",
          room,
          time,
          user,
          text: clean(sc.text, MAX_TEXT),
          price: sc.price,
          seconds: Math.min(sc.seconds, 3600),
          tier: 1 + TIERS.filter((start) => sc.price >= start).length,
        };
      }
      case "rss": {
        const state = ownString(msg, "ivl") === "1"
          ? "loop"
          : ownString(msg, "ss") === "1"
          ? "live"
          : "offline";
        return { id: this.nextId(), type: "live", room, time, state };
      }
      default:
        return undefined;
    }
  }
}

/** Sanitised, trimmed and cut to `max` characters (code points, so no emoji is split). */
function clean(text: string | undefined, max: number): string {
  const safe = sanitizeForTerminal(text ?? "").trim();
  if (safe.length <= max) return safe;
  return Array.from(safe).slice(0, max).join("");
}

function toInt(text: string | undefined): number | undefined {
  const n = toNumber(text);
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

function userOf(fields: object, avatarBase: string): OverlayUser {
  const user: OverlayUser = { name: clean(ownString(fields, "nn"), MAX_NAME) };
  const uid = ownString(fields, "uid");
  if (uid !== undefined && /^\d{1,20}$/.test(uid)) user.uid = uid;
  const level = toInt(ownString(fields, "level"));
  if (level !== undefined && level >= 0 && level <= 999) user.level = level;
  const ic = ownString(fields, "ic");
  // A path only: an absolute URL from the wire could send the streamer's
  // browser anywhere (and tell that host the streamer's address).
  if (ic !== undefined && AVATAR_PATH.test(ic)) user.avatar = `${avatarBase}${ic}_small.jpg`;
  const noble = toInt(ownString(fields, "nl"));
  if (noble !== undefined && noble > 0 && noble <= 99) user.noble = noble;
  const role = ownString(fields, "rg");
  if (role === "5") user.owner = true;
  if (role === "4") user.admin = true;
  const badge = clean(ownString(fields, "bnn"), 20);
  if (badge !== "") {
    user.badge = { name: badge };
    const level = toInt(ownString(fields, "bl"));
    if (level !== undefined && level >= 0 && level <= 999) user.badge.level = level;
    const room = toInt(ownString(fields, "brid"));
    if (room !== undefined && room > 0) user.badge.room = room;
  }
  return user;
}
