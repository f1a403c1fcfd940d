/**
 * An echo server on the transport seam's `listen()`, for
 * `tests/listener_test.ts`: it prints its URL, then echoes every
 * connection's bytes until SIGTERM. Meant to run with a low open-file limit.
 *
 *   deno run -N tests/peers/echo_listener.ts     (or: bun tests/peers/echo_listener.ts)
 *
 * @module
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { listen } from "../../src/transport/default.ts";

// Deno sets up its signal handling on first use, and panics if it gets no
// file descriptor for it then: so first use is now, while there are some.
process.on("SIGTERM", () => process.exit(0));

const listener = await listen({ protocol: "tcp" }, async (conn) => {
  try {
    for (let chunk; (chunk = await conn.read()) !== null;) await conn.write(chunk.slice());
  } catch {
    // The peer went away.
  } finally {
    conn.close();
  }
});
console.log(listener.endpoint.url);
// Stay alive whatever the listener does, as a server with other work would:
// a listener that stopped accepting then shows as a port nobody answers on.
setInterval(() => {}, 60_000);
