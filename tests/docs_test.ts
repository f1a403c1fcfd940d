/**
 * Every TypeScript block of the README and of `docs/*.md` works: each runs
 * offline against `@x/douyu/testing`'s stand-ins, changed only as the
 * "Every example here, offline" of docs/library.md says (see `docs_blocks.ts`), on the
 * runtime running the tests; under Deno with `--allow-net=127.0.0.1` only, so
 * a block that reaches for the network fails. A block must print something
 * and nothing on stderr, and end by itself with status 0, or keep running
 * when it is marked `runs-until-stopped`. Blocks marked `check-only` (with
 * the reason) are type-checked instead; under Deno every block is
 * type-checked, as written and as run offline.
 *
 * The recording example reads `room.jsonl`: each block runs in a fresh
 * directory holding one, made of the bundled sample.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { sampleRecording } from "../src/testing/sample.ts";
import {
  blocksOf,
  type DocBlock,
  offlineCalls,
  startsItsOwn,
  withLocalImports,
} from "./docs_blocks.ts";
import { runtime, test } from "./harness.ts";

const ROOT = new URL("..", import.meta.url);
/** How long a block may take to print its first line, or to end. */
const START_MS = 60_000;
/** How long a block that runs until stopped must keep running after its first line. */
const KEEPS_RUNNING_MS = 2000;

async function markdownFiles(): Promise<string[]> {
  const docs = await readdir(new URL("docs/", ROOT)).catch(() => [] as string[]);
  return [
    "README.md",
    ...docs.filter((name) => name.endsWith(".md")).sort().map((n) => `docs/${n}`),
  ];
}

const blocks: DocBlock[] = [];
for (const file of await markdownFiles()) {
  blocks.push(...blocksOf(file, await readFile(new URL(file, ROOT), "utf8")));
}
const preludes = blocks.filter((block) => block.kind === "offline-prelude");

/** `file:line`, to name a block in messages. */
const where = (block: DocBlock) => `${block.file}:${block.line}`;

/** The block as it runs offline: its own stand-ins, or the prelude's and `offline`. */
function offlineVersion(block: DocBlock): string {
  if (block.kind === "offline-prelude" || startsItsOwn(block.code)) return block.code;
  const { code, changed } = offlineCalls(block.code);
  return changed === 0 ? code : `${preludes[0]!.code}\n${code}`;
}

/** A fresh directory with `room.jsonl` (the sample) in it. */
async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "douyu-docs-"));
  const lines = sampleRecording().map((line) => JSON.stringify(line)).join("\n");
  await writeFile(join(dir, "room.jsonl"), `${lines}\n`);
  return dir;
}

interface Run {
  stdout(): string;
  stderr(): string;
  /** Resolves once something was printed on stdout, or the process ended. */
  readonly printed: Promise<void>;
  /** The exit code, or the signal that ended it. */
  readonly ended: Promise<number | string>;
  stop(): void;
}

/** Runs `script` on this runtime in `dir`, offline: under Deno, the network is 127.0.0.1 only. */
function runScript(script: string, dir: string): Run {
  const command = runtime === "deno"
    ? [Deno.execPath(), [
      "run",
      "--no-check",
      "--no-lock",
      "--cached-only",
      "--config",
      new URL("deno.json", ROOT).pathname,
      "--allow-net=127.0.0.1,localhost",
      `--allow-read=${dir}`,
      script,
    ]] as const
    : [process.execPath, [script]] as const;
  const child = spawn(command[0], command[1], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let onPrint = () => {};
  const printed = new Promise<void>((resolve) => (onPrint = resolve));
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
    onPrint();
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const ended = new Promise<number | string>((resolve) => {
    child.once("close", (code, signal) => resolve(code ?? signal ?? "?"));
  });
  void ended.then(onPrint);
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    printed,
    ended,
    stop: () => void child.kill("SIGTERM"),
  };
}

/** Resolves with "timeout" after `ms`, unless `promise` settles first (the timer is cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test("docs: the offline change, as docs/library.md states it", () => {
  const cases: [string, string][] = [
    ["await connect(9999);", "await connect(9999, offline);"],
    [
      'await connect(9999, { types: ["chatmsg"] });',
      'await connect(9999, { ...offline, types: ["chatmsg"] });',
    ],
    ["connect(room, options)", "connect(room, { ...offline, ...options })"],
    ["new Hub()", "new Hub(offline)"],
    ["new Hub({ queueSize: 5 })", "new Hub({ ...offline, queueSize: 5 })"],
    ["watchLive([9999, f(1, 2)])", "watchLive([9999, f(1, 2)], offline)"],
    ['fetchRoomInfo(`a${f("(", ")")}`)', 'fetchRoomInfo(`a${f("(", ")")}`, offline)'],
    ["new GiftCatalogCache();", "new GiftCatalogCache(offline);"],
    [
      "session.connect(1); disconnect(2); hub.add(3)",
      "session.connect(1); disconnect(2); hub.add(3)",
    ],
    ["connect(1 /* ) */, // )\n { url })", "connect(1 /* ) */, // )\n { ...offline, url })"],
  ];
  for (const [code, offline] of cases) assert.equal(offlineCalls(code).code, offline, code);
});

test("docs: every ts block is marked for what it needs; one offline prelude", () => {
  assert.ok(blocks.length >= 10, `only ${blocks.length} blocks found`);
  assert.equal(preludes.length, 1, `offline preludes: ${preludes.map(where)}`);
  for (const block of blocks) {
    // `ts ignore` would skip a block silently: mark it check-only, with the reason, instead.
    assert.deepEqual(block.flags, [], `${where(block)}: \`\`\`ts ${block.flags.join(" ")}`);
  }
});

if (runtime === "deno") {
  test("docs: every ts block type-checks, as written and as run offline", async () => {
    const dir = await workDir();
    try {
      const files: string[] = [];
      for (const [i, block] of blocks.entries()) {
        for (
          const [suffix, code] of [["as_written", block.code], ["offline", offlineVersion(block)]]
        ) {
          const name = join(
            dir,
            `${block.file.replace(/\W/g, "_")}_${block.line}_${suffix}_${i}.ts`,
          );
          await writeFile(name, withLocalImports(code!, ROOT));
          files.push(name);
        }
      }
      const check = spawn(Deno.execPath(), [
        "check",
        "--no-lock",
        "--config",
        new URL("deno.json", ROOT).pathname,
        ...files,
      ], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      check.stdout!.setEncoding("utf8").on("data", (text: string) => (output += text));
      check.stderr!.setEncoding("utf8").on("data", (text: string) => (output += text));
      const code = await new Promise<number | null>((resolve) => check.once("close", resolve));
      assert.equal(code, 0, output);
    } finally {
      await rm(dir, { recursive: true });
    }
  }, { timeout: 300_000 });
}

for (const block of blocks) {
  if (block.kind === "check-only" || block.kind === "offline-prelude") continue;
  const until = block.kind === "runs-until-stopped";
  test(`docs: ${where(block)} runs offline${until ? " until stopped" : ""}`, async () => {
    const dir = await workDir();
    try {
      const script = join(dir, "block.ts");
      await writeFile(script, withLocalImports(offlineVersion(block), ROOT));
      const run = runScript(script, dir);
      const output = () => `\n--- stdout:\n${run.stdout()}\n--- stderr:\n${run.stderr()}`;
      try {
        if (until) {
          assert.notEqual(
            await within(run.printed, START_MS),
            "timeout",
            `nothing printed${output()}`,
          );
          const early = await within(run.ended, KEEPS_RUNNING_MS);
          assert.equal(early, "timeout", `ended by itself (${early}), not when stopped${output()}`);
        } else {
          const code = await within(run.ended, START_MS);
          assert.equal(code, 0, `did not end with 0${output()}`);
        }
        assert.notEqual(run.stdout().trim(), "", `printed nothing${output()}`);
        assert.equal(run.stderr(), "", `wrote to stderr${output()}`);
      } finally {
        run.stop();
        await run.ended;
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  }, { timeout: 120_000 });
}
