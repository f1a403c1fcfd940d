/**
 * A bot in its own process: connects to the mock server at `url`, waits for
 * one chat message, closes the session and exits at once, the way a short
 * script ends. The server must still have received `logout`.
 *
 *   deno run -A tests/peers/close_and_exit.ts ws://127.0.0.1:PORT/
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { connect } from "../../mod.ts";

const session = await connect(9999, { url: process.argv[2]!, types: ["chatmsg"] });
for await (const _ of session) break; // break closes the session: logout, then close
console.log(JSON.stringify({ closed: session.isClosed }));
process.exit(0);
