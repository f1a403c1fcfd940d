/**
 * The WebSocket layer's cost per frame, in one process and by CPU time, so
 * it holds on a busy machine: the real capture with one Douyu packet per
 * WebSocket message, read from memory
 *
 * 1. through the WebSocket layer alone, against the same packets read as
 *    plain chunks (the difference, per frame, is what the layer costs);
 * 2. through a whole session, against the same session over plain TCP
 *    bytes (the ratio is what `bench:session`'s `ws 1/msg` measures over
 *    loopback, without the sockets and the server).
 *
 * Both streams come in 64 KiB chunks copied into one reused buffer, as a
 * socket read delivers them. Rounds alternate; each figure is a median.
 *
 *   deno run -A scripts/bench_websocket.ts [--repeat 100] [--rounds 9]
 *   bun scripts/bench_websocket.ts …
 */
// deno-lint-ignore-file no-console
import { readFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { concat } from "../src/base/bytes.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { connect } from "../src/session/session.ts";
import { parseEndpoint, type Transport } from "../src/transport/seam.ts";
import { openWebSocket } from "../src/transport/websocket.ts";
import { encodeWebSocketFrame } from "../src/transport/websocket_frame.ts";
import { acceptKey } from "../src/transport/websocket_handshake.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    repeat: { type: "string", default: "100" },
    rounds: { type: "string", default: "9" },
  },
});
const repeat = Number(values.repeat);
const rounds = Number(values.rounds);

const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string);
const greeting = ["type@=loginres/userid@=0/", "type@=pingreq/tick@=0/"];
const packets = [...greeting, ...Array.from({ length: repeat }, () => bodies).flat()]
  .map((body) => encodeFrame(body, 690));
const CHUNK = 64 * 1024;
const chunks = (bytes: Uint8Array) =>
  Array.from(
    { length: Math.ceil(bytes.length / CHUNK) },
    (_, i) => bytes.slice(i * CHUNK, (i + 1) * CHUNK),
  );
const plain = chunks(concat(packets));
const framed = chunks(concat(packets.map((packet) => encodeWebSocketFrame(2, packet, false))));

/**
 * A stream from memory: each chunk copied into one reused buffer. For a
 * WebSocket it answers the client's upgrade; past the last chunk it stays
 * open and silent until closed, as a quiet server does.
 */
class MemoryStream implements Transport {
  readonly url = "tcp://memory:1";
  readonly #chunks: Uint8Array[];
  readonly #buffer = new Uint8Array(CHUNK);
  #next = 0;
  #answer: Uint8Array | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks;
  }

  read(): Promise<Uint8Array | null> {
    const answer = this.#answer;
    this.#answer = undefined;
    if (answer) return Promise.resolve(answer);
    const chunk = this.#chunks[this.#next++];
    if (chunk === undefined || this.#closed) {
      return new Promise((resolve) => (this.#wake = () => resolve(null)));
    }
    this.#buffer.set(chunk);
    return Promise.resolve(this.#buffer.subarray(0, chunk.length));
  }

  async write(bytes: Uint8Array): Promise<void> {
    const key = /Sec-WebSocket-Key: (\S+)/.exec(new TextDecoder().decode(bytes.subarray(0, 512)));
    if (this.#next > 0 || key === null) return;
    this.#answer = new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key[1]!)}\r\n\r\n`,
    );
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
}

const WS_URL = "ws://memory:1/";
const openFramed = async () => await openWebSocket(new MemoryStream(framed), parseEndpoint(WS_URL));

/** CPU seconds (user and system) `run` takes. */
async function cpuSeconds(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

/** Reads a stream to its end (the layer alone: no session). */
async function drain(stream: Transport, closeAt: number): Promise<void> {
  let bytes = 0;
  while (bytes < closeAt) bytes += (await stream.read())!.length;
  stream.close();
}

/** A whole session over `open`'s stream, until every packet has come through. */
async function session(url: string, open: () => Promise<Transport>): Promise<void> {
  const s = await connect(9999, { url, transport: open, reconnect: false });
  let n = 0;
  for await (const message of s) if (message.type !== "" && ++n === packets.length) break;
}

const plainBytes = plain.reduce((n, chunk) => n + chunk.length, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const layer = { plain: [] as number[], ws: [] as number[] };
const ratios: number[] = [];
for (let round = -2; round < rounds; round++) { // two rounds of warm-up
  const plainCpu = await cpuSeconds(() => drain(new MemoryStream(plain), plainBytes));
  const wsCpu = await cpuSeconds(async () => drain(await openFramed(), plainBytes));
  const tcpSession = await cpuSeconds(() =>
    session("tcp://memory:1", () => Promise.resolve(new MemoryStream(plain)))
  );
  const wsSession = await cpuSeconds(() => session(WS_URL, openFramed));
  if (round < 0) continue;
  layer.plain.push(plainCpu);
  layer.ws.push(wsCpu);
  ratios.push(tcpSession / wsSession);
}
const perFrame = (median(layer.ws) - median(layer.plain)) / packets.length * 1e9;
console.log(`${packets.length} packets, one per WebSocket message; median of ${rounds} rounds`);
console.log(`WebSocket layer: ${perFrame.toFixed(0)} ns CPU per frame over reading plain chunks`);
console.log(`session, ws 1/msg vs tcp: ${median(ratios).toFixed(2)}x (CPU time per message)`);
