/**
 * End-to-end benchmark: a mock server in another process streams the real
 * capture over loopback as fast as it can; we count messages through
 * `for await`. Every figure is reported against the codec-only rate on the
 * same bodies measured in this process.
 *
 *   deno run -A scripts/bench_session.ts [--repeat 200] [--douyudm DIR] [--idle 1000]
 *
 * The default burst (the capture x200, about 17 MB) is larger than the 16 MiB
 * a WebSocket client used to hold unread before it gave up; each run reports
 * the reconnects it saw, which must be 0.
 *
 * --douyudm DIR: also run douyudm@2.0.1's own WebSocket client (installed in
 * DIR/node_modules) under Node against the same server.
 * --idle N: only open N idle sessions and report the memory they take (see
 * `idleSessions`; run with --v8-flags=--expose-gc, as `deno task bench:session` does).
 */
// deno-lint-ignore-file no-console
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import process from "node:process";
import { parseArgs } from "node:util";
import { connect, encodeFrame, FrameDecoder, parseMessage } from "../mod.ts";
import { concat } from "../src/base/bytes.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    repeat: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    douyudm: { type: "string" },
    idle: { type: "string", default: "0" },
  },
});
const repeat = Number(values.repeat);
const rounds = Number(values.rounds);
const idle = Number(values.idle);

/**
 * Memory of `idle` sessions, in a process that has done nothing else:
 * RSS from before the first connection to one second after the last (with
 * the login messages unread in each session's queue), and again after 15 s
 * of idleness, by when V8 has given back the young generation that the
 * burst of connections grew. Run with --v8-flags=--expose-gc.
 */
async function idleSessions(): Promise<void> {
  const idleServer = spawn(
    process.execPath,
    ["run", "-N", "-R", new URL("./bench_server.ts", import.meta.url).pathname],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const idleInfo: { tcp: string } = await new Promise((resolve) => {
    createInterface({ input: idleServer.stdout! }).once("line", (l) => resolve(JSON.parse(l)));
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // One session first, so code and caches exist before the baseline.
  await (await connect(9999, { url: idleInfo.tcp })).close();
  gc?.();
  const before = process.memoryUsage();
  const sessions = [];
  for (let i = 0; i < idle; i += 100) {
    sessions.push(
      ...await Promise.all(
        Array.from({ length: Math.min(100, idle - i) }, () => connect(9999, { url: idleInfo.tcp })),
      ),
    );
  }
  const mb = (n: number) => (n / 1048576).toFixed(1);
  const report = (when: string) => {
    gc?.();
    const now = process.memoryUsage();
    console.log(
      `${idle} idle sessions, ${when}: rss +${mb(now.rss - before.rss)} MB ` +
        `(${((now.rss - before.rss) / idle / 1024).toFixed(1)} KiB each), ` +
        `heap used +${mb(now.heapUsed - before.heapUsed)} MB` +
        (gc ? "" : " (no gc exposed: figures include garbage)"),
    );
  };
  await sleep(1000);
  report("1 s after connecting");
  // A collection then shrinks the young generation; its pages go back to the
  // system in the background, by the next one.
  await sleep(15_000);
  gc?.();
  await sleep(1000);
  report("after 15 s idle");
  await Promise.all(sessions.map((s) => s.close()));
  idleServer.stdin!.end();
}
if (idle > 0) {
  await idleSessions();
  process.exit(0);
}

const server = spawn(
  process.execPath,
  [
    "run",
    "-N",
    "-R",
    new URL("./bench_server.ts", import.meta.url).pathname,
    "--repeat",
    `${repeat}`,
  ],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const info: { tcp: string; ws: string; messages: number } = await new Promise((resolve) => {
  createInterface({ input: server.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
});
// loginres and pingreq come first, then the stream.
const expected = info.messages + 2;

const { readFile } = await import("node:fs/promises");
const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string);
// Built from the frames, not from an array of every byte as numbers: that
// left some 290 MB of garbage in the old generation for the rounds to run in.
const stream = concat(
  Array.from({ length: repeat }, () => bodies).flat().map((b) => encodeFrame(b, 690)),
);

/**
 * This thread's CPU time so far, ms, where Linux tells it (the main thread's
 * schedstat); else `NaN`. On a busy machine the wall-clock rates measure the
 * scheduler as much as the code: CPU time per message does not.
 */
function threadCpu(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) /
      1e6;
  } catch {
    return NaN;
  }
}
/** Messages per second of this thread's CPU time, per path. */
const cpuRates: Record<string, number[]> = { codec: [], tcp: [], ws: [] };
const cpuRate = (name: string, n: number, cpuStarted: number) =>
  cpuRates[name]?.push(n / ((threadCpu() - cpuStarted) / 1000));

function codecOnly(): number {
  const started = performance.now();
  const cpuStarted = threadCpu();
  const decoder = new FrameDecoder();
  let n = 0;
  for (let pos = 0; pos < stream.length; pos += 65536) {
    for (const frame of decoder.push(stream.subarray(pos, pos + 65536))) {
      if (parseMessage(frame.body).type !== "") n++;
    }
  }
  if (n !== info.messages) throw new Error(`codec decoded ${n} of ${info.messages}`);
  cpuRate("codec", n, cpuStarted);
  return n / ((performance.now() - started) / 1000);
}

let reconnects = 0;

async function endToEnd(url: string, name: string): Promise<number> {
  const started = performance.now();
  const cpuStarted = threadCpu();
  const session = await connect(9999, { url });
  const watching = (async () => {
    for await (const event of session.status()) if (event.type === "disconnected") reconnects++;
  })();
  let n = 0;
  for await (const msg of session) {
    if (msg.type !== "" && ++n === expected) break;
  }
  await watching;
  cpuRate(name, n, cpuStarted);
  return n / ((performance.now() - started) / 1000);
}

function douyudm(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [
      new URL("./douyudm_client.cjs", import.meta.url).pathname,
      dir,
      info.ws,
      `${expected}`,
      // Its logger writes <room>.json into the working directory.
    ], { stdio: ["ignore", "pipe", "inherit"], cwd: tmpdir() });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`douyudm client exited with ${code}`));
      const { count, ms } = JSON.parse(out);
      resolve(count / (ms / 1000));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rates: Record<string, number[]> = { codec: [], tcp: [], ws: [] };
if (values.douyudm) rates.douyudm = [];
codecOnly(); // warm up
await endToEnd(info.tcp, "warm-up");
for (let r = 0; r < rounds; r++) {
  rates.codec!.push(codecOnly());
  rates.tcp!.push(await endToEnd(info.tcp, "tcp"));
  rates.ws!.push(await endToEnd(info.ws, "ws"));
  if (values.douyudm) rates.douyudm!.push(await douyudm(values.douyudm));
}

console.log(
  `${expected} messages per run (capture x${repeat}), median of ${rounds} runs; ` +
    `${reconnects} reconnects`,
);
const codec = median(rates.codec!);
for (const [name, list] of Object.entries(rates)) {
  const rate = median(list);
  const vsDouyudm = rates.douyudm ? `  ${(rate / median(rates.douyudm)).toFixed(2)}x douyudm` : "";
  const cpu = cpuRates[name] && median(cpuRates[name]) / median(cpuRates.codec!);
  console.log(
    `${name.padEnd(8)} ${Math.round(rate).toString().padStart(8)} msg/s  ` +
      `${(rate / codec).toFixed(2)}x codec-only${vsDouyudm}` +
      (cpu === undefined || Number.isNaN(cpu) ? "" : `  (per CPU second: ${cpu.toFixed(2)}x)`),
  );
}

server.stdin!.end();
