/**
 * A room's statistics over a range, from the roll-ups (`rollup.ts`): what
 * `douyu stats --json` prints. Pure: the engines read the roll-up rows
 * (`RangeRollups`), this sums them.
 *
 * The range is whole minutes. Per-user counts are kept by the hour, so a
 * range that starts or ends inside an hour adds the users of those edge
 * pieces from their messages' columns (`edgeRanges`): at most two partial
 * hours are read, whatever the length of the range.
 *
 * Values are in yuan, summed in fen first (no rounding drift); they are the
 * prices stored when each gift arrived.
 *
 * @module
 */

import { type MinuteTotals, REVENUE_TYPES } from "./rollup.ts";
import type { TimedStatus } from "./timed.ts";

/** A minute, ms. */
export const MINUTE_MS = 60_000;
/** An hour, ms. */
export const HOUR_MS = 3_600_000;
/** How many chatters and gifters the statistics name. */
export const TOP = 10;

/** A row of the minutes roll-up, as read for one room. */
export type MinuteRow = Omit<MinuteTotals, "room">;

/** A gift's roll-up rows summed over a range. */
export interface GiftSum {
  /** The gift id (`superchat` for paid super chats). */
  gift: string;
  name: string | null;
  items: number;
  /** Fen. */
  value: number;
}

/**
 * A user's roll-up rows summed over a range.
 *
 * @example
 * ```ts
 * import type { UserSum } from "./stats.ts";
 *
 * const bo: UserSum = { uid: 7, name: "Bo", chats: 12, gifts: 2, value: 100_000 };
 * console.log(bo.value / 100); // 1000
 * ```
 */
export interface UserSum {
  /** The user's id. */
  uid: number;
  /** The name they last used, when known. */
  name: string | null;
  /** Chat messages. */
  chats: number;
  /** Gift messages and paid super chats (the room's revenue only). */
  gifts: number;
  /** Their value, fen. */
  value: number;
}

/** What an engine reads of a range: minutes, gifts by kind, users over the whole hours. */
export interface RangeRollups {
  minutes: MinuteRow[];
  gifts: GiftSum[];
  users: UserSum[];
}

/** Chat, gifts and revenue of one minute. */
export interface MinuteStats {
  /** The minute's start, ms. */
  t: number;
  /** Chat messages. */
  chat: number;
  /** Gift items given in the room (a message of 10 counts 10), super chats included. */
  gifts: number;
  /** Their value, yuan. */
  value: number;
}

/** A room's statistics over a range: what `douyu stats --json` prints. */
export interface RoomStats {
  /** The room. */
  room: number;
  /** The range's start, ms (a whole minute). */
  since: number;
  /** The range's end, ms, exclusive (a whole minute). */
  until: number;
  /** Messages per type. */
  messages: Record<string, number>;
  /** Unique uids that chatted. */
  chatters: number;
  /** Every minute of the range, oldest first. */
  perMinute: MinuteStats[];
  /** Who chatted most: 10 at most. */
  topChatters: { uid: number; name: string | null; count: number }[];
  /** Who gave most, by value: 10 at most (`count`: gift messages). */
  topGifters: { uid: number; name: string | null; count: number; value: number }[];
  /** The room's revenue, yuan: in total, and by gift (`count`: items). */
  revenue: {
    total: number;
    byGift: { id: string; name: string | null; count: number; value: number }[];
  };
  /** Paid super chats: how many, and their value in yuan. */
  superChats: { count: number; value: number };
}

/** The stream went live (`live`) or offline at `t`. */
export interface LiveChange {
  /** When, ms since the epoch. */
  t: number;
  /** Live (true) or offline (false). */
  live: boolean;
}

/** What a chart of the range shades: the connection's changes, and the stream's. */
export interface StatsTimeline {
  /** Status changes in the range (gaps start and end with them), oldest first. */
  statuses: TimedStatus[];
  /** The stream going live and offline in the range, oldest first. */
  live: LiveChange[];
}

/**
 * The whole hours inside `[since, until)`, as hour numbers `[from, to)`.
 *
 * @example
 * ```ts
 * import { wholeHours } from "./stats.ts";
 *
 * console.log(wholeHours(30 * 60_000, 3 * 3_600_000)); // [1, 3]
 * ```
 */
export function wholeHours(since: number, until: number): [number, number] {
  return [Math.ceil(since / HOUR_MS), Math.floor(until / HOUR_MS)];
}

/**
 * The pieces of `[since, until)` outside its whole hours, whose users are
 * read from their messages.
 *
 * @example
 * ```ts
 * import { edgeRanges } from "./stats.ts";
 *
 * console.log(edgeRanges(30 * 60_000, 3 * 3_600_000)); // [[1800000, 3600000]]
 * ```
 */
export function edgeRanges(since: number, until: number): [number, number][] {
  if (until <= since) return [];
  const [from, to] = wholeHours(since, until);
  if (to <= from) return [[since, until]];
  const edges: [number, number][] = [];
  if (since < from * HOUR_MS) edges.push([since, from * HOUR_MS]);
  if (to * HOUR_MS < until) edges.push([to * HOUR_MS, until]);
  return edges;
}

/**
 * Roll-up rows summed by key, as the days of a range are read: minutes
 * kept, gifts and users summed across days (and edge pieces).
 *
 * @example
 * ```ts
 * import { RollupSums } from "./stats.ts";
 *
 * const sums = new RollupSums();
 * sums.user({ uid: 7, name: "Ann", chats: 2, gifts: 0, value: 0 });
 * sums.user({ uid: 7, name: null, chats: 1, gifts: 0, value: 0 });
 * console.log(sums.result().users[0]); // { uid: 7, name: "Ann", chats: 3, gifts: 0, value: 0 }
 * ```
 */
export class RollupSums {
  readonly #minutes: MinuteRow[] = [];
  readonly #gifts = new Map<string, GiftSum>();
  readonly #users = new Map<number, UserSum>();

  /** Adds a minutes row. */
  minute(row: MinuteRow): void {
    this.#minutes.push({
      minute: Number(row.minute),
      type: String(row.type),
      messages: Number(row.messages),
      items: Number(row.items),
      value: Number(row.value),
      unpriced: Number(row.unpriced),
    });
  }

  /** Adds a gift's sum (of one day, say). */
  gift(row: GiftSum): void {
    const gift = String(row.gift);
    const sum = this.#gifts.get(gift);
    if (sum === undefined) {
      this.#gifts.set(gift, {
        gift,
        name: row.name ?? null,
        items: Number(row.items),
        value: Number(row.value),
      });
      return;
    }
    sum.name = row.name ?? sum.name;
    sum.items += Number(row.items);
    sum.value += Number(row.value);
  }

  /** Adds a user's sum; a later one's name wins (days and pieces are added oldest first). */
  user(row: UserSum): void {
    const uid = Number(row.uid);
    const sum = this.#users.get(uid);
    if (sum === undefined) {
      this.#users.set(uid, {
        uid,
        name: row.name ?? null,
        chats: Number(row.chats),
        gifts: Number(row.gifts),
        value: Number(row.value),
      });
      return;
    }
    sum.name = row.name ?? sum.name;
    sum.chats += Number(row.chats);
    sum.gifts += Number(row.gifts);
    sum.value += Number(row.value);
  }

  /** What was added. */
  result(): RangeRollups {
    return {
      minutes: this.#minutes,
      gifts: [...this.#gifts.values()],
      users: [...this.#users.values()],
    };
  }
}

/** Fen as yuan. */
function yuan(fen: number): number {
  return fen / 100;
}

/**
 * A room's statistics over `[since, until)` from its roll-ups.
 *
 * @param room The room.
 * @param since The range's start, ms (a whole minute).
 * @param until The range's end, ms, exclusive (a whole minute).
 * @param rollups The range's roll-ups, edge pieces' users included.
 *
 * @example
 * ```ts
 * import { summarize } from "./stats.ts";
 *
 * const stats = summarize(9999, 0, 120_000, {
 *   minutes: [
 *     { minute: 0, type: "chatmsg", messages: 3, items: 0, value: 0, unpriced: 0 },
 *     { minute: 1, type: "dgb", messages: 1, items: 2, value: 200, unpriced: 0 },
 *   ],
 *   gifts: [{ gift: "824", name: "荧光棒", items: 2, value: 200 }],
 *   users: [{ uid: 7, name: "Ann", chats: 3, gifts: 1, value: 200 }],
 * });
 * console.log(stats.chatters, stats.revenue.total, stats.perMinute[1]); // 1 2 { t: 60000, chat: 0, gifts: 2, value: 2 }
 * ```
 */
export function summarize(
  room: number,
  since: number,
  until: number,
  rollups: RangeRollups,
): RoomStats {
  const first = Math.floor(since / MINUTE_MS);
  const count = Math.max(0, Math.ceil(until / MINUTE_MS) - first);
  const chat = new Array<number>(count).fill(0);
  const gifts = new Array<number>(count).fill(0);
  const fen = new Array<number>(count).fill(0);
  const messages = new Map<string, number>();
  let total = 0;
  let superChats = 0;
  let superChatFen = 0;
  for (const row of rollups.minutes) {
    const i = row.minute - first;
    if (i < 0 || i >= count) continue;
    messages.set(row.type, (messages.get(row.type) ?? 0) + row.messages);
    if (row.type === "chatmsg") chat[i]! += row.messages;
    if (!REVENUE_TYPES.has(row.type)) continue;
    gifts[i]! += row.items;
    fen[i]! += row.value;
    total += row.value;
    if (row.type === "comm_chatmsg") {
      superChats += row.items;
      superChatFen += row.value;
    }
  }
  const perMinute: MinuteStats[] = [];
  for (let i = 0; i < count; i++) {
    perMinute.push({
      t: (first + i) * MINUTE_MS,
      chat: chat[i]!,
      gifts: gifts[i]!,
      value: yuan(fen[i]!),
    });
  }
  const chatters = rollups.users.filter((user) => user.chats > 0);
  const topChatters = chatters
    .sort((a, b) => b.chats - a.chats || a.uid - b.uid)
    .slice(0, TOP)
    .map((user) => ({ uid: user.uid, name: user.name, count: user.chats }));
  const topGifters = rollups.users
    .filter((user) => user.gifts > 0)
    .sort((a, b) => b.value - a.value || b.gifts - a.gifts || a.uid - b.uid)
    .slice(0, TOP)
    .map((user) => ({
      uid: user.uid,
      name: user.name,
      count: user.gifts,
      value: yuan(user.value),
    }));
  const byGift = rollups.gifts
    .filter((gift) => gift.items > 0)
    .sort((a, b) => b.value - a.value || b.items - a.items || (a.gift < b.gift ? -1 : 1))
    .map((gift) => ({
      id: gift.gift,
      name: gift.name,
      count: gift.items,
      value: yuan(gift.value),
    }));
  return {
    room,
    since: first * MINUTE_MS,
    until: (first + count) * MINUTE_MS,
    // Own properties only (a type named `__proto__` stays a key, not a prototype).
    messages: Object.fromEntries([...messages].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    chatters: chatters.length,
    perMinute,
    topChatters,
    topGifters,
    revenue: { total: yuan(total), byGift },
    superChats: { count: superChats, value: yuan(superChatFen) },
  };
}
