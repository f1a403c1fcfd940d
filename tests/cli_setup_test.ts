/**
 * What the `douyu` command says when something it needs is missing: one
 * line that names what to add, never a stack trace. Deno only: run as an
 * installed Deno command is (`deno run` with the permissions of the install
 * line), in a process of its own.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runtime, test } from "./harness.ts";
import { ROOT, startChild } from "./process.ts";

const MOD = `${ROOT}mod.ts`;

/** Runs `deno run --no-prompt <flags> mod.ts <args>` and returns its exit code and output. */
async function douyu(
  flags: string[],
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startChild(Deno.execPath(), ["run", "--no-prompt", ...flags, MOD, ...args]);
  await child.closeStdin();
  const code = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

test(
  "cli: a NATS command without the NATS client says how to install it, in one line",
  async () => {
    // Without deno.json, `@nats-io/kv` resolves to nothing: as in a checkout before `deno install`.
    const result = await douyu(
      ["-A", "--no-config"],
      ["rooms", "--nats", "nats://127.0.0.1:1", "list"],
    );
    strictEqual(result.code, 1, result.stderr);
    strictEqual(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    deepStrictEqual(lines.length, 1, result.stderr);
    ok(/^douyu: cannot load the NATS client \(.+\); .*`deno install`/.test(lines[0]!), lines[0]);
  },
  { ignore: runtime !== "deno" },
);
