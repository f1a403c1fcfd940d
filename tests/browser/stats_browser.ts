/**
 * The page of `douyu stats --html` in headless Chromium, made by the real
 * command from an archive with hostile names: no console error, no request
 * leaving the page, every number on it equal to `--json`'s, names shown as
 * text, no horizontal scroll at 1280 px, and a print on A4 whose content
 * fits the page's width.
 *
 * Deno only, run by `deno task test:browser`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Archive } from "../../src/archive/archive.ts";
import { parseMessage } from "../../src/protocol/messages.ts";
import { run } from "../cli_helpers.ts";
import { loadSource } from "../archive/corpus.ts";
import { pricedStream, streamStatuses } from "../archive/stats_data.ts";
import { withDir } from "../archive/helpers.ts";
import { launch, type Page } from "./chromium.ts";
import { browserTest } from "./setup.ts";

const START = Date.UTC(2024, 4, 1, 19, 42, 7);
const OPTIONS = { messages: 4000, start: START, hours: 4 };
const EVIL = "<img src=x onerror=alert(1)>\u202e";

/** An archive with a stream, hostile names among the top chatters and gifters; its page and JSON. */
async function makeReport(dir: string): Promise<{ html: string; json: Record<string, unknown> }> {
  const items = [...pricedStream(await loadSource(), OPTIONS)];
  for (let i = 0; i < 40; i++) {
    items.push({
      t: START + 60_000 + i * 1000,
      room: 1001,
      message: parseMessage(`type@=chatmsg/rid@=1001/uid@=66/nn@=${EVIL}/txt@=hi/cid@=e${i}/`),
    });
  }
  items.sort((a, b) => a.t - b.t);
  const db = join(dir, "a.db");
  const archive = await Archive.open(db);
  try {
    for (const status of streamStatuses(OPTIONS)) archive.writeStatus(status);
    for (const item of items) archive.write(item);
  } finally {
    await archive.close();
  }
  const html = join(dir, "stats.html");
  const made = await run(["stats", "--db", db, "1001", "--html", html]);
  strictEqual(made.code, 0, made.stderr);
  const json = await run(["stats", "--db", db, "1001", "--json"]);
  strictEqual(json.code, 0, json.stderr);
  return { html, json: JSON.parse(json.stdout) };
}

/** Opens the page, recording console errors, page errors and every request but the page's own. */
async function open(page: Page, file: string): Promise<string[]> {
  const problems: string[] = [];
  const url = `file://${file}`;
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    problems.push(`request: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(url);
  await page.waitForLoadState("load");
  return problems;
}

/** A value of the JSON at a path such as `topGifters.0.value`. */
function at(json: unknown, path: string): unknown {
  let value: unknown = json;
  for (const key of path.split(".")) {
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

browserTest(
  "stats page: every number equals --json's; no error, no request; names as text; 1280 px and A4",
  async () => {
    await withDir(async (dir) => {
      const { html, json } = await makeReport(dir);
      const browser = await launch({ width: 1280, height: 900 });
      try {
        const page = await browser.context.newPage();
        const problems = await open(page, html);
        const numbers = await page.$$eval("[data-k]", (nodes) =>
          nodes.map((node) => ({
            k: node.getAttribute("data-k") ?? "",
            text: node.textContent ?? "",
            datetime: node.getAttribute("datetime"),
          })));
        ok(numbers.length >= 60, `only ${numbers.length} numbers on the page`);
        for (const { k, text, datetime } of numbers) {
          const wanted = at(json, k);
          ok(typeof wanted === "number", `${k} is not a number of --json`);
          if (datetime !== null) {
            strictEqual(datetime, new Date(wanted).toISOString(), k);
            continue;
          }
          strictEqual(Number(text.replace(/^¥/, "").replaceAll(",", "")), wanted, `${k}: ${text}`);
        }
        // Each of the top gifters and chatters, each gift, and the totals are on the page.
        const keys = new Set(numbers.map((n) => n.k));
        const stats = json as {
          topGifters: unknown[];
          topChatters: unknown[];
          revenue: { byGift: unknown[] };
        };
        for (let i = 0; i < stats.topGifters.length; i++) ok(keys.has(`topGifters.${i}.value`));
        for (let i = 0; i < stats.topChatters.length; i++) ok(keys.has(`topChatters.${i}.count`));
        for (let i = 0; i < stats.revenue.byGift.length; i++) {
          ok(keys.has(`revenue.byGift.${i}.value`));
        }
        for (const k of ["revenue.total", "chatters", "superChats.count", "superChats.value"]) {
          ok(keys.has(k), k);
        }
        ok(stats.topGifters.length > 3 && stats.revenue.byGift.length > 2);
        // The hostile name is text among the top chatters, not an element.
        strictEqual(await page.locator("img").count(), 0);
        const names = await page.$$eval("td bdi", (nodes) => nodes.map((node) => node.textContent));
        // As text, its invisible character shown as an escape (as the terminal shows it).
        const shown = "<img src=x onerror=alert(1)><U+202E>";
        ok(names.includes(shown), `the name is not shown as text: ${JSON.stringify(names)}`);
        // Charts with the shaded periods: live, offline and the gap.
        for (const kind of ["live", "offline", "gap"]) {
          ok(await page.locator(`svg rect.p-${kind}`).count() >= 2, kind);
        }
        // Readable at 1280 px: nothing wider than the window.
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        ok(width <= 1280, `the page is ${width} px wide`);
        // A4, printed: the content fits the printable width (210 mm less 2 × 12 mm at 96 dpi).
        await page.setViewportSize({ width: 703, height: 1000 });
        await page.emulateMedia({ media: "print" });
        const printed = await page.evaluate(() => document.documentElement.scrollWidth);
        ok(printed <= 703, `printed, the page is ${printed} px wide`);
        const pdf = await page.pdf({ format: "A4", printBackground: true });
        ok(pdf.byteLength > 10_000);
        deepStrictEqual(problems, []);
      } finally {
        await browser.close();
      }
    });
  },
);

// The page is plain HTML: nothing in it runs.
browserTest("stats page: no script, and a policy that allows no request", async () => {
  await withDir(async (dir) => {
    const { html } = await makeReport(dir);
    const text = await readFile(html, "utf8");
    ok(!/<script/i.test(text));
    ok(text.includes(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`));
  });
});
