/**
 * Takes the README's screenshot of the overlay: `douyu overlay --demo` in
 * headless Chromium, over a dark backdrop standing in for a game (the page
 * itself is transparent), written to src/overlay/overlay-demo.png.
 *
 *   deno run -A scripts/screenshot_overlay.ts [out.png] [query]
 *
 * Needs CJK fonts to look right (Debian: fonts-noto-cjk fonts-noto-color-emoji).
 */
// deno-lint-ignore-file no-console
import { launch } from "../tests/browser/chromium.ts";

const out = Deno.args[0] ?? new URL("../src/overlay/overlay-demo.png", import.meta.url).pathname;
const query = Deno.args[1] ?? "?enter=1&fold=1";
const MOD = new URL("../mod.ts", import.meta.url).pathname;

const overlay = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", MOD, "overlay", "--demo", "--port", "0"],
  stdin: "null",
  stdout: "piped",
  stderr: "null",
}).spawn();
const reader = overlay.stdout.pipeThrough(new TextDecoderStream()).getReader();
let first = "";
while (!first.includes("\n")) first += (await reader.read()).value ?? "";
const url = /overlay: (\S+)/.exec(first)![1]!;
const browser = await launch({ width: 460, height: 620 });
try {
  const page = await browser.context.newPage();
  // Nothing leaves this machine (avatars are off; this is a guard).
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  // The backdrop comes in as a user stylesheet (the css parameter), answered here.
  const backdrop = "http://127.0.0.1:45678/backdrop.css";
  await page.route(backdrop, (route) =>
    route.fulfill({
      contentType: "text/css",
      body: "#overlay { background: radial-gradient(circle at 30% 20%, #3a4a6b, #151a26 70%); }",
    }));
  await page.goto(`${url}${query}&css=${encodeURIComponent(backdrop)}`);
  // Far enough into the sample for chat, gifts, a super chat (pinned) and a mute.
  await page.waitForTimeout(11_500);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  overlay.kill("SIGINT");
  await overlay.status;
  await reader.cancel().catch(() => {});
}
