/**
 * How the overlay looks and moves, in headless Chromium: cards that fit
 * their content, names coloured by role, gifts tiered by value, text
 * contrast of 4.5:1 on every card whatever colour was picked (checked by
 * axe-core, over a white and a black backdrop), lines that glide rather
 * than jump, and the demo's avatars and gift icons from its local stand-in.
 *
 * Deno only, run by `deno task test:browser`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import axe from "npm:axe-core@4.14.1";
import type { Page } from "./chromium.ts";
import { launch } from "./chromium.ts";
import {
  browserTest,
  chat,
  problemsOf,
  ROOM,
  startOverlay,
  WAIT,
  waitForText,
  watchPage,
  withSetup,
} from "./setup.ts";

/** One line for each role, chat colour, gift tier and super chat tier. */
function everyKind(): Record<string, unknown>[] {
  const messages: Record<string, unknown>[] = [
    chat("r-owner", "host here", { uid: 50, nn: "Host", rg: 5 }),
    chat("r-admin", "admin here", { uid: 51, nn: "Admin", rg: 4, col: 1 }),
    chat("r-plain", "hi", { uid: 52, nn: "Plain" }),
  ];
  for (let noble = 1; noble <= 7; noble++) {
    messages.push(
      chat(`r-noble${noble}`, `noble ${noble}`, { uid: 60 + noble, nn: `N${noble}`, nl: noble }),
    );
  }
  for (const level of [3, 8, 13, 18, 25]) {
    messages.push(
      chat(`r-fan${level}`, `fan ${level}`, {
        uid: 70 + level,
        nn: `F${level}`,
        bnn: "鱼塘",
        bl: level,
        brid: ROOM,
      }),
    );
  }
  messages.push(
    chat("r-otherfan", "badge of another room", {
      uid: 99,
      nn: "Visitor",
      bnn: "别家",
      bl: 20,
      brid: 1,
    }),
  );
  for (let col = 1; col <= 6; col++) {
    messages.push(chat(`r-col${col}`, `colour ${col}`, { uid: 80 + col, nn: `C${col}`, col }));
  }
  messages.push(
    { type: "dgb", rid: ROOM, uid: 90, nn: "Cheap", gfid: 824, gfcnt: 1, hits: 1 },
    { type: "dgb", rid: ROOM, uid: 91, nn: "Middle", gfid: 20101, gfcnt: 1, hits: 1 },
    { type: "dgb", rid: ROOM, uid: 92, nn: "Big", gfid: 20008, gfcnt: 1, hits: 1 },
  );
  for (const yuan of [10, 30, 50, 100, 500, 1000]) {
    messages.push({
      type: "comm_chatmsg",
      rid: ROOM,
      btype: "voiceDanmu",
      cprice: yuan * 100,
      cet: 300,
      chatmsg: { nn: `SC${yuan}`, uid: 100 + yuan, txt: `super chat ¥${yuan}` },
    });
  }
  messages.push(chat("r-end", "the end"));
  return messages;
}

browserTest(
  "at 1920 px, cards fit their content; names are coloured by role; gifts are tiered by value",
  async () => {
    await withSetup(async ({ room, open }) => {
      const page = await open("?avatars=0&max=100");
      await room.run({ send: everyKind() });
      await waitForText(page, "the end");
      await page.waitForTimeout(500); // the last icons load
      const look = await page.evaluate(() => {
        const card = (id: string) => document.querySelector(`[data-id="${id}"]`) as HTMLElement;
        const nameColor = (id: string) => getComputedStyle(card(id).querySelector(".name")!).color;
        const gift = (name: string) =>
          [...document.querySelectorAll('[data-type="gift"]')].find((node) =>
            node.querySelector(".name")?.textContent === name
          ) as HTMLElement;
        return {
          width: card("r-plain").getBoundingClientRect().width,
          listWidth: document.getElementById("messages")!.getBoundingClientRect().width,
          roles: ["r-owner", "r-admin", "r-noble1", "r-fan13", "r-otherfan", "r-plain"].map((id) =>
            card(id).getAttribute("data-role")
          ),
          names: {
            owner: nameColor("r-owner"),
            admin: nameColor("r-admin"),
            plain: nameColor("r-plain"),
            otherFan: nameColor("r-otherfan"),
            nobles: [1, 2, 3, 4, 5, 6, 7].map((n) => nameColor(`r-noble${n}`)),
            fans: [3, 8, 13, 18, 25].map((n) => nameColor(`r-fan${n}`)),
          },
          fanTiers: [3, 8, 13, 18, 25].map((n) => card(`r-fan${n}`).getAttribute("data-fan-tier")),
          gifts: ["Cheap", "Middle", "Big"].map((name) => {
            const node = gift(name);
            const icon = node.querySelector(".icon") as HTMLImageElement | null;
            return {
              tier: node.getAttribute("data-tier"),
              height: Math.round(node.getBoundingClientRect().height),
              icon: icon === null ? 0 : Math.round(icon.getBoundingClientRect().height),
              loaded: icon !== null && icon.complete && icon.naturalWidth > 0,
              border: getComputedStyle(node).borderTopWidth,
            };
          }),
        };
      });
      ok(look.listWidth > 1800, `${look.listWidth}`);
      // A two-letter chat is a small card, not a full-width bar.
      ok(look.width < 300, `the card of "hi" is ${look.width} px wide`);
      deepStrictEqual(look.roles, ["owner", "admin", "noble", "fan", null, null]);
      const { owner, admin, plain, otherFan, nobles, fans } = look.names;
      strictEqual(new Set([owner, admin, plain, ...nobles]).size, 10, JSON.stringify(look.names));
      strictEqual(new Set(fans).size, 5, JSON.stringify(fans));
      strictEqual(otherFan, plain); // another room's badge is no fan badge here
      deepStrictEqual(look.fanTiers, ["1", "2", "3", "4", "5"]);
      deepStrictEqual(look.gifts.map((gift) => gift.tier), ["low", "mid", "high"]);
      const [cheap, middle, big] = look.gifts;
      ok(
        cheap!.height < middle!.height && middle!.height < big!.height,
        JSON.stringify(look.gifts),
      );
      ok(big!.icon >= 2 * cheap!.icon && big!.loaded, JSON.stringify(look.gifts));
      ok(big!.border !== "0px", "the big gift is highlighted");
      deepStrictEqual(problemsOf(page), []);
    }, { width: 1920, height: 1080 });
  },
);

/** Runs axe-core's colour-contrast rule on the overlay; returns its violations and undecided cases. */
async function contrast(
  page: Page,
): Promise<{ violations: string[]; incomplete: string[]; passed: number }> {
  await page.evaluate(axe.source);
  return await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run(
          context: Element,
          options: object,
        ): Promise<
          Record<
            "violations" | "incomplete" | "passes",
            { nodes: { target: string[]; any: { message: string }[] }[] }[]
          >
        >;
      };
    }).axe.run;
    const result = await run(document.getElementById("overlay")!, {
      runOnly: { type: "rule", values: ["color-contrast"] },
    });
    const describe = (rules: typeof result.violations) =>
      rules.flatMap((rule) =>
        rule.nodes.map((node) => `${node.target.join(" ")}: ${node.any[0]?.message}`)
      );
    return {
      violations: describe(result.violations),
      incomplete: describe(result.incomplete),
      passed: describe(result.passes).length,
    };
  });
}

browserTest(
  "every card's text has a contrast of at least 4.5:1 (axe-core), over a white and a black backdrop",
  async () => {
    await withSetup(async ({ room, open }) => {
      const page = await open("?avatars=0&max=100");
      await room.run({ send: everyKind() });
      await waitForText(page, "the end");
      await page.waitForTimeout(800); // entry animations (opacity) are over
      const cards = await page.locator("#messages > [data-id]").count();
      ok(cards >= 30, `${cards} cards`);
      for (const backdrop of ["#ffffff", "#000000", "#7f7f7f"]) {
        await page.addStyleTag({ content: `#overlay { background: ${backdrop}; }` });
        const { violations, incomplete, passed } = await contrast(page);
        // Every card's texts were checked: names, texts, levels, badges, prices.
        ok(passed + violations.length >= cards * 2, `${passed} passed, ${violations.length} not`);
        deepStrictEqual(violations, [], `over ${backdrop}`);
        deepStrictEqual(incomplete, [], `over ${backdrop}: axe could not decide`);
      }
    }, { width: 800, height: 3200 }); // every card on screen: axe checks only what shows
  },
);

browserTest("at 10 lines a second, no line moves more than 16 px in one frame", async () => {
  await withSetup(async ({ room, browser, overlay }) => {
    const page = await browser.context.newPage();
    await watchPage(page);
    await page.addInitScript(() => {
      const w = globalThis as unknown as Record<string, unknown>;
      const moves = { max: 0, frames: 0, compared: 0, worst: "" };
      w.__moves = moves;
      let last = new Map<string, number>();
      const frame = () => {
        const list = document.getElementById("messages");
        if (list !== null) {
          const now = new Map<string, number>();
          for (const node of list.children) {
            const id = (node as HTMLElement).dataset.id;
            if (id) now.set(id, node.getBoundingClientRect().top);
          }
          for (const [id, top] of now) {
            const before = last.get(id);
            if (before === undefined) continue;
            moves.compared++;
            const moved = Math.abs(top - before);
            if (moved > moves.max) {
              moves.max = moved;
              moves.worst = `${id} moved ${moved.toFixed(1)} px in frame ${moves.frames}`;
            }
          }
          last = now;
          moves.frames++;
        }
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    await page.goto(`${overlay.url}?avatars=0`);
    await page.waitForFunction(
      () => document.getElementById("overlay")?.getAttribute("data-connection") === "open",
      null,
      { timeout: WAIT },
    );
    // Fill the screen first, so that every new line pushes the others.
    await room.run({ send: Array.from({ length: 20 }, (_, i) => chat(`f${i}`, `filler ${i}`)) });
    await waitForText(page, "filler 19");
    // Past the burst's second: 20 lines at once is a flood, and the next line would jump.
    await page.waitForTimeout(1500);
    await page.evaluate(() => {
      const moves = (globalThis as unknown as { __moves: { max: number; worst: string } }).__moves;
      moves.max = 0;
      moves.worst = "";
    });
    const sent = await room.run<{ sent: number }>({ rate: { perSecond: 10, seconds: 5 } });
    strictEqual(sent.sent, 50);
    await page.waitForTimeout(800);
    const moves = await page.evaluate(() =>
      (globalThis as unknown as {
        __moves: { max: number; frames: number; compared: number; worst: string };
      })
        .__moves
    );
    ok(moves.frames > 60 && moves.compared > 1000, JSON.stringify(moves));
    ok(moves.max <= 16, `the most a line moved in one frame: ${moves.worst}`);
    // And it did move: the lines went up by the new lines' height in all.
    ok(moves.max >= 1, JSON.stringify(moves));
    deepStrictEqual(problemsOf(page), []);
  });
});

browserTest(
  "the demo shows avatars and gift icons from its local stand-in, and asks no one else",
  async () => {
    const overlay = await startOverlay(["--demo", "--port", "0"]);
    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      await watchPage(page); // refuses (and records) any request beyond 127.0.0.1
      const images: string[] = [];
      page.on("request", (request) => {
        if (request.resourceType() === "image") images.push(request.url());
      });
      await page.goto(`${overlay.url}?enter=1`);
      await page.waitForFunction(
        () => {
          const loaded = (selector: string) =>
            [...document.querySelectorAll(selector)].some((img) =>
              (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0
            );
          return loaded("#messages .avatar") && loaded("#messages .gift .icon");
        },
        null,
        { timeout: WAIT },
      );
      ok(images.length > 0);
      for (const url of images) ok(url.startsWith("http://127.0.0.1:"), url);
      deepStrictEqual(problemsOf(page), []);
    } finally {
      await browser.close();
      strictEqual(await overlay.stop(), 0);
    }
  },
);
