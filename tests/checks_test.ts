import assert from "node:assert/strict";
import { nonNegative, positive } from "../src/base/checks.ts";
import { test } from "./harness.ts";

test("nonNegative: 0 and up pass; negatives, NaN and non-numbers throw a RangeError naming the option", () => {
  assert.equal(nonNegative(0, "a"), 0);
  assert.equal(nonNegative(2.5, "a"), 2.5);
  for (const bad of [-1, -0.1, NaN, Infinity, -Infinity, "5", undefined, null]) {
    assert.throws(() => nonNegative(bad as number, "speed"), {
      name: "RangeError",
      message: `speed must be a finite number >= 0, got ${bad}`,
    });
  }
});

test("positive: above 0 only", () => {
  assert.equal(positive(0.5, "a"), 0.5);
  for (const bad of [0, -1, NaN, Infinity]) {
    assert.throws(() => positive(bad, "keepAlive"), /keepAlive must be a finite number > 0/);
  }
});

test("infinite: Infinity passes (no limit), -Infinity and NaN still throw", () => {
  assert.equal(nonNegative(Infinity, "ttl", { infinite: true }), Infinity);
  assert.equal(positive(Infinity, "ttl", { infinite: true }), Infinity);
  assert.throws(() => nonNegative(-Infinity, "ttl", { infinite: true }), /or Infinity/);
  assert.throws(() => nonNegative(NaN, "ttl", { infinite: true }), RangeError);
});

test("integer: safe integers only", () => {
  assert.equal(positive(3, "n", { integer: true }), 3);
  assert.equal(nonNegative(0, "n", { integer: true }), 0);
  for (const bad of [1.5, 2 ** 53, Infinity]) {
    assert.throws(() => positive(bad, "maxPending", { integer: true }), /an integer > 0/);
  }
  assert.throws(() => positive(0, "maxPending", { integer: true }), {
    message: "maxPending must be an integer > 0, got 0",
  });
});
