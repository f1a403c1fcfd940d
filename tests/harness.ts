/**
 * One `test()` for both runtimes: `Deno.test` with the op and resource
 * sanitizers forced on under Deno (so a leaked timer or socket fails the
 * test), `node:test` under Bun and Node.
 */
import { test as nodeTest } from "node:test";
import process from "node:process";

/** A test body. */
export type TestFn = () => void | Promise<void>;

/** Options for {@linkcode test}. */
export interface TestOptions {
  /** Skip the test when true. */
  ignore?: boolean;
  /**
   * Fail the test after this many milliseconds, under Bun and Node (Bun's
   * default is 5 s). Deno has no per-test timeout.
   */
  timeout?: number;
}

const isDeno = typeof Deno !== "undefined" && !("Bun" in globalThis);

/** Registers a test on the current runtime, with Deno's sanitizers on. */
export function test(name: string, fn: TestFn, options: TestOptions = {}): void {
  if (isDeno) {
    Deno.test({
      name,
      fn,
      ignore: options.ignore ?? false,
      sanitizeOps: true,
      sanitizeResources: true,
      sanitizeExit: true,
    });
  } else {
    nodeTest(name, {
      skip: options.ignore ?? false,
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    }, fn);
  }
}

/** Which runtime runs the tests. */
export const runtime: "deno" | "bun" | "node" = isDeno
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** Reads a fixture from `tests/fixtures/` as text, on any runtime. */
export async function readFixture(name: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return await readFile(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}

/** Awaits a rejection and returns the error for further checks. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/**
 * Waits until `check()` holds, looking every 10 ms; rejects after `ms`, a
 * guard against a hang (generous: a busy machine is slow, not broken).
 */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!await check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A script of `tests/peers/` running in its own process: see {@linkcode spawnPeer}. */
export interface Peer {
  /** The next line the peer printed on stdout, parsed as JSON. */
  next<T = Record<string, unknown>>(): Promise<T>;
  /** Sends a line to the peer's stdin. */
  send(line: string): void;
  /** Ends the peer (closing its stdin, then SIGKILL if it lingers) and waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Runs `tests/peers/<name>` in a separate process, so a peer that floods the
 * network never starves this process's timers. It prints one JSON object
 * per line on stdout; it ends when its stdin closes. It runs on `on`: by
 * default the runtime running the tests, but `node` for a `.mjs` peer (the
 * `ws` peer: Bun replaces the `ws` package with its own).
 */
export async function spawnPeer(
  name: string,
  args: string[] = [],
  on: "deno" | "bun" | "node" = name.endsWith(".mjs") ? "node" : runtime,
): Promise<Peer> {
  const { spawn } = await import("node:child_process");
  const { createInterface } = await import("node:readline");
  const script = new URL(`./peers/${name}`, import.meta.url).pathname;
  // The runtime running the tests by its path, another one from the PATH.
  const executable = on === runtime ? process.execPath : on;
  const command = on === "deno"
    ? [executable, ["run", "-A", script, ...args]] as const
    : [executable, [script, ...args]] as const;
  const child = spawn(command[0], command[1], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  // A runtime missing from the PATH fails the test that asked for it, by name,
  // instead of an uncaught error event.
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      failure = error;
      for (const wake of waiting.splice(0)) wake(undefined);
      resolve();
    });
  });
  const reader = createInterface({ input: child.stdout! });
  reader.on("line", (line) => {
    const wake = waiting.shift();
    if (wake) wake(line);
    else lines.push(line);
  });
  reader.once("close", () => {
    for (const wake of waiting.splice(0)) wake(undefined);
  });
  return {
    async next<T>() {
      const line = lines.shift() ??
        await new Promise<string | undefined>((resolve) => waiting.push(resolve));
      if (line === undefined) {
        throw new Error(`peer ${name} ${failure ? `could not start on ${on}` : "ended"}`, {
          cause: failure,
        });
      }
      return JSON.parse(line) as T;
    },
    send(line) {
      child.stdin!.write(line + "\n");
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      reader.close();
    },
  };
}
