/**
 * `douyu archive --import FILE…`: recordings (`--record`) and NDJSON
 * (`--json`, with `_t`) loaded into an archive, line by line (a file of any
 * size, read as fast as the archive takes it). Importing a file again
 * stores nothing twice. Progress shows on stderr when it is a terminal.
 *
 * @module
 */

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { ImportError, parseImportLine } from "../archive/import.ts";
import { GiftPricer } from "../archive/pricing.ts";
import type { TimedMessage } from "../archive/timed.ts";
import { errorText } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import { type ArchiveRun, keeps } from "./archive.ts";
import { CliFailure, OK, say, stopController, UsageError } from "./io.ts";
import { giftBases, lookups } from "./options.ts";
import { needRead } from "./permissions.ts";
import { invalid } from "./nats_setup.ts";

/** How often the progress line is rewritten, ms. */
const PROGRESS_EVERY_MS = 250;

type ImportValues = {
  room?: string;
  "api-base"?: string;
  "mobile-base"?: string;
  "gift-api-base"?: string;
  "open-api-base"?: string;
};

/** Imports each file in turn; returns the exit code. */
export async function archiveFiles(
  run: ArchiveRun,
  files: string[],
  values: ImportValues,
): Promise<number> {
  const { io, archive } = run;
  if (files.length === 0) throw new UsageError("missing FILE: recordings or NDJSON to import");
  let room: number | undefined;
  if (values.room !== undefined) {
    room = /^\s*[1-9][0-9]{0,14}\s*$/.test(values.room) ? Number(values.room) : undefined;
    if (room === undefined) throw invalid("room", values.room, "a numeric room id");
  }
  const { stop, unlink } = stopController(io);
  // A file may come from anywhere (a mock server, a test): as replay does, gifts a file does
  // not price (recordings; NDJSON without _gift) are priced only when --gift-api-base says
  // where, with the catalogue of today.
  const apis = lookups(values);
  const gifts = apis.giftApiBase !== undefined ? new GiftCatalogCache(giftBases(apis)) : undefined;
  let warned = false;
  const pricer = gifts && new GiftPricer({
    gifts,
    signal: stop.signal,
    onError: (id, error) => {
      if (warned) return;
      warned = true;
      void say(io, `room ${id}: gift values unavailable (${errorText(error)}); stored unpriced`);
    },
  });
  let notedPricing = false;
  // Every file up front: a missing permission is one line before anything is stored.
  for (const file of files) needRead(file, "import file");
  try {
    for (const file of files) {
      if (stop.signal.aborted) break;
      const before = archive.counters;
      const progress = new Progress(run, file, await sizeOf(file));
      let unpriced = 0;
      const source = readItems(file, room, run, stop.signal, progress, () => unpriced++);
      try {
        for await (const item of pricer ? pricer.price(source) : source) {
          const wait = archive.write(item, { file: true });
          if (wait !== undefined) await wait;
          progress.stored++;
          await progress.show(false);
        }
        await archive.flush();
      } finally {
        await progress.show(true);
      }
      if (pricer !== undefined && unpriced > 0 && !notedPricing) {
        notedPricing = true;
        await say(io, `${file}: gifts without a recorded value are priced with today's catalogue`);
      }
      const after = archive.counters;
      if (!run.quiet) {
        const stored = after.stored - before.stored;
        const again = after.duplicates - before.duplicates;
        // Interrupted: what was read is stored, and the line says the rest was not read.
        await say(
          io,
          `${file}: ${stored} messages stored` + (again > 0 ? `, ${again} already there` : "") +
            (stop.signal.aborted ? "; interrupted, the rest of the file was not read" : ""),
        );
      }
    }
  } finally {
    gifts?.clear();
    unlink();
  }
  return OK;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    throw new CliFailure(`cannot read ${file}: ${errorText(error)}`);
  }
}

/**
 * The file's lines as timed messages, in file order: blank lines and
 * types not kept skipped; a last line cut off (by a kill, a full disk)
 * skipped with a note; any other bad line ends the import with its
 * `file:line`.
 */
async function* readItems(
  file: string,
  room: number | undefined,
  run: ArchiveRun,
  signal: AbortSignal,
  progress: Progress,
  onUnpriced: () => void,
): AsyncGenerator<TimedMessage> {
  let number = 0;
  for await (const { line, last } of readLines(file, progress)) {
    if (signal.aborted) return;
    number++;
    let item: TimedMessage | undefined;
    try {
      item = parseImportLine(line, `${file}:${number}`, room);
    } catch (error) {
      if (last && error instanceof ImportError && /: not JSON$/.test(error.message)) {
        await say(run.io, `${file}:${number}: last line is incomplete (cut off?); skipped`);
        return;
      }
      throw new CliFailure(errorText(error));
    }
    if (item === undefined || !keeps(run, item.message.type)) continue;
    if (item.gift === undefined && ["dgb", "gdp", "spbc"].includes(item.message.type)) onUnpriced();
    yield item;
  }
}

/** The longest line an import reads (a message is at most a 1 MiB packet, JSON a few times that). */
export const MAX_IMPORT_LINE = 16 * 1024 * 1024;

/**
 * A file's lines, each with whether it is a last one without a newline.
 * Each chunk is searched once: a long line's pieces are joined when it ends,
 * not copied again with every chunk. A line past {@linkcode MAX_IMPORT_LINE}
 * ends the import with its number.
 */
async function* readLines(
  file: string,
  progress: Progress,
): AsyncGenerator<{ line: string; last: boolean }> {
  const decoder = new TextDecoder();
  let pieces: string[] = [];
  let pending = 0;
  let number = 0;
  const tooLong = () =>
    new CliFailure(`${file}:${number + 1}: line longer than ${MAX_IMPORT_LINE} characters`);
  try {
    for await (const chunk of createReadStream(file)) {
      const bytes = chunk as Uint8Array;
      progress.read += bytes.length;
      const text = decoder.decode(bytes, { stream: true });
      let start = 0;
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
        if (pending + end - start > MAX_IMPORT_LINE) throw tooLong();
        pieces.push(text.slice(start, end));
        yield { line: pieces.join(""), last: false };
        number++;
        pieces = [];
        pending = 0;
        start = end + 1;
      }
      if (start < text.length) {
        pending += text.length - start;
        if (pending > MAX_IMPORT_LINE) throw tooLong();
        pieces.push(text.slice(start));
      }
    }
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    throw new CliFailure(`cannot read ${file}: ${errorText(error)}`);
  }
  const rest = pieces.join("") + decoder.decode();
  if (rest !== "") yield { line: rest, last: true };
}

/** The progress line of one file, on a terminal only. */
class Progress {
  read = 0;
  stored = 0;
  readonly #run: ArchiveRun;
  readonly #name: string;
  readonly #size: number;
  #shownAt = 0;
  #shown = false;

  constructor(run: ArchiveRun, file: string, size: number) {
    this.#run = run;
    this.#name = sanitizeForTerminal(file);
    this.#size = size;
  }

  /** Rewrites the line (at most every 250 ms), or clears it at the end. */
  async show(end: boolean): Promise<void> {
    const io = this.#run.io;
    if (!io.progress) return;
    if (end) {
      if (this.#shown) await io.stderr("\r\x1b[K");
      return;
    }
    const now = Date.now();
    if (now - this.#shownAt < PROGRESS_EVERY_MS) return;
    this.#shownAt = now;
    this.#shown = true;
    const percent = this.#size > 0 ? Math.floor((100 * this.read) / this.#size) : 100;
    await io.stderr(
      `\rdouyu: importing ${this.#name}: ${percent}%, ${this.stored} messages\x1b[K`,
    );
  }
}
