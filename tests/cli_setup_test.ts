/**
 * What the `douyu` command says when something it needs is missing: one
 * line that names what to add, never Deno's prompt or a stack trace. Deno
 * only: each runs `mod.ts` as an installed Deno command does (`deno run`
 * with only the permissions of its install line), in a process of its own.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtime, test } from "./harness.ts";
import { ROOT, startChild } from "./process.ts";

const MOD = `${ROOT}mod.ts`;
const DENO_ONLY = { ignore: runtime !== "deno" };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `deno run --no-prompt <flags> mod.ts <args>`: its exit code and output. */
async function douyu(flags: string[], args: string[]): Promise<Run> {
  const child = startChild(Deno.execPath(), ["run", "--no-prompt", ...flags, MOD, ...args]);
  await child.closeStdin();
  const code = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** Exit 1, nothing on stdout, and exactly one line on stderr that matches `line`. */
function assertOneLine(run: Run, line: RegExp): void {
  strictEqual(run.code, 1, run.stderr);
  strictEqual(run.stdout, "");
  const lines = run.stderr.trimEnd().split("\n");
  deepStrictEqual(lines.length, 1, run.stderr);
  ok(line.test(lines[0]!), lines[0]);
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "douyu-setup-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true });
  }
}

/** `text` as a pattern that matches it literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

test(
  "cli: a NATS command without the NATS client says how to install it, in one line",
  async () => {
    // Without deno.json, `@nats-io/kv` resolves to nothing: as in a checkout before `deno install`.
    const run = await douyu(["-A", "--no-config"], [
      "rooms",
      "--nats",
      "nats://127.0.0.1:1",
      "list",
    ]);
    assertOneLine(run, /^douyu: cannot load the NATS client \(.+\); .*`deno install`/);
  },
  DENO_ONLY,
);

test("cli permissions: each missing one is one line naming the flag to add", async () => {
  await withTempDir(async (dir) => {
    const rooms = join(dir, "rooms.txt");
    const recording = join(dir, "room.jsonl");
    const state = join(dir, "live.json");
    await writeFile(rooms, "9999\n");
    await writeFile(recording, "");
    const local = ["--url", "tcp://127.0.0.1:1"]; // never reached: each run stops before
    const cases: [string[], string[], RegExp][] = [
      // An installed douyu has -N only.
      [
        ["-N"],
        ["--rooms-file", rooms],
        new RegExp(
          `^douyu: rooms file ${literal(rooms)}: no read access; run with --allow-read=${
            literal(rooms)
          } \\(an installed douyu needs --allow-read in its install line\\)$`,
        ),
      ],
      [
        ["-N"],
        [...local, "--record", recording, "9999"],
        new RegExp(
          `^douyu: recording ${literal(recording)}: no write access; run with --allow-write=${
            literal(recording)
          } `,
        ),
      ],
      [
        ["-N"],
        ["live", ...local, "--state", state, "9999"],
        new RegExp(
          `^douyu: state file ${literal(state)}: no write access; ` +
            `run with --allow-write=${literal(state)},${literal(state)}\\.tmp `,
        ),
      ],
      [
        [`--allow-read=${dir}/a.db`, `--allow-write=${dir}/a.db`],
        ["archive", "--import", recording, "--db", join(dir, "a.db")],
        new RegExp(
          `^douyu: import file ${literal(recording)}: no read access; run with --allow-read=`,
        ),
      ],
      [
        ["-N"],
        ["replay", recording],
        new RegExp(
          `^douyu: recording ${literal(recording)}: no read access; run with --allow-read=`,
        ),
      ],
      // No network permission at all.
      [[], [...local, "9999"], /^douyu: no network access to 127\.0\.0\.1:1; run with -N /],
      [[], ["9999"], /^douyu: no network access to danmuproxy\.douyu\.com:8601; run with -N /],
      [[], ["resolve", "yyf"], /^douyu: no network access to www\.douyu\.com; run with -N /],
      [
        [`--allow-read=${recording}`],
        ["serve", recording],
        /^douyu: no network access to 127\.0\.0\.1; run with -N /,
      ],
      [[], ["overlay", "--demo"], /^douyu: no network access to 127\.0\.0\.1; run with -N /],
      [
        [],
        ["rooms", "--nats", "nats://127.0.0.1:1", "list"],
        /^douyu: no network access to 127\.0\.0\.1:1; run with -N /,
      ],
    ];
    for (const [flags, args, line] of cases) assertOneLine(await douyu(flags, args), line);
  });
}, DENO_ONLY);

test(
  "cli permissions: at a terminal, a missing one is the same line, not Deno's prompt",
  async () => {
    await withTempDir(async (dir) => {
      const rooms = join(dir, "rooms.txt");
      await writeFile(rooms, "9999\n");
      // `script` gives the command a terminal, where Deno would ask and wait for an answer.
      const command = [Deno.execPath(), "run", "-N", MOD, "--rooms-file", rooms]
        .map((word) => `'${word}'`).join(" ");
      const child = startChild("script", ["-qec", command, "/dev/null"]);
      const line = await child.waitFor("stdout", /douyu: [^\n]*\n/, 60_000).finally(async () => {
        await child.closeStdin();
        child.kill("SIGKILL");
        await child.exited;
      });
      ok(line[0].includes(`no read access; run with --allow-read=${rooms}`), line[0]);
      ok(!child.stdout.includes("Deno requests"), child.stdout);
    });
  },
  DENO_ONLY,
);
