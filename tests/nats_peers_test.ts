/**
 * What one collector concludes of the others from the heartbeat bucket
 * (`src/nats/peers.ts`), without a server: a value that is not a heartbeat
 * ends no session; a session that heartbeats again is live again; the
 * sessions remembered as ended are bounded, however many the bucket names.
 */
import assert from "node:assert/strict";
import type { Cluster, Lease } from "../src/nats/cluster.ts";
import type { SessionLease } from "../src/nats/leases.ts";
import type { Link } from "../src/nats/link.ts";
import { MAX_DEAD, Peers } from "../src/nats/peers.ts";
import { encodeHealth } from "../src/nats/records.ts";
import type { ViewEntry } from "../src/nats/view.ts";
import { test } from "./harness.ts";

const TTL = 4000;

/** Peers of collector "me", with a server that answers each heartbeat lookup from `server`. */
function peersOf(server: Map<string, string>) {
  const asked: string[] = [];
  const link = {
    run: <T>(request: () => Promise<T>) => request(),
  } as unknown as Link;
  const cluster = {
    collectors: {
      get: (name: string) => {
        asked.push(name);
        const value = server.get(name);
        return Promise.resolve(
          value === undefined ? null : { operation: "PUT", value: new TextEncoder().encode(value) },
        );
      },
    },
  } as unknown as Cluster;
  const peers = new Peers({
    name: "me",
    cluster,
    link,
    session: { ttl: TTL } as SessionLease,
    instance: () => "me-1",
  });
  return { peers, asked };
}

function heartbeat(name: string, instance: string): string {
  const now = Date.now();
  return encodeHealth({
    name,
    instance,
    startedAt: now,
    updatedAt: now,
    maxRooms: 100,
    rooms: [],
    counters: {},
  });
}

function entry(value: string): ViewEntry {
  return {
    value: new TextEncoder().encode(value),
    revision: 1,
    created: Date.now(),
    seenAt: performance.now(),
  };
}

const lease = (collector: string, instance: string) => ({ collector, instance }) as Lease;

test("peers: a value that is not a heartbeat ends no session", async () => {
  const server = new Map([["a", heartbeat("a", "a-1")]]);
  const { peers } = peersOf(server);
  assert.equal(peers.seen("a", entry(server.get("a")!), false), true);
  assert.ok(peers.live(performance.now()).live.has("a-1"));
  for (const foreign of ["{}", "not json", '{"instance":"a-2"}', "[]"]) {
    assert.equal(peers.seen("a", entry(foreign), false), false, foreign);
    assert.ok(peers.live(performance.now()).live.has("a-1"), foreign);
    assert.equal(await peers.holderGone(lease("a", "a-1")), false, foreign);
  }
});

test("peers: a session whose key was deleted is live again once it heartbeats", () => {
  const server = new Map([["a", heartbeat("a", "a-1")]]);
  const { peers } = peersOf(server);
  peers.seen("a", entry(server.get("a")!), false);
  assert.equal(peers.seen("a", undefined, false), true); // a delete: a-1 ended, as far as known
  assert.equal(peers.live(performance.now()).live.has("a-1"), false);
  // Its own renewal (a hostile delete, not a stop): a-1 is live, and the shares change.
  assert.equal(peers.seen("a", entry(server.get("a")!), false), true);
  assert.ok(peers.live(performance.now()).live.has("a-1"));
  // A new session under the name: the old one has ended.
  assert.equal(peers.seen("a", entry(heartbeat("a", "a-2")), false), true);
  const { live } = peers.live(performance.now());
  assert.ok(live.has("a-2") && !live.has("a-1"));
});

test("peers: the sessions remembered as ended are bounded; the oldest is asked again", async () => {
  const server = new Map<string, string>();
  const { peers, asked } = peersOf(server);
  const count = MAX_DEAD + 500;
  for (let i = 0; i <= count; i++) peers.seen("x", entry(heartbeat("x", `x-${i}`)), false);
  // The newest ended ones are known without asking; the oldest were forgotten, and are asked.
  assert.equal(await peers.holderGone(lease("x", `x-${count - 1}`)), true);
  assert.deepEqual(asked, []);
  assert.equal(await peers.holderGone(lease("x", "x-0")), true); // no heartbeat of x on the server
  assert.deepEqual(asked, ["x"]);
});
