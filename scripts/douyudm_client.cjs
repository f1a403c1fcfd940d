// deno-lint-ignore-file no-console
// Runs douyudm@2.0.1's own client (WebSocket) against a local mock server and
// reports how long it took to receive `expected` messages. Used by
// scripts/bench_session.ts; needs Node and douyudm installed outside the repo.
//   node scripts/douyudm_client.cjs <dir containing node_modules/douyudm> <ws url> <expected>
"use strict";
const path = require("node:path");
const [dir, url, expected] = process.argv.slice(2);
const from = (p) => require(path.join(dir, "node_modules", "douyudm", "src", p));
const Client = from("client.js");
const Packet = from("packet.js");
const messageEvent = from("messageEvent.js");
const clientEvent = from("clientEvent.js");

// Its default handlers print every message; silence them all.
for (const name of Object.keys(messageEvent)) messageEvent[name] = () => {};
const started = performance.now();
let count = 0;
const decode = Packet.Decode;
// Its client hands each decoded body to this callback, which deserializes
// and dispatches it: count after that.
Packet.Decode = (buffer, callback) =>
  decode(buffer, (body) => {
    callback(body);
    if (++count === Number(expected)) {
      console.log(JSON.stringify({ count, ms: performance.now() - started }));
      process.exit(0);
    }
  });
clientEvent.error = (error) => {
  console.error(String(error));
  process.exit(1);
};
new Client(9999).run(url);
