/** A reader group's options are checked when it is made, before any server is asked. */
import assert from "node:assert/strict";
import type { Cluster } from "../src/nats/cluster.ts";
import { subscribe } from "../src/nats/consumer.ts";
import { test } from "./harness.ts";

// Options are checked in the constructor: no connection is used.
const cluster = {} as Cluster;

test("nats group: durable and group together, a bad name, ackWait or maxAckPending are refused", () => {
  const refused = (options: Parameters<typeof subscribe>[1], message: RegExp) =>
    assert.throws(() => subscribe(cluster, options), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, message);
      return true;
    });
  refused({ durable: "a", group: "b" }, /durable or in a group, not both/);
  refused({ group: "no spaces" }, /a durable name is 1 to 64 letters/);
  refused({ group: "g", ackWait: 10 }, /ackWait must be from 1000 to 3600000 ms, got 10/);
  refused({ group: "g", maxAckPending: 0 }, /maxAckPending must be a positive integer, got 0/);
  assert.ok(subscribe(cluster, { group: "g", ackWait: 30_000, maxAckPending: 5000 }));
});
