/**
 * The TCP listener survives running out of file descriptors: `accept()`
 * fails while none is free, and the listener must keep trying rather than
 * stop (the port would stay bound, and nobody would answer). The listener
 * runs in a child process with `ulimit -n 64`; this process exhausts its
 * descriptors with connections, releases them, and checks that a new client
 * is served. Under Deno that is `Deno.listen`, under Bun `node:net`.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "../src/protocol/frame.ts";
import type { Transport } from "../src/transport/seam.ts";
import { parseEndpoint } from "../src/transport/seam.ts";
import { defaultTransportFactory } from "../src/transport/default.ts";
import { test } from "./harness.ts";
import { ROOT, runtimeCommand, startChild, watchProcess } from "./process.ts";

/** The child's open-file limit. */
const FILE_LIMIT = 64;
/** Connections opened at once: more than the child can have descriptors for. */
const CONNECTIONS = 120;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with what `conn` reads next, or "timeout" after `ms` (the read stays pending). */
async function readWithin(conn: Transport, ms: number): Promise<Uint8Array | null | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      conn.read(),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test("listener: keeps accepting after running out of file descriptors", async () => {
  const script = `${ROOT}tests/peers/echo_listener.ts`;
  const command = runtimeCommand(script, ["-N"]).map((arg) => `'${arg}'`).join(" ");
  const child = startChild("sh", ["-c", `ulimit -n ${FILE_LIMIT} && exec ${command}`]);
  const conns: Transport[] = [];
  const watch = watchProcess(child.pid);
  try {
    const [url] = await child.waitFor("stdout", /tcp:\/\/\S+/, 30_000);
    const endpoint = parseEndpoint(url);
    // The kernel completes each handshake; the child accepts until it has no descriptor left.
    const opened = await Promise.allSettled(
      Array.from({ length: CONNECTIONS }, () => defaultTransportFactory(endpoint, {})),
    );
    for (const result of opened) if (result.status === "fulfilled") conns.push(result.value);
    for (let waited = 0; waited < 5000 && watch.peakDescriptors < FILE_LIMIT; waited += 100) {
      await delay(100);
    }
    // (One descriptor may have been inherited above the limit.)
    assert.ok(
      watch.peakDescriptors >= FILE_LIMIT,
      `only ${watch.peakDescriptors} descriptors open`,
    );
    for (const conn of conns.splice(0)) conn.close();

    // Accepting resumes: the released connections drain from the backlog, then this one.
    const client = await defaultTransportFactory(endpoint, {});
    conns.push(client);
    const hello = encodeFrame("type@=mrkl/");
    await client.write(hello);
    const echo = await readWithin(client, 15_000);
    assert.ok(echo !== "timeout", "no answer: the listener stopped accepting");
    assert.deepEqual(echo, hello);
  } finally {
    for (const conn of conns) conn.close();
    child.kill("SIGTERM");
    await child.exited;
    await watch.stop();
  }
}, { timeout: 60_000 });
