/**
 * Issue 16 item 17: the cost of coordination on the NATS server. 5,000 rooms
 * shared by 25 simulated collectors (the real {@linkcode Coordinator}, with a
 * host that "joins" every room at once): once the rooms are shared, the
 * server's CPU for keeping it so (heartbeats, watches) stays under 5% of one
 * core. Measured from the server's own CPU time in /proc, so other work on the
 * machine does not count. Runs under Deno only: the server's work does not
 * depend on the client's runtime, and 25 collectors in one process are slow
 * to start.
 */
// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { runtime, test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { addRooms, Cluster } from "../../src/nats/mod.ts";
import { Coordinator, type RoomHost } from "../../src/nats/coordinator.ts";

const ROOMS = 5000;
const COLLECTORS = 25;
const MEASURE_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process's CPU time so far, ms (user + system, from /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
}

test(
  "coordination: 5,000 rooms and 25 collectors cost the NATS server under 5% of a core",
  async () => {
    const nats = await startNatsServer();
    const clusters: Cluster[] = [];
    const coordinators: Coordinator[] = [];
    try {
      const admin = await Cluster.connect(nats.url);
      clusters.push(admin);
      const rooms = Array.from({ length: ROOMS }, (_, i) => 1_000_000 + i);
      for (let i = 0; i < ROOMS; i += 500) await addRooms(admin, rooms.slice(i, i + 500));
      const host: RoomHost = {
        watch: () => Promise.resolve(),
        unwatch: () => Promise.resolve(),
        roomStats: () => ({ messages: 0 }),
        counters: () => ({}),
        jetstream: () => {},
      };
      for (let i = 0; i < COLLECTORS; i++) {
        const cluster = await Cluster.connect(nats.url);
        clusters.push(cluster);
        coordinators.push(
          new Coordinator(cluster, host, () => {}, {
            name: `c${i}`,
            maxRooms: 400,
            claimJitter: 200,
            startDelay: 2000,
            handover: 0,
            cooldown: undefined,
          }),
        );
      }
      const started = Date.now();
      await Promise.all(coordinators.map((coordinator) => coordinator.start()));
      for (;;) {
        const held = coordinators.reduce((sum, c) => sum + c.rooms.length, 0);
        if (held === ROOMS) break;
        if (Date.now() - started > 120_000) throw new Error(`only ${held} rooms held after 2 min`);
        await sleep(500);
      }
      const shares = coordinators.map((c) => c.rooms.length);
      console.log(
        `coordination: ${ROOMS} rooms shared after ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s: ` +
          `${Math.min(...shares)} to ${Math.max(...shares)} each`,
      );
      await sleep(3000);
      const pid = nats.pid!;
      const writes = async () =>
        (await admin.jsm.streams.info("KV_douyu_leases")).state.last_seq +
        (await admin.jsm.streams.info("KV_douyu_collectors")).state.last_seq;
      const writesBefore = await writes();
      const before = await cpuMs(pid);
      const t0 = performance.now();
      await sleep(MEASURE_MS);
      const share = (await cpuMs(pid) - before) / (performance.now() - t0);
      const written = await writes() - writesBefore;
      console.log(
        `coordination: nats-server CPU ${(share * 100).toFixed(2)}% of a core over ${
          MEASURE_MS / 1000
        } s (${(written / (MEASURE_MS / 1000)).toFixed(1)} bucket writes a second)`,
      );
      assert.ok(share < 0.05, `nats-server used ${(share * 100).toFixed(1)}% of a core`);
      assert.equal(coordinators.reduce((sum, c) => sum + c.rooms.length, 0), ROOMS);
    } finally {
      await Promise.all(coordinators.map((coordinator) => coordinator.close()));
      await Promise.all(clusters.map((cluster) => cluster.close()));
      await nats.close();
    }
  },
  { ignore: runtime !== "deno", timeout: 240_000 },
);
