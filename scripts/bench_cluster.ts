/**
 * One collector, 200 lively rooms, a real nats-server: how many messages a
 * second go into JetStream, how long from publish to consume, how much
 * memory the collector takes.
 *
 *   deno task bench:cluster [--rooms 200] [--rate 50] [--seconds 20]
 *
 * Processes: nats-server (JetStream, a temporary store), the mock server of
 * `bench_hub.ts` (every room gets the real capture, a message every
 * 1000/rate ms each; rate 0: back to back, as fast as the collector takes
 * them), one `douyu collect` (the runtime running this script), and this
 * process, which adds the rooms and consumes the stream (an ordered
 * consumer, as `douyu consume`).
 *
 * Reported: messages stored in the stream per second (from the stream's
 * counters), as a ratio of what the rooms offered; messages the collector had
 * acknowledged per second (its heartbeat's `published`, duplicates included:
 * the capture's chat ids repeat as it loops); publish-to-consume latency
 * p50/p99 (from the collector's `Douyu-Received-At` to this process reading
 * it) and room-to-consume latency (from the mock server's write); the
 * collector's resident memory, steady and peak. Flat out (`--rate 0`), or with
 * `--compare`, first the collector's publisher alone (`bench_publisher.ts`,
 * the same runtime, one `await publish()` per pre-encoded message) for as
 * long, and the collector's rate as a ratio of it. Flat out, nothing reads
 * the stream meanwhile (the reader would compete for the cores). Needs
 * `nats-server` on the PATH (Debian's package).
 */
// deno-lint-ignore-file no-console
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { addRooms, Cluster, overview, STREAM_NAME, subscribe } from "../src/nats/mod.ts";
import { startNatsServer } from "../tests/cluster/nats_server.ts";
import { parseHealth } from "../src/nats/records.ts";
import { ROOT, runtimeCommand, startChild, watchProcess } from "../tests/process.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rooms: { type: "string", default: "200" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "20" },
    compare: { type: "boolean", default: false },
  },
});
const rooms = Number(values.rooms);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const isDeno = typeof Deno !== "undefined" && !("Bun" in globalThis);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

const nats = await startNatsServer();
const runtime = isDeno ? `Deno ${Deno.version.deno}` : `Bun ${process.versions.bun}`;

/** The publisher alone, in a process of this runtime: messages acknowledged a second. */
async function publisherAlone(): Promise<number> {
  const [command, ...args] = runtimeCommand(`${ROOT}scripts/bench_publisher.ts`, ["-A"]);
  const child = startChild(command!, [...args, nats.url, String(seconds)]);
  await child.exited;
  const result = JSON.parse(child.stdout) as { published: number; seconds: number };
  return result.published / result.seconds;
}

let alone: number | undefined;
if (rate === 0 || values.compare) {
  alone = await publisherAlone();
  console.log(`the publisher alone (${runtime}): ${alone.toFixed(0)} msg/s acknowledged`);
}
const serverScript = new URL("./bench_hub_server.ts", import.meta.url).pathname;
const mock = spawn(
  process.execPath,
  isDeno ? ["run", "-N", "-R", serverScript, `--rate=${rate}`] : [serverScript, `--rate=${rate}`],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const mockUrl: string = JSON.parse(
  await new Promise<string>((resolve) =>
    createInterface({ input: mock.stdout! }).once("line", resolve)
  ),
).url;

const cluster = await Cluster.connect(nats.url);
const roomIds = Array.from({ length: rooms }, (_, i) => 100_000 + i);
await addRooms(cluster, roomIds);

const [command, ...args] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
const collector = startChild(command!, [
  ...args,
  "collect",
  "--nats",
  nats.url,
  "--name",
  "bench",
  "--url",
  mockUrl,
  "--max-rooms",
  String(rooms),
  "-q",
]);
const memory = watchProcess(collector.pid);

const consumed: { publish: number[]; room: number[] } = { publish: [], room: [] };
let counting = false;
const stopReading = new AbortController();
const reading = rate === 0 ? Promise.resolve() : (async () => {
  for await (const item of subscribe(cluster, { signal: stopReading.signal })) {
    if (!counting) continue;
    const t = now();
    consumed.publish.push(t - item.receivedAt);
    const sent = Number((item.message as { bench_t?: string }).bench_t);
    if (Number.isFinite(sent)) consumed.room.push(t - sent);
  }
})();

try {
  const started = Date.now();
  for (;;) {
    const view = await overview(cluster);
    const watching = view.rooms.filter((room) => room.state === "watching").length;
    if (watching === rooms) break;
    if (Date.now() - started > 120_000) {
      throw new Error(`only ${watching} rooms watched after 2 min`);
    }
    await sleep(500);
  }
  console.log(`${rooms} rooms watched after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await sleep(3000); // warm up
  /** The collector's own count of acknowledged messages, and when it wrote it. */
  const acked = async () => {
    const health = parseHealth((await cluster.collectors.get("bench"))!.value)!;
    return { published: health.counters.published ?? 0, at: health.updatedAt };
  };
  const ackedBefore = await acked();
  const before = await cluster.jsm.streams.info(STREAM_NAME);
  const t0 = now();
  counting = true;
  await sleep(seconds * 1000);
  counting = false;
  const after = await cluster.jsm.streams.info(STREAM_NAME);
  const elapsed = (now() - t0) / 1000;
  const perSecond = (after.state.messages - before.state.messages) / elapsed;
  const ackedAfter = await acked();
  const ackedPerSecond = (ackedAfter.published - ackedBefore.published) /
    ((ackedAfter.at - ackedBefore.at) / 1000);
  const offered = rate > 0 ? rooms * rate : NaN;
  const steady = memory.resident;
  const publish = consumed.publish.sort((a, b) => a - b);
  const room = consumed.room.sort((a, b) => a - b);
  console.log(
    `one collector (${runtime}), ${rooms} rooms, ${rate > 0 ? `${rate} msg/s each` : "flat out"}:`,
  );
  console.log(
    `  into JetStream: ${perSecond.toFixed(0)} msg/s` +
      (rate > 0 ? ` (${((perSecond / offered) * 100).toFixed(1)}% of the ${offered} offered)` : ""),
  );
  console.log(
    `  acknowledged: ${ackedPerSecond.toFixed(0)} msg/s` +
      (alone !== undefined ? ` (${(ackedPerSecond / alone).toFixed(2)}x the publisher alone)` : ""),
  );
  console.log(
    `  publish to consume: p50 ${percentile(publish, 0.5).toFixed(1)} ms, p99 ${
      percentile(publish, 0.99).toFixed(1)
    } ms (${publish.length} messages)`,
  );
  console.log(
    `  room to consume: p50 ${percentile(room, 0.5).toFixed(1)} ms, p99 ${
      percentile(room, 0.99).toFixed(1)
    } ms`,
  );
  const stored = after.state.bytes / Math.max(1, after.state.messages);
  console.log(
    `  stream: ${stored.toFixed(0)} bytes per message stored (headers and JetStream's own)`,
  );
  console.log(
    `  collector RSS: ${(steady / 1048576).toFixed(1)} MiB steady, ${
      (memory.peakResident / 1048576).toFixed(1)
    } MiB peak`,
  );
} finally {
  stopReading.abort();
  await reading.catch(() => {});
  collector.kill("SIGTERM");
  await collector.exited;
  await memory.stop();
  await cluster.close();
  mock.stdin!.end();
  await nats.close();
}
