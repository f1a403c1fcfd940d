/**
 * The exports of an archive: one function per format, each an async
 * generator of text chunks over items in time order, returning an
 * {@linkcode ExportSummary}.
 *
 * @module
 */

import { type AssOptions, exportAss } from "./ass.ts";
import { CHAT_TYPES, type ExportOptions, type ExportSource, type ExportSummary } from "./common.ts";
import { GIFT_TYPES } from "../../protocol/gifts.ts";
import { exportCsv } from "./csv.ts";
import { exportJsonl } from "./jsonl.ts";
import { exportSrt, type SrtOptions } from "./srt.ts";
import { exportXml } from "./xml.ts";

export { type AssOptions, exportAss } from "./ass.ts";
export {
  CHAT_TYPES,
  collectExport,
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
} from "./common.ts";
export { CSV_COLUMNS, exportCsv } from "./csv.ts";
export { exportJsonl } from "./jsonl.ts";
export { exportSrt, type SrtOptions } from "./srt.ts";
export { exportXml } from "./xml.ts";

/** The export formats, by name. */
export const EXPORT_FORMATS = ["jsonl", "csv", "xml", "ass", "srt"] as const;

/**
 * An export format's name.
 *
 * @example
 * ```ts
 * import type { ExportFormat } from "./mod.ts";
 *
 * const format: ExportFormat = "ass";
 * console.log(format);
 * ```
 */
export type ExportFormat = typeof EXPORT_FORMATS[number];

/**
 * The message types a format writes, or `undefined` when it writes every
 * type: a source may leave the others out, and with the same `start` the
 * file comes out the same (`douyu export` asks the archive for these
 * alone). Every format needs the status changes (they mark the gaps),
 * whatever the types.
 *
 * @example
 * ```ts
 * import { exportTypes } from "./mod.ts";
 *
 * console.log(exportTypes("srt"), exportTypes("csv")); // [ "chatmsg", "comm_chatmsg" ] undefined
 * ```
 */
export function exportTypes(format: ExportFormat): readonly string[] | undefined {
  switch (format) {
    case "ass":
    case "srt":
      return [...CHAT_TYPES];
    case "xml":
      return [...new Set([...CHAT_TYPES, ...GIFT_TYPES])];
    case "jsonl":
    case "csv":
      return undefined;
  }
}

/**
 * Options of {@linkcode exportAs}: the time zero, and the options of the
 * formats that have their own.
 *
 * @example
 * ```ts
 * import type { ExportAsOptions } from "./mod.ts";
 *
 * const options: ExportAsOptions = { start: 0, ass: { fontSize: 32 }, srt: { duration: 3000 } };
 * console.log(options.ass?.fontSize);
 * ```
 */
export interface ExportAsOptions extends ExportOptions {
  /** For `ass`. */
  ass?: Omit<AssOptions, "start">;
  /** For `srt`. */
  srt?: Omit<SrtOptions, "start">;
}

/**
 * Exports items in the format named: what `douyu export --format` runs.
 *
 * @param format One of {@linkcode EXPORT_FORMATS}.
 * @param source Items in time order, of one room.
 * @param options `start`, and `ass` or `srt` options.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 *
 * @example
 * ```ts
 * import { collectExport, exportAs } from "./mod.ts";
 *
 * const items = [{ t: 0, room: 1, message: { type: "chatmsg", nn: "Ann", txt: "hi" } }];
 * const { summary } = await collectExport(exportAs("srt", items));
 * console.log(summary.written); // 1
 * ```
 */
export function exportAs(
  format: ExportFormat,
  source: ExportSource,
  options: ExportAsOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  switch (format) {
    case "jsonl":
      return exportJsonl(source, options);
    case "csv":
      return exportCsv(source, options);
    case "xml":
      return exportXml(source, options);
    case "ass":
      return exportAss(source, { ...options.ass, start: options.start });
    case "srt":
      return exportSrt(source, { ...options.srt, start: options.start });
  }
}
