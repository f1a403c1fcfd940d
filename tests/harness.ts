/**
 * One `test()` for both runtimes: `Deno.test` with the op and resource
 * sanitizers forced on under Deno (so a leaked timer or socket fails the
 * test), `node:test` under Bun and Node.
 */
import { test as nodeTest } from "node:test";

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
