/**
 * Issue 16 item 17: the cost of coordination on the NATS server. 5,000 rooms
 * shared by 25 simulated collectors (the real `Coordinator`, with a host that
 * "joins" every room at once; `tests/peers/coordinators.ts`, five to a
 * process): once the rooms are shared, the
 * server's CPU for keeping it so (heartbeats, watches) stays under 5% of one
 * core. Measured from the server's own CPU time in /proc, so other work on the
 * machine does not count. Runs under Deno only: the server's work does not
 * depend on the client's runtime.
 */
// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { runtime, test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { addRooms, Cluster } from "../../src/nats/mod.ts";
import { type Peer, spawnPeer } from "../harness.ts";

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
    const admin = await Cluster.connect(nats.url);
    const peers: Peer[] = [];
    try {
      const rooms = Array.from({ length: ROOMS }, (_, i) => 1_000_000 + i);
      for (let i = 0; i < ROOMS; i += 500) await addRooms(admin, rooms.slice(i, i + 500));
      // Five processes of five collectors: they share the machine's cores.
      const started = Date.now();
      for (let p = 0; p < COLLECTORS / 5; p++) {
        peers.push(await spawnPeer("coordinators.ts", [nats.url, String(p * 5), "5"]));
      }
      let shares: number[] = [];
      for (;;) {
        shares = (await Promise.all(peers.map((peer) => peer.next<{ held: number[] }>())))
          .flatMap((report) => report.held);
        if (shares.reduce((sum, n) => sum + n, 0) === ROOMS) break;
        if (Date.now() - started > 60_000) {
          const reports = await Promise.all(peers.map((peer) => peer.next<{ debug: string[] }>()));
          console.log(reports.flatMap((r) => r.debug).filter((d) => d !== "").join("\n"));
          throw new Error(`only ${shares} held after 1 min`);
        }
      }
      console.log(
        `coordination: ${ROOMS} rooms shared after ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s: ${Math.min(...shares)} to ${Math.max(...shares)} each`,
      );
      await sleep(2000);
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
    } finally {
      await Promise.all(peers.map((peer) => peer.stop()));
      await admin.close();
      await nats.close();
    }
  },
  { ignore: runtime !== "deno", timeout: 240_000 },
);
