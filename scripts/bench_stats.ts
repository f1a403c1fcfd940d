/**
 * `douyu stats` on a big archive: a 6-hour stream of 1M messages generated
 * from the real capture (gifts priced, super chats, a gap, the stream going
 * offline and live again) is archived in SQLite, then, in alternating
 * rounds:
 *
 * - `--json` and `--html`, run in this process through the CLI's `main`
 *   (opening the archive included), for the whole stream and for a range
 *   that starts and ends inside hours (whose edge hours are read from the
 *   messages);
 * - the baseline: a full scan of the same messages (every one read back and
 *   counted), which is what statistics without roll-ups would cost.
 *
 * Medians are reported, each as a ratio to the scan's, with the absolute
 * figures beside them (the targets: 1 s for --json, 2 s for --html). The
 * scan's statistics must equal --json's, or the bench fails.
 *
 *   deno task bench:stats [--messages 1000000] [--hours 6] [--rounds 3]
 */
// deno-lint-ignore-file no-console
import { deepStrictEqual } from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { Archive } from "../src/archive/archive.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { main } from "../src/cli/cli.ts";
import { loadSource } from "../tests/archive/corpus.ts";
import { pricedStream, referenceStats, streamStatuses } from "../tests/archive/stats_data.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: "string", default: "1000000" },
    hours: { type: "string", default: "6" },
    rounds: { type: "string", default: "3" },
  },
});
const OPTIONS = {
  messages: Number(values.messages),
  hours: Number(values.hours),
  start: Date.UTC(2024, 4, 1, 13, 0, 0),
  users: 50_000,
};
const rounds = Number(values.rounds);
const ROOM = 1001;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs the CLI in this process; its stdout. */
async function cli(args: string[]): Promise<string> {
  let out = "";
  const io = {
    stdout: (text: string) => void (out += text),
    stderr: (text: string) => void process.stderr.write(text),
  };
  const code = await main(args, io);
  if (code !== 0) throw new Error(`douyu ${args.join(" ")}: exit ${code}`);
  return out;
}

const dir = await mkdtemp(join(tmpdir(), "douyu-bench-stats-"));
try {
  const db = join(dir, "a.db");
  let t = performance.now();
  {
    const archive = await Archive.open(db);
    for (const status of streamStatuses(OPTIONS)) archive.writeStatus(status);
    let n = 0;
    for (const item of pricedStream(await loadSource(), OPTIONS)) {
      const pending = archive.write(item);
      if (pending !== undefined) await pending;
      n++;
    }
    await archive.close();
    console.log(
      `archive: ${n} messages over ${OPTIONS.hours} h in ${
        ((performance.now() - t) / 1000).toFixed(1)
      } s, ${((await stat(db)).size / 1e6).toFixed(0)} MB`,
    );
  }
  const end = OPTIONS.start + OPTIONS.hours * 3_600_000;
  const since = new Date(OPTIONS.start + 17 * 60_000 + 31_000).toISOString();
  const until = new Date(end - 23 * 60_000 - 7_000).toISOString();
  const html = join(dir, "stats.html");
  const times: Record<string, number[]> = {
    scan: [],
    json: [],
    html: [],
    "json, range inside hours": [],
    "html, range inside hours": [],
  };
  for (let round = 0; round < rounds; round++) {
    // The baseline: every message read back and counted.
    t = performance.now();
    const archive = await Archive.open(db, { readOnly: true });
    const items: TimedMessage[] = [];
    for await (const item of archive.query({ room: ROOM })) items.push(item);
    await archive.close();
    const first = Math.floor(items[0]!.t / 60_000) * 60_000;
    const last = (Math.floor(items.at(-1)!.t / 60_000) + 1) * 60_000;
    const scanned = referenceStats(items, ROOM, first, last);
    times.scan!.push(performance.now() - t);
    items.length = 0;

    t = performance.now();
    const json = await cli(["stats", "--db", db, String(ROOM), "--json"]);
    times.json!.push(performance.now() - t);
    deepStrictEqual(JSON.parse(json), scanned, "--json differs from the full scan");

    t = performance.now();
    await cli(["stats", "--db", db, String(ROOM), "--html", html]);
    times.html!.push(performance.now() - t);

    const range = ["--since", since, "--until", until];
    t = performance.now();
    await cli(["stats", "--db", db, String(ROOM), "--json", ...range]);
    times["json, range inside hours"]!.push(performance.now() - t);
    t = performance.now();
    await cli(["stats", "--db", db, String(ROOM), "--html", html, ...range]);
    times["html, range inside hours"]!.push(performance.now() - t);
  }
  const scan = median(times.scan!);
  console.log(`\n${rounds} rounds, medians; ratio = time / full scan's time in the same run`);
  console.log("| what | ratio to the full scan | time | target |");
  console.log("|---|---|---|---|");
  for (const [what, xs] of Object.entries(times)) {
    const ms = median(xs);
    const target = what.startsWith("json") ? "1 s" : what.startsWith("html") ? "2 s" : "—";
    console.log(`| ${what} | ${(ms / scan).toFixed(4)} | ${ms.toFixed(0)} ms | ${target} |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
