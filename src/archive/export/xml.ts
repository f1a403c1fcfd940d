/**
 * The danmaku XML export: the file BililiveRecorder writes beside its
 * recordings, which danmaku players and converters (DanmakuFactory,
 * danmaku2ass, browser players) read.
 *
 * @module
 */

import { toNumber } from "../../protocol/messages.ts";
import { describeStatus } from "../timed.ts";
import {
  chatColor,
  chatOf,
  cleanName,
  cleanText,
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
  giftFor,
  giftName,
  replacer,
  runExport,
  seconds,
  senderName,
  wireString,
} from "./common.ts";

/**
 * Exports items as danmaku XML, in the shape BililiveRecorder writes: an
 * `<i>` root with the usual header elements, then
 *
 * - one `<d p="seconds,mode,size,colour,timestamp,pool,uid,id" user="…" uid="…">text</d>`
 *   per chat: seconds after time zero (three decimals), mode 1 (scrolling),
 *   size 25, the chat's colour as a decimal RGB number, the arrival time in
 *   ms since the epoch, pool 0, the sender's uid (as BililiveRecorder
 *   writes it where Bilibili has a hash of it), and the chat's number in
 *   this file;
 * - one `<sc ts user uid price time>text</sc>` per super chat (price in
 *   yuan, time on screen in seconds);
 * - one `<gift ts user uid giftname giftcount price/>` per gift (`price`:
 *   the whole value in yuan, absent when unknown);
 * - one comment per status change (`<!-- 12.345 disconnected: EOF -->`),
 *   so that a gap in the chat shows.
 *
 * Other messages are left out. Text is cleaned as the terminal shows it
 * (no control or invisible characters; in names they show as `<U+200B>`),
 * then escaped for XML.
 *
 * @param source Items in time order, of one room.
 * @param options `start`.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportXml } from "./xml.ts";
 *
 * const { text } = await collectExport(exportXml([
 *   { t: 1500, room: 9999, message: { type: "chatmsg", uid: "7", nn: "Ann", txt: "<3 & hi", col: "1" } },
 * ], { start: 1000 }));
 * console.log(text.split("\n").find((line) => line.includes("<d ")));
 * //   <d p="0.500,1,25,16711680,1500,0,7,1" user="Ann" uid="7">&lt;3 &amp; hi</d>
 * ```
 */
export function exportXml(
  source: ExportSource,
  options: ExportOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  return runExport(source, options, (summary) => {
    let chats = 0;
    return {
      begin(start, first) {
        const room = first?.room ?? options.room;
        const zero = start === undefined ? "" : new Date(start).toISOString();
        return [
          '<?xml version="1.0" encoding="UTF-8"?>',
          "<i>",
          `  <!-- Douyu${room === undefined ? "" : ` room ${room}`}, exported by @x/douyu.` +
          ` <d>: chat, <sc>: super chat, <gift>: gift; times in seconds after ${
            zero || "the first message"
          }. -->`,
          "  <chatserver>chat.bilibili.com</chatserver>",
          "  <chatid>0</chatid>",
          "  <mission>0</mission>",
          "  <maxlimit>1000</maxlimit>",
          "  <state>0</state>",
          "  <real_name>0</real_name>",
          "  <source>0</source>",
          `  <douyu${room === undefined ? "" : ` room="${room}"`}${
            zero ? ` start_time="${zero}"` : ""
          } />`,
          "",
        ].join("\n");
      },
      message(item, offset) {
        const { message } = item;
        const chat = chatOf(message);
        if (chat !== undefined) {
          summary.written++;
          const user = `user="${xml(cleanName(chat.name))}" uid="${uidOf(chat.uid)}"`;
          const text = xml(cleanText(chat.text));
          if (chat.price !== undefined) {
            const time = toNumber(wireString(message.cet)) ?? 0;
            return `  <sc ts="${
              seconds(offset)
            }" ${user} price="${chat.price}" time="${time}">${text}</sc>\n`;
          }
          const p = `${seconds(offset)},1,25,${chatColor(chat.color)},${item.t},0,${
            uidOf(chat.uid)
          },${++chats}`;
          return `  <d p="${p}" ${user}>${text}</d>\n`;
        }
        const gift = giftFor(item);
        if (gift === undefined) return "";
        summary.written++;
        const price = gift.value === undefined ? "" : ` price="${gift.value}"`;
        return `  <gift ts="${seconds(offset)}" user="${
          xml(cleanName(senderName(message)))
        }" uid="${uidOf(wireString(message.uid))}" giftname="${
          xml(cleanText(giftName(gift)))
        }" giftcount="${gift.count}"${price} />\n`;
      },
      status(item, offset) {
        summary.written++;
        return `  <!-- ${seconds(offset)} ${comment(describeStatus(item))} -->\n`;
      },
      end: () => "</i>\n",
    };
  });
}

/** A uid as digits only (a wire value is hostile), `0` when it is none. */
function uidOf(uid: string): string {
  return /^\d{1,20}$/.test(uid) ? uid : "0";
}

/**
 * Cleaned text escaped for XML text or a double-quoted attribute (cleaning
 * removed every character XML 1.0 cannot hold).
 */
const xml = replacer({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" });

/** Text for inside a comment: no `--`, no `-` at the end. */
function comment(text: string): string {
  const safe = xml(cleanText(text)).replace(/-(?=-)/g, "- ");
  return safe.endsWith("-") ? `${safe} ` : safe;
}
