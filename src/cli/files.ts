/**
 * The files a `douyu` command reads and writes (`--record`, `replay`,
 * `serve <file>`, `--rooms-file`), through `node:fs/promises`, which Deno,
 * Bun and Node all provide. Failures are one-line {@linkcode CliFailure}s,
 * a missing Deno permission included (`permissions.ts`).
 *
 * @module
 */

import { lstat, open, readFile, rm, stat } from "node:fs/promises";
import { errorText } from "../base/errors.ts";
import { parseRecording, type RecordLine } from "../protocol/record.ts";
import { CliFailure, type CliIO, say, writeAll } from "./io.ts";
import { needRead, needWrite } from "./permissions.ts";

/** A file open for writing text. */
export interface WritableFile {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating or truncating) `path` for writing; `what` names it in errors. */
export async function openForWriting(path: string, what: string): Promise<WritableFile> {
  needWrite(what, path);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "w");
  } catch (error) {
    throw new CliFailure(`cannot write ${what} ${path}: ${errorText(error)}`);
  }
  const encoder = new TextEncoder();
  return {
    async write(text) {
      try {
        await writeAll(
          encoder.encode(text),
          async (chunk) => (await handle.write(chunk)).bytesWritten,
        );
      } catch (error) {
        // A full disk, say: the one line names the file.
        throw new CliFailure(`cannot write ${what} ${path}: ${errorText(error)}`, { cause: error });
      }
    },
    close: () => handle.close(),
  };
}

/** Reads a text file; `what` names it in errors. */
export async function readText(path: string, what: string): Promise<string> {
  needRead(path, what);
  let bytes: Uint8Array;
  try {
    // Checked first: past the largest string a runtime holds, Deno's readFile throws where no
    // caller can catch it (a stack trace, not a line).
    const size = (await stat(path)).size;
    if (size > MAX_TEXT_FILE) {
      throw new Error(`${size} bytes, more than the ${MAX_TEXT_FILE} read whole`);
    }
    bytes = await readFile(path);
  } catch (error) {
    throw new CliFailure(`cannot read ${what} ${path}: ${errorText(error)}`);
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The largest file read whole (recordings to replay or serve, rooms files,
 * credentials): 256 MiB. A larger recording is imported into an archive
 * (`douyu archive --import`), which reads it line by line.
 */
export const MAX_TEXT_FILE = 256 * 1024 * 1024;

/** Reads a recording; a last line cut off (by a kill, a full disk) is skipped with a warning. */
export async function readRecording(path: string, io: CliIO): Promise<RecordLine[]> {
  const text = await readText(path, "recording");
  let incomplete: number | undefined;
  const lines = parseRecording(text, path, { onIncompleteLine: (line) => (incomplete = line) });
  if (incomplete !== undefined) {
    await say(io, `${path}:${incomplete}: last line is incomplete (cut off?); skipped`);
  }
  return lines;
}

/** The most rooms a `--rooms-file` may list: more is surely not a rooms file. */
const MAX_ROOMS_IN_FILE = 100_000;

/**
 * The rooms of a `--rooms-file`: one per line; blank lines and `#` comments
 * (whole lines, or after a room) are skipped.
 */
export async function readRoomsFile(path: string): Promise<string[]> {
  const rooms: string[] = [];
  for (const raw of (await readText(path, "rooms file")).split("\n")) {
    const room = raw.replace(/#.*/, "").trim();
    if (room === "") continue;
    if (rooms.length === MAX_ROOMS_IN_FILE) {
      throw new CliFailure(`${path}: more than ${MAX_ROOMS_IN_FILE} rooms`);
    }
    rooms.push(room);
  }
  return rooms;
}

/** Whether anything (a file, a link, a directory) is at `path`; `true` when that cannot be told. */
export async function existsAt(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ENOENT";
  }
}

/**
 * Removes a SQLite file this run created and then failed to use (it holds only
 * the tables), with its journal files: a failed run leaves nothing behind.
 */
export async function removeSqliteFile(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    await rm(path + suffix, { force: true }).catch(() => {});
  }
}
