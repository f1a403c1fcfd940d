/**
 * Many rooms through one Hub: a mock server in another process plays the
 * real capture to every room, and one `for await` loop takes it all.
 *
 *   deno task bench:hub [--rooms 200] [--rate 50] [--seconds 10] [--idle 1000]
 *
 * Lively: each room gets a message every 1000/rate ms. Reported: messages
 * through the loop per second, as a ratio of what the server offered; the
 * delay from the server's write to the loop (p50, p99); RSS.
 * Flat out: every room streams back to back; the aggregate rate is reported
 * as a ratio of the codec alone on the same bodies in this process.
 * --idle N: N rooms joined and idle (a heartbeat every 45 s); the RSS they
 * add, measured from before the first connection, 1 s after the last joined
 * and again after 15 s idle (run with --v8-flags=--expose-gc under Deno, or
 * `bun --smol`-free `bun scripts/bench_hub.ts` under Bun).
 */
// deno-lint-ignore-file no-console
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { encodeFrame, FrameDecoder, Hub, parseMessage } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rooms: { type: "string", default: "200" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "10" },
    idle: { type: "string", default: "0" },
  },
});
const rooms = Number(values.rooms);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const idle = Number(values.idle);
const isDeno = typeof Deno !== "undefined" && !("Bun" in globalThis);
const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
const now = () => performance.timeOrigin + performance.now();

/** Starts bench_hub_server.ts in its own process; resolves with its URL and a stop function. */
async function startServer(serverRate: number): Promise<{ url: string; stop(): void }> {
  const script = new URL("./bench_hub_server.ts", import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    isDeno ? ["run", "-N", "-R", script, `--rate=${serverRate}`] : [script, `--rate=${serverRate}`],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).once("line", resolve)
  );
  return { url: JSON.parse(line).url, stop: () => void child.stdin!.end() };
}

async function addAll(hub: Hub, count: number, url: string): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) => hub.add(100_000 + i + k, { url })),
    );
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function lively(): Promise<void> {
  const server = await startServer(rate);
  const hub = new Hub({ maxRooms: rooms });
  await addAll(hub, rooms, server.url);
  const delays = new Float64Array(Math.ceil(rooms * rate * seconds * 1.5) + 1000);
  let n = 0;
  let rss = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  for await (const { message } of hub) {
    const sentAt = Number((message as { bench_t?: string }).bench_t);
    if (sentAt > 0 && n < delays.length) delays[n++] = now() - sentAt;
    if ((n & 1023) === 0) rss = Math.max(rss, process.memoryUsage().rss);
    if (performance.now() >= end) break;
  }
  const elapsed = (performance.now() - started) / 1000;
  server.stop();
  const sorted = delays.subarray(0, n).sort();
  const offered = rooms * rate;
  console.log(
    `lively: ${rooms} rooms x ${rate} msg/s for ${seconds} s: ` +
      `${Math.round(n / elapsed)} msg/s through the loop (${
        (n / elapsed / offered).toFixed(2)
      }x offered), ` +
      `delay p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${
        percentile(sorted, 0.99).toFixed(1)
      } ms, max RSS ${mb(rss)} MB`,
  );
}

async function flatOut(): Promise<void> {
  const capture = await readFile(
    new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
    "utf8",
  );
  const bodies = capture.trim().split("\n").map((l) => `${JSON.parse(l).body}bench_t@=1/`);
  const stream = new Uint8Array(
    Array.from({ length: 100 }, () => bodies).flat().flatMap((b) => [...encodeFrame(b, 690)]),
  );
  const codecStarted = performance.now();
  let decoded = 0;
  const decoder = new FrameDecoder();
  for (let pos = 0; pos < stream.length; pos += 65536) {
    for (const frame of decoder.push(stream.subarray(pos, pos + 65536))) {
      if (parseMessage(frame.body).type !== "") decoded++;
    }
  }
  const codecRate = decoded / ((performance.now() - codecStarted) / 1000);

  const server = await startServer(0);
  const hub = new Hub({ maxRooms: rooms });
  await addAll(hub, rooms, server.url);
  let n = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  for await (const _ of hub) {
    if ((++n & 255) === 0 && performance.now() >= end) break;
  }
  const hubRate = n / ((performance.now() - started) / 1000);
  server.stop();
  console.log(
    `flat out: ${rooms} rooms: ${Math.round(hubRate)} msg/s through the loop ` +
      `(${(hubRate / codecRate).toFixed(2)}x the codec alone in this process, ${
        Math.round(codecRate)
      } msg/s)`,
  );
}

async function idleRooms(): Promise<void> {
  const server = await startServer(-1); // a negative rate never streams: idle rooms
  gc?.();
  const before = process.memoryUsage();
  const hub = new Hub({ maxRooms: idle });
  await addAll(hub, idle, server.url);
  const report = (when: string) => {
    gc?.();
    const after = process.memoryUsage();
    console.log(
      `idle: ${idle} joined rooms, ${when}: RSS +${mb(after.rss - before.rss)} MB ` +
        `(${((after.rss - before.rss) / idle / 1024).toFixed(1)} KiB each), heap +${
          mb(after.heapUsed - before.heapUsed)
        } MB${gc ? "" : " (no gc exposed: figures include garbage)"}`,
    );
  };
  await new Promise((resolve) => setTimeout(resolve, 1000));
  report("1 s after joining");
  // By then a collection shrinks the young generation that the burst of joins
  // grew; its pages go back to the system in the background, by the next one.
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  report("after 15 s idle");
  await hub.close();
  server.stop();
}

if (idle > 0) {
  await idleRooms();
} else {
  await lively();
  await flatOut();
}
process.exit(0);
