/**
 * A message as the archive stores it, and back: the columns that queries
 * and statistics read (room, arrival time, type, sender, text, gift and
 * its value in fen as priced on arrival), the key that keeps it from being
 * stored twice, and the whole message as JSON. Pure: the stores put rows
 * into tables; this decides what a row is.
 *
 * The JSON leaves out what the columns already hold (the text `txt`, the
 * name `nn`, a chat id kept as the key), writing `null` in their place
 * (which no message ever has), so the message comes back whole, keys in
 * their order, without storing those bytes twice.
 *
 * @module
 */

import { ownField, ownString } from "../base/fields.ts";
import type { Message } from "../protocol/messages.ts";
import { type GiftDetails, giftOf } from "../protocol/gifts.ts";
import type { TimedMessage } from "./timed.ts";
import { briefColor } from "./brief.ts";

/**
 * The key that keeps a message from being stored twice (see the table of
 * {@linkcode keyOf}): a string for a chat id or a file's message, a number
 * for a stream sequence, `null` for a live message that has none. A chat id
 * of 32 lowercase hexadecimal digits (as Douyu's are) is stored as its 16
 * bytes, and read back as them.
 */
export type RowKey = Uint8Array | string | number | null;

/** One message as a row. */
export interface MessageRow {
  room: number;
  /** Arrival time, ms since the epoch. */
  t: number;
  type: string;
  uid: number | null;
  name: string | null;
  level: number | null;
  /** Chat, super chat or super barrage text, well-formed. */
  text: string | null;
  giftId: string | null;
  /** The gift's name: the message's own, else the catalogue's. */
  giftName: string | null;
  giftCount: number | null;
  /** What the message was worth on arrival, in fen (1/100 yuan); `null` when unknown. */
  giftValue: number | null;
  key: RowKey;
  /** The message as JSON, with `null` for the fields the columns hold. */
  json: string;
  /**
   * Set when the columns hold all that exports show of the message (a chat's
   * colour, `""` for none or for a gift: `brief.ts`); `null` otherwise, and
   * always when the JSON is kept whole.
   */
  col: string | null;
}

/** Where a message came from, for {@linkcode keyOf}. */
export interface RowSource {
  /** Its sequence number in the `DOUYU` stream. */
  seq?: number | undefined;
  /** Read from a file (a recording or NDJSON). */
  file?: boolean | undefined;
}

/** A chat id fit for a key (what `douyu collect` accepts as a `Nats-Msg-Id` too). */
const CHAT_ID = /^[0-9A-Za-z-]{1,64}$/;
const HEX_CHAT_ID = /^[0-9a-f]{32}$/;
const DIGITS = /^[0-9]{1,15}$/;

/** A wire number as an integer, or `null`. */
function integer(value: string | undefined): number | null {
  return value !== undefined && DIGITS.test(value) ? Number(value) : null;
}

/** A nested object's own field, when the message has one. */
function nested(message: Message, key: string): object | undefined {
  const value = ownField(message, key);
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
}

/**
 * The user a message is about: the sender of chat, gifts and entries; the
 * buyer of a noble rank or a "deserve"; the user muted by a ban.
 *
 * @example
 * ```ts
 * import { senderOf } from "./rows.ts";
 *
 * console.log(senderOf({ type: "chatmsg", uid: "7", nn: "Ann", level: "12" }));
 * // { uid: 7, name: "Ann", level: 12 }
 * ```
 */
export function senderOf(
  message: Message,
): { uid: number | null; name: string | null; level: number | null } {
  let source: object = message;
  let uidKey = "uid";
  let nameKey = "nn";
  switch (message.type) {
    case "comm_chatmsg":
      source = nested(message, "chatmsg") ?? message;
      if (ownString(source, "uid") === undefined) {
        return {
          uid: integer(ownString(message, "uid")),
          name: ownString(source, "nn") ?? null,
          level: integer(ownString(source, "level")),
        };
      }
      break;
    case "anbc":
    case "rnewbc":
      nameKey = "unk";
      break;
    case "rankup":
      nameKey = "nk";
      break;
    case "spbc":
      nameKey = "sn";
      break;
    case "newblackres":
      uidKey = "did";
      nameKey = "dnic";
      break;
    case "bc_buy_deserve": {
      const buyer = nested(message, "sui");
      return {
        uid: integer(buyer ? ownString(buyer, "id") : undefined),
        name: (buyer ? ownString(buyer, "nick") ?? ownString(buyer, "name") : undefined) ?? null,
        level: integer(ownString(message, "level")),
      };
    }
  }
  return {
    uid: integer(ownString(source, uidKey)),
    name: ownString(source, nameKey) ?? null,
    level: integer(ownString(source, "level")),
  };
}

/**
 * The text of a message that has one: a chat's `txt`, a super chat's, a
 * super barrage's `content`. Made well-formed (a lone surrogate becomes
 * U+FFFD), as it is stored and searched.
 *
 * @example
 * ```ts
 * import { textOf } from "./rows.ts";
 *
 * console.log(textOf({ type: "chatmsg", txt: "hi" }), textOf({ type: "uenter" })); // "hi" null
 * ```
 */
export function textOf(message: Message): string | null {
  let text: string | undefined;
  if (message.type === "chatmsg") text = ownString(message, "txt");
  else if (message.type === "ssd") text = ownString(message, "content");
  else if (message.type === "comm_chatmsg") {
    const chat = nested(message, "chatmsg");
    text = chat ? ownString(chat, "txt") : undefined;
  }
  return text === undefined ? null : text.toWellFormed();
}

/**
 * The key that keeps a message from being stored twice, by the rules of
 * `docs/archive.md`:
 *
 * | message | key |
 * | --- | --- |
 * | a chat with an id (`cid`) | the id: one per room, from any source |
 * | any other, from the stream | its stream sequence |
 * | any other, from a file | its arrival time and a hash of its content |
 * | any other, live | none: a room's session hands each message over once |
 *
 * @example
 * ```ts
 * import { keyOf } from "./rows.ts";
 *
 * const json = () => "{}";
 * console.log(keyOf({ type: "chatmsg", cid: "ab-1" }, 0, json, {})); // "ab-1"
 * console.log(keyOf({ type: "dgb" }, 0, json, { seq: 42 })); // 42
 * console.log(keyOf({ type: "dgb" }, 0, json, { file: true })); // "0:5465b825": the time and a hash of the JSON
 * console.log(keyOf({ type: "dgb" }, 0, json, {})); // null
 * ```
 */
export function keyOf(
  message: Message,
  t: number,
  content: () => string,
  source: RowSource,
): RowKey {
  if (message.type === "chatmsg") {
    const cid = ownString(message, "cid");
    if (cid !== undefined && CHAT_ID.test(cid)) return cid;
  }
  if (source.seq !== undefined) return source.seq;
  if (source.file) return `${t}:${hash32(content())}`;
  return null;
}

/** FNV-1a over UTF-16 code units, as 8 hexadecimal digits. */
function hash32(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * Whether a key is a chat id of 32 lowercase hexadecimal digits, which is
 * stored as its 16 bytes ({@linkcode hexInto}) and left out of the JSON.
 */
export function isHexKey(key: RowKey): key is string {
  return typeof key === "string" && key.length === 32 && HEX_CHAT_ID.test(key);
}

/**
 * Writes the 16 bytes of a {@linkcode isHexKey} key into `bytes` (reused by
 * the caller: allocating one per message costs more than the rest).
 *
 * @example
 * ```ts
 * import { hexInto } from "./rows.ts";
 *
 * console.log(hexInto("00ff".repeat(8), new Uint8Array(16))[1]); // 255
 * ```
 */
export function hexInto(hex: string, bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < 16; i++) {
    bytes[i] = HEX_VALUE[hex.charCodeAt(2 * i)]! * 16 + HEX_VALUE[hex.charCodeAt(2 * i + 1)]!;
  }
  return bytes;
}

const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

function bytesHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += BYTE_HEX[bytes[i]!];
  return hex;
}

/** Each byte's two hex digits: a chat's id is read back for every chat an export writes. */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * Most a level column takes: PostgreSQL's `integer`. A level past it (the
 * wire's digits go up to 15) failed a whole commit there.
 */
const LEVEL_MOST = 2 ** 31 - 1;
/**
 * Most a gift's count and value (fen) columns take: far past any real gift,
 * and small enough that a roll-up's sums stay exact in PostgreSQL's
 * `bigint` (a super chat's `cprice` of `1e30` failed a whole commit there).
 */
const COUNT_MOST = 1e9;
const FEN_MOST = 1e12;

/** `value` when it is a whole number from 0 to `most`, else null: the message keeps it. */
function bounded(value: number | null | undefined, most: number): number | null {
  return value !== null && value !== undefined && Number.isSafeInteger(value) && value >= 0 &&
      value <= most
    ? value
    : null;
}

/**
 * A string as a text column holds it: NUL and lone surrogates become
 * U+FFFD. PostgreSQL's text cannot hold NUL, and Deno's `node:sqlite` cuts a
 * bound string at the first one (Bun's keeps it), which lost the rest of a
 * name or a text; both engines store UTF-8, which has no lone surrogates
 * (JSON may carry one, as `\ud800`). The message's JSON keeps the string as
 * it was ({@linkcode toRow}); queries compare with their strings made the
 * same way.
 *
 * @example
 * ```ts
 * import { columnText } from "./rows.ts";
 *
 * console.log(columnText("a\0b\ud800") === "a\ufffdb\ufffd"); // true
 * ```
 */
export function columnText(text: string): string {
  const whole = text.isWellFormed() ? text : text.toWellFormed();
  return whole.includes("\0") ? whole.replaceAll("\0", "\ufffd") : whole;
}

/**
 * An item as a row: its columns, key and JSON.
 *
 * @param item The message, its arrival time and room, and its gift as priced on arrival.
 * @param source Where it came from (the key depends on it).
 * @param strip Leave out of the JSON what the columns hold (SQLite); false keeps the JSON
 * whole (PostgreSQL, whose text columns cannot hold every string a message can).
 *
 * @example
 * ```ts
 * import { toRow } from "./rows.ts";
 *
 * const row = toRow({ t: 1, room: 9, message: { type: "chatmsg", nn: "Ann", txt: "hi", col: "2" } });
 * console.log(row.name, row.text, row.json); // "Ann" "hi" '{"type":"chatmsg","nn":null,"txt":null,"col":"2"}'
 * ```
 */
export function toRow(item: TimedMessage, source: RowSource = {}, strip = true): MessageRow {
  const { message } = item;
  const sender = senderOf(message);
  const said = textOf(message);
  const text = said === null ? null : columnText(said);
  const name = sender.name === null ? null : columnText(sender.name);
  const gift = item.gift ?? giftOf(message);
  const record = message as Record<string, unknown>;
  // What the columns hold is left out of the JSON (null in its place): the message is
  // changed for the time of one JSON.stringify, which cannot be interrupted.
  const txt = record.txt;
  const nn = record.nn;
  const cid = record.cid;
  // A column's value that differs from the message's (a NUL replaced) stays in the JSON too.
  const stripTxt = strip && message.type === "chatmsg" && text !== null && txt === text &&
    Object.hasOwn(record, "txt");
  const stripName = strip && name !== null && nn === name && Object.hasOwn(record, "nn");
  const key = keyOf(message, item.t, () => JSON.stringify(message), source);
  const stripCid = strip && message.type === "chatmsg" && isHexKey(key) && cid === key;
  let json: string;
  if (stripTxt || stripName || stripCid) {
    try {
      if (stripTxt) record.txt = null;
      if (stripName) record.nn = null;
      if (stripCid) record.cid = null;
      json = JSON.stringify(message);
    } finally {
      if (stripTxt) record.txt = txt;
      if (stripName) record.nn = nn;
      if (stripCid) record.cid = cid;
    }
  } else {
    json = JSON.stringify(message);
  }
  const row: MessageRow = {
    room: item.room,
    t: item.t,
    type: columnText(message.type),
    uid: sender.uid,
    name,
    level: bounded(sender.level, LEVEL_MOST),
    text,
    giftId: gift?.id === undefined ? null : columnText(gift.id),
    giftName: gift?.name === undefined ? null : columnText(gift.name),
    giftCount: bounded(gift?.count, COUNT_MOST),
    giftValue: bounded(gift?.valueFen, FEN_MOST),
    key,
    json,
    col: null,
  };
  // Exports read a row alone when its columns hold all they show of it (`brief.ts`).
  row.col = briefColor(message, row, stripName && (stripTxt || message.type !== "chatmsg"));
  return row;
}

/** The columns {@linkcode fromRow} reads back. */
export type StoredRow = Pick<
  MessageRow,
  "room" | "t" | "name" | "text" | "giftName" | "giftCount" | "giftValue" | "key" | "json"
>;

/**
 * A row back as the item that was stored: the message whole (the fields
 * the columns held put back in their places) and its gift as priced then.
 *
 * @example
 * ```ts
 * import { fromRow, toRow } from "./rows.ts";
 *
 * const item = { t: 1, room: 9, message: { type: "chatmsg", nn: "Ann", txt: "hi" } };
 * console.log(fromRow(toRow(item)).message); // { type: "chatmsg", nn: "Ann", txt: "hi" }
 * ```
 */
export function fromRow(row: StoredRow): TimedMessage {
  const message = JSON.parse(row.json) as Record<string, unknown>;
  if (message.txt === null) message.txt = row.text ?? "";
  if (message.nn === null) message.nn = row.name ?? "";
  if (message.cid === null) message.cid = row.key instanceof Uint8Array ? bytesHex(row.key) : "";
  const typed = message as Message;
  const item: TimedMessage = { t: row.t, room: row.room, message: typed };
  const gift = storedGift(typed, row);
  if (gift !== undefined) item.gift = gift;
  return item;
}

/** The columns {@linkcode fromColumns} reads, as both engines' tables name them. */
export interface StoredColumns {
  room: number;
  t: number;
  name: string | null;
  text: string | null;
  gift_name: string | null;
  gift_count: number | null;
  gift_value: number | null;
}

/**
 * A row read from a table back as the item that was stored: {@linkcode fromRow}
 * of its columns, its key and its JSON.
 *
 * @example
 * ```ts
 * import { fromColumns } from "./rows.ts";
 *
 * const columns = { room: 9, t: 1, name: "Ann", text: "hi", gift_name: null, gift_count: null, gift_value: null };
 * console.log(fromColumns(columns, null, '{"type":"chatmsg","nn":null,"txt":null}').message);
 * // { type: "chatmsg", nn: "Ann", txt: "hi" }
 * ```
 */
export function fromColumns(columns: StoredColumns, key: RowKey, json: string): TimedMessage {
  return fromRow({
    room: columns.room,
    t: columns.t,
    name: columns.name,
    text: columns.text,
    giftName: columns.gift_name,
    giftCount: columns.gift_count,
    giftValue: columns.gift_value,
    key,
    json,
  });
}

/** The gift as it was priced when stored: the message's own facts, the stored name and value. */
function storedGift(message: Message, row: StoredRow): GiftDetails | undefined {
  const gift = giftOf(message);
  if (gift === undefined) return undefined;
  if (row.giftName !== null && gift.name === undefined) gift.name = row.giftName;
  const count = row.giftCount ?? gift.count;
  const value = row.giftValue;
  if (value !== null && gift.kind === "gift") {
    gift.valueFen = value;
    gift.value = value / 100;
    const unit = count > 0 ? value / count : undefined;
    gift.unitPriceFen = unit;
    gift.unitPrice = unit === undefined ? undefined : unit / 100;
    gift.paid = value > 0 ? true : unit === 0 ? false : undefined;
  }
  return gift;
}
