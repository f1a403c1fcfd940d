/**
 * A collector's handover is kept as a status change by `douyu archive
 * --nats`, also when the stream's messages come out of order: after an
 * archiver of the same durable name was killed, what it had not
 * acknowledged comes again only after the ack wait, behind newer messages.
 */
import assert from "node:assert/strict";
import { Archive } from "../src/archive/mod.ts";
import type { ArchiveRun } from "../src/cli/archive.ts";
import { streamSource } from "../src/cli/archive_live.ts";
import type { ClusterMessage, Subscription } from "../src/nats/mod.ts";
import { parseMessage } from "../mod.ts";
import { test } from "./harness.ts";

const T0 = Date.UTC(2026, 0, 1);

/** The handovers stored after reading room 1001's messages in the order given ([collector, seq]). */
async function handovers(order: [string, number][]): Promise<string[]> {
  await using archive = await Archive.open(":memory:");
  const items: ClusterMessage[] = order.map(([collector, seq]) => ({
    room: 1001,
    message: parseMessage(`type@=chatmsg/rid@=1001/uid@=1/nn@=u/txt@=m${seq}/cid@=c${seq}/`),
    receivedAt: T0 + seq,
    collector,
    seq,
    storedAt: T0 + seq,
  }));
  const subscription = (async function* () {
    yield* items;
  })() as unknown as Subscription;
  const run = { archive, types: undefined } as unknown as ArchiveRun;
  for await (const _ of streamSource(subscription, run)) { /* drained */ }
  await archive.flush();
  const found: string[] = [];
  for await (const status of archive.statuses(1001)) {
    if (status.status === "handover") found.push(`${status.detail} at ${status.t - T0}`);
  }
  return found;
}

test("archive --nats: a handover in the stream's order is kept once", async () => {
  assert.deepEqual(await handovers([["a", 1], ["a", 2], ["b", 3], ["b", 4]]), ["a → b at 3"]);
});

test("archive --nats: a handover is kept when the older messages come again after newer ones", async () => {
  // A killed archiver's unacknowledged a-messages (2, 3) come back behind b's (5, 6).
  assert.deepEqual(await handovers([["b", 5], ["b", 6], ["a", 3], ["a", 2], ["b", 7]]), [
    "a → b at 5",
  ]);
});

test("archive --nats: messages of one collector, in any order, are no handover", async () => {
  assert.deepEqual(await handovers([["a", 5], ["a", 2], ["a", 9], ["a", 4]]), []);
});
