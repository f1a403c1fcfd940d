/**
 * The core entry (`mod.ts`), `@x/douyu/testing` and the CLI never load the
 * NATS client: only `@x/douyu/nats` and the `rooms`, `collect` and
 * `consume` commands do, by a dynamic import when they run. Nor do they
 * load `node:sqlite` or the PostgreSQL client: only opening an archive of
 * that kind does. Checked in a fresh process: under Deno with `--no-npm`
 * (any npm package fails the run), under Bun through its module registry.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { runtime, test } from "./harness.ts";
import { ROOT, startChild } from "./process.ts";

const PROBE = `${ROOT}tests/peers/import_core.ts`;

async function probe(
  control?: "nats" | "archive",
): Promise<{ code: number | null; out: string }> {
  const args = control === undefined ? [] : [control];
  const child = runtime === "deno"
    ? startChild(Deno.execPath(), ["run", "--no-npm", "--no-prompt", "-A", PROBE, ...args])
    : startChild(process.execPath, [PROBE, ...args]);
  await child.closeStdin();
  const code = await child.exited;
  return { code, out: child.stdout + child.stderr };
}

test("mod.ts, @x/douyu/testing and the CLI load no NATS client", async () => {
  const core = await probe();
  assert.equal(core.code, 0, core.out);
  assert.match(core.out, /\{"nats":\[\],"archive":\[\]\}/);
  // The control: importing @x/douyu/nats is seen.
  const nats = await probe("nats");
  if (runtime === "deno") {
    assert.notEqual(nats.code, 0);
    assert.match(nats.out, /--no-npm/);
  } else {
    assert.equal(nats.code, 0, nats.out);
    assert.match(nats.out, /"nats":\["[^"]*@nats-io/);
  }
});

test("mod.ts, @x/douyu/testing and the CLI load neither node:sqlite nor the PostgreSQL client", async () => {
  // The control: opening a SQLite archive loads the engine; the check sees it (Bun's registry).
  const archive = await probe("archive");
  assert.equal(archive.code, 0, archive.out);
  if (runtime === "bun") assert.match(archive.out, /"archive":\["[^"]*src\/archive\/sqlite/);
  // The core's own probe (above) lists none of it.
  const core = await probe();
  assert.match(core.out, /"archive":\[\]/);
});
