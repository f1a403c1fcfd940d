// deno-lint-ignore-file no-console
/**
 * Codec benchmark: the real capture repeated to 16 MB, fed in 64 KiB reads.
 * Every figure is a ratio against a baseline measured in the same process,
 * interleaved round by round so machine noise hits all of them alike.
 *
 *   deno task bench                       codec paths vs TextDecoder-only
 *   deno task bench --douyudm DIR         also douyudm@2.0.1 installed in DIR
 *
 * Paths:
 * - textdecode: only `TextDecoder.decode` of each body (frame offsets known).
 * - full: FrameDecoder → parseMessage → every field of every message read,
 *   nested values walked.
 * - filtered: a `chatmsg`-only consumer: peekTypeBytes drops the rest before
 *   UTF-8 decoding; kept ones fully decoded and walked.
 * - douyudm: its Packet.Decode + STT.deserialize, every field walked, on the
 *   same 64 KiB reads. Decode cannot join a frame split across two reads, so
 *   the harness carries the tail over and hands it whole frames only.
 * - douyudm-frames: the same, fed one whole frame per call (its best case).
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { encodeFrame, FrameDecoder, parseMessage, peekTypeBytes } from "../internal_mod.ts";

const args = parseArgs({
  args: process.argv.slice(2),
  options: {
    douyudm: { type: "string" },
    mb: { type: "string", default: "16" },
    rounds: { type: "string", default: "7" },
  },
});
const targetBytes = Number(args.values.mb) * 1024 * 1024;
const rounds = Number(args.values.rounds);

const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const bodies = capture.trim().split("\n").map((line) => JSON.parse(line).body as string);
const frames = bodies.map((body) => encodeFrame(body, 690));
const captureBytes = frames.reduce((n, f) => n + f.length, 0);
const repeats = Math.ceil(targetBytes / captureBytes);
const stream = new Uint8Array(captureBytes * repeats);
const offsets: number[] = [];
for (let r = 0, pos = 0; r < repeats; r++) {
  for (const frame of frames) {
    stream.set(frame, pos);
    offsets.push(pos);
    pos += frame.length;
  }
}
const messageCount = offsets.length;
const READ = 64 * 1024;

/** Reads every string and walks every nested value, so nothing stays lazy. */
function walk(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += walk(item);
    return n;
  }
  if (typeof value === "object" && value !== null) {
    let n = 0;
    for (const key in value) n += key.length + walk((value as Record<string, unknown>)[key]);
    return n;
  }
  return 0;
}

const text = new TextDecoder();
const paths: Record<string, () => number> = {
  textdecode() {
    const view = new DataView(stream.buffer);
    let n = 0;
    for (const at of offsets) {
      const total = view.getUint32(at, true) + 4;
      n += text.decode(stream.subarray(at + 12, at + total - 1)).length;
    }
    return n;
  },
  full() {
    const decoder = new FrameDecoder();
    let n = 0;
    for (let pos = 0; pos < stream.length; pos += READ) {
      for (const frame of decoder.push(stream.subarray(pos, pos + READ))) {
        n += walk(parseMessage(frame.body));
      }
    }
    return n;
  },
  filtered() {
    const decoder = new FrameDecoder({ filter: (body) => peekTypeBytes(body) === "chatmsg" });
    let n = 0;
    for (let pos = 0; pos < stream.length; pos += READ) {
      for (const frame of decoder.push(stream.subarray(pos, pos + READ))) {
        n += walk(parseMessage(frame.body));
      }
    }
    return n;
  },
};

if (args.values.douyudm) {
  const require = createRequire(`${args.values.douyudm.replace(/\/$/, "")}/`);
  const Packet = require("douyudm/src/packet.js") as {
    Decode(buf: ArrayBuffer, cb: (body: string) => void): void;
  };
  const STT = require("douyudm/src/stt.js") as { deserialize(raw: string): unknown };
  const frameBuffers = frames.map((f) => f.slice().buffer);
  const reads: ArrayBuffer[] = [];
  for (let pos = 0; pos < stream.length; pos += READ) {
    reads.push(stream.slice(pos, pos + READ).buffer);
  }
  let delivered = 0;
  // Packet.Decode drops a frame split across reads, so the harness carries
  // the incomplete tail into the next read (concatenating, as a client of
  // this codec has to) and hands Decode only whole frames.
  paths.douyudm = () => {
    let n = 0;
    delivered = 0;
    let tail = new Uint8Array(0);
    for (const read of reads) {
      const bytes = new Uint8Array(tail.length + read.byteLength);
      bytes.set(tail);
      bytes.set(new Uint8Array(read), tail.length);
      const view = new DataView(bytes.buffer);
      let whole = 0;
      while (whole + 4 <= bytes.length && whole + view.getUint32(whole, true) + 4 <= bytes.length) {
        whole += view.getUint32(whole, true) + 4;
      }
      Packet.Decode(bytes.slice(0, whole).buffer, (body) => {
        delivered++;
        n += walk(STT.deserialize(body));
      });
      tail = bytes.slice(whole);
    }
    return n;
  };
  paths["douyudm-frames"] = () => {
    let n = 0;
    for (let r = 0; r < repeats; r++) {
      for (const buf of frameBuffers) {
        Packet.Decode(buf, (body) => (n += walk(STT.deserialize(body))));
      }
    }
    return n;
  };
  paths.douyudm();
  if (delivered !== messageCount) {
    throw new Error(`douyudm decoded ${delivered} of ${messageCount}`);
  }
}

const times: Record<string, number[]> = {};
for (const name of Object.keys(paths)) {
  paths[name]!(); // warm up
  times[name] = [];
}
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(paths)) {
    const started = performance.now();
    run();
    times[name]!.push(performance.now() - started);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// Every path is credited with the whole stream: douyudm's lost messages do
// not count against its rate.
const rate = (name: string) => messageCount / (median(times[name]!) / 1000);

const base = rate("textdecode");
console.log(
  `stream: ${(stream.length / 1048576).toFixed(1)} MiB, ${messageCount} messages ` +
    `(${bodies.length}-message capture x${repeats}), ${READ / 1024} KiB reads, median of ${rounds}`,
);
console.log("path        msg/s        vs textdecode" + (paths.douyudm ? "   vs douyudm" : ""));
for (const name of Object.keys(paths)) {
  const r = rate(name);
  const vsDouyudm = paths.douyudm ? `   ${(r / rate("douyudm")).toFixed(2)}x` : "";
  console.log(
    `${name.padEnd(11)} ${Math.round(r).toString().padStart(9)}    ${
      (r / base).toFixed(3)
    }x${vsDouyudm}`,
  );
}
