/**
 * Simulated collectors for the coordination test: `count` real
 * {@linkcode Coordinator}s whose host "joins" every room at once, each on its
 * own NATS connection, in this process (the test runs several of these, so
 * they share the machine's cores).
 *
 *   deno run -A tests/peers/coordinators.ts <nats url> <first index> <count>
 *
 * Prints `{"held": n}` (rooms held by its coordinators) every 500 ms; stops
 * them and exits when stdin closes.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { createInterface } from "node:readline";
import { Cluster } from "../../src/nats/mod.ts";
import { Coordinator, type RoomHost } from "../../src/nats/coordinator.ts";

const [url = "", first = "0", count = "5"] = process.argv.slice(2);
const host: RoomHost = {
  watch: () => Promise.resolve(),
  unwatch: () => Promise.resolve(),
  roomStats: () => ({ messages: 0 }),
  counters: () => ({}),
  jetstream: () => {},
};
const clusters: Cluster[] = [];
const coordinators: Coordinator[] = [];
for (let i = Number(first); i < Number(first) + Number(count); i++) {
  const cluster = await Cluster.connect(url);
  clusters.push(cluster);
  coordinators.push(
    new Coordinator(cluster, host, () => {}, {
      name: `c${i}`,
      maxRooms: 400,
      claimJitter: 200,
      startDelay: 3000,
      handover: 0,
      cooldown: undefined,
    }),
  );
}
await Promise.all(coordinators.map((coordinator) => coordinator.start()));
const report = setInterval(() => {
  console.log(JSON.stringify({ held: coordinators.map((c) => c.rooms.length) }));
}, 500);
createInterface({ input: process.stdin }).once("close", async () => {
  clearInterval(report);
  await Promise.all(coordinators.map((coordinator) => coordinator.close()));
  await Promise.all(clusters.map((cluster) => cluster.close()));
  process.exit(0);
});
