/**
 * `douyu archive --nats URL --durable NAME --db TARGET` against a real
 * nats-server, into a throwaway PostgreSQL and into a SQLite file: a
 * `kill -9` of the archiver loses and doubles nothing once it is started
 * again (every chat once, every other message once by its stream
 * sequence); a collector's handover is kept as a status change; two
 * archivers with one durable name share the work (PostgreSQL), and SIGTERM
 * ends them with status 0.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { Cluster } from "../../src/nats/cluster.ts";
import { readFixture, test } from "../harness.ts";
import { startHttp } from "../local_http.ts";
import { type Child, ROOT, runtimeCommand, startChild } from "../process.ts";
import { generate, loadSource } from "../archive/corpus.ts";
import { withDir } from "../archive/helpers.ts";
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
async function until<T>(
  what: string,
  ms: number,
  check: () => Promise<T | undefined>,
  every = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** Where the archiver writes, and what it holds there now. */
interface Target {
  db: string;
  /** Whether several archivers may write it at once (PostgreSQL). */
  shared: boolean;
  count(): Promise<number>;
  totals(): Promise<{ n: number; chats: number; cids: number; seqs: number }>;
  handovers(): Promise<{ room: number; detail: string }[]>;
}

/** A SQLite archive read beside its writer (WAL). */
function sqliteTarget(db: string): Target {
  // `{m}` is every day's messages (the corpus's day runs past midnight).
  const read = <T>(query: string, fallback: T): T => {
    let connection: DatabaseSync | undefined;
    try {
      connection = new DatabaseSync(db, { readOnly: true });
      const days = connection.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'm_[0-9]*'",
      ).all().map((row) => `SELECT room, type, key FROM ${row.name}`);
      if (days.length === 0) return fallback;
      return connection.prepare(query.replace("{m}", `(${days.join(" UNION ALL ")})`))
        .all() as T;
    } catch {
      return fallback; // not created yet
    } finally {
      connection?.close();
    }
  };
  const chat = "(SELECT code FROM types WHERE name = 'chatmsg')";
  return {
    db,
    shared: false,
    count: () =>
      Promise.resolve(
        read<{ n: number }[]>(`SELECT count(*) AS n FROM {m}`, [{ n: 0 }])[0]!.n,
      ),
    totals: () =>
      Promise.resolve(
        read<{ n: number; chats: number; cids: number; seqs: number }[]>(
          `SELECT count(*) AS n,
          count(*) FILTER (WHERE type = ${chat}) AS chats,
          count(DISTINCT room || ':' || hex(key)) FILTER (WHERE type = ${chat}) AS cids,
          count(DISTINCT room || ':' || hex(key)) FILTER (WHERE type <> ${chat}) AS seqs
          FROM {m}`,
          [],
        ).map((row) => ({ ...row }))[0]!,
      ),
    handovers: () =>
      Promise.resolve(
        read<{ room: number; detail: string }[]>(
          "SELECT room, detail FROM statuses WHERE status = 'handover'",
          [],
        ).map((row) => ({ ...row })),
      ),
  };
}

test(
  "archive stream → postgres: kill -9 loses and doubles nothing; durable readers share the work",
  async () => {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { onnotice: () => {} });
    try {
      await killAndRestart({
        db: pg.url,
        shared: true,
        count: async () => {
          try {
            return Number((await sql`SELECT count(*)::int AS n FROM douyu_messages`)[0]!.n);
          } catch {
            return 0; // the archiver has not created its tables yet
          }
        },
        totals: async () => {
          const [totals] = await sql`SELECT count(*)::int AS n,
          count(*) FILTER (WHERE type = 'chatmsg')::int AS chats,
          count(DISTINCT key) FILTER (WHERE type = 'chatmsg')::int AS cids,
          count(DISTINCT key) FILTER (WHERE type <> 'chatmsg')::int AS seqs
          FROM douyu_messages`;
          return { ...totals } as { n: number; chats: number; cids: number; seqs: number };
        },
        handovers: async () =>
          (await sql`SELECT room::int, detail FROM douyu_statuses WHERE status = 'handover'`)
            .map((row) => ({ ...row }) as { room: number; detail: string }),
      });
    } finally {
      await sql.end();
      await pg.stop();
    }
  },
  { timeout: 400_000 },
);

test(
  "archive stream → SQLite: kill -9 loses and doubles nothing",
  async () => {
    await withDir((dir) => killAndRestart(sqliteTarget(join(dir, "stream.db"))));
  },
  { timeout: 400_000 },
);

/**
 * Fills the stream, archives it, kills the archiver with SIGKILL after its
 * first commit, starts it again, and (when the target is shared) adds a second
 * archiver of the same durable name for the rest; then checks every message
 * is stored once.
 */
async function killAndRestart(target: Target): Promise<void> {
  {
    const source = await loadSource();
    const items = [...generate(source, { messages: 20_000, rooms: 2, days: 1, start: T0 })];
    const chats = items.filter((item) => item.message.type === "chatmsg").length;
    const nats = await startNatsServer();
    const cluster = await Cluster.connect(nats.url);
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
      const count = () => target.count();

      const first = archiver(nats.url, target.db, "arch", gifts.base);
      children.push(first);
      // Killed right after its first commit (at most a batch, 5 000 of the 15 000), while it
      // still reads and writes the rest: waiting for a third stored let a busy machine's poll
      // come late, once after the last commit.
      await until(
        "a first commit",
        120_000,
        async () => (await count()) > 0 ? true : undefined,
        10,
      );
      first.kill("SIGKILL");
      await first.exited;
      const atKill = await count();
      assert.ok(atKill < 15_000, `all ${atKill} stored before the kill: the test proves nothing`);

      const second = archiver(nats.url, target.db, "arch", gifts.base);
      children.push(second);
      await until("all stored", 240_000, async () => (await count()) >= 15_000 ? true : undefined);

      // The rest, with a second reader of the same durable name where both may write: they
      // share it.
      const third = target.shared ? archiver(nats.url, target.db, "arch", gifts.base) : undefined;
      if (third !== undefined) {
        children.push(third);
        await third.waitFor("stderr", /archiving the stream with durable consumer arch/, 60_000);
      }
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
      third?.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr);
      if (third !== undefined) {
        assert.equal(await third.exited, 0, third.stderr);
        const share = (child: Child) => Number(/(\d+) messages stored in/.exec(child.stderr)?.[1]);
        assert.ok(share(third) > 0, `the second reader got nothing: ${third.stderr}`);
      }

      assert.deepEqual(await target.totals(), {
        n: 20_000,
        chats,
        cids: chats,
        seqs: 20_000 - chats,
      });
      // Each archiver that saw room 1001 change collector said so (once each, at most).
      const handovers = await target.handovers();
      assert.ok(handovers.length >= 1 && handovers.length <= 3, String(handovers.length));
      for (const row of handovers) assert.deepEqual({ ...row }, { room: 1001, detail: "a → b" });
    } finally {
      for (const child of children) {
        child.kill("SIGKILL");
      }
      await Promise.all(children.map((child) => child.exited));
      await gifts.close();
      await cluster.close();
      await nats.close();
    }
  }
}
