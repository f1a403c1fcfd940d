/**
 * The mock server for `scripts/bench_session.ts`, in its own process so the
 * client under test has a core to itself. Prints one JSON line with its
 * URLs, then serves until stdin closes.
 *
 *   deno run -N -R scripts/bench_server.ts --repeat 60
 */
// deno-lint-ignore-file no-console
import { readFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { MockServer } from "../src/testing.ts";

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
const messages = Array.from({ length: repeat }, () => bodies).flat();

const server = await MockServer.start({ protocols: ["tcp", "ws"], messages });
console.log(JSON.stringify({ ...server.urls, messages: messages.length }));
// Serve until the parent closes our stdin.
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
