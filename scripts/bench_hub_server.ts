/**
 * The mock Douyu server for `scripts/bench_hub.ts`, in its own process: every
 * client that joins gets the real capture's messages in order, looping, one
 * every `1000 / rate` ms (rate 0: back to back, as fast as the client reads).
 * Each body carries `bench_t@=<ms>/`, the sender's clock when it was written,
 * so the consumer can measure the delay. Back to back, the packets are
 * encoded once and their stamp is fixed (`bench_t@=1/`, as in `bench_hub.ts`'s
 * codec baseline): streaming then costs the server little more than its writes, so
 * on a small machine the client under test, not this mock, takes the cores.
 * Prints one JSON line with its URL, then serves until stdin closes.
 *
 *   deno run -N -R scripts/bench_hub_server.ts --rate 50
 */
// deno-lint-ignore-file no-console
import { readFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { MockServer } from "../src/testing/mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { rate: { type: "string", default: "50" } },
});
const rate = Number(values.rate);
const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string)
  .filter((body) => !/^type@=(loginres|pingreq|mrkl)\//.test(body));
const now = () => performance.timeOrigin + performance.now();

const stamp = (i: number) => `${bodies[i % bodies.length]}bench_t@=${now()}/`;

/**
 * Paced against the schedule, not the previous message, so timer lateness
 * does not lower the rate: a message already due is sent at once.
 */
async function* paced(): AsyncGenerator<string> {
  const interval = 1000 / rate;
  const start = performance.now();
  for (let i = 0;; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    yield stamp(i);
  }
}

/** The capture as a recording with no delays: the mock encodes its packets once for every client. */
const backToBack = bodies.map((body) => ({ t: 0, body: `${body}bench_t@=1/` }));

const server = await MockServer.start(
  rate === 0
    ? { recording: backToBack, speed: 0, loop: true }
    // A negative rate: clients join and get nothing (idle rooms).
    : { messages: rate < 0 ? [] : paced },
);
console.log(JSON.stringify({ url: server.url }));
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
