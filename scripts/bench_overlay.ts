/**
 * `deno task bench:overlay`: the overlay under a steady flood, measured in a
 * real browser. A mock room (its own process) sends chat at `--rate`
 * messages a second for `--seconds` seconds, each stamped with its send time;
 * `douyu overlay` (its own process) serves it to headless Chromium. Reports:
 *
 * - latency from the mock's send to the page's script receiving the event
 *   (outside smoothing), to the element being in the DOM, and to the first
 *   frame in which it shows on screen (it glides in from below), p50/p95/p99/max;
 * - messages shown, the DOM's node count at the end;
 * - the JS heap: at the start, its peak, and at the end after a GC;
 * - frames longer than 50 ms.
 *
 *   deno task bench:overlay [--rate=500] [--seconds=20] [--max=50]
 *
 * With `--hostile=N`, it measures the server instead, under N clients that
 * ask for the whole history (`Last-Event-ID` of its first line) and never
 * read (tests/peers/overlay_clients.ts, its own process), while the room
 * keeps sending 50 lines a second: the overlay process's resident memory
 * (before, peak) and how long `GET /overlay.css` takes, before the attack
 * (the baseline) and during it, as a ratio.
 *
 *   deno task bench:overlay --hostile=500 [--seconds=10] [--max-streams=100]
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { spawnPeer } from "../tests/harness.ts";
import { launch } from "../tests/browser/chromium.ts";
import { startOverlay } from "../tests/browser/setup.ts";
import { bootOf } from "../tests/sse.ts";
import { watchProcess } from "../tests/process.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "20" },
    max: { type: "string", default: "50" },
    hostile: { type: "string" },
    "max-streams": { type: "string" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const max = Number(values.max);

/** `douyu overlay` for the mock room, in its own process; no gift catalogue (nothing leaves this machine). */
function overlayFor(roomUrl: string, extra: string[] = []) {
  return startOverlay([
    "--url",
    roomUrl,
    "--port",
    "0",
    "--gift-api-base",
    "http://127.0.0.1:9",
    ...extra,
    "9999",
  ]);
}

if (values.hostile !== undefined) {
  await hostile(Number(values.hostile), values.seconds === "20" ? 10 : seconds);
  Deno.exit(0);
}

const room = await spawnPeer("overlay_room.ts");
const { url: roomUrl } = await room.next<{ url: string }>();
const overlay = await overlayFor(roomUrl);
const pageUrl = overlay.url;
room.send(JSON.stringify({ clients: 1 }));
await room.next();

const browser = await launch({ width: 480, height: 800 });
try {
  const page = await browser.context.newPage();
  await page.addInitScript(() => {
    const w = globalThis as unknown as Record<string, unknown>;
    const arrive: number[] = [];
    const shown: number[] = [];
    const visible: number[] = [];
    const frames: number[] = [];
    w.__bench = { arrive, shown, visible, frames };
    // Lines in the DOM not yet seen on screen (they glide in from below the edge): sent at.
    const waiting = new Map<HTMLElement, number>();
    addEventListener("douyu:event", (event) => {
      const text = (event as CustomEvent).detail.text as string | undefined;
      if (text?.startsWith("t")) arrive.push(Date.now() - Number(text.slice(1)));
    });
    new MutationObserver((records) => {
      const now = Date.now();
      for (const record of records) {
        for (const node of record.addedNodes) {
          const text = node instanceof HTMLElement
            ? node.querySelector(".text")?.textContent
            : undefined;
          if (text?.startsWith("t")) {
            shown.push(now - Number(text.slice(1)));
            waiting.set(node as HTMLElement, Number(text.slice(1)));
          }
        }
      }
    }).observe(document, { childList: true, subtree: true });
    let last = performance.now();
    const frame = (now: number) => {
      frames.push(now - last);
      last = now;
      // On screen: its top above the bottom edge of the lines' viewport.
      const edge = document.getElementById("viewport")?.getBoundingClientRect().bottom ??
        innerHeight;
      const at = Date.now();
      for (const [node, sent] of waiting) {
        if (!node.isConnected) waiting.delete(node);
        else if (node.getBoundingClientRect().top < edge) {
          visible.push(at - sent);
          waiting.delete(node);
        }
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  await page.goto(`${pageUrl}?avatars=0&max=${max}`);
  await page.waitForFunction(() =>
    document.getElementById("overlay")?.getAttribute("data-connection") === "open"
  );
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send("Performance.enable");
  const heap = async () => {
    const { metrics } = await cdp.send("Performance.getMetrics");
    return metrics.find((m: { name: string }) => m.name === "JSHeapUsedSize")!.value as number;
  };
  await cdp.send("HeapProfiler.collectGarbage");
  const heapStart = await heap();
  let heapPeak = heapStart;
  const sampling = setInterval(async () => {
    heapPeak = Math.max(heapPeak, await heap().catch(() => 0));
  }, 1000);
  const started = Date.now();
  room.send(JSON.stringify({ rate: { perSecond: rate, seconds } }));
  const sent = await room.next<{ sent: number; late: number }>();
  const elapsed = (Date.now() - started) / 1000;
  await page.waitForTimeout(1500);
  clearInterval(sampling);
  await cdp.send("HeapProfiler.collectGarbage");
  const heapEnd = await heap();
  const { nodes } = await cdp.send("Memory.getDOMCounters");
  const result = await page.evaluate(() => {
    const bench = (globalThis as unknown as Record<string, unknown>).__bench as Record<
      string,
      number[]
    >;
    return {
      arrive: bench.arrive!,
      shown: bench.shown!,
      visible: bench.visible!,
      frames: bench.frames!,
      elements: document.getElementsByTagName("*").length,
      lines: document.querySelectorAll("#messages > [data-id]").length,
    };
  });
  const pct = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
  };
  const summary = (values: number[]) =>
    `p50 ${pct(values, 50)} ms, p95 ${pct(values, 95)} ms, p99 ${pct(values, 99)} ms, max ${
      Math.max(...values)
    } ms`;
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const longFrames = result.frames.filter((ms) => ms > 50);
  console.log(
    `overlay bench: ${sent.sent} messages at ${rate}/s for ${seconds} s ` +
      `(sent in ${elapsed.toFixed(1)} s, sender at most ${sent.late} ms behind), max=${max}`,
  );
  console.log(`  received by the page: ${result.arrive.length}; shown: ${result.shown.length}`);
  console.log(`  send → page script (outside smoothing): ${summary(result.arrive)}`);
  console.log(`  send → element in the DOM:              ${summary(result.shown)}`);
  console.log(
    `  send → on screen (first frame its top shows): ${summary(result.visible)} ` +
      `(${result.visible.length} seen; the others were pushed out before their turn)`,
  );
  console.log(
    `  DOM at the end: ${result.lines} lines, ${result.elements} elements, ${nodes} nodes`,
  );
  console.log(
    `  JS heap: ${mb(heapStart)} at the start, ${mb(heapPeak)} at its peak, ${
      mb(heapEnd)
    } at the end (after GC)`,
  );
  console.log(
    `  frames: ${result.frames.length}, longer than 50 ms: ${longFrames.length}` +
      (longFrames.length > 0 ? ` (longest ${Math.max(...longFrames).toFixed(0)} ms)` : ""),
  );
} finally {
  await browser.close();
  await overlay.stop();
  await room.stop();
}

/** The server under `count` clients that never read: memory and a normal request's time. */
async function hostile(count: number, seconds: number): Promise<void> {
  const room = await spawnPeer("overlay_room.ts");
  const { url: roomUrl } = await room.next<{ url: string }>();
  const streams = values["max-streams"];
  const overlay = await overlayFor(
    roomUrl,
    streams !== undefined ? ["--max-streams", streams] : [],
  );
  const pageUrl = overlay.url;
  const watch = watchProcess(overlay.pid);
  const run = async (command: unknown) => {
    room.send(JSON.stringify(command));
    return await room.next();
  };
  try {
    await run({ clients: 1 });
    // A full history: 1,000 lines of 300 CJK characters (about 1 KB each).
    const long = "长".repeat(300);
    await run({
      send: Array.from({ length: 1000 }, (_, i) => ({
        type: "chatmsg",
        rid: 9999,
        uid: 7,
        nn: "history",
        level: 10,
        dms: 5,
        cid: `h${i}`,
        txt: long,
      })),
    });
    const boot = await bootOf(pageUrl);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const timeCss = async () => {
      const started = performance.now();
      const response = await fetch(`${pageUrl}overlay.css`);
      await response.text();
      return performance.now() - started;
    };
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) {
      baseline.push(await timeCss());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const restingRss = watch.resident;
    const attackStart = performance.now();
    const clients = await spawnPeer("overlay_clients.ts", [pageUrl, String(count), `${boot}.0`]);
    // The room goes on meanwhile: 50 lines a second.
    room.send(JSON.stringify({ rate: { perSecond: 50, seconds } }));
    const during: number[] = [];
    while (performance.now() - attackStart < seconds * 1000) {
      during.push(await timeCss());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await room.next(); // the rate command's answer
    await clients.next(); // every request was written
    await clients.stop();
    await watch.stop();
    const pct = (list: number[], p: number) => {
      const sorted = [...list].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
    };
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    const base50 = pct(baseline, 50);
    console.log(
      `overlay under ${count} clients that never read (history of 1,000 lines of ~1 KB, ` +
        `the room at 50 lines/s, ${seconds} s${streams ? `, --max-streams ${streams}` : ""}):`,
    );
    console.log(
      `  resident memory: ${mb(restingRss)} at rest, ${mb(watch.peakResident)} at the peak ` +
        `(x${
          (watch.peakResident / restingRss).toFixed(2)
        }); ${watch.peakDescriptors} descriptors at most`,
    );
    console.log(
      `  GET /overlay.css: p50 ${base50.toFixed(1)} ms before; during: p50 ${
        pct(during, 50).toFixed(1)
      } ms, p95 ${pct(during, 95).toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms ` +
        `(max x${
          (Math.max(...during) / base50).toFixed(0)
        } the baseline's p50), ${during.length} requests`,
    );
  } finally {
    await overlay.stop();
    await room.stop();
  }
}
