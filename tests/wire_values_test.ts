/**
 * Values from the network that once broke a reader: maps whose own
 * `toString` makes `Number()` throw, infinite numbers, arrival times that
 * are no whole millisecond, dates past a month's end.
 */
import assert from "node:assert/strict";
import { isWireValue } from "../src/base/fields.ts";
import { isEpochMs, parseSince } from "../src/base/when.ts";
import { toMessage } from "../src/nats/consumer.ts";
import { Archive } from "../src/archive/archive.ts";
import { ImportError, parseImportLine } from "../src/archive/import.ts";
import { formatMessage } from "../src/output/format.ts";
import { test } from "./harness.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

test("wire values: a map with its own toString or valueOf, or an infinite number, is refused", () => {
  const refused = [
    '{"type":"chatmsg","nn":"Eve","txt":"hi","level":{"toString":"x"}}',
    '{"type":"comm_chatmsg","cprice":{"valueOf":"x"},"cet":"60"}',
    '{"type":"chatmsg","el":[{"a":{"toString":1}}]}',
    '{"type":"chatmsg","uid":1e400}',
    '{"type":"chatmsg","uid":null}',
  ];
  for (const payload of refused) {
    assert.equal(toMessage(bytes(payload)), undefined, payload);
    assert.throws(() => parseImportLine(payload.replace("{", '{"_t":1,'), "f:1"), ImportError);
  }
  // What such a map did to the text output, had it got through:
  assert.throws(() => formatMessage(JSON.parse(refused[0]!)), TypeError);
  const fine = '{"type":"chatmsg","nn":"toString","el":[{"eid":"1","valueOf":"2"}],"n":-1.5}';
  assert.equal(isWireValue(JSON.parse(fine), 6), false, "a list's map with valueOf too");
  assert.equal(toMessage(bytes('{"type":"chatmsg","toString":"x"}')), undefined, "at the top too");
  assert.ok(toMessage(bytes('{"type":"chatmsg","nn":"toString","el":[{"eid":"1"}],"n":-1.5}')));
  assert.equal(isWireValue({ a: { b: { c: "deep" } } }, 3), true);
  assert.equal(isWireValue({ a: { b: { c: { d: "deeper" } } } }, 3), false);
});

test("wire values: arrival times are whole ms from 1970 to 9999, in the archive and its import", async () => {
  for (const t of [0, 1714521600000, 253_402_300_799_999]) assert.ok(isEpochMs(t), String(t));
  for (const t of [-1, 0.5, 1714521600000.3, 253_402_300_800_000, 1e20, NaN, "1"]) {
    assert.equal(isEpochMs(t), false, String(t));
  }
  await using archive = await Archive.open(":memory:");
  const message = { type: "chatmsg", txt: "hi" };
  assert.throws(() => archive.write({ t: 1714521600000.3, room: 1, message }), RangeError);
  assert.throws(() => archive.write({ t: -1e15, room: 1, message }), RangeError);
  assert.throws(
    () => parseImportLine('{"t":1e20,"body":"type@=chatmsg/"}', "rec:3"),
    (error: Error) => error instanceof ImportError && error.message.startsWith('rec:3: "t" must'),
  );
});

test("wire values: --since refuses a day past its month's end", () => {
  assert.equal(parseSince("2024-02-31", 0), undefined);
  assert.equal(parseSince("2023-02-29T10:00:00Z", 0), undefined);
  assert.equal(parseSince("2024-04-31", 0), undefined);
  assert.equal(parseSince("2024-02-29", 0), Date.UTC(2024, 1, 29));
  assert.equal(parseSince("2024-12-31T23:59:59Z", 0), Date.UTC(2024, 11, 31, 23, 59, 59));
});
