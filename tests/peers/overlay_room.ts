/**
 * A mock Douyu room in its own process, for the overlay's browser tests and
 * benchmark: the flooding happens here, never in the process that measures.
 * Prints `{"url": …}` once listening, then answers one JSON command per stdin
 * line with one JSON line:
 *
 * - `{"send": [m, …]}`: broadcasts the messages (STT bodies or objects) to
 *   every joined client, in order → `{"sent": n}`;
 * - `{"burst": {"count": n, "prefix": p}}`: n chat messages (`txt` = `p<i>`,
 *   `cid` = `p<i>`), 100 per write → `{"sent": n}`;
 * - `{"rate": {"perSecond": r, "seconds": s}}`: chat at r messages a second
 *   for s seconds, each `txt` = `t<send time, ms since the epoch>` →
 *   `{"sent": n, "late": ms}` (how far the sender fell behind its schedule, at most);
 * - `{"clients": n}`: waits until n clients have joined in all → `{"joined": n}`.
 *
 * Its first argument, if any, is a JSON array of messages streamed to each
 * client that joins (the mock's `messages`). Exits when stdin closes.
 *
 *   deno run -A tests/peers/overlay_room.ts '[{"type":"chatmsg","cid":"a1","txt":"hi"}]'
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { createInterface } from "node:readline";
import { type MockMessage, MockServer } from "../../src/testing/mod.ts";

const initial = JSON.parse(process.argv[2] ?? "[]") as MockMessage[];
const server = await MockServer.start({ messages: initial });
console.log(JSON.stringify({ url: server.url }));

let joined = 0;
const joinWaiters: { count: number; resolve: () => void }[] = [];
const counting = (async () => {
  for (;;) {
    await server.nextClient();
    joined++;
    for (const waiter of joinWaiters.filter((w) => w.count <= joined)) {
      joinWaiters.splice(joinWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
})().catch(() => {}); // the server closed

function live() {
  return server.clients.filter((client) => client.isOpen);
}

function chat(fields: Record<string, string | number>): MockMessage {
  return { type: "chatmsg", rid: 9999, uid: 7, nn: "flood", level: 10, dms: 5, ...fields };
}

async function run(command: Record<string, unknown>): Promise<unknown> {
  if (Array.isArray(command.send)) {
    for (const message of command.send as MockMessage[]) await server.broadcast(message);
    return { sent: command.send.length };
  }
  if (command.burst !== undefined) {
    const { count, prefix } = command.burst as { count: number; prefix: string };
    for (let i = 1; i <= count; i += 100) {
      const frames: MockMessage[] = [];
      for (let k = i; k < i + 100 && k <= count; k++) {
        frames.push(chat({ cid: `${prefix}${k}`, txt: `${prefix}${k}` }));
      }
      await Promise.all(live().map((client) => client.sendFrames(frames).catch(() => {})));
    }
    return { sent: count };
  }
  if (command.rate !== undefined) {
    const { perSecond, seconds } = command.rate as { perSecond: number; seconds: number };
    const total = Math.round(perSecond * seconds);
    const start = Date.now();
    let sent = 0;
    let late = 0;
    while (sent < total) {
      const due = start + (sent * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      late = Math.max(late, Date.now() - due);
      // Everything due by now goes in one write, stamped with the real send time.
      const frames: MockMessage[] = [];
      while (sent < total && start + (sent * 1000) / perSecond <= Date.now()) {
        sent++;
        frames.push(chat({ cid: `r${sent}`, txt: `t${Date.now()}`, uid: 100 + (sent % 50) }));
      }
      await Promise.all(live().map((client) => client.sendFrames(frames).catch(() => {})));
    }
    return { sent, late };
  }
  if (typeof command.clients === "number") {
    const count = command.clients;
    if (joined < count) await new Promise<void>((resolve) => joinWaiters.push({ count, resolve }));
    return { joined };
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}

let chain = Promise.resolve();
const commands = createInterface({ input: process.stdin });
commands.on("line", (line) => {
  chain = chain.then(async () => {
    try {
      console.log(JSON.stringify(await run(JSON.parse(line))));
    } catch (error) {
      console.log(JSON.stringify({ error: String(error) }));
    }
  });
});
commands.once("close", async () => {
  await chain;
  await server.close();
  await counting;
  process.exit(0);
});
