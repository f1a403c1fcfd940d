/**
 * `logout` must reach a server that is still streaming when the client
 * closes. Closing a socket with unread bytes in its receive buffer makes the
 * kernel send RST instead of FIN, and the RST makes the peer drop what it
 * had not read yet: the `logout` too. So the client half-closes, drains
 * until the server hangs up (or a short bound passes), and only then closes.
 *
 * The servers run in processes of their own and write to every joined
 * connection flat out: the mock server (`tests/peers/busy_rooms.ts`) for tcp
 * and ws, under the runtime running the tests (so `deno task test` needs
 * only Deno; under `test:bun` it is Bun, whose `node:net` drops what it had
 * not read once a write to a reset connection fails, which showed the loss
 * first), and `ws` under Node (`tests/peers/ws_peer.mjs stream`) for wss.
 * Each counts the `logout`s it read.
 */
import assert from "node:assert/strict";
import { Hub } from "../src/rooms/hub.ts";
import { defaultTransportFactory } from "../src/transport/default.ts";
import type { TransportFactory } from "../src/transport/seam.ts";
import { type Peer, readFixture, spawnPeer, test } from "./harness.ts";

/** Rooms in the hub, each with its own connection. */
const ROOMS = 50;

interface Report {
  joined: number;
  logouts: number;
}

function startServer(protocol: "tcp" | "ws" | "wss"): Promise<Peer> {
  return protocol === "wss"
    ? spawnPeer("ws_peer.mjs", ["stream", protocol])
    : spawnPeer("busy_rooms.ts", [protocol]);
}

for (const protocol of ["tcp", "ws", "wss"] as const) {
  test(
    `hub over ${protocol}: ${ROOMS} rooms streaming at the moment of closing all log out`,
    async () => {
      const peer = await startServer(protocol);
      try {
        const { url } = await peer.next<{ url: string }>();
        const caCerts = protocol === "wss" ? [await readFixture("tls/ca.pem")] : [];
        const transport: TransportFactory = (endpoint, options) =>
          defaultTransportFactory(endpoint, { ...options, caCerts });
        const hub = new Hub({ url, transport, reconnect: false, types: ["chatmsg"] });
        await Promise.all(Array.from({ length: ROOMS }, (_, i) => hub.add(1001 + i)));
        const seen = new Set<number>();
        for await (const { room } of hub) {
          seen.add(room);
          // Every room is streaming: `break` closes the hub, each room with `logout`.
          if (seen.size === ROOMS) break;
        }
        await hub.closed;
        // Each close waited for the server to hang up, which it does once it has
        // read the logout; a slow count still gets two seconds, a lost one never comes.
        let report: Report;
        for (let asked = 0;; asked++) {
          peer.send("report");
          report = await peer.next<Report>();
          if (report.logouts >= ROOMS || asked === 20) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(report.joined, ROOMS);
        assert.equal(report.logouts, ROOMS, JSON.stringify(report));
      } finally {
        await peer.stop();
      }
    },
    { timeout: 60_000 },
  );
}
