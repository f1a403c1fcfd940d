/**
 * `douyu archive --nats URL --durable NAME --db postgres://…` against a real
 * nats-server and a throwaway PostgreSQL: a `kill -9` of the archiver loses
 * and doubles nothing once it is started again (every chat once, every
 * other message once by its stream sequence); a collector's handover is
 * kept as a status change; two archivers with one durable name share the
 * work, and SIGTERM ends them with status 0.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { Cluster } from "../../src/nats/cluster.ts";
import { readFixture, test } from "../harness.ts";
import { startHttp } from "../local_http.ts";
import { type Child, ROOT, runtimeCommand, startChild } from "../process.ts";
import { generate, loadSource } from "../archive/corpus.ts";
import { startNatsServer } from "../cluster/nats_server.ts";
import { startPostgres } from "./postgres_server.ts";
import { fillStream } from "./stream_fill.ts";

const T0 = Date.UTC(2024, 4, 1, 10);

function archiver(nats: string, db: string, durable: string, gifts: string): Child {
  const [command, ...args] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
  return startChild(command!, [
    ...args,
    "archive",
    "--nats",
    nats,
    "--durable",
    durable,
    "--db",
    db,
    // Gifts are priced by a local stand-in: no test asks Douyu.
    "--gift-api-base",
    gifts,
  ]);
}

/** Waits until `check` gives a value, polling every 100 ms, at most `ms`. */
async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test(
  "archive stream → postgres: kill -9 loses and doubles nothing; durable readers share the work",
  async () => {
    const source = await loadSource();
    const items = [...generate(source, { messages: 20_000, rooms: 2, days: 1, start: T0 })];
    const chats = items.filter((item) => item.message.type === "chatmsg").length;
    const nats = await startNatsServer();
    const pg = await startPostgres();
    const cluster = await Cluster.connect(nats.url);
    const sql = postgres(pg.url, { onnotice: () => {} });
    const gifts = await startHttp(async (req, res) => {
      const body = (req.url ?? "").startsWith("/api/gift/v3/web/list")
        ? await readFixture("http_gift_list.json")
        : await readFixture("http_prop_gift_config.jsonp");
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
    const children: Child[] = [];
    try {
      // Room 1001 changes collector halfway: a handover.
      const stored = await fillStream(
        cluster,
        items.slice(0, 15_000),
        (item, i) => item.room === 1001 && i >= 7_500 ? "b" : "a",
      );
      assert.equal(stored, 15_000);
      const count = async () => {
        try {
          return Number((await sql`SELECT count(*)::int AS n FROM douyu_messages`)[0]!.n);
        } catch {
          return 0; // the archiver has not created its tables yet
        }
      };

      const first = archiver(nats.url, pg.url, "arch", gifts.base);
      children.push(first);
      await until(
        "a third stored",
        120_000,
        async () => (await count()) >= 5_000 ? true : undefined,
      );
      first.kill("SIGKILL");
      await first.exited;
      const atKill = await count();
      assert.ok(atKill < 15_000, `all ${atKill} stored before the kill: the test proves nothing`);

      const second = archiver(nats.url, pg.url, "arch", gifts.base);
      children.push(second);
      await until("all stored", 240_000, async () => (await count()) >= 15_000 ? true : undefined);

      // The rest, with a second reader of the same durable name: they share it.
      const third = archiver(nats.url, pg.url, "arch", gifts.base);
      children.push(third);
      await third.waitFor("stderr", /archiving the stream with durable consumer arch/, 60_000);
      assert.equal(
        await fillStream(cluster, items.slice(15_000), (item) => item.room === 1001 ? "b" : "a"),
        5_000,
      );
      await until(
        "the rest stored",
        240_000,
        async () => (await count()) >= 20_000 ? true : undefined,
      );
      // Nothing more comes: what is stored stays as it is.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      second.kill("SIGTERM");
      third.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr);
      assert.equal(await third.exited, 0, third.stderr);
      const share = (child: Child) => Number(/(\d+) messages stored in/.exec(child.stderr)?.[1]);
      assert.ok(share(third) > 0, `the second reader got nothing: ${third.stderr}`);

      const [totals] = await sql`SELECT count(*)::int AS n,
      count(*) FILTER (WHERE type = 'chatmsg')::int AS chats,
      count(DISTINCT key) FILTER (WHERE type = 'chatmsg')::int AS cids,
      count(DISTINCT key) FILTER (WHERE type <> 'chatmsg')::int AS seqs
      FROM douyu_messages`;
      assert.deepEqual({ ...totals }, {
        n: 20_000,
        chats,
        cids: chats,
        seqs: 20_000 - chats,
      });
      // Each archiver that saw room 1001 change collector said so (once each, at most).
      const handovers = await sql`SELECT room::int, detail FROM douyu_statuses
        WHERE status = 'handover'`;
      assert.ok(handovers.length >= 1 && handovers.length <= 3, String(handovers.length));
      for (const row of handovers) assert.deepEqual({ ...row }, { room: 1001, detail: "a → b" });
    } finally {
      for (const child of children) {
        child.kill("SIGKILL");
      }
      await Promise.all(children.map((child) => child.exited));
      await sql.end();
      await gifts.close();
      await cluster.close();
      await nats.close();
      await pg.stop();
    }
  },
  { timeout: 400_000 },
);
