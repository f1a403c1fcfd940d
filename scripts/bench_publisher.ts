/**
 * The collector's publisher alone, for `bench:cluster`: the real capture's
 * messages, parsed and encoded once beforehand as the collector would, handed
 * to a `StreamPublisher` one `await publish()` at a time (as a producer
 * that knows nothing of batches would), as fast as it takes them, for
 * `seconds`. Prints `{"published": n, "seconds": s}`.
 *
 *   deno run -A scripts/bench_publisher.ts <nats url> <seconds>
 */
// deno-lint-ignore-file no-console
import { readFile } from "node:fs/promises";
import process from "node:process";
import { Cluster, subjectOf } from "../src/nats/mod.ts";
import { messageHeaders } from "../src/nats/cluster.ts";
import { StreamPublisher } from "../src/nats/publisher.ts";
import { chatId } from "../src/nats/collector.ts";
import { formatJson } from "../src/output/format.ts";
import { parseMessage } from "../src/protocol/messages.ts";

const [url = "", seconds = "10"] = process.argv.slice(2);
const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const encoder = new TextEncoder();
const messages = capture.trim().split("\n").map((line) => parseMessage(JSON.parse(line).body))
  .filter((message) => !["loginres", "pingreq", "mrkl"].includes(message.type))
  .map((message) => ({
    message,
    subject: subjectOf(100_000, message.type),
    payload: encoder.encode(formatJson(message)),
  }));
const cluster = await Cluster.connect(url);
const publisher = new StreamPublisher(cluster.connection);
const started = performance.now();
const until = started + Number(seconds) * 1000;
for (let i = 0; performance.now() < until; i++) {
  const { message, subject, payload } = messages[i % messages.length]!;
  await publisher.publish(
    subject,
    payload,
    messageHeaders(100_000, Date.now(), "bench"),
    chatId(100_000, message),
  );
}
const elapsed = (performance.now() - started) / 1000;
await publisher.flush(10_000);
console.log(JSON.stringify({ published: publisher.counters.published, seconds: elapsed }));
publisher.close();
await cluster.close();
