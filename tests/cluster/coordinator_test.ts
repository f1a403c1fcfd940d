/**
 * The coordinator's own rules, each with real `Coordinator`s and a real
 * nats-server, but a host that "joins" every room at once: no Douyu room is
 * watched. What a review found: a lease of a live session for a room it no
 * longer holds; peers whose limits differ; a close during a start.
 */
import assert from "node:assert/strict";
import { runtime, test, until } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { addRooms, Cluster } from "../../src/nats/mod.ts";
import { Coordinator, type RoomHost } from "../../src/nats/coordinator.ts";

const TTL = 4000;

const host: RoomHost = {
  watch: () => Promise.resolve(),
  unwatch: () => Promise.resolve(),
  roomStats: () => ({ messages: 0 }),
  counters: () => ({}),
  jetstream: () => {},
};

interface Member {
  cluster: Cluster;
  coordinator: Coordinator;
}

async function member(url: string, name: string, maxRooms = 200): Promise<Member> {
  const cluster = await Cluster.connect(url, { leaseTtl: TTL });
  const coordinator = new Coordinator(cluster, host, () => {}, {
    name,
    maxRooms,
    claimJitter: 50,
    startDelay: 500,
    handover: 1000,
    cooldown: 2000,
  });
  return { cluster, coordinator };
}

async function closeAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.coordinator.close()));
  await Promise.all(members.map((m) => m.cluster.close()));
}

test(
  "coordinator: a live session's lease of a room it does not hold is freed, and the room taken",
  async () => {
    const nats = await startNatsServer();
    const admin = await Cluster.connect(nats.url, { leaseTtl: TTL });
    const members: Member[] = [];
    try {
      await addRooms(admin, [5000]);
      const a = await member(nats.url, "a");
      members.push(a);
      await a.coordinator.start();
      await until("a holds 5000", () => a.coordinator.rooms.length === 1);
      // What a release that never reached the server leaves: a lease of a's own (live) session,
      // for a room a does not hold.
      await admin.leases.put(
        "5001",
        JSON.stringify({ collector: "a", instance: a.coordinator.instance, since: Date.now() }),
      );
      await addRooms(admin, [5001]);
      await until("a holds 5001", () => a.coordinator.rooms.includes(5001));
    } finally {
      await closeAll(members);
      await admin.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
); // runtime-free logic: Deno only, to keep test:cluster short

test(
  "coordinator: a peer of a lower limit gets its limit, and no room goes unwatched for it",
  async () => {
    const nats = await startNatsServer();
    const admin = await Cluster.connect(nats.url, { leaseTtl: TTL });
    const members: Member[] = [];
    try {
      const rooms = Array.from({ length: 20 }, (_, i) => 6000 + i);
      await addRooms(admin, rooms);
      const a = await member(nats.url, "a", 200);
      const b = await member(nats.url, "b", 5);
      members.push(a, b);
      await Promise.all([a.coordinator.start(), b.coordinator.start()]);
      const watched = () => new Set([...a.coordinator.rooms, ...b.coordinator.rooms]).size;
      await until(
        "20 rooms watched, b at its limit",
        () => watched() === 20 && b.coordinator.rooms.length === 5,
        30_000,
      );
      // Settled: a must not hand rooms to b, which cannot take them (before, about half the
      // samples found a room unwatched).
      const end = performance.now() + 3000;
      while (performance.now() < end) {
        assert.equal(
          watched(),
          20,
          `a ${a.coordinator.rooms.length}, b ${b.coordinator.rooms.length}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await closeAll(members);
      await admin.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
);

test(
  "coordinator: closed while it starts, it leaves no heartbeat behind, and its start ends",
  async () => {
    const nats = await startNatsServer();
    const admin = await Cluster.connect(nats.url, { leaseTtl: TTL });
    const members: Member[] = [];
    try {
      await addRooms(admin, [7000]);
      // A crashed predecessor's last heartbeat: the start waits for it to expire (a TTL).
      const crashed = JSON.stringify({
        name: "a",
        instance: "crashed",
        startedAt: 0,
        updatedAt: Date.now(),
        maxRooms: 200,
        rooms: [],
        counters: {},
      });
      await admin.collectors.put("a", crashed);
      const a = await member(nats.url, "a");
      members.push(a);
      let started = false;
      const starting = a.coordinator.start().then(() => (started = true));
      await new Promise((resolve) => setTimeout(resolve, 300)); // Ctrl-C during the wait
      await a.coordinator.close();
      assert.equal(started, true, "start() still running after close() returned");
      await starting;
      // Past the rest of the wait: the closed collector wrote nothing.
      await new Promise((resolve) => setTimeout(resolve, TTL));
      const entry = await admin.collectors.get("a");
      const value = entry?.operation === "PUT" ? new TextDecoder().decode(entry.value) : undefined;
      assert.ok(value === undefined || !value.includes(a.coordinator.instance), value);
      assert.deepEqual(a.coordinator.rooms, []);
    } finally {
      await closeAll(members);
      await admin.close();
      await nats.close();
    }
  },
  { ignore: runtime === "bun" },
);
