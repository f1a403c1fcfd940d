/**
 * Clients of the overlay's event stream that never read, for the overlay's
 * limits test and `bench:overlay --hostile`: they run in their own process,
 * so the server's process is measured alone. Raw sockets (`node:net`), paused
 * at once: an HTTP client API would read.
 *
 *   overlay_clients.ts URL COUNT [LAST_EVENT_ID]
 *
 * Opens COUNT connections to URL (`http://host:port/`), each sending
 * `GET /events` (with `Last-Event-ID` when given: a full replay of the
 * history), and never reads. Prints `{"ready": n}` once every request is
 * written, then, when stdin closes, `{"closed": n}`: how many connections
 * the server closed meanwhile. Then exits.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { connect, type Socket } from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";

const [base, countText, lastEventId] = process.argv.slice(2);
const url = new URL(base!);
const count = Number(countText);
const sockets: Socket[] = [];
let closed = 0;

const request = [
  "GET /events HTTP/1.1",
  `Host: ${url.host}`,
  ...(lastEventId ? [`Last-Event-ID: ${lastEventId}`] : []),
  "Accept: text/event-stream",
  "",
  "",
].join("\r\n");

await Promise.all(
  Array.from({ length: count }, () =>
    new Promise<void>((resolve) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      socket.pause();
      sockets.push(socket);
      socket.on("error", () => {});
      socket.once("close", () => {
        closed++;
        resolve();
      });
      socket.once("connect", () => socket.write(request, () => resolve()));
    })),
);
console.log(JSON.stringify({ ready: count }));

const input = createInterface({ input: process.stdin });
input.once("close", () => {
  console.log(JSON.stringify({ closed }));
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
