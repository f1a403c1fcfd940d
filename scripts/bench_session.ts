/**
 * End-to-end benchmark: a mock server in another process streams the real
 * capture over loopback as fast as it can; we count messages through
 * `for await`. Every figure is reported against the codec-only rate on the
 * same bodies measured in this process.
 *
 *   deno run -A scripts/bench_session.ts [--repeat 200] [--douyudm DIR] [--idle 1000]
 *   bun scripts/bench_session.ts …        (the same under Bun, server included)
 *
 * Four paths: `tcp` and `ws` from the mock server (many Douyu packets per
 * WebSocket message), and `tcp` and `ws 1/msg` from a pre-encoded stream
 * (one packet per WebSocket message, as a peer may well send them, where
 * the cost per frame shows). Each WebSocket path is also reported as the
 * median of its per-round ratios to the TCP path of the same server.
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
import { createInterface } from "node:readline";
import process from "node:process";
import { parseArgs } from "node:util";
import { connect, encodeFrame, FrameDecoder, parseMessage } from "../mod.ts";

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

/** Runs the bench server on this runtime: Deno with its permissions, Bun (or Node) as is. */
function startServer(args: string[]) {
  const script = new URL("./bench_server.ts", import.meta.url).pathname;
  const isDeno = typeof Deno !== "undefined" && !("Bun" in globalThis);
  return spawn(
    process.execPath,
    isDeno ? ["run", "-N", "-R", script, ...args] : [script, ...args],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
}

const idle = Number(values.idle);

/**
 * Memory of `idle` sessions, in a process that has done nothing else:
 * RSS from before the first connection to one second after the last (with
 * the login messages unread in each session's queue), and again after 15 s
 * of idleness, by when V8 has given back the young generation that the
 * burst of connections grew. Run with --v8-flags=--expose-gc.
 */
async function idleSessions(): Promise<void> {
  const idleServer = startServer([]);
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

const server = startServer(["--repeat", `${repeat}`]);
const info: { tcp: string; ws: string; tcp0: string; ws1: string; messages: number } =
  await new Promise(
    (resolve) => {
      createInterface({ input: server.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    },
  );
// loginres and pingreq come first, then the stream.
const expected = info.messages + 2;

const { readFile } = await import("node:fs/promises");
const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string);
const stream = new Uint8Array(
  Array.from({ length: repeat }, () => bodies).flat().flatMap((b) => [...encodeFrame(b, 690)]),
);

function codecOnly(): number {
  const started = performance.now();
  const decoder = new FrameDecoder();
  let n = 0;
  for (let pos = 0; pos < stream.length; pos += 65536) {
    for (const frame of decoder.push(stream.subarray(pos, pos + 65536))) {
      if (parseMessage(frame.body).type !== "") n++;
    }
  }
  if (n !== info.messages) throw new Error(`codec decoded ${n} of ${info.messages}`);
  return n / ((performance.now() - started) / 1000);
}

let reconnects = 0;

/**
 * This process's CPU time per message of the latest `endToEnd`, µs: steadier
 * than wall time on a busy machine, and the client's own cost alone.
 */
const cpuPerMessage: Record<string, number[]> = {};

async function endToEnd(url: string, name?: string): Promise<number> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const session = await connect(9999, { url });
  const watching = (async () => {
    for await (const event of session.status()) if (event.type === "disconnected") reconnects++;
  })();
  let n = 0;
  for await (const msg of session) {
    if (msg.type !== "" && ++n === expected) break;
  }
  await watching;
  const used = process.cpuUsage(cpu);
  if (name !== undefined) (cpuPerMessage[name] ??= []).push((used.user + used.system) / n);
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

/** Each WebSocket path's TCP baseline: served by the same server. */
const BASELINES: Record<string, string> = {
  ws: "tcp",
  "ws 1/msg (pre-encoded)": "tcp (pre-encoded)",
};
/** The session's paths, measured one after the other in every round. */
const PATHS = [
  ["tcp", info.tcp],
  ["ws", info.ws],
  ["tcp (pre-encoded)", info.tcp0],
  ["ws 1/msg (pre-encoded)", info.ws1],
] as const;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rates: Record<string, number[]> = {
  codec: [],
  tcp: [],
  ws: [],
  "tcp (pre-encoded)": [],
  "ws 1/msg (pre-encoded)": [],
};
if (values.douyudm) rates.douyudm = [];
codecOnly(); // warm up
await endToEnd(info.tcp);
for (let r = 0; r < rounds; r++) {
  rates.codec!.push(codecOnly());
  for (const [name, url] of PATHS) rates[name]!.push(await endToEnd(url, name));
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
  // A WebSocket path against the TCP path of the same server, round by round,
  // by wall time and by this process's CPU time per message.
  const base = BASELINES[name];
  const cpu = cpuPerMessage[name];
  const vsTcp = base === undefined
    ? ""
    : `  ${median(list.map((r, i) => r / rates[base]![i]!)).toFixed(2)}x ${base} (CPU: ${
      median(cpu!.map((us, i) => cpuPerMessage[base]![i]! / us)).toFixed(2)
    }x)`;
  const cpuText = cpu === undefined ? "" : `  ${median(cpu).toFixed(2)} µs CPU/msg`;
  console.log(
    `${name.padEnd(22)} ${Math.round(rate).toString().padStart(8)} msg/s  ` +
      `${(rate / codec).toFixed(2)}x codec-only${cpuText}${vsTcp}${vsDouyudm}`,
  );
}

server.stdin!.end();
