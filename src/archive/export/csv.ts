/**
 * The CSV export (RFC 4180): a header row, then one row per message and per
 * status change, for spreadsheets.
 *
 * @module
 */

import { describeStatus } from "../timed.ts";
import {
  chatOf,
  cleanName,
  cleanText,
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
  giftFor,
  giftName,
  runExport,
  seconds,
  senderLevel,
  senderName,
  wireString,
} from "./common.ts";

/** The header row: the columns, in order. */
export const CSV_COLUMNS: readonly string[] = [
  "time",
  "offset",
  "room",
  "type",
  "uid",
  "name",
  "level",
  "text",
  "gift",
  "count",
  "value",
];

/**
 * Exports items as CSV (RFC 4180: comma-separated, CRLF line ends, fields
 * with a comma or a double quote quoted, quotes doubled), with a header
 * row of {@linkcode CSV_COLUMNS}:
 *
 * - `time`: arrival, ISO 8601 in UTC with milliseconds;
 * - `offset`: seconds after time zero (`start`), three decimals;
 * - `room`, `type` (the wire type; `_status` for a status change);
 * - `uid`, `name`, `level`: the sender;
 * - `text`: a chat's or super chat's text, or a status change and its detail;
 * - `gift`, `count`, `value`: a gift's or super chat's name (`gift #<id>`
 *   when unknown), count, and value in yuan when known.
 *
 * Text is cleaned as the terminal shows it (no control or invisible
 * characters; in names and types they show as `<U+200B>`), and a cell that
 * would start with `=`, `+`, `-` or `@` gets a leading `'`, so that a
 * spreadsheet shows it as text rather than running it as a formula.
 *
 * @param source Items in time order.
 * @param options `start`.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportCsv } from "./csv.ts";
 *
 * const { text } = await collectExport(exportCsv([
 *   { t: 0, room: 9999, message: { type: "chatmsg", uid: "7", nn: "Ann", level: "12", txt: "=1+1, hi" } },
 * ]));
 * console.log(text.split("\r\n")[1]);
 * // 1970-01-01T00:00:00.000Z,0.000,9999,chatmsg,7,Ann,12,"'=1+1, hi",,,
 * ```
 */
export function exportCsv(
  source: ExportSource,
  options: ExportOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  return runExport(source, options, (summary) => {
    const isoTime = isoClock();
    return {
      begin: () => row(CSV_COLUMNS),
      message(item, offset) {
        summary.written++;
        const { message } = item;
        const chat = chatOf(message);
        const gift = giftFor(item);
        return row([
          isoTime(item.t),
          seconds(offset),
          String(item.room),
          cell(cleanName(message.type)),
          cell(cleanName(chat?.uid ?? wireString(message.uid))),
          cell(cleanName(chat?.name ?? senderName(message))),
          String(senderLevel(message) ?? ""),
          cell(cleanText(chat?.text ?? "")),
          gift === undefined ? "" : cell(cleanText(giftName(gift))),
          gift === undefined ? "" : String(gift.count),
          gift?.value === undefined ? "" : gift.value.toFixed(2),
        ]);
      },
      status(item, offset) {
        summary.written++;
        return row([
          isoTime(item.t),
          seconds(offset),
          String(item.room),
          "_status",
          "",
          "",
          "",
          cell(cleanText(describeStatus(item))),
          "",
          "",
          "",
        ]);
      },
      end: () => "",
    };
  });
}

/**
 * `toISOString` of a time, remembering the last second's text: rows come in
 * time order, many to a second, and a `Date` per row costs more than the
 * rest of the row. A time that is no date gives `""`.
 */
function isoClock(): (t: number) => string {
  let second = NaN;
  let head = "";
  return (t) => {
    const s = Math.floor(t / 1000);
    if (s !== second) {
      const iso = new Date(s * 1000);
      if (!Number.isFinite(iso.getTime())) return "";
      const text = iso.toISOString();
      // Only the common form (four-digit years) is cut; others are written whole each time.
      if (text.length !== 24) return new Date(t).toISOString();
      second = s;
      head = text.slice(0, 20);
    }
    return `${head}${String(Math.floor(t) - s * 1000).padStart(3, "0")}Z`;
  };
}

/** A spreadsheet would read a cell starting with one of these as a formula. */
const FORMULA_START = /^[=+\-@]/;
/** A field with one of these must be quoted (line breaks never get here: text is cleaned). */
const NEEDS_QUOTES = /[",\r\n]/;

/** A text cell: formula-proof, then quoted when it must be. */
function cell(text: string): string {
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function row(fields: readonly string[]): string {
  return fields.join(",") + "\r\n";
}
