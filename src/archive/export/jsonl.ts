/**
 * The JSON Lines export: one line per message, exactly as `douyu --json`
 * prints it with several rooms (`_room`, `_t` and, for gifts and super
 * chats, `_gift`), and one line per status change.
 *
 * @module
 */

import { formatJson, jsonGift } from "../../output/format.ts";
import {
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
  giftFor,
  runExport,
} from "./common.ts";

/**
 * Exports items as NDJSON. A message is its `--json` line: the wire fields,
 * then `_room`, `_t` (arrival, ms since the epoch) and `_gift` (`name`,
 * `value` in yuan, each when known). A status change is
 * `{"_status":"disconnected","_detail":"…","_room":…,"_t":…}`, so that a
 * gap shows. Times stay absolute; items before `start` are left out.
 *
 * @param source Items in time order.
 * @param options `start`.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportJsonl } from "./jsonl.ts";
 *
 * const { text } = await collectExport(exportJsonl([
 *   { t: 1000, room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "hi" } },
 *   { t: 2000, room: 9999, status: "disconnected", detail: "EOF" },
 * ]));
 * console.log(text);
 * // {"type":"chatmsg","nn":"Ann","txt":"hi","_room":9999,"_t":1000}
 * // {"_status":"disconnected","_detail":"EOF","_room":9999,"_t":2000}
 * ```
 */
export function exportJsonl(
  source: ExportSource,
  options: ExportOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  return runExport(source, options, (summary) => ({
    begin: () => "",
    message(item) {
      summary.written++;
      return formatJson(item.message, {
        _room: item.room,
        _t: item.t,
        _gift: jsonGift(giftFor(item)),
      }) + "\n";
    },
    status(item) {
      summary.written++;
      const line = item.detail === undefined
        ? { _status: item.status, _room: item.room, _t: item.t }
        : { _status: item.status, _detail: item.detail, _room: item.room, _t: item.t };
      return formatJson(line) + "\n";
    },
    end: () => "",
  }));
}
