/**
 * A mock server in its own process that floods the first client to join:
 * `total` chat messages of about `size` bytes each, `batch` per write, each
 * write awaited (so TCP pushback stalls it). Prints `{"url": …}` once listening; answers each
 * `status` line on stdin with `{"sent": n, "beats": m}` (messages written,
 * heartbeats received); exits when stdin closes.
 *
 *   deno run -A tests/peers/flood_server.ts tcp 20000 1000 [batch]
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { createInterface } from "node:readline";
import { MockServer } from "../../src/testing/mod.ts";

const [protocol = "tcp", total = "20000", size = "1000", batch = "1"] = process.argv.slice(2);
const server = await MockServer.start({ protocols: [protocol as "tcp" | "ws"] });
console.log(JSON.stringify({ url: server.url }));

const padding = "x".repeat(Number(size));
let sent = 0;
let beats = 0;
const flooding = (async () => {
  const client = await server.nextClient();
  const counting = (async () => {
    for (let n = 1;; n++) {
      await client.waitFor("mrkl", n);
      beats = n;
    }
  })().catch(() => {}); // until the client leaves
  const chat = (i: number) => `type@=chatmsg/uid@=${i}/txt@=${padding}/`;
  for (let i = 1; i <= Number(total);) {
    const end = Math.min(Number(total), i + Number(batch) - 1);
    const frames = Array.from({ length: end - i + 1 }, (_, k) => chat(i + k));
    await (frames.length === 1 ? client.send(frames[0]!) : client.sendFrames(frames));
    sent = end;
    i = end + 1;
  }
  await counting;
})().catch(() => {}); // the client left, or the server closed

const commands = createInterface({ input: process.stdin });
commands.on("line", (line) => {
  if (line === "status") console.log(JSON.stringify({ sent, beats }));
});
commands.once("close", async () => {
  await server.close();
  await flooding;
  process.exit(0);
});
