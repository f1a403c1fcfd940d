/**
 * Takes the README's screenshots of the overlay: `douyu overlay --demo` in
 * headless Chromium, over a dark backdrop standing in for a game (the pages
 * themselves are transparent): the chat (src/overlay/overlay-demo.png), the
 * leaderboard (src/overlay/leaderboard-demo.png) and the goal bar
 * (src/overlay/goal-demo.png).
 *
 *   deno run -A scripts/screenshot_overlay.ts [out-dir] [chat query]
 *
 * Needs CJK fonts to look right (Debian: fonts-noto-cjk fonts-noto-color-emoji).
 */
// deno-lint-ignore-file no-console
import { launch, type Page } from "../tests/browser/chromium.ts";
import { startOverlay } from "../tests/browser/setup.ts";

const dir = Deno.args[0] ?? new URL("../src/overlay/", import.meta.url).pathname;
const query = Deno.args[1] ?? "?enter=1&fold=1";

const overlay = await startOverlay(["--demo", "--port", "0"]);
const url = overlay.url;
const started = Date.now();
const browser = await launch({ width: 460, height: 620 });
// The backdrop comes in as a user stylesheet (the css parameter), answered here.
const backdrop = "http://127.0.0.1:45678/backdrop.css";
const css = `&css=${encodeURIComponent(backdrop)}`;

async function open(path: string, size: { width: number; height: number }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(size);
  // Nothing leaves this machine (the demo's images come from its local stand-in).
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  await page.route(backdrop, (route) =>
    route.fulfill({
      contentType: "text/css",
      body:
        "body { background: radial-gradient(circle at 30% 20%, #3a4a6b, #151a26 70%) !important; }",
    }));
  await page.goto(`${url}${path}${css}`);
  return page;
}

const at = (ms: number) =>
  new Promise((resolve) => setTimeout(resolve, ms - (Date.now() - started)));
try {
  const chat = await open(query, { width: 460, height: 620 });
  const board = await open("leaderboard?top=5", { width: 360, height: 300 });
  const goal = await open("goal?target=300&label=新皮肤基金", { width: 420, height: 110 });
  // Far enough into the sample for chat, gifts of each tier, a super chat (pinned) and a mute.
  await at(11_500);
  await chat.screenshot({ path: `${dir}/overlay-demo.png` });
  // The widgets once the demo's first pass has given them something to show.
  await at(19_000);
  await board.screenshot({ path: `${dir}/leaderboard-demo.png` });
  await goal.screenshot({ path: `${dir}/goal-demo.png` });
  console.log(`wrote overlay-demo.png, leaderboard-demo.png and goal-demo.png in ${dir}`);
} finally {
  await browser.close();
  await overlay.stop();
}
