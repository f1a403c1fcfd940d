/**
 * Imports what must never load an engine's client: the core entry, the
 * testing entry and the CLI (running `--help` of every command, the
 * archive's too), then prints `{"nats": [...], "archive": [...]}`: the
 * `@nats-io` modules, and the archive's SQLite and PostgreSQL modules (the
 * only importers of `node:sqlite` and of the `postgres` client), loaded as
 * Bun's module registry (`require.cache`) lists them. Deno lists nothing
 * here: its test runs this with `--no-npm`, which fails on any npm package.
 *
 * With the argument `nats`, it also imports `@x/douyu/nats`; with
 * `archive`, it opens a SQLite archive: the controls that show the check
 * would see them.
 */
// deno-lint-ignore-file no-console
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

await import("../../mod.ts");
await import("../../src/testing/mod.ts");
const { main } = await import("../../src/cli/cli.ts");
const io = { stdout: () => {}, stderr: () => {} };
for (
  const args of [
    ["--help"],
    ["rooms", "--help"],
    ["collect", "--help"],
    ["consume", "--help"],
    ["archive", "--help"],
    ["logs", "--help"],
    ["export", "--help"],
    ["stats", "--help"],
    ["overlay", "--help"],
  ]
) {
  if (await main(args, io) !== 0) throw new Error(`douyu ${args.join(" ")} failed`);
}
if (process.argv.includes("nats")) await import("../../src/nats/mod.ts");
if (process.argv.includes("archive")) {
  const { Archive } = await import("../../src/archive/mod.ts");
  const dir = await mkdtemp(join(tmpdir(), "douyu-probe-"));
  await (await Archive.open(join(dir, "probe.db"))).close();
  await rm(dir, { recursive: true });
}
// Bun gives each module a `require` whose `cache` lists every module loaded; Deno has none.
const registry: Record<string, unknown> = typeof require === "undefined" ? {} : require.cache;
const paths = Object.keys(registry);
console.log(JSON.stringify({
  nats: paths.filter((path) => path.includes("@nats-io")),
  archive: paths.filter((path) =>
    /src\/archive\/(sqlite|postgres)[^/]*\.ts$|node_modules\/postgres\//.test(path)
  ),
}));
