/**
 * The mock server for `scripts/bench_session.ts`, in its own process so the
 * client under test has a core to itself. The stream is encoded once, in
 * batches of whole frames, so the server is not what limits the rate being
 * measured. Prints one JSON line with its URLs, then serves until stdin closes.
 *
 *   deno run -N -R scripts/bench_server.ts --repeat 60
 */
// deno-lint-ignore-file no-console
import { readFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { encodeFrame } from "../mod.ts";
import { concat } from "../src/base/bytes.ts";
import { MockServer } from "../src/testing/mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { repeat: { type: "string", default: "0" } },
});
const repeat = Number(values.repeat);
const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string);
const frames = Array.from({ length: repeat }, () => bodies).flat().map((b) => encodeFrame(b, 690));

// ~16 KiB writes of whole frames: a WebSocket message then holds whole packets.
const batches: Uint8Array[] = [];
for (let i = 0; i < frames.length;) {
  const batch: Uint8Array[] = [];
  let size = 0;
  while (i < frames.length && size < 16 * 1024) {
    batch.push(frames[i]!);
    size += frames[i++]!.length;
  }
  const bytes = concat(batch);
  batches.push(bytes);
}

const server = await MockServer.start({ protocols: ["tcp", "ws"] });
(async () => {
  for (;;) {
    const client = await server.nextClient().catch(() => undefined);
    if (client === undefined) return; // the server closed
    (async () => {
      for (const batch of batches) await client.sendRaw(batch);
    })().catch(() => {}); // the client may leave first
  }
})();
console.log(JSON.stringify({ ...server.urls, messages: frames.length }));
// Serve until the parent closes our stdin.
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
