/**
 * A mock server in its own process that streams chat back to back, for as
 * long as they stay, to every client that joins: so writes are under way
 * to each one at the moment it leaves. Counts the clients that joined and
 * the `logout`s it read. Prints `{"url": …}` once listening; answers each
 * `report` line on stdin with `{"joined": n, "logouts": m}`; exits when
 * stdin closes.
 *
 *   deno run -A tests/peers/busy_rooms.ts tcp|ws
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { createInterface } from "node:readline";
import { MockServer } from "../../src/testing/mod.ts";

const [protocol = "tcp"] = process.argv.slice(2);
const chat = Array.from(
  { length: 16 },
  (_, i) => `type@=chatmsg/rid@=1/uid@=${i}/nn@=user${i}/txt@=message ${i}/level@=3/`,
);
const server = await MockServer.start({
  protocols: [protocol as "tcp" | "ws"],
  messages: chat,
  loop: true,
  maxClients: 10_000,
});
console.log(JSON.stringify({ url: server.url }));

let joined = 0;
let logouts = 0;
const watching = (async () => {
  for (;;) {
    const client = await server.nextClient();
    void client.joined.then(() => joined++, () => {});
    void client.waitFor("logout").then(() => logouts++, () => {});
  }
})().catch(() => {}); // until the server closes

const commands = createInterface({ input: process.stdin });
commands.on("line", (line) => {
  if (line === "report") console.log(JSON.stringify({ joined, logouts }));
});
commands.once("close", async () => {
  await server.close();
  await watching;
  process.exit(0);
});
