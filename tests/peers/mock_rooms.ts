/**
 * Many lively mock rooms in their own process, for the cluster tests and
 * bench: `listeners` mock servers (one per collector, so the log says which
 * collector a connection came from), and for each room a ticker that sends
 * a numbered message every `interval` ms to every client that joined it,
 * wherever it connected. Logs every join and leave with its time.
 *
 *   deno run -A tests/peers/mock_rooms.ts <first room> <rooms> <listeners> <interval ms>
 *
 * Prints `{"urls": [...]}` once listening. Commands on stdin, one per line:
 * `start` (the tickers start), `pause` (they stop), `report` (prints
 * `{"joins": [...], "sends": [...]}`), `count` (prints `{"sent": n}`).
 * Exits when stdin closes.
 *
 * Each room's messages cycle through chatmsg (with a unique `cid`), dgb
 * (a gift) and uenter; every one carries `seq@=<n>`, numbered per room.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { createInterface } from "node:readline";
import { type MockClient, MockServer } from "../../src/testing/mod.ts";

const [first = "1001", count = "60", listenerCount = "3", every = "200"] = process.argv.slice(2);
const firstRoom = Number(first);
const rooms = Number(count);
const interval = Number(every);

/** A join or a leave: `[time ms, room, listener, client id, "join" | "leave"]`. */
type Join = [number, number, number, number, "join" | "leave"];
/** A message sent: `[time ms, room, seq, type, listeners it went to]`. */
type Send = [number, number, number, string, number[]];

const joins: Join[] = [];
const sends: Send[] = [];
let sent = 0;
/** Per room: the open clients that joined it, with their listener. */
const members = new Map<number, Set<{ client: MockClient; listener: number }>>();

const servers = await Promise.all(
  Array.from(
    { length: Number(listenerCount) },
    () => MockServer.start({ maxClients: 10_000, maxReceived: 16 }),
  ),
);
console.log(JSON.stringify({ urls: servers.map((server) => server.url) }));

const accepting = servers.map(async (server, listener) => {
  for (;;) {
    const client = await server.nextClient();
    const join = await client.joined.catch(() => undefined);
    const room = Number(join?.rid);
    if (join === undefined || !Number.isInteger(room)) continue;
    const member = { client, listener };
    joins.push([Date.now(), room, listener, client.id, "join"]);
    let set = members.get(room);
    if (set === undefined) members.set(room, set = new Set());
    set.add(member);
    void client.closed.then(() => {
      set!.delete(member);
      joins.push([Date.now(), room, listener, client.id, "leave"]);
    });
  }
}).map((task) => task.catch(() => {})); // until the server closes

const TYPES = ["chatmsg", "dgb", "uenter"] as const;
let running = false;
const stopTickers = new AbortController();

function body(room: number, seq: number): [string, string] {
  const type = TYPES[seq % TYPES.length]!;
  const uid = 1000 + (seq % 17);
  switch (type) {
    case "chatmsg": {
      const cid = `${room.toString(16).padStart(8, "0")}${seq.toString(16).padStart(24, "0")}`;
      return [
        type,
        `type@=chatmsg/rid@=${room}/uid@=${uid}/nn@=user${uid}/txt@=hello ${seq}/cid@=${cid}/level@=${
          seq % 40
        }/dms@=5/seq@=${seq}/`,
      ];
    }
    case "dgb":
      return [
        type,
        `type@=dgb/rid@=${room}/uid@=${uid}/nn@=user${uid}/gfid@=824/gfcnt@=1/hits@=1/seq@=${seq}/`,
      ];
    default:
      return [type, `type@=uenter/rid@=${room}/uid@=${uid}/nn@=user${uid}/level@=3/seq@=${seq}/`];
  }
}

async function tick(room: number): Promise<void> {
  // Rooms start spread over one interval, so the sends are not all at once.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * interval));
  let next = performance.now();
  for (let seq = 1; !stopTickers.signal.aborted;) {
    if (running) {
      const targets = [...(members.get(room) ?? [])].filter((m) => m.client.isOpen);
      if (targets.length > 0) {
        const [type, text] = body(room, seq);
        sends.push([Date.now(), room, seq, type, targets.map((m) => m.listener)]);
        sent++;
        seq++;
        await Promise.all(targets.map((m) => m.client.send(text).catch(() => {})));
      }
    }
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else next = performance.now();
  }
}

const tickers = Array.from({ length: rooms }, (_, i) => tick(firstRoom + i));

const commands = createInterface({ input: process.stdin });
commands.on("line", (line) => {
  const command = line.trim();
  if (command === "start") running = true;
  else if (command === "pause") running = false;
  else if (command === "count") console.log(JSON.stringify({ sent }));
  else if (command === "report") console.log(JSON.stringify({ joins, sends }));
});
commands.once("close", async () => {
  stopTickers.abort();
  await Promise.all(servers.map((server) => server.close()));
  await Promise.all([...accepting, ...tickers]);
  process.exit(0);
});
