/**
 * The screenshot of `douyu stats --html` in docs/statistics.md: a 6-hour
 * stream generated from the real capture, archived, its page made by the
 * command and shot by headless Chromium at 1280 px (`docs/statistics.png`).
 *
 * Run: deno run -A --node-modules-dir=none --lock=deno.dev.lock --frozen scripts/screenshot_stats.ts
 */
// deno-lint-ignore-file no-console
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Archive } from "../src/archive/archive.ts";
import { main } from "../src/cli/cli.ts";
import { loadSource } from "../tests/archive/corpus.ts";
import { pricedStream, streamStatuses } from "../tests/archive/stats_data.ts";
import { launch } from "../tests/browser/chromium.ts";

const OPTIONS = { messages: 60_000, start: Date.UTC(2024, 4, 1, 12), hours: 6, users: 3000 };
const OUT = new URL("../docs/statistics.png", import.meta.url).pathname;

const dir = await mkdtemp(join(tmpdir(), "douyu-stats-shot-"));
try {
  const db = join(dir, "a.db");
  const archive = await Archive.open(db);
  for (const status of streamStatuses(OPTIONS)) archive.writeStatus(status);
  for (const item of pricedStream(await loadSource(), OPTIONS)) archive.write(item);
  await archive.close();
  const html = join(dir, "stats.html");
  const io = {
    stdout: () => {},
    stderr: (text: string) => void Deno.stderr.write(new TextEncoder().encode(text)),
  };
  if (await main(["stats", "--db", db, "1001", "--html", html], io) !== 0) Deno.exit(1);
  const browser = await launch({ width: 1280, height: 900 });
  try {
    const page = await browser.context.newPage();
    await page.goto(`file://${html}`);
    await page.screenshot({ path: OUT, fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${OUT}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
