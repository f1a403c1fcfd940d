/** The recording format: parsing, serialising, the buffered writer. */
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import {
  parseRecording,
  parseRecordLine,
  RecordingError,
  RecordWriter,
  serializeRecordLine,
} from "../src/protocol/record.ts";
import { capture } from "./fixtures.ts";
import { test } from "./harness.ts";

test("record: serialize and parse round-trip, including the real capture", async () => {
  const lines = await capture();
  const text = lines.map(serializeRecordLine).join("");
  deepStrictEqual(parseRecording(text), lines);
  strictEqual(serializeRecordLine({ t: 1, body: "a\nb" }), '{"t":1,"body":"a\\nb"}\n');
  // The fixture's own spacing (`{"t": 1, "body": …}`) and CRLF line ends parse too.
  deepStrictEqual(parseRecording('{"t": 1, "body": "x"}\r\n\r\n{"t": 2, "body": "y", "z": 0}'), [
    { t: 1, body: "x" },
    { t: 2, body: "y" },
  ]);
});

test("record: a byte order mark before the first line is no part of it", () => {
  deepStrictEqual(parseRecording('\uFEFF{"t": 1, "body": "x"}\n{"t": 2, "body": "y"}\n'), [
    { t: 1, body: "x" },
    { t: 2, body: "y" },
  ]);
});

test("record: malformed lines are rejected with the file name and line number", () => {
  const cases: [string, string][] = [
    ['{"t": 1, "body": "x"}\nnot json\n', "rec.jsonl:2: not JSON"],
    ["\n\n[1, 2]\n", "rec.jsonl:3: expected an object"],
    ['{"t": "1", "body": "x"}', 'rec.jsonl:1: "t" must be a whole number of ms'],
    // No clock can show it (a replay printed NaN:NaN:NaN); an import refuses it too.
    ['{"t": 99999999999999999, "body": "x"}', 'rec.jsonl:1: "t" must be a whole number of ms'],
    ['{"t": -5, "body": "x"}', 'rec.jsonl:1: "t" must be a whole number of ms'],
    ['{"t": 1}', 'rec.jsonl:1: "body" must be a string'],
    ["null", "rec.jsonl:1: expected an object"],
  ];
  for (const [text, message] of cases) {
    throws(() => parseRecording(text, "rec.jsonl"), (error: unknown) => {
      ok(error instanceof RecordingError);
      ok(error.message.startsWith(message), error.message);
      return true;
    });
  }
  strictEqual(parseRecordLine('{"t": 5, "body": "type@=mrkl/"}').t, 5);
});

test("record: RecordWriter batches lines, keeps their order and flushes on close", async () => {
  const writes: string[] = [];
  const writer = new RecordWriter(async (text) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    writes.push(text);
  }, { flushInterval: 10_000, maxBuffer: 100 });
  for (let i = 0; i < 10; i++) writer.add(`type@=chatmsg/txt@=${i}/`, 1000 + i);
  await writer.close();
  writer.add("type@=mrkl/", 1); // ignored after close
  const lines = parseRecording(writes.join(""));
  deepStrictEqual(lines.map((l) => l.t), [...Array(10).keys()].map((i) => 1000 + i));
  ok(writes.length > 1 && writes.length < 10, `${writes.length} writes`);
  strictEqual(writer.lines, 10);
});

test("record: RecordWriter flushes on its timer, and reports a failed write once", async () => {
  const writes: string[] = [];
  const timed = new RecordWriter((text) => Promise.resolve(void writes.push(text)), {
    flushInterval: 5,
  });
  timed.add("type@=mrkl/", 1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  strictEqual(writes.length, 1);
  await timed.close();

  const errors: unknown[] = [];
  const failing = new RecordWriter(() => Promise.reject(new Error("disk full")), {
    onError: (error) => errors.push(error),
  });
  failing.add("type@=mrkl/", 1);
  await failing.flush();
  failing.add("type@=mrkl/", 2);
  await rejects(failing.close(), /disk full/);
  strictEqual(errors.length, 1);
});

/** A write function that holds every write until `open()`, like a file slower than the room. */
function gatedWrites() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const writes: string[] = [];
  const write = async (text: string) => {
    await gate;
    writes.push(text);
  };
  return { write, writes, open };
}

test("record: RecordWriter fails once when more than maxPending characters wait to be written", async () => {
  const { write, writes, open } = gatedWrites();
  const errors: unknown[] = [];
  const writer = new RecordWriter(write, {
    flushInterval: 10_000,
    maxBuffer: 100,
    maxPending: 1000,
    onError: (error) => errors.push(error),
  });
  const body = `type@=chatmsg/txt@=${"x".repeat(50)}/`;
  const size = serializeRecordLine({ t: 0, body }).length;
  const fits = Math.floor(1000 / size);
  for (let i = 0; i < fits; i++) writer.add(body, i);
  strictEqual(errors.length, 0, "up to the cap is fine");
  for (let i = fits; i < 100; i++) writer.add(body, i);
  strictEqual(errors.length, 1, "one error, however many lines follow");
  ok(errors[0] instanceof RecordingError, String(errors[0]));
  ok(/more than 1000 characters/.test((errors[0] as Error).message), String(errors[0]));
  strictEqual(writer.lines, fits, "lines past the cap are not kept");
  open();
  await rejects(writer.close(), (error) => error === errors[0]);
  // What reached the file is whole lines, in order, never more than the cap.
  const written = parseRecording(writes.join(""));
  deepStrictEqual(written.map((l) => l.t), [...Array(written.length).keys()]);
  ok(writes.join("").length <= 1000);
});

test("record: RecordWriter holds at most 16 MiB for a stalled file by default", async () => {
  const { write, open } = gatedWrites();
  const errors: unknown[] = [];
  const writer = new RecordWriter(write, { onError: (error) => errors.push(error) });
  const body = "x".repeat(1024 * 1024); // each line is just over 1 MiB
  for (let i = 0; i < 15; i++) writer.add(body, i);
  strictEqual(errors.length, 0, "15 MiB waiting is fine");
  writer.add(body, 15);
  strictEqual(errors.length, 1, "16 MiB and a little is not");
  open();
  await rejects(writer.close(), /fell behind/);
});

test("record: RecordWriter.close stops at once: an add() during its flush is never written", async () => {
  const { write, writes, open } = gatedWrites();
  const writer = new RecordWriter(write, { flushInterval: 5 });
  writer.add("type@=chatmsg/txt@=1/", 1);
  const closing = writer.close();
  writer.add("type@=chatmsg/txt@=2/", 2); // while close() is flushing: ignored
  open();
  await closing;
  // Longer than flushInterval: a timer started by that add() would have written by now.
  await new Promise((resolve) => setTimeout(resolve, 40));
  deepStrictEqual(parseRecording(writes.join("")).map((l) => l.t), [1]);
  strictEqual(writer.lines, 1);
  writer.add("type@=chatmsg/txt@=3/", 3); // after close: ignored too
  await writer.close(); // idempotent
  strictEqual(writes.length, 1);
});

/** Parses `text`, collecting what `onIncompleteLine` reports. */
function parseTolerant(text: string): { lines: number[]; cut: number[] } {
  const cut: number[] = [];
  const lines = parseRecording(text, "rec.jsonl", { onIncompleteLine: (line) => cut.push(line) });
  return { lines: lines.map((line) => line.t), cut };
}

test("record: a last line cut off is skipped and reported once, with its number", () => {
  const whole = '{"t": 1, "body": "x"}\n{"t": 2, "body": "y"}\n';
  deepStrictEqual(parseTolerant(whole), { lines: [1, 2], cut: [] });
  deepStrictEqual(parseTolerant(`${whole}{"t": 3, "bo`), { lines: [1, 2], cut: [3] });
  deepStrictEqual(parseTolerant(`${whole}{`), { lines: [1, 2], cut: [3] });
  deepStrictEqual(parseTolerant(`${whole}\n\n{"t": 3, "body": "z`), { lines: [1, 2], cut: [5] });
  deepStrictEqual(parseTolerant(`${whole}{"t": 3, "body": "z"\r`), { lines: [1, 2], cut: [3] });
  deepStrictEqual(parseTolerant('{"t": 1, "bo'), { lines: [], cut: [1] });
  // Cut just before the newline: the line is whole, nothing is skipped.
  deepStrictEqual(parseTolerant(whole.slice(0, -1)), { lines: [1, 2], cut: [] });
  // Blank text after the last newline is not a line.
  deepStrictEqual(parseTolerant(`${whole}  \r`), { lines: [1, 2], cut: [] });
  // Without the option, the cut line is skipped all the same.
  deepStrictEqual(parseRecording(`${whole}{"t": 3`).map((line) => line.t), [1, 2]);
});

test("record: a bad line that is not a cut last line still fails, naming its line", () => {
  const cases: [string, string][] = [
    // In the middle, also when the last line is cut too.
    ['{"t": 1, "body": "x"}\nnot json\n{"t": 3, "body": "z"}\n', "rec.jsonl:2: not JSON"],
    ['{"t": 1, "body": "x"}\n{"t": 2, "bo\n{"t": 3, "bo', "rec.jsonl:2: not JSON"],
    // Last, but ended by a newline: written whole, so it is wrong, not cut.
    ['{"t": 1, "body": "x"}\n{"t": 2, "bo\n', "rec.jsonl:2: not JSON"],
    ['{"t": 1, "body": "x"}\n{"t": 2, "bo\r\n', "rec.jsonl:2: not JSON"],
    ['{"t": 1, "body": "x"}\n{"t": 2, "bo\n\n\n', "rec.jsonl:2: not JSON"],
    // Last and unterminated, but JSON: a wrong record, not a cut one.
    ['{"t": 1, "body": "x"}\n{"t": 2}', 'rec.jsonl:2: "body" must be a string'],
    ['{"t": 1, "body": "x"}\n[1]', "rec.jsonl:2: expected an object"],
  ];
  for (const [text, message] of cases) {
    const cut: number[] = [];
    throws(
      () => parseRecording(text, "rec.jsonl", { onIncompleteLine: (line) => cut.push(line) }),
      (error: unknown) => {
        ok(error instanceof RecordingError);
        ok(error.message.startsWith(message), `${JSON.stringify(text)}: ${error.message}`);
        return true;
      },
    );
    deepStrictEqual(cut, [], JSON.stringify(text));
  }
});

test("record: the real capture cut anywhere keeps every whole line", async () => {
  const recorded = (await capture()).slice(0, 30);
  const text = recorded.map((line) => JSON.stringify(line) + "\n").join("");
  const ends: number[] = []; // where each line's newline is
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) ends.push(at);
  for (let length = 0; length <= text.length; length++) {
    const { lines, cut } = parseTolerant(text.slice(0, length));
    // Whole lines: those whose JSON fits, with or without their newline.
    const whole = ends.filter((end) => end <= length).length;
    strictEqual(lines.length, whole, `cut at ${length}`);
    deepStrictEqual(lines, recorded.slice(0, whole).map((line) => line.t));
    const partial = length > 0 && !ends.includes(length - 1) && !ends.includes(length);
    deepStrictEqual(cut, partial ? [whole + 1] : [], `cut at ${length}`);
  }
});
