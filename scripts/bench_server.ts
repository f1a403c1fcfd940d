/**
 * The mock server for `scripts/bench_session.ts`, in its own process so the
 * client under test has a core to itself. The stream is encoded once, in
 * batches of whole frames, so the server is not what limits the rate being
 * measured. Prints one JSON line with its URLs, then serves until stdin closes.
 *
 * Four URLs: `tcp` and `ws` (the mock server; over `ws` each WebSocket
 * message holds ~16 KiB of whole packets), and two streams encoded once and
 * written in ~16 KiB pieces by one small server of their own: `tcp0`, the
 * packets as they are, and `ws1`, a WebSocket with one Douyu packet per
 * message, as a peer may well send it.
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
import { listen } from "../src/transport/default.ts";
import type { Transport } from "../src/transport/seam.ts";
import { encodeWebSocketFrame } from "../src/transport/websocket_frame.ts";
import { acceptKey, readHead } from "../src/transport/websocket_handshake.ts";

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

/** `chunks` joined into pieces of about 16 KiB, each of whole chunks. */
function batch(chunks: Uint8Array[]): Uint8Array[] {
  const batches: Uint8Array[] = [];
  for (let i = 0; i < chunks.length;) {
    const batch: Uint8Array[] = [];
    let size = 0;
    while (i < chunks.length && size < 16 * 1024) {
      batch.push(chunks[i]!);
      size += chunks[i++]!.length;
    }
    batches.push(concat(batch));
  }
  return batches;
}

// ~16 KiB writes of whole frames: a WebSocket message then holds whole packets.
const batches = batch(frames);
// The pre-encoded streams: loginres and pingreq as the mock sends them, then the capture, as raw
// TCP (tcp0) or with every packet in a WebSocket message of its own (ws1).
const greeting = ["type@=loginres/userid@=0/", "type@=pingreq/tick@=0/"];
const packets = [...greeting.map((body) => encodeFrame(body, 690)), ...frames];
const plainPieces = batch(packets);
const singlePieces = batch(packets.map((packet) => encodeWebSocketFrame(2, packet, false)));

/**
 * One client of a pre-encoded stream: the WebSocket handshake by hand (for
 * ws1), then the stream in its ~16 KiB pieces, each write awaited; what the
 * client sends is read and dropped. The same code serves tcp0 and ws1, so
 * their rates compare the client's two paths, not two servers.
 */
async function servePieces(stream: Transport, webSocket: boolean): Promise<void> {
  try {
    if (webSocket) {
      const head = await readHead(stream, "ws1", "request");
      const key = head.headers.get("sec-websocket-key") ?? "";
      await stream.write(new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
      ));
    }
    const draining = (async () => {
      while (await stream.read());
    })();
    for (const piece of webSocket ? singlePieces : plainPieces) await stream.write(piece);
    await draining;
  } finally {
    stream.close();
  }
}

const server = await MockServer.start({ protocols: ["tcp", "ws"] });
const [plainListener, singlesListener] = await Promise.all(
  [false, true].map((webSocket) =>
    listen({ protocol: "tcp" }, (stream) => {
      servePieces(stream, webSocket).catch(() => {}); // the client may leave first
    })
  ),
);
const tcp0 = plainListener!.endpoint.url;
const ws1 = singlesListener!.endpoint.url.replace(/^tcp:/, "ws:") + "/";
(async () => {
  for (;;) {
    const client = await server.nextClient().catch(() => undefined);
    if (client === undefined) return; // the server closed
    (async () => {
      for (const batch of batches) await client.sendRaw(batch);
    })().catch(() => {}); // the client may leave first
  }
})();
console.log(JSON.stringify({ ...server.urls, tcp0, ws1, messages: frames.length }));
// Serve until the parent closes our stdin.
process.stdin.resume();
process.stdin.on("end", () => {
  void Promise.all([server.close(), plainListener!.close(), singlesListener!.close()])
    .then(() => process.exit(0));
});
