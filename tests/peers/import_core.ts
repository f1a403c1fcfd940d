/**
 * Imports what must never load the NATS client: the core entry, the
 * testing entry and the CLI (running `--help` of every command), then
 * prints `{"nats": [...]}`: the `@nats-io` modules loaded, as Bun's module
 * registry (`require.cache`) lists them. Deno lists nothing here: its test
 * runs this with `--no-npm`, which fails on any npm package.
 *
 * With the argument `nats`, it also imports `@x/douyu/nats`: the control
 * that shows the check would see it.
 */
// deno-lint-ignore-file no-console
import process from "node:process";

await import("../../mod.ts");
await import("../../src/testing/mod.ts");
const { main } = await import("../../src/cli/cli.ts");
const io = { stdout: () => {}, stderr: () => {} };
for (
  const args of [["--help"], ["rooms", "--help"], ["collect", "--help"], ["consume", "--help"]]
) {
  if (await main(args, io) !== 0) throw new Error(`douyu ${args.join(" ")} failed`);
}
if (process.argv.includes("nats")) await import("../../src/nats/mod.ts");
// Bun gives each module a `require` whose `cache` lists every module loaded; Deno has none.
const registry: Record<string, unknown> = typeof require === "undefined" ? {} : require.cache;
const loaded = Object.keys(registry).filter((path) => path.includes("@nats-io"));
console.log(JSON.stringify({ nats: loaded }));
