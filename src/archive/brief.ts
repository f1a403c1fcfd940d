/**
 * Brief rows: a chat or a gift whose columns hold everything the subtitle
 * and danmaku exports show of it (the sender's id and name, the text, the
 * chat's colour; the gift, its count and value), so that an export reads it
 * from its row alone, without its block and its JSON.
 *
 * Reading a million messages back whole costs a block read and an inflate
 * per 32 messages and a `JSON.parse` per message: about half the time of an
 * export. A row is brief when its `col` column is set; the rule that sets it
 * ({@linkcode briefColor}) holds only where the columns give back exactly what
 * the whole message gives the exports, and anything else (a name with a NUL,
 * a uid that is not plain digits, a prop) stays a whole row.
 *
 * @module
 */

import { ownField } from "../base/fields.ts";
import type { Message } from "../protocol/messages.ts";
import { type GiftDetails, giftOf } from "../protocol/gifts.ts";
import type { TimedMessage } from "./timed.ts";

/** The types a row can be brief for. */
export const BRIEF_TYPES = ["chatmsg", "dgb"] as const;

/** One of {@linkcode BRIEF_TYPES}. */
export type BriefType = (typeof BRIEF_TYPES)[number];

/** What {@linkcode briefColor} checks the message against: the row's columns as they are stored. */
export interface BriefColumns {
  uid: number | null;
  name: string | null;
  text: string | null;
  giftId: string | null;
  giftName: string | null;
  giftCount: number | null;
  giftValue: number | null;
}

/**
 * The value of a row's `col` column: for a chat whose columns hold its
 * sender, text and colour, its colour (`col` as sent, `""` for none); for a
 * gift whose columns hold its sender and the gift as priced, `""`; `null`
 * for any other row, which exports read whole.
 *
 * @param message The message.
 * @param columns Its row's columns.
 * @param stripped Whether the row's JSON leaves out the message's name (and
 * a chat's text) because the columns hold them exactly.
 *
 * @example
 * ```ts
 * import { briefColor } from "./brief.ts";
 *
 * const columns = {
 *   uid: 7, name: "Ann", text: "hi", giftId: null, giftName: null, giftCount: null, giftValue: null,
 * };
 * const chat = { type: "chatmsg", uid: "7", nn: "Ann", txt: "hi", col: "2" };
 * console.log(briefColor(chat, columns, true)); // "2"
 * console.log(briefColor({ ...chat, uid: "007" }, columns, true)); // null
 * ```
 */
export function briefColor(
  message: Message,
  columns: BriefColumns,
  stripped: boolean,
): string | null {
  if (!stripped || columns.uid === null || ownField(message, "uid") !== String(columns.uid)) {
    return null;
  }
  if (message.type === "chatmsg") {
    const col = ownField(message, "col");
    if (col === undefined) return "";
    // A colour the column would hold otherwise (a NUL, a lone surrogate) is read whole.
    return typeof col === "string" && col.isWellFormed() && !col.includes("\0") ? col : null;
  }
  if (message.type !== "dgb") return null;
  // What reading the row whole gives the exports (`fromRow`): the message's own facts (its
  // count included), the stored name when it has none, the stored value.
  const own = giftOf(message);
  if (own === undefined || own.kind !== "gift" || own.prop || own.id !== columns.giftId) {
    return null;
  }
  if (own.name !== undefined && own.name !== columns.giftName) return null;
  // Read whole, the count is the message's own; the column's may be a priced gift's.
  if (columns.giftCount === null || own.count !== columns.giftCount) return null;
  if (columns.giftValue === null && own.valueFen !== undefined) return null;
  return "";
}

/** A brief row's columns, as {@linkcode briefItem} reads them. */
export interface BriefRow {
  room: number;
  t: number;
  uid: number;
  name: string | null;
  text: string | null;
  col: string;
  giftId: string | null;
  giftName: string | null;
  giftCount: number | null;
  giftValue: number | null;
}

/**
 * A brief row as an item: the message with only the fields the exports
 * read (`type`, `uid`, `nn`, a chat's `txt` and `col`), and a gift's
 * details as priced when stored. Exports write the same from it as from the
 * whole message; anything else that reads the message finds most of it
 * missing.
 *
 * @example
 * ```ts
 * import { briefItem } from "./brief.ts";
 *
 * const item = briefItem("chatmsg", {
 *   room: 9, t: 1, uid: 7, name: "Ann", text: "hi", col: "2",
 *   giftId: null, giftName: null, giftCount: null, giftValue: null,
 * });
 * console.log(item.message); // { type: "chatmsg", uid: "7", nn: "Ann", txt: "hi", col: "2" }
 * ```
 */
export function briefItem(type: BriefType, row: BriefRow): TimedMessage {
  const uid = String(row.uid);
  const nn = row.name ?? "";
  if (type === "chatmsg") {
    const message: Message = row.col === ""
      ? { type, uid, nn, txt: row.text ?? "" }
      : { type, uid, nn, txt: row.text ?? "", col: row.col };
    return { t: row.t, room: row.room, message };
  }
  const count = row.giftCount ?? 1;
  const valueFen = row.giftValue ?? undefined;
  const unit = valueFen !== undefined && count > 0 ? valueFen / count : undefined;
  const gift: GiftDetails = {
    kind: "gift",
    id: row.giftId ?? undefined,
    prop: false,
    name: row.giftName ?? undefined,
    count,
    unitPriceFen: unit,
    unitPrice: unit === undefined ? undefined : unit / 100,
    valueFen,
    value: valueFen === undefined ? undefined : valueFen / 100,
    paid: valueFen === undefined ? undefined : valueFen > 0 ? true : unit === 0 ? false : undefined,
    icon: undefined,
  };
  return { t: row.t, room: row.room, message: { type, uid, nn }, gift };
}
