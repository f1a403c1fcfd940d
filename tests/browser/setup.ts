/**
 * What the browser tests share: `douyu overlay` as a real process, a mock
 * room in another process (tests/peers/overlay_room.ts), a local stand-in
 * for Douyu's gift endpoints and images, headless Chromium, and helpers to
 * watch and read the page.
 */
import { strictEqual } from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Peer, spawnPeer } from "../harness.ts";
import { type Browser, launch, type Page } from "./chromium.ts";

export const MOD = new URL("../../mod.ts", import.meta.url).pathname;
export const ROOM = 9999;
/** Generous: a loaded 2-core machine runs the browser, two Deno processes and the test. */
export const WAIT = 20_000;

/** Playwright keeps handles open across tests: no op or resource sanitizers here. */
export function browserTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

// ---------------------------------------------------------------------------
// The processes

export interface Overlay {
  url: string;
  port: number;
  pid: number;
  stderr: () => string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: "SIGINT" | "SIGTERM"): Promise<number | null>;
}

export async function startOverlay(args: string[]): Promise<Overlay> {
  // Deno.Command, not node:child_process: under Deno, a child spawned through
  // the latter dies of SIGINT instead of handling it.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "overlay", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stdout, (text) => (stdout += text)),
    pump(child.stderr, (text) => (stderr += text)),
  ]);
  const exited = (async () => {
    const status = await child.status;
    await pumps;
    return status.signal === null ? status.code : null;
  })();
  let ended = false;
  void exited.then(() => (ended = true));
  const deadline = Date.now() + WAIT;
  while (!stdout.includes("\n")) {
    if (ended || Date.now() > deadline) {
      if (!ended) child.kill("SIGKILL");
      throw new Error(`douyu overlay did not start (exit ${await exited}): ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const first = stdout.split("\n")[0]!;
  const match = /^overlay: (http:\/\/127\.0\.0\.1:(\d+)\/) {2}\(Ctrl-C stops\)$/.exec(first);
  if (match === null) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`unexpected first line: ${first}`);
  }
  return {
    url: match[1]!,
    port: Number(match[2]),
    pid: child.pid,
    stderr: () => stderr,
    async stop(signal = "SIGINT") {
      if (!ended) child.kill(signal);
      const timer = setTimeout(() => {
        if (!ended) child.kill("SIGKILL");
      }, 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function waitForStderr(overlay: Overlay, text: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!overlay.stderr().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in: ${overlay.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface Room {
  url: string;
  peer: Peer;
  /** Runs one command of the peer and returns its answer. */
  run<T = Record<string, unknown>>(command: unknown): Promise<T>;
}

export async function startRoom(initial: unknown[] = []): Promise<Room> {
  const peer = await spawnPeer("overlay_room.ts", [JSON.stringify(initial)]);
  const { url } = await peer.next<{ url: string }>();
  return {
    url,
    peer,
    async run<T>(command: unknown) {
      peer.send(JSON.stringify(command));
      return await peer.next<T>();
    },
  };
}

/** A local stand-in for Douyu's gift endpoints, a 1-pixel icon and a user stylesheet. */
export async function startAssets(): Promise<{ base: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const png = Uint8Array.from(
    atob(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    ),
    (c) => c.charCodeAt(0),
  );
  let base = "";
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/api/gift/v3/web/list") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        error: 0,
        data: {
          giftList: [
            {
              id: 824,
              name: "荧光棒",
              priceInfo: { price: 10, priceType: "YUCHI" },
              basicInfo: { giftPic: "glow.png" },
              picUrlPrefix: `${base}/icons`,
            },
            { id: 20004, name: "火箭", priceInfo: { price: 50000, priceType: "YUCHI" } },
            {
              id: 20101,
              name: "魔法指环",
              priceInfo: { price: 2000, priceType: "YUCHI" },
              basicInfo: { giftPic: "ring.png" },
              picUrlPrefix: `${base}/icons`,
            },
            {
              id: 20008,
              name: "飞机",
              priceInfo: { price: 10000, priceType: "YUCHI" },
              basicInfo: { giftPic: "plane.png" },
              picUrlPrefix: `${base}/icons`,
            },
          ],
        },
      }));
    } else if (url.pathname.endsWith("prop_gift_config.json")) {
      res.end('DYConfigCallback({"error":0,"data":{}});');
    } else if (url.pathname.startsWith("/icons/")) {
      res.setHeader("content-type", "image/png");
      res.end(png);
    } else if (url.pathname === "/evil.html") {
      // Another site's page: it tries to read the overlay's stream.
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(`<!doctype html><script>
        const target = new URLSearchParams(location.search).get("target");
        const results = { eventSource: "pending", fetch: "pending", noCors: "pending" };
        window.results = results;
        const source = new EventSource(target + "events");
        source.onmessage = (m) => { results.eventSource = "read: " + m.data.slice(0, 40); source.close(); };
        source.onerror = () => { if (results.eventSource === "pending") results.eventSource = "refused"; source.close(); };
        fetch(target + "events")
          .then((r) => r.body.getReader().read())
          .then((chunk) => { results.fetch = "read: " + new TextDecoder().decode(chunk.value).slice(0, 40); })
          .catch((e) => { results.fetch = "refused: " + e.name; });
        fetch(target + "events", { mode: "no-cors" })
          .then((r) => { results.noCors = "opaque: " + r.type + " " + r.status; })
          .catch((e) => { results.noCors = "refused: " + e.name; });
      </script>`);
    } else if (url.pathname === "/user.css") {
      res.setHeader("content-type", "text/css");
      res.end(".chat .text { color: rgb(1, 2, 3); }\n#messages { font-size: 31px; }\n");
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, server, requests };
}

/** Everything a test starts, stopped in reverse order whatever happens. */
export async function withSetup(
  fn: (setup: {
    room: Room;
    overlay: Overlay;
    browser: Browser;
    assets: Awaited<ReturnType<typeof startAssets>>;
    open: (query: string) => Promise<Page>;
  }) => Promise<void>,
  options: {
    initial?: unknown[];
    overlayArgs?: string[];
    browserArgs?: string[];
    width?: number;
    height?: number;
  } = {},
): Promise<void> {
  const assets = await startAssets();
  const room = await startRoom(options.initial);
  let overlay: Overlay | undefined;
  let browser: Browser | undefined;
  try {
    overlay = await startOverlay([
      "--url",
      room.url,
      "--port",
      "0",
      "--gift-api-base",
      assets.base,
      ...(options.overlayArgs ?? []),
      String(ROOM),
    ]);
    await room.run({ clients: 1 });
    // Gift names and values known before anything is sent.
    await waitForStderr(overlay, "gift catalogue loaded");
    browser = await launch({
      args: options.browserArgs ?? [],
      ...(options.width ? { width: options.width } : {}),
      ...(options.height ? { height: options.height } : {}),
    });
    const context = browser.context;
    const ready = overlay;
    await fn({
      room,
      overlay,
      browser,
      assets,
      open: async (query) => {
        const page = await context.newPage();
        await watchPage(page);
        await page.goto(`${ready.url}${query}`);
        await page.waitForFunction(
          () => document.getElementById("overlay")?.getAttribute("data-connection") === "open",
          null,
          {
            timeout: WAIT,
          },
        );
        return page;
      },
    });
  } finally {
    await browser?.close();
    const code = await overlay?.stop();
    await room.peer.stop();
    await new Promise((resolve) => assets.server.close(resolve));
    if (overlay !== undefined) strictEqual(code, 0, `overlay exit status: ${overlay.stderr()}`);
  }
}

/**
 * Records, in the page: every dialog (`alert`), page errors, requests to
 * anything but 127.0.0.1 (refused), and the most lines `#messages` ever held.
 */
export async function watchPage(page: Page): Promise<void> {
  const page_ = page as Page & { problems?: string[] };
  page_.problems = [];
  page.on("dialog", (dialog) => {
    page_.problems!.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on("pageerror", (error) => page_.problems!.push(`page error: ${error.message}`));
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
    page_.problems!.push(`external request: ${route.request().url()}`);
    return route.abort();
  });
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__maxLines = 0;
    w.__maxAdded = 0;
    w.__batches = 0;
    w.__shownAt = new Map<string, number>();
    new MutationObserver((records) => {
      const list = document.getElementById("messages");
      if (list === null) return;
      let added = 0;
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node instanceof HTMLElement && node.dataset.id && node.parentElement === list) {
            added++;
            (w.__shownAt as Map<string, number>).set(node.dataset.id, Date.now());
          }
        }
      }
      if (added > 0) w.__batches = (w.__batches as number) + 1;
      w.__maxAdded = Math.max(w.__maxAdded as number, added);
      w.__maxLines = Math.max(w.__maxLines as number, list.querySelectorAll("[data-id]").length);
    }).observe(document, { childList: true, subtree: true });
  });
}

export function problemsOf(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

/** The lines on screen: type, id, name and text of each. */
export function lines(
  page: Page,
): Promise<{ type: string; id: string; name: string; text: string }[]> {
  return page.$$eval("#messages > [data-id]", (nodes) =>
    nodes.map((node) => ({
      type: node.getAttribute("data-type") ?? "",
      id: node.getAttribute("data-id") ?? "",
      name: node.querySelector(".name")?.textContent ?? "",
      text: node.querySelector(".text")?.textContent ?? "",
    })));
}

export async function waitForText(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#messages .text")].some((node) => node.textContent === wanted),
    text,
    { timeout: WAIT },
  );
}

export function chat(
  cid: string,
  txt: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { type: "chatmsg", rid: ROOM, uid: 1, nn: "Ann", level: 12, dms: 5, cid, txt, ...extra };
}
