/**
 * The `/leaderboard` and `/goal` widgets in headless Chromium, against
 * `douyu overlay` as a real process fed by a mock room in another process:
 * live updates (measured from the gift's send to the page), `top`, `room`,
 * `since`, `lang`, `css`, the DOM contract, text set as text, a transparent
 * page.
 *
 * Deno only, run by `deno task test:browser`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { Page } from "./chromium.ts";
import { browserTest, problemsOf, ROOM, WAIT, watchPage, withSetup } from "./setup.ts";

function gift(uid: number, nn: string, gfid: number, gfcnt = 1): Record<string, unknown> {
  return { type: "dgb", rid: ROOM, uid, nn, gfid, gfcnt, hits: 1, level: 10 };
}

/** Records every totals event the page receives, with the page's clock. */
async function recordTotals(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: { at: number; total: number }[] = [];
    (globalThis as unknown as { __totals: typeof seen }).__totals = seen;
    addEventListener("douyu:totals", (event) => {
      seen.push({ at: Date.now(), total: (event as CustomEvent).detail.total });
    });
  });
}

async function openWidget(
  context: { newPage(): Promise<Page> },
  url: string,
): Promise<Page> {
  const page = await context.newPage();
  await watchPage(page);
  await recordTotals(page);
  await page.goto(url);
  await page.waitForFunction(
    () => document.getElementById("widget")?.getAttribute("data-connection") === "open",
    null,
    { timeout: WAIT },
  );
  return page;
}

browserTest(
  "leaderboard: the top givers, updated live after a gift (300 ms p95 the target); top, room, text as text",
  async () => {
    await withSetup(async ({ room, browser, overlay }) => {
      const board = await openWidget(
        browser.context,
        `${overlay.url}leaderboard?top=3&room=${ROOM}`,
      );
      const evil = "<img src=x onerror=alert(1)>";
      // 24 gifts, one every 200 ms: rockets (¥500) and glow sticks (¥0.1), from five givers.
      const givers = [[1, "Ann"], [2, "Bo"], [3, evil], [4, "Di"], [5, "Eve"]] as const;
      const sent: { at: number; total: number }[] = [];
      let total = 0;
      for (let i = 0; i < 24; i++) {
        const [uid, nn] = givers[(i * 7) % 5]!;
        const rocket = uid === 2 || uid === 3 || (uid === 4 && i % 3 === 0);
        total = Math.round((total + (rocket ? 500 : 0.1)) * 100) / 100;
        const at = Date.now();
        await room.run({ send: [gift(uid, nn, rocket ? 20004 : 824)] });
        sent.push({ at, total });
        await board.waitForTimeout(200);
      }
      await board.waitForFunction(
        (wanted) =>
          (globalThis as unknown as { __totals: { total: number }[] }).__totals.some((t) =>
            t.total === wanted
          ),
        total,
        { timeout: WAIT },
      );
      const seen = await board.evaluate(() =>
        (globalThis as unknown as { __totals: { at: number; total: number }[] }).__totals
      );
      const latencies = sent.map(({ at, total }) => {
        const shown = seen.find((event) => event.total >= total - 1e-9 && event.at >= at);
        return shown === undefined ? Infinity : shown.at - at;
      }).sort((a, b) => a - b);
      // The target is 300 ms at p95; the bound asserted here leaves a loaded machine its slack:
      // a gift is sent on at once (or within the 100 ms that coalesce a flood).
      const p95 = latencies[Math.floor(latencies.length * 0.95)]!;
      ok(p95 < 1000, `gift → widget: ${latencies.join(", ")} ms`);
      const rows = await board.$$eval("#board > li", (nodes) =>
        nodes.map((node) => ({
          type: node.getAttribute("data-type"),
          id: node.getAttribute("data-id"),
          rank: node.querySelector(".rank")?.textContent,
          name: node.querySelector(".name")?.textContent,
          text: node.querySelector(".text")?.textContent,
        })));
      strictEqual(rows.length, 3);
      deepStrictEqual(rows.map((row) => row.type), ["gifter", "gifter", "gifter"]);
      deepStrictEqual(rows.map((row) => row.rank), ["1", "2", "3"]);
      ok(rows.some((row) => row.name === evil), JSON.stringify(rows)); // the name, as text
      strictEqual(await board.locator("#board img").count(), 0);
      const values = rows.map((row) => Number(row.text!.slice(1)));
      deepStrictEqual(values, [...values].sort((a, b) => b - a));
      // Another room's widget counts nothing of this room.
      const other = await openWidget(browser.context, `${overlay.url}leaderboard?room=1`);
      await other.waitForTimeout(300);
      strictEqual(await other.locator("#board > li").count(), 0);
      const transparent = await board.evaluate(() =>
        getComputedStyle(document.body).backgroundColor
      );
      strictEqual(transparent, "rgba(0, 0, 0, 0)");
      deepStrictEqual(problemsOf(board), []);
    });
  },
);

browserTest(
  "goal: the bar fills as gifts come and says when the goal is reached; label, lang, css",
  async () => {
    await withSetup(async ({ room, browser, overlay, assets }) => {
      const label = "<b>新皮肤</b>";
      const page = await openWidget(
        browser.context,
        `${overlay.url}goal?target=600&label=${encodeURIComponent(label)}&lang=en&css=${
          encodeURIComponent(`${assets.base}/user.css`)
        }`,
      );
      const state = () =>
        page.evaluate(() => {
          const goal = document.getElementById("goal")!;
          return {
            type: goal.getAttribute("data-type"),
            name: goal.querySelector(".name")!.textContent,
            text: goal.querySelector(".text")!.textContent,
            fill: (goal.querySelector(".fill") as HTMLElement).style.width,
            reached: goal.classList.contains("reached"),
            done: (goal.querySelector(".done") as HTMLElement).hidden
              ? null
              : goal.querySelector(".done")!.textContent,
          };
        });
      await room.run({ send: [gift(1, "Ann", 20004)] });
      await page.waitForFunction(
        () => document.querySelector("#goal .text")?.textContent === "¥500 / ¥600",
        null,
        { timeout: WAIT },
      );
      deepStrictEqual(await state(), {
        type: "goal",
        name: label,
        text: "¥500 / ¥600",
        fill: "83.33%",
        reached: false,
        done: null,
      });
      await room.run({ send: [gift(2, "Bo", 20004)] });
      await page.waitForSelector("#goal.reached", { timeout: WAIT });
      deepStrictEqual(await state(), {
        type: "goal",
        name: label,
        text: "¥1000 / ¥600",
        fill: "100%",
        reached: true,
        done: "Goal reached!",
      });
      strictEqual(await page.evaluate(() => document.documentElement.lang), "en");
      // The user stylesheet (css=) is loaded after the built-in one.
      const last = await page.evaluate(() =>
        [...document.querySelectorAll('link[rel="stylesheet"]')].at(-1)?.getAttribute("href")
      );
      strictEqual(last, `${assets.base}/user.css`);
      deepStrictEqual(problemsOf(page), []);
    });
  },
);
