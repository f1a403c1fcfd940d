/**
 * What `douyu archive --import` reads: lines of a recording (`--record`:
 * `{"t", "room"?, "body"}`) and lines of NDJSON (`--json`: a message with
 * `_t`, and `_room`, `_gift` when known), each turned back into the timed
 * message it was. Pure: the command reads the files.
 *
 * @module
 */

import { DouyuError } from "../base/errors.ts";
import { isRecord, isWireValue, MESSAGE_DEPTH, ownField } from "../base/fields.ts";
import { isEpochMs } from "../base/when.ts";
import { type GiftDetails, giftOf } from "../protocol/gifts.ts";
import { type Message, parseMessage } from "../protocol/messages.ts";
import type { TimedMessage } from "./timed.ts";

/** The fields NDJSON adds to a message: ours, never Douyu's (its keys never start with `_`). */
const EXTRA_FIELDS = ["_t", "_room", "_gift", "_repeat"] as const;
/** What an arrival time must be (`isEpochMs`). */
const EPOCH_MS_RULE = "must be a whole number of ms since the epoch (from 1970 to the year 9999)";

/**
 * A line of an imported file is not a recording line nor a message with
 * its arrival time (the message names the file and line).
 *
 * @example
 * ```ts
 * import { ImportError, parseImportLine } from "./import.ts";
 *
 * try {
 *   parseImportLine('{"type":"chatmsg","txt":"hi"}', "chat.ndjson:1");
 * } catch (error) {
 *   if (error instanceof ImportError) console.log(error.message);
 *   // "chat.ndjson:1: no _t (arrival time): NDJSON written before _t existed cannot be archived"
 * }
 * ```
 */
export class ImportError extends DouyuError {}

/**
 * One line of a recording or of NDJSON as the timed message it was, or
 * `undefined` for a blank line.
 *
 * @param line The line, without its newline.
 * @param where How to name the line in errors, e.g. `rec.jsonl:12`.
 * @param room The room of lines that do not say theirs (`--room`); else
 * the message's `rid` is used.
 * @throws {ImportError} The line is not JSON, not a record nor a message,
 * has no arrival time, or no room can be told.
 *
 * @example
 * ```ts
 * import { parseImportLine } from "./import.ts";
 *
 * const recorded = parseImportLine('{"t":1000,"room":9999,"body":"type@=chatmsg/txt@=hi/"}', "a:1");
 * console.log(recorded?.t, recorded?.room, recorded?.message.txt); // 1000 9999 "hi"
 * const printed = parseImportLine('{"type":"dgb","gfid":"1","_t":2000,"_room":9999,"_gift":{"name":"花","value":0.1}}', "b:1");
 * console.log(printed?.message, printed?.gift?.valueFen); // { type: "dgb", gfid: "1" } 10
 * ```
 */
export function parseImportLine(
  line: string,
  where: string,
  room?: number,
): TimedMessage | undefined {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it would quote a slice of the (untrusted) line.
    throw new ImportError(`${where}: not JSON`);
  }
  if (!isRecord(value)) throw new ImportError(`${where}: not an object`);
  const body = ownField(value, "body");
  if (typeof body === "string") return fromRecording(value, body, where, room);
  if (typeof ownField(value, "type") === "string") return fromJson(value, where, room);
  throw new ImportError(
    `${where}: neither a recorded message ("t", "body") nor a message ("type")`,
  );
}

function fromRecording(
  value: Record<string, unknown>,
  body: string,
  where: string,
  room: number | undefined,
): TimedMessage {
  const t = ownField(value, "t");
  if (!isEpochMs(t)) throw new ImportError(`${where}: "t" ${EPOCH_MS_RULE}`);
  const message = parseMessage(body);
  return { t, room: roomOf(ownField(value, "room"), room, message, where), message };
}

function fromJson(
  value: Record<string, unknown>,
  where: string,
  room: number | undefined,
): TimedMessage {
  const t = ownField(value, "_t");
  if (t === undefined) {
    throw new ImportError(
      `${where}: no _t (arrival time): NDJSON written before _t existed cannot be archived`,
    );
  }
  if (!isEpochMs(t)) throw new ImportError(`${where}: "_t" ${EPOCH_MS_RULE}`);
  const shownRoom = ownField(value, "_room");
  const shownGift = ownField(value, "_gift");
  for (const field of EXTRA_FIELDS) delete value[field];
  if (!isWireValue(value, MESSAGE_DEPTH)) {
    throw new ImportError(`${where}: a message holds only strings, numbers, lists and maps`);
  }
  const message = value as Message;
  const item: TimedMessage = { t, room: roomOf(shownRoom, room, message, where), message };
  const gift = pricedGift(message, shownGift);
  if (gift !== undefined) item.gift = gift;
  return item;
}

/** The room: the line's own, else the one given, else the message's `rid`. */
function roomOf(
  own: unknown,
  given: number | undefined,
  message: Message,
  where: string,
): number {
  if (own !== undefined) {
    if (typeof own === "number" && Number.isSafeInteger(own) && own > 0) return own;
    throw new ImportError(`${where}: the room must be a positive integer`);
  }
  if (given !== undefined) return given;
  const rid = ownField(message, "rid");
  if (typeof rid === "string" && /^[1-9][0-9]{0,14}$/.test(rid)) return Number(rid);
  throw new ImportError(`${where}: the line does not say its room: give it with --room`);
}

/**
 * The gift with the name and value `_gift` says it had when it was
 * printed; `undefined` without a `_gift` (the gift is then as unpriced as
 * a recording's).
 */
function pricedGift(message: Message, shown: unknown): GiftDetails | undefined {
  const gift = giftOf(message);
  if (gift === undefined || !isRecord(shown)) return undefined;
  const name = ownField(shown, "name");
  const value = ownField(shown, "value");
  if (typeof name === "string" && name !== "") gift.name ??= name;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
    const fen = Math.round(value * 100);
    gift.valueFen = fen;
    gift.value = fen / 100;
    gift.unitPriceFen = gift.count > 0 ? fen / gift.count : undefined;
    gift.unitPrice = gift.unitPriceFen === undefined ? undefined : gift.unitPriceFen / 100;
    gift.paid = fen > 0 ? true : gift.unitPriceFen === 0 ? false : undefined;
  }
  return gift;
}
