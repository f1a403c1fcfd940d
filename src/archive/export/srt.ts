/**
 * The SRT export: one subtitle cue per chat, the simplest format every
 * player and editor reads.
 *
 * @module
 */

import {
  chatOf,
  cleanName,
  cleanText,
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
  replacer,
  runExport,
} from "./common.ts";
import { type Notice, NoticeBoard } from "./notices.ts";

/**
 * Options of {@linkcode exportSrt}.
 *
 * @example
 * ```ts
 * import type { SrtOptions } from "./srt.ts";
 *
 * const options: SrtOptions = { duration: 3000 };
 * console.log(options.duration);
 * ```
 */
export interface SrtOptions extends ExportOptions {
  /** How long each chat shows, ms. Default 4000. */
  duration?: number;
}

/**
 * Exports the chat as SRT: one cue per chat (`name: text`) or super chat
 * (`¥30 name: text`), shown for `duration` from its time, and one cue per
 * gap (`[gap] no messages for 6.0 s: disconnected: …`) for as long as the
 * gap lasts (3 s at least; gaps that close in on each other share one cue).
 * Cues are numbered in time order.
 *
 * Text is cleaned as the terminal shows it (one line, no control or
 * invisible characters), and the characters players read as markup (`<`,
 * `>` for tags, `\`, `{`, `}` for ASS overrides) become their fullwidth
 * forms (`＜`, `＞`, `＼`, `｛`, `｝`).
 *
 * @param source Items in time order, of one room.
 * @param options `start`, `duration`.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 * @throws {RangeError} `duration` is not a positive number.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportSrt } from "./srt.ts";
 *
 * const { text } = await collectExport(exportSrt([
 *   { t: 61_250, room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "<b>hi</b>" } },
 * ], { start: 0 }));
 * console.log(text);
 * // 1
 * // 00:01:01,250 --> 00:01:05,250
 * // Ann: ＜b＞hi＜/b＞
 * ```
 */
export function exportSrt(
  source: ExportSource,
  options: SrtOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  const duration = options.duration ?? 4000;
  if (!(duration > 0) || !Number.isFinite(duration)) {
    throw new RangeError(`duration must be a positive number, got ${duration}`);
  }
  return runExport(source, options, (summary) => {
    const notices = new NoticeBoard();
    let number = 0;
    // While a notice is held, the cues after it wait, so that cues stay in time order.
    const waiting: { start: number; text: string }[] = [];
    const cue = (start: number, end: number, text: string): string => {
      summary.written++;
      return `${++number}\n${srtTime(start)} --> ${srtTime(end)}\n${text}\n\n`;
    };
    /** A released notice's cue, then the cues that waited behind it. */
    const release = (notice: Notice | undefined): string => {
      if (notice === undefined) return "";
      let out = cue(notice.start, notice.end, srtText(notice.text));
      for (const { start, text } of waiting) out += cue(start, start + duration, text);
      waiting.length = 0;
      return out;
    };
    return {
      begin: () => "",
      message(item, offset) {
        const released = release(notices.due(offset));
        const chat = chatOf(item.message);
        if (chat === undefined) return released;
        const name = srtText(cleanName(chat.name));
        const body = srtText(cleanText(chat.text));
        const text = chat.price === undefined
          ? `${name}: ${body}`
          : `¥${chat.price} ${name}: ${body}`;
        if (notices.holding) {
          waiting.push({ start: offset, text });
          return released;
        }
        return released + cue(offset, offset + duration, text);
      },
      status: (_item, offset) => release(notices.due(offset)),
      gap: (gap, start, end) => release(notices.add(gap, start, end)),
      end: () => release(notices.finish()),
    };
  });
}

/** `HH:MM:SS,mmm` of ms after time zero. */
export function srtTime(ms: number): string {
  const whole = Math.round(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  const s = Math.floor(whole / 1000);
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)},${
    String(whole % 1000).padStart(3, "0")
  }`;
}

/** Cleaned text with the characters players read as markup in their fullwidth forms. */
const srtText = replacer({ "<": "＜", ">": "＞", "\\": "＼", "{": "｛", "}": "｝" });
