/**
 * Roll-ups kept as messages are written, so that statistics over a stream
 * cost O(minutes) rather than O(messages). Each commit adds what it stored
 * to three tables of its day, in the same transaction as the messages (a
 * duplicate that was not stored adds nothing):
 *
 * | table | key | values |
 * | --- | --- | --- |
 * | minutes | room, minute, type | messages, gift items, value in fen, gifts of unknown value |
 * | users | room, hour, uid | last name, chat messages, gift messages, value in fen |
 * | gifts | room, minute, gift id | name, items, value in fen |
 *
 * The users and gifts tables count the room's revenue only (`REVENUE_TYPES`:
 * not the `spbc` broadcasts, which repeat a gift counted where it was given).
 *
 * Minutes and hours are whole minutes and hours since the epoch. Per-user
 * counts are kept by the hour: a minute would hold nearly one row per chat
 * message; statistics over a range that starts or ends inside an hour read
 * the messages of those edge hours.
 *
 * This is the pure half: what one commit adds, summed by key.
 *
 * @module
 */

import { GIFT_TYPES, isGiftId } from "../protocol/gifts.ts";
import type { MessageRow } from "./rows.ts";

/**
 * Types whose value is the room's revenue: gifts given in the room and paid
 * super chats. A `spbc` broadcast repeats a big gift (often another room's)
 * whose `dgb` is counted where it was given, so it is counted only in the
 * minutes table, under its own type, never in the users or gifts tables.
 */
export const REVENUE_TYPES: ReadonlySet<string> = new Set(["dgb", "gdp", "comm_chatmsg"]);

/** A minute's messages of one type in one room. */
export interface MinuteTotals {
  room: number;
  minute: number;
  type: string;
  messages: number;
  /** Gift items (a message of 10 gifts counts 10). */
  items: number;
  /** Value of the priced ones, fen. */
  value: number;
  /** Gift messages whose value was unknown. */
  unpriced: number;
}

/** An hour's messages of one user in one room. */
export interface UserTotals {
  room: number;
  hour: number;
  uid: number;
  /** The name last seen. */
  name: string | null;
  chats: number;
  gifts: number;
  /** Value of their priced gifts, fen. */
  value: number;
}

/** A minute's gifts of one kind in one room. */
export interface GiftTotals {
  room: number;
  minute: number;
  gift: string;
  name: string | null;
  items: number;
  value: number;
}

/**
 * Sums rows by the keys of the three roll-ups.
 *
 * @example
 * ```ts
 * import { Rollup } from "./rollup.ts";
 *
 * const rollup = new Rollup();
 * const row = {
 *   room: 9, t: 60_000, type: "chatmsg", uid: 7, name: "Ann", level: 1, text: "hi",
 *   giftId: null, giftName: null, giftCount: null, giftValue: null, key: null, json: "{}", col: null,
 * };
 * rollup.add(row);
 * rollup.add(row);
 * console.log([...rollup.minutes.values()][0]?.messages); // 2
 * ```
 */
export class Rollup {
  readonly minutes = new Map<string, MinuteTotals>();
  readonly users = new Map<string, UserTotals>();
  readonly gifts = new Map<string, GiftTotals>();

  /** Adds one stored row. */
  add(row: MessageRow): void {
    const minute = Math.floor(row.t / 60_000);
    const isGift = GIFT_TYPES.has(row.type) && row.giftCount !== null;
    const items = isGift ? row.giftCount! : 0;
    const value = row.giftValue ?? 0;
    const minuteKey = `${row.room}:${minute}:${row.type}`;
    let totals = this.minutes.get(minuteKey);
    if (totals === undefined) {
      totals = {
        room: row.room,
        minute,
        type: row.type,
        messages: 0,
        items: 0,
        value: 0,
        unpriced: 0,
      };
      this.minutes.set(minuteKey, totals);
    }
    totals.messages++;
    totals.items += items;
    totals.value += value;
    if (isGift && row.giftValue === null) totals.unpriced++;

    const isChat = row.type === "chatmsg";
    const isRevenue = isGift && REVENUE_TYPES.has(row.type);
    if (row.uid !== null && (isChat || isRevenue)) {
      const hour = Math.floor(row.t / 3_600_000);
      const userKey = `${row.room}:${hour}:${row.uid}`;
      let user = this.users.get(userKey);
      if (user === undefined) {
        user = { room: row.room, hour, uid: row.uid, name: null, chats: 0, gifts: 0, value: 0 };
        this.users.set(userKey, user);
      }
      if (row.name !== null) user.name = row.name;
      if (isChat) user.chats++;
      else {
        user.gifts++;
        user.value += value;
      }
    }

    if (isRevenue) {
      // Douyu's gift ids are digits; any other is kept with the unknown gifts (""), so that
      // none passes for the super chats' own key.
      const id = row.giftId !== null && isGiftId(row.giftId) ? row.giftId : null;
      const gift = id ?? (row.type === "comm_chatmsg" ? "superchat" : "");
      const giftKey = `${row.room}:${minute}:${gift}`;
      let totalsOfGift = this.gifts.get(giftKey);
      if (totalsOfGift === undefined) {
        totalsOfGift = { room: row.room, minute, gift, name: null, items: 0, value: 0 };
        this.gifts.set(giftKey, totalsOfGift);
      }
      if (row.giftName !== null) totalsOfGift.name = row.giftName;
      totalsOfGift.items += items;
      totalsOfGift.value += value;
    }
  }

  /** Whether nothing was added. */
  get empty(): boolean {
    return this.minutes.size === 0;
  }
}
