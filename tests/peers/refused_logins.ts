/**
 * Logs in to a NATS server that refuses it, `count` times in one process,
 * through the `douyu rooms … list` command: under Deno, a refused socket's
 * late reset could end the process with an uncaught ECONNRESET.
 *
 *   deno run -A tests/peers/refused_logins.ts <nats url> <count>
 *
 * Prints `{"codes": [...], "lines": n}` once done (only if it survived).
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { main } from "../../src/cli/cli.ts";

const [url = "", count = "20"] = process.argv.slice(2);
const codes: number[] = [];
let lines = 0;
for (let i = 0; i < Number(count); i++) {
  codes.push(
    await main(["rooms", "--nats", url, "list"], {
      stdout: () => {},
      stderr: (text: string) => void (lines += text.split("\n").length - 1),
    }),
  );
}
// Resets come after the failure: give them time to arrive.
await new Promise((resolve) => setTimeout(resolve, 500));
console.log(JSON.stringify({ codes, lines }));
