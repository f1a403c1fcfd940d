/**
 * The exports read by consumers this project did not write: Debian's
 * ffmpeg decodes the ASS and SRT files, Python's standard XML parser
 * (expat, strict about well-formedness) reads the danmaku XML, and
 * Python's csv module (RFC 4180 dialect) reads the CSV. Every chat must
 * come back, with its text and its time within 50 ms.
 *
 * Run by `deno task test:export` (named so that `deno task test` and
 * `bun test` do not pick it up), which fails (never skips) when ffmpeg or
 * python3 is missing.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sanitizeForTerminal } from "../../src/base/sanitize.ts";
import { collectExport, type ExportSummary } from "../../src/archive/export/common.ts";
import { CSV_COLUMNS } from "../../src/archive/export/csv.ts";
import { exportAs, type ExportFormat } from "../../src/archive/export/mod.ts";
import { isStatus, type TimedItem, type TimedMessage } from "../../src/archive/timed.ts";
import { superChatOf } from "../../src/protocol/messages.ts";
import { exportItems, isChatItem } from "../export_data.ts";
import { test } from "../harness.ts";

/** The most a chat's time may move in a format and its consumer, ms. */
const TOLERANCE_MS = 50;

/** Runs a program; its stdout, or a failure that says what is missing. */
function run(program: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
      reject(
        new Error(
          missing
            ? `${program} is not installed: the export consumer tests need it (apt-get install ${
              program === "ffmpeg" ? "ffmpeg" : "python3"
            })`
            : `${program} failed: ${stderr || error.message}`,
        ),
      );
    });
  });
}

/** Exports the test data to a file; the path, the items and the summary. */
async function exported(
  dir: string,
  format: ExportFormat,
): Promise<{ path: string; items: TimedItem[]; start: number; summary: ExportSummary }> {
  const items = await exportItems();
  // Time zero before the first item, as when a video started before the chat was joined.
  const start = items[0]!.t - 2500;
  const { text, summary } = await collectExport(exportAs(format, items, { start }));
  const path = join(dir, `out.${format}`);
  await writeFile(path, text);
  return { path, items, start, summary };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "douyu-export-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Text as the exports clean it: what the terminal shows, without U+FFFE and U+FFFF. */
function cleaned(text: string, reveal = false): string {
  return sanitizeForTerminal(text, { reveal }).replace(
    /[\uFFFE\uFFFF]/g,
    (char) => reveal ? `<U+${char.charCodeAt(0).toString(16).toUpperCase()}>` : "",
  );
}

/** The sender, text and price of a chat or super chat. */
function chatParts(item: TimedMessage): { name: string; text: string; price?: number } {
  const sc = superChatOf(item.message);
  if (sc !== undefined) return { name: sc.name, text: sc.text, price: sc.price };
  return { name: String(item.message.nn ?? ""), text: String(item.message.txt ?? "") };
}

/** What ffmpeg reads in a subtitle file, written back as SRT. */
function decodeToSrt(path: string): Promise<string> {
  return run("ffmpeg", ["-nostdin", "-loglevel", "error", "-i", path, "-f", "srt", "-"]);
}

interface Cue {
  start: number;
  text: string;
}

/** The cues of the SRT that ffmpeg writes. */
function readSrt(srt: string): Cue[] {
  const blocks = srt.replace(/\r\n/g, "\n").trim().split(/\n\n+/);
  return blocks.map((block) => {
    const lines = block.split("\n");
    const time = lines[1]!.match(/^(\d+):(\d\d):(\d\d),(\d{3}) --> /);
    ok(time, `no time line in ${JSON.stringify(block)}`);
    const [, h, m, s, ms] = time.map(Number);
    return { start: ((h! * 60 + m!) * 60 + s!) * 1000 + ms!, text: lines.slice(2).join("\n") };
  });
}

/** Pairs each expected chat with the cue at its place, checking text and time. */
function checkCues(
  cues: Cue[],
  expected: { offset: number; text: string }[],
  format: string,
): void {
  const chats = cues.filter((cue) => !cue.text.includes("[gap]"));
  const notices = cues.filter((cue) => cue.text.includes("[gap]"));
  strictEqual(chats.length, expected.length, `${format}: one cue per chat`);
  ok(notices.length >= 1, `${format}: the gap is marked`);
  expected.forEach((want, i) => {
    const got = chats[i]!;
    ok(
      Math.abs(got.start - want.offset) <= TOLERANCE_MS,
      `${format}: chat ${i} at ${got.start} ms, expected ${want.offset}`,
    );
    strictEqual(got.text.trimEnd(), want.text.trimEnd(), `${format}: chat ${i}`);
  });
}

test("export consumers: ffmpeg decodes the ASS danmaku, one cue per chat, each within 50 ms", async () => {
  await withDir(async (dir) => {
    const { path, items, start, summary } = await exported(dir, "ass");
    strictEqual(summary.hidden, 0, "the test data fits on screen");
    const srt = await decodeToSrt(path);
    // ffmpeg wraps each cue in the style's font (and a colour), after the alignment tag.
    const cues = readSrt(srt).map((cue) => ({
      start: cue.start,
      text: cue.text
        .replace(/^<font face="[^"]*" size="\d+"( color="#[0-9a-f]{6}")?>(\{\\an\d\})?/, "")
        .replace(/<\/font>$/, "")
        .replace(/^<font color="#[0-9a-f]{6}">(.*)<\/font>$/s, "$1"),
    }));
    const fullwidth = (text: string) =>
      text.replaceAll("\\", "＼").replaceAll("{", "｛").replaceAll("}", "｝");
    const expected = items.filter(isChatItem).map((item) => {
      const { name, text, price } = chatParts(item);
      const shown = fullwidth(cleaned(text));
      return {
        offset: item.t - start,
        text: price === undefined ? shown : `¥${price} ${fullwidth(cleaned(name, true))}: ${shown}`,
      };
    });
    checkCues(cues, expected, "ass");
  });
});

test("export consumers: ffmpeg decodes the SRT, one cue per chat, each within 50 ms", async () => {
  await withDir(async (dir) => {
    const { path, items, start } = await exported(dir, "srt");
    const srt = await decodeToSrt(path);
    const fullwidth = (text: string) =>
      text.replaceAll("<", "＜").replaceAll(">", "＞").replaceAll("\\", "＼")
        .replaceAll("{", "｛").replaceAll("}", "｝");
    const expected = items.filter(isChatItem).map((item) => {
      const { name, text, price } = chatParts(item);
      const line = `${fullwidth(cleaned(name, true))}: ${fullwidth(cleaned(text))}`;
      return { offset: item.t - start, text: price === undefined ? line : `¥${price} ${line}` };
    });
    checkCues(readSrt(srt), expected, "srt");
  });
});

/** Reads the danmaku XML with Python's standard parser; the elements as JSON. */
const READ_XML = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = {"root": root.tag, "header": [e.tag for e in root][:7], "elements": []}
for e in root:
    if e.tag in ("d", "sc", "gift"):
        out["elements"].append({"tag": e.tag, "attrs": dict(e.attrib), "text": e.text or ""})
print(json.dumps(out))
`;

interface XmlElement {
  tag: string;
  attrs: Record<string, string>;
  text: string;
}

test("export consumers: Python's XML parser reads the danmaku XML; every chat, within 50 ms", async () => {
  await withDir(async (dir) => {
    const { path, items, start } = await exported(dir, "xml");
    const parsed = JSON.parse(await run("python3", ["-c", READ_XML, path])) as {
      root: string;
      header: string[];
      elements: XmlElement[];
    };
    strictEqual(parsed.root, "i");
    deepStrictEqual(parsed.header, [
      "chatserver",
      "chatid",
      "mission",
      "maxlimit",
      "state",
      "real_name",
      "source",
    ]);
    const chats = items.filter(isChatItem);
    const shown = parsed.elements.filter((element) => element.tag !== "gift");
    strictEqual(shown.length, chats.length, "one <d> or <sc> per chat");
    chats.forEach((item, i) => {
      const element = shown[i]!;
      const { name, text, price } = chatParts(item);
      strictEqual(element.text, cleaned(text), `chat ${i}`);
      strictEqual(element.attrs.user, cleaned(name, true));
      const seconds = price === undefined
        ? Number(element.attrs.p!.split(",")[0])
        : Number(element.attrs.ts);
      ok(Math.abs(seconds * 1000 - (item.t - start)) <= TOLERANCE_MS, `chat ${i} at ${seconds} s`);
      if (price === undefined) {
        const p = element.attrs.p!.split(",");
        strictEqual(p.length, 8);
        strictEqual(p[4], String(item.t));
      } else {
        strictEqual(element.tag, "sc");
        strictEqual(Number(element.attrs.price), price);
      }
    });
    const gifts = items.filter((item) =>
      !isStatus(item) && ["dgb", "spbc", "gdp"].includes(item.message.type)
    );
    strictEqual(parsed.elements.filter((element) => element.tag === "gift").length, gifts.length);
  });
});

/** Reads the CSV with Python's csv module; the rows as JSON. */
const READ_CSV = `
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    print(json.dumps(list(csv.reader(f, strict=True))))
`;

test("export consumers: Python's csv module reads the CSV; a row per message and status", async () => {
  await withDir(async (dir) => {
    const { path, items } = await exported(dir, "csv");
    const rows = JSON.parse(await run("python3", ["-c", READ_CSV, path])) as string[][];
    deepStrictEqual(rows[0], [...CSV_COLUMNS]);
    strictEqual(rows.length, items.length + 1);
    items.forEach((item, i) => {
      const row = rows[i + 1]!;
      strictEqual(row.length, CSV_COLUMNS.length);
      strictEqual(row[0], new Date(item.t).toISOString());
      if (isStatus(item)) return strictEqual(row[3], "_status");
      strictEqual(row[3], item.message.type);
      if (isChatItem(item)) {
        const text = cleaned(chatParts(item).text);
        strictEqual(row[7], /^[=+\-@]/.test(text) ? `'${text}` : text);
      }
    });
  });
});
