/**
 * The overlay in a real browser: headless Chromium (Debian's) driven by
 * playwright-core, against `douyu overlay` running as a real process, fed by
 * a mock room in another process (tests/peers/overlay_room.ts).
 *
 * Deno only, run by name (`deno task test:browser`): the file name does not
 * end in `_test`, so `deno task test` does not collect it, and Bun ignores
 * this folder. A missing Chromium fails the suite; it never skips.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { launch } from "./chromium.ts";
import {
  browserTest,
  chat,
  lines,
  problemsOf,
  ROOM,
  startAssets,
  startOverlay,
  startRoom,
  until,
  WAIT,
  waitForText,
  watchPage,
  withSetup,
} from "./setup.ts";

// ---------------------------------------------------------------------------
// The tests

browserTest(
  "chat, gift, super chat, entry and live elements appear with the right text",
  async () => {
    await withSetup(async ({ room, open }) => {
      const page = await open("?enter=1&avatars=0");
      await room.run({
        send: [
          { type: "rss", rid: ROOM, ss: 1, ivl: 0 },
          { type: "uenter", rid: ROOM, uid: 5, nn: "Eve", level: 3 },
          chat("c1", "晚上好", { col: 2, bnn: "鱼塘", bl: 8 }),
          { type: "dgb", rid: ROOM, uid: 2, nn: "Bo", level: 20, gfid: 20004, gfcnt: 2, hits: 1 },
          {
            type: "comm_chatmsg",
            rid: ROOM,
            btype: "voiceDanmu",
            cprice: 5000,
            cet: 60,
            chatmsg: { nn: "Dee", uid: 4, level: 44, txt: "加油！" },
          },
          chat("c2", "done"),
        ],
      });
      await waitForText(page, "done");
      const shown = await lines(page);
      deepStrictEqual(shown.map((line) => line.type), [
        "live",
        "enter",
        "chat",
        "gift",
        "superchat",
        "chat",
      ]);
      deepStrictEqual(shown[2], { type: "chat", id: "c1", name: "Ann", text: "晚上好" });
      strictEqual(shown[3]!.name, "Bo");
      strictEqual(shown[3]!.text, "火箭 ×2 ¥1000"); // named and priced by the (local) catalogue
      deepStrictEqual([shown[4]!.name, shown[4]!.text], ["Dee", "加油！"]);
      strictEqual(shown[1]!.name, "Eve");
      ok(shown[0]!.text.includes(String(ROOM)), shown[0]!.text);
      // Chat colour, level and badge; super chat tier and price; the pinned chip.
      const details = await page.evaluate(() => {
        const chat = document.querySelector('[data-id="c1"]') as HTMLElement;
        const sc = document.querySelector('#messages [data-type="superchat"]') as HTMLElement;
        const pin = document.querySelector("#pinned .pin") as HTMLElement | null;
        return {
          color: getComputedStyle(chat.querySelector(".text")!).color,
          picked: chat.getAttribute("data-color"),
          level: chat.querySelector(".level")?.textContent,
          badge: chat.querySelector(".badge")?.textContent,
          tier: sc.classList.contains("tier-3"),
          price: sc.querySelector(".price")?.textContent,
          pin: pin !== null && pin.getAttribute("data-pin") === sc.dataset.id
            ? pin.textContent
            : null,
          live: document.querySelector('[data-type="live"]')?.getAttribute("data-state"),
          status: (document.getElementById("status") as HTMLElement).hidden,
        };
      });
      deepStrictEqual(details, {
        color: "rgb(109, 177, 245)", // the user's blue, lightened until it reads well
        picked: "#1e87f0",
        level: "12",
        badge: "鱼塘 8",
        tier: true,
        price: "¥50",
        pin: "Dee¥50",
        live: "live",
        status: true,
      });
      deepStrictEqual(problemsOf(page), []);
    });
  },
);

browserTest(
  "avatars and gift icons load when asked, and nothing at all with avatars=0&icons=0",
  async () => {
    await withSetup(async ({ room, open, assets }) => {
      const withImages = await open("");
      // Avatars live on Douyu's image host: answered here by a stand-in, never fetched.
      const avatars: string[] = [];
      await withImages.unroute(/^https?:\/\/(?!127\.0\.0\.1[:/])/);
      await withImages.route(/^https:\/\/apic\.douyucdn\.cn\//, (route) => {
        avatars.push(route.request().url());
        return route.fulfill({ status: 404 });
      });
      const without = await open("?avatars=0&icons=0");
      const requests: string[] = [];
      without.on("request", (request) => requests.push(request.url()));
      await room.run({
        send: [
          chat("a1", "with avatar", { ic: "avatar_v3/202404/abc" }),
          chat("a2", "absolute avatar", { ic: "https://evil.example/track.png" }),
          { type: "dgb", rid: ROOM, uid: 2, nn: "Bo", gfid: 824, gfcnt: 1, hits: 1 },
          chat("a3", "end"),
        ],
      });
      await waitForText(withImages, "end");
      await waitForText(without, "end");
      await until(() => avatars.length > 0, "the avatar request");
      await withImages.waitForTimeout(300);
      deepStrictEqual(avatars, ["https://apic.douyucdn.cn/upload/avatar_v3/202404/abc_small.jpg"]);
      strictEqual(await withImages.locator(".gift .icon").count(), 1);
      ok(assets.requests.includes("/icons/glow.png"), assets.requests.join(" "));
      strictEqual(await without.locator("#messages img").count(), 0);
      deepStrictEqual(requests.filter((url) => !url.startsWith("http://127.0.0.1:")), []);
      deepStrictEqual(problemsOf(without), []);
    });
  },
);

browserTest("max holds under a 2,000-message burst, spread over frames", async () => {
  await withSetup(async ({ room, open }) => {
    const page = await open("?max=30&avatars=0");
    const answer = await room.run<{ sent: number }>({ burst: { count: 2000, prefix: "b" } });
    strictEqual(answer.sent, 2000);
    await waitForText(page, "b2000");
    await page.waitForTimeout(500); // anything still queued would show now
    const shown = await lines(page);
    strictEqual(shown.length, 30);
    deepStrictEqual(
      shown.map((line) => line.text),
      Array.from({ length: 30 }, (_, i) => `b${1971 + i}`),
    );
    const stats = await page.evaluate(() => {
      const w = window as unknown as Record<string, number>;
      return { maxLines: w.__maxLines, maxAdded: w.__maxAdded, batches: w.__batches };
    });
    ok(stats.maxLines <= 30, `the page held ${stats.maxLines} lines`);
    // Smoothed: no frame shows the whole lot at once.
    ok(stats.maxAdded <= 20, `${stats.maxAdded} lines in one frame`);
    ok(stats.batches >= 5, `only ${stats.batches} frames`);
    deepStrictEqual(problemsOf(page), []);
  });
});

browserTest("fade removes lines after fade seconds", async () => {
  await withSetup(async ({ room, open }) => {
    const page = await open("?fade=1&avatars=0");
    const kept = await open("?avatars=0");
    await room.run({ send: [chat("f1", "fading away")] });
    await waitForText(page, "fading away");
    const shownAt = Date.now();
    await page.waitForSelector('[data-id="f1"].fading', { timeout: WAIT });
    await page.waitForSelector('[data-id="f1"]', { state: "detached", timeout: WAIT });
    const gone = Date.now() - shownAt;
    ok(gone >= 900, `gone after ${gone} ms`);
    // Without fade, the line stays.
    await waitForText(kept, "fading away");
    strictEqual(await kept.locator('[data-id="f1"]').count(), 1);
  });
});

browserTest("filters, minGift, enter and fold apply per page, on the server", async () => {
  await withSetup(async ({ room, open }) => {
    const filtered = await open(
      "?avatars=0&minGift=1&block=加群&blockUsers=spammer,42&minLevel=5&enter=0&fold=1",
    );
    const everything = await open("?avatars=0&enter=1");
    await room.run({
      send: [
        chat("k1", "hello", { uid: 10, nn: "Ann", level: 12 }),
        chat("d1", "low level", { uid: 11, nn: "Newbie", level: 2 }),
        chat("d2", "快来加群", { uid: 12, nn: "Ad", level: 30 }),
        chat("d3", "by name", { uid: 13, nn: "spammer", level: 30 }),
        chat("d4", "by uid", { uid: 42, nn: "Someone", level: 30 }),
        { type: "uenter", rid: ROOM, uid: 14, nn: "Visitor", level: 30 },
        { type: "dgb", rid: ROOM, uid: 15, nn: "Cheap", gfid: 824, gfcnt: 1, hits: 1 },
        { type: "dgb", rid: ROOM, uid: 16, nn: "Rich", gfid: 20004, gfcnt: 1, hits: 1 },
        {
          type: "comm_chatmsg",
          rid: ROOM,
          btype: "voiceDanmu",
          cprice: 3000,
          cet: 30,
          chatmsg: { nn: "Dee", uid: 17, level: 1, txt: "sc" },
        },
        chat("r1", "666", { uid: 20, nn: "A" }),
        chat("r2", "６６６", { uid: 21, nn: "B" }),
        chat("r3", "666 ", { uid: 22, nn: "C" }),
        chat("k2", "the end", { uid: 23, nn: "Zed" }),
      ],
    });
    await waitForText(filtered, "the end");
    await waitForText(everything, "the end");
    const shown = await lines(filtered);
    deepStrictEqual(shown.map((line) => line.id), ["k1", shown[1]!.id, shown[2]!.id, "r1", "k2"]);
    deepStrictEqual(shown.map((line) => line.type), ["chat", "gift", "superchat", "chat", "chat"]);
    strictEqual(shown[1]!.name, "Rich");
    strictEqual(await filtered.locator('[data-id="r1"] .repeat').textContent(), "×3");
    // The other page, without parameters, saw everything (entries too, no folding).
    const all = await lines(everything);
    strictEqual(all.length, 13);
    strictEqual(all.filter((line) => line.type === "enter").length, 1);
  });
});

browserTest("a nickname made of HTML stays text, and alert never runs", async () => {
  await withSetup(async ({ room, open }) => {
    const page = await open("?avatars=0");
    await page.evaluate(() => {
      (window as unknown as Record<string, unknown>).__alerted = false;
      globalThis.alert = () => ((window as unknown as Record<string, unknown>).__alerted = true);
    });
    const evil = "<img src=x onerror=alert(1)>";
    await room.run({
      send: [
        chat("x1", "<script>alert(2)</script><b>bold</b>", { nn: evil }),
        {
          type: "comm_chatmsg",
          rid: ROOM,
          btype: "voiceDanmu",
          cprice: 1000,
          cet: 30,
          chatmsg: { nn: evil, uid: 4, txt: "<svg onload=alert(3)>" },
        },
        { type: "dgb", rid: ROOM, uid: 2, nn: evil, gfid: 1, gfn: "<i>x</i>", gfcnt: 1 },
      ],
    });
    await page.waitForSelector('#messages [data-type="gift"]', { timeout: WAIT });
    await page.waitForTimeout(500);
    const shown = await lines(page);
    strictEqual(shown.length, 3);
    for (const line of shown) strictEqual(line.name, evil);
    strictEqual(shown[0]!.text, "<script>alert(2)</script><b>bold</b>");
    strictEqual(shown[1]!.text, "<svg onload=alert(3)>");
    ok(shown[2]!.text.startsWith("<i>x</i>"), shown[2]!.text);
    strictEqual(
      await page.locator("#overlay img, #overlay script, #overlay svg, #overlay b").count(),
      0,
    );
    strictEqual(
      await page.evaluate(() => (window as unknown as Record<string, unknown>).__alerted),
      false,
    );
    deepStrictEqual(problemsOf(page), []);
  });
});

browserTest("invisible characters are gone from names and texts", async () => {
  await withSetup(async ({ room, open }) => {
    const page = await open("?avatars=0");
    await room.run({
      send: [
        chat("z1", "he\u200dl\u200bl\u202eo\u2066!", { nn: "A\u200bnn\u3164\ufeff" }),
        chat("z2", "end"),
      ],
    });
    await waitForText(page, "end");
    const shown = await lines(page);
    deepStrictEqual(shown[0], { type: "chat", id: "z1", name: "Ann", text: "hello!" });
    const text = await page.locator("#messages").textContent();
    ok(
      !/[\p{Cc}\p{Cf}\p{Co}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/u.test(text ?? ""),
      JSON.stringify(text),
    );
  });
});

browserTest("a user css URL takes effect, after the built-in styles", async () => {
  await withSetup(async ({ room, open, assets }) => {
    const page = await open(`?avatars=0&css=${encodeURIComponent(`${assets.base}/user.css`)}`);
    await room.run({ send: [chat("s1", "styled", { col: 2 })] });
    await waitForText(page, "styled");
    const style = await page.evaluate(() => {
      const text = document.querySelector('[data-id="s1"] .text')!;
      return {
        color: getComputedStyle(text).color,
        size: getComputedStyle(document.getElementById("messages")!).fontSize,
        last: [...document.querySelectorAll('link[rel="stylesheet"]')].at(-1)?.getAttribute("href"),
      };
    });
    deepStrictEqual(style, {
      color: "rgb(1, 2, 3)",
      size: "31px",
      last: `${assets.base}/user.css`,
    });
  });
});

browserTest(
  "restarting the overlay process: the page says so, reconnects, and shows no line twice",
  async () => {
    // The mock room streams these to every connection, as a room's recent chat
    // would come again: the restarted overlay receives them a second time.
    const initial = Array.from({ length: 10 }, (_, i) => chat(`i${i}`, `first ${i}`));
    const assets = await startAssets();
    const room = await startRoom(initial);
    const args = ["--url", room.url, "--gift-api-base", assets.base, String(ROOM)];
    let overlay = await startOverlay([...args, "--port", "0"]);
    const port = overlay.port;
    const browser = await launch();
    try {
      await room.run({ clients: 1 });
      const page = await browser.context.newPage();
      await watchPage(page);
      await page.goto(`${overlay.url}?avatars=0`);
      const quiet = await browser.context.newPage();
      await quiet.goto(`${overlay.url}?avatars=0&status=0`);
      await waitForText(page, "first 9");
      await room.run({ send: [chat("m1", "before restart")] });
      await waitForText(page, "before restart");

      strictEqual(await overlay.stop("SIGTERM"), 0);
      // The status line says what is wrong (unless status=0).
      await page.waitForSelector("#status:not([hidden])", { timeout: WAIT });
      ok((await page.textContent("#status .status-text"))!.includes("重连"));
      strictEqual(await quiet.locator("#status").isHidden(), true);

      overlay = await startOverlay([...args, "--port", String(port)]);
      await room.run({ clients: 2 });
      await page.waitForFunction(
        () => document.getElementById("overlay")?.getAttribute("data-connection") === "open",
        null,
        {
          timeout: WAIT,
        },
      );
      await page.waitForSelector("#status[hidden]", { state: "attached", timeout: WAIT });
      await room.run({ send: [chat("m2", "after restart")] });
      await waitForText(page, "after restart");
      await page.waitForTimeout(500);
      const shown = await lines(page);
      deepStrictEqual(shown.map((line) => line.text), [
        ...initial.map((message) => message.txt),
        "before restart",
        "after restart",
      ]);
      strictEqual(new Set(shown.map((line) => line.id)).size, shown.length);
      deepStrictEqual(problemsOf(page), []);
    } finally {
      await browser.close();
      await overlay.stop();
      await room.peer.stop();
      await new Promise((resolve) => assets.server.close(resolve));
    }
  },
);

browserTest(
  "another site's page cannot read the stream; a DNS-rebinding name is refused; the page opened by its URL works",
  async () => {
    await withSetup(async ({ room, open, browser, assets, overlay }) => {
      // As OBS opens it: by its URL, and by localhost's name too.
      const page = await open("?avatars=0");
      const byName = await browser.context.newPage();
      await byName.goto(`http://localhost:${overlay.port}/?avatars=0`);
      await room.run({ send: [chat("o1", "for the stream only")] });
      await waitForText(page, "for the stream only");
      await waitForText(byName, "for the stream only");
      // A page of another site (evil.example, answered by the local stand-in) tries to read it.
      const evil = await browser.context.newPage();
      await evil.goto(
        `http://evil.example:${new URL(assets.base).port}/evil.html?target=${
          encodeURIComponent(overlay.url)
        }`,
      );
      await evil.waitForFunction(
        () => {
          const results = (window as unknown as { results: Record<string, string> }).results;
          return results.eventSource !== "pending" && results.fetch !== "pending";
        },
        null,
        { timeout: WAIT },
      );
      await room.run({ send: [chat("o2", "still private")] });
      await waitForText(page, "still private");
      const results = await evil.evaluate(() =>
        (window as unknown as { results: Record<string, string> }).results
      );
      strictEqual(results.eventSource, "refused");
      ok(results.fetch!.startsWith("refused"), results.fetch);
      // DNS rebinding: a name of the attacker's that resolves to 127.0.0.1.
      const rebound = await browser.context.newPage();
      const response = await rebound.goto(`http://rebind.evil.example:${overlay.port}/`);
      strictEqual(response?.status(), 421);
      strictEqual(await rebound.locator("#overlay").count(), 0);
      const stream = await rebound.evaluate(async () => {
        const answer = await fetch("/events");
        const status = answer.status;
        await answer.body?.cancel();
        return status;
      });
      strictEqual(stream, 421);
      deepStrictEqual(problemsOf(page), []);
    }, {
      browserArgs: [
        "--host-resolver-rules=MAP evil.example 127.0.0.1, MAP rebind.evil.example 127.0.0.1",
      ],
    });
  },
);

browserTest(
  "a page opened while a super chat is pinned shows it pinned, however much chat came after",
  async () => {
    await withSetup(async ({ room, open, browser, overlay }) => {
      const first = await open("?avatars=0");
      await room.run({
        send: [
          {
            type: "comm_chatmsg",
            rid: ROOM,
            btype: "voiceDanmu",
            cprice: 10000,
            cet: 120,
            chatmsg: { nn: "Dee", uid: 4, level: 44, txt: "still pinned" },
          },
          ...Array.from({ length: 80 }, (_, i) => chat(`p${i}`, `after ${i}`)),
        ],
      });
      await waitForText(first, "after 79");
      // An OBS source reloaded: a fresh page, whose backlog (50 lines) no longer holds the super chat.
      const fresh = await browser.context.newPage();
      await watchPage(fresh);
      await fresh.goto(`${overlay.url}?avatars=0`);
      await waitForText(fresh, "after 79");
      await fresh.waitForSelector("#pinned .pin", { timeout: WAIT });
      strictEqual(await fresh.locator("#pinned .pin").count(), 1);
      strictEqual(await fresh.locator("#pinned .pin .name").textContent(), "Dee");
      deepStrictEqual(problemsOf(fresh), []);
    });
  },
);

browserTest("the status line can be dismissed, and shows bad parameters", async () => {
  await withSetup(async ({ open }) => {
    const page = await open("?avatars=0&max=lots&minGift=cheap");
    await page.waitForSelector("#status:not([hidden])", { timeout: WAIT });
    const text = (await page.textContent("#status .status-text"))!;
    ok(text.includes("max") && text.includes("minGift"), text);
    await page.click("#status .status-close");
    strictEqual(await page.locator("#status").isHidden(), true);
  });
});
