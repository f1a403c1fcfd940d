/**
 * The archive's blocks: whatever lines go in (any script, empty ones, one
 * or many), `BlockLines` gives each back, read in any order, stored or
 * deflated; past the last line it gives nothing.
 */
import assert from "node:assert/strict";
import { BlockLines, packBlock } from "../src/archive/blocks.ts";
import { seededRandom } from "./fixtures.ts";
import { test } from "./harness.ts";

const PIECES = ["主播", "6", "", "弹幕🎉", '\\"', "\u2028", "é", "a".repeat(300), "{}", " "];

/** Random JSON lines: strings made of the pieces, as `JSON.stringify` writes them. */
function randomLines(random: () => number): string[] {
  const count = Math.floor(random() * 40);
  return Array.from({ length: count }, () => {
    let text = "";
    const pieces = Math.floor(random() * 6);
    for (let i = 0; i < pieces; i++) text += PIECES[Math.floor(random() * PIECES.length)];
    return random() < 0.1 ? "" : JSON.stringify({ txt: text, n: Math.floor(random() * 1e6) });
  });
}

test("BlockLines gives back each line packed, in any order", () => {
  const random = seededRandom(17);
  for (let round = 0; round < 300; round++) {
    const lines = randomLines(random);
    const block = packBlock(lines, random() < 0.5);
    // An empty block still holds one (empty) line: joined, nothing tells them apart.
    const whole = lines.length === 0 ? [""] : lines;

    const read = new BlockLines(block);
    const order = whole.map((_, i) => i).sort(() => random() - 0.5);
    for (const pos of order) assert.equal(read.at(pos), whole[pos], `line ${pos}`);
    assert.equal(read.length, whole.length);

    const counted = new BlockLines(block);
    assert.equal(counted.length, whole.length);
    assert.equal(counted.at(whole.length), undefined);
    assert.equal(counted.at(-1), undefined);
    assert.equal(counted.at(0.5), undefined);
  }
});

test("BlockLines reads the last line of a block before any other", () => {
  const lines = ['{"a":"主播"}', '{"b":2}', '{"c":"666"}'];
  for (const deflate of [true, false]) {
    const read = new BlockLines(packBlock(lines, deflate));
    assert.equal(read.at(2), lines[2]);
    assert.equal(read.at(3), undefined);
    assert.equal(read.at(0), lines[0]);
    assert.equal(read.length, 3);
  }
});

test("BlockLines refuses a block no writer made", () => {
  assert.throws(() => new BlockLines(new Uint8Array([7, 1, 2])), RangeError);
});
