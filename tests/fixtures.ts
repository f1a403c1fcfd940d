/** Loads the real Douyu data in `tests/fixtures/` and small test utilities. */
import { unescapeStt } from "../src/protocol/stt.ts";
import { readFixture } from "./harness.ts";

/** One entry of `vectors.json`. */
export interface Vector {
  name: string;
  body: string;
  source: string;
}

/** The 44 real bodies of `vectors.json`. */
export async function vectors(): Promise<Vector[]> {
  return JSON.parse(await readFixture("vectors.json"));
}

/** One line of the capture: arrival time (ms) and body. */
export interface CaptureLine {
  t: number;
  body: string;
}

/** The 332 messages of the real capture, in arrival order. */
export async function capture(): Promise<CaptureLine[]> {
  const text = await readFixture("capture_room102965.jsonl");
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

/** Just the bodies of the capture. */
export async function captureBodies(): Promise<string[]> {
  return (await capture()).map((line) => line.body);
}

/** Concatenates byte arrays. */
export { concat } from "../src/base/bytes.ts";

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/**
 * A reference one-level decoder, straight from docs/protocol.md's "STT" and kept
 * naive on purpose: split on `/`, split at the first `@=`, unescape, first
 * key wins. The optimised decoders are checked against it.
 */
export function referenceDecode(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const segment of text.split("/")) {
    const eq = segment.indexOf("@=");
    if (eq === -1) continue;
    const key = unescapeStt(segment.slice(0, eq));
    if (Object.hasOwn(out, key)) continue;
    Object.defineProperty(out, key, {
      value: unescapeStt(segment.slice(eq + 2)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
