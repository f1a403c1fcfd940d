/**
 * `kill -9` of a process writing into a SQLite archive (a writer of the
 * library, and `douyu archive` watching a room): every message it saw
 * committed is there, exactly once; what was lost is only what waited for
 * its commit; the file is whole, and a restart goes on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Archive } from "../src/archive/archive.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { test } from "./harness.ts";
import { ROOT, runtimeCommand, startChild } from "./process.ts";
import { collect, withDir } from "./archive/helpers.ts";

/** SQLite's own check of the file after a kill: every page and index whole. */
async function assertIntact(path: string): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const check = db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    assert.equal(check.integrity_check, "ok");
  } finally {
    db.close();
  }
}

const ROOM = 7777;
const ROOM_LIVE = 9999;

/** What a writer reported: the last message it saw committed, and when each hundredth was written. */
export interface WriterReport {
  committed: number;
  written: { index: number; at: number }[];
}

/** Reads the JSON lines of `tests/peers/archive_writer.ts`. */
export function readReport(stdout: string): WriterReport {
  const report: WriterReport = { committed: -1, written: [] };
  for (const line of stdout.split("\n")) {
    if (line === "") continue;
    const value = JSON.parse(line) as { committed?: number; written?: number; at?: number };
    if (value.committed !== undefined) {
      report.committed = Math.max(report.committed, value.committed);
    }
    if (value.written !== undefined) report.written.push({ index: value.written, at: value.at! });
  }
  return report;
}

/** Checks an archive after its writer was killed: returns how many messages it holds. */
export async function checkAfterKill(
  archive: Archive,
  report: WriterReport,
  killedAt: number,
): Promise<number> {
  const items = await collect(archive.query({ room: ROOM }));
  const indexes = items.map((item) => Number.parseInt(String(item.message.cid), 16));
  assert.equal(new Set(indexes).size, indexes.length, "a message stored twice");
  const stored = new Set(indexes);
  for (let i = 0; i <= report.committed; i++) assert.ok(stored.has(i), `committed #${i} lost`);
  // Design bound: committed within 250 ms of writing. Allowed here: 2 s, for a loaded machine.
  const old = report.written.filter((w) => w.at <= killedAt - 2000).at(-1);
  if (old !== undefined) {
    for (let i = 0; i <= old.index; i++) {
      assert.ok(stored.has(i), `#${i}, written >2 s before, lost`);
    }
  }
  // Every message is whole.
  for (const item of items) {
    assert.equal(item.message.txt, `#${Number.parseInt(String(item.message.cid), 16)}`);
  }
  return items.length;
}

test("archive: kill -9 of a writer loses nothing committed, stores nothing twice", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "killed.db");
    const [command, ...args] = runtimeCommand(`${ROOT}tests/peers/archive_writer.ts`, ["-A"]);
    // Twice: the second writer starts again from #0, so it also rewrites every message stored.
    for (let round = 0; round < 2; round++) {
      const child = startChild(command!, [...args, path, String(ROOM)]);
      try {
        // Killed while writing: some messages wait for their commit.
        await child.waitFor("stdout", /"written":6000,/, 60_000);
      } finally {
        child.kill("SIGKILL");
      }
      const killedAt = Date.now();
      await child.exited;
      const report = readReport(child.stdout);
      const archive = await Archive.open(path);
      try {
        const count = await checkAfterKill(archive, report, killedAt);
        assert.ok(count > report.committed, `${count} stored, ${report.committed} committed`);
      } finally {
        await archive.close();
      }
    }
    await assertIntact(path);
  });
}, { timeout: 120_000 });

test(
  "douyu archive killed with kill -9: the file is whole, each chat once and in order; a restart goes on",
  async () => {
    await withDir(async (dir) => {
      const path = join(dir, "live.db");
      // Each connection gets the chats from #1 again: the restart sees them as already stored.
      await using server = await MockServer.start({
        messages: function* () {
          for (let i = 1;; i++) {
            yield encodeStt({ type: "chatmsg", uid: 1, nn: "Ann", txt: `#${i}`, cid: `c${i}` });
          }
        },
        interval: 2,
      });
      const [command, ...args] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
      const run = () =>
        startChild(command!, [...args, "archive", "--url", server.url, "--db", path, "9999"]);
      const stored = async () => {
        const archive = await Archive.open(path, { readOnly: true });
        try {
          return await collect(archive.query({ room: ROOM_LIVE }));
        } catch {
          return []; // not created yet
        } finally {
          await archive.close();
        }
      };
      const numbers = (items: Awaited<ReturnType<typeof stored>>) =>
        items.map((item) => Number(String(item.message.txt).slice(1)));
      const until = async (count: number) => {
        for (let i = 0; i < 600 && (await stored().catch(() => [])).length < count; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };

      const first = run();
      await first.waitFor("stderr", /connected to/, 60_000);
      await until(200);
      first.kill("SIGKILL");
      assert.equal(await first.exited, null); // killed: no exit code
      const before = numbers(await stored());
      assert.ok(before.length >= 200, String(before.length));
      // Whatever was committed: from #1, none missing in between, none twice.
      assert.deepEqual(before, before.map((_, i) => i + 1));

      const second = run();
      await second.waitFor("stderr", /connected to/, 60_000);
      await until(before.length + 200);
      second.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr);
      assert.match(second.stderr, /\d+ messages stored in .*, \d+ already there/);
      const after = numbers(await stored());
      assert.deepEqual(after, after.map((_, i) => i + 1));
      const archive = await Archive.open(path, { readOnly: true });
      try {
        const statuses = (await collect(archive.statuses(ROOM_LIVE))).map((s) => s.status);
        // The first run was killed: no "stopped" for it.
        assert.deepEqual(statuses, [
          "started",
          "connected",
          "started",
          "connected",
          "closed",
          "stopped",
        ]);
      } finally {
        await archive.close();
      }
      await assertIntact(path);
    });
  },
  { timeout: 180_000 },
);
