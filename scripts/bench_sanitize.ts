// deno-lint-ignore-file no-console
/**
 * sanitizeForTerminal benchmark: ns per call, against the sanitiser of 0.1.0
 * (controls and bidi overrides only, one plain regex test) as the baseline,
 * interleaved round by round so machine noise hits both alike.
 *
 *   deno run -R scripts/bench_sanitize.ts
 *   bun scripts/bench_sanitize.ts
 *
 * Inputs: every string of every message of the real capture (keys and values,
 * nested ones too), the same in revealing mode, and long chat lines of CJK and
 * of emoji (the fast path scans all of them).
 */
import { readFile } from "node:fs/promises";
import { parseMessage, sanitizeForTerminal } from "../mod.ts";

// deno-lint-ignore no-control-regex -- the baseline's set
const BASELINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// deno-lint-ignore no-control-regex -- the same set, to replace
const BASELINE_GLOBAL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
function baseline(text: string): string {
  if (!BASELINE.test(text)) return text;
  return text.replace(BASELINE_GLOBAL, (char) => (char === "\t" ? " " : ""));
}

const capture = await readFile(
  new URL("../tests/fixtures/capture_room102965.jsonl", import.meta.url),
  "utf8",
);
const strings: string[] = [];
function collect(value: unknown): void {
  if (typeof value === "string") strings.push(value);
  else if (Array.isArray(value)) value.forEach(collect);
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      strings.push(key);
      collect(item);
    }
  }
}
for (const line of capture.trim().split("\n")) collect(parseMessage(JSON.parse(line).body));

const inputs: Record<string, string[]> = {
  capture: strings,
  "cjk x100": ["弹幕 danmaku 今晚也来了！".repeat(100)],
  "emoji x100": ["😀 hi 你好".repeat(100)],
};
const reveal = { reveal: true };
const rounds = 9;
const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1]!;

console.log(`${strings.length} strings from the capture; median of ${rounds} rounds, ns per call`);
for (const [name, texts] of Object.entries(inputs)) {
  const reps = Math.max(1, Math.round(2_000_000 / texts.length / Math.sqrt(texts[0]!.length)));
  const paths: Record<string, (text: string) => string> = {
    baseline,
    remove: (text) => sanitizeForTerminal(text),
    reveal: (text) => sanitizeForTerminal(text, reveal),
  };
  const times: Record<string, number[]> = { baseline: [], remove: [], reveal: [] };
  let sink = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [path, run] of Object.entries(paths)) {
      const start = performance.now();
      for (let r = 0; r < reps; r++) {
        for (const text of texts) sink += run(text).length;
      }
      times[path]!.push(((performance.now() - start) * 1e6) / (reps * texts.length));
    }
  }
  const base = median(times.baseline!);
  console.log(
    `${name.padEnd(11)} baseline ${base.toFixed(1)}  remove ${median(times.remove!).toFixed(1)} ` +
      `(x${(median(times.remove!) / base).toFixed(2)})  reveal ${
        median(times.reveal!).toFixed(1)
      } ` +
      `(x${(median(times.reveal!) / base).toFixed(2)})${sink < 0 ? "!" : ""}`,
  );
}
