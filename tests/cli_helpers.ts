/** Shared by the CLI tests: running `main()` in-process, temporary dirs, local HTTP servers. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliIO, main } from "../src/cli/cli.ts";
import { formatJson } from "../src/output/format.ts";
import { type Handler, withServer } from "./local_http.ts";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Stands in for SIGINT. */
  signal?: AbortSignal;
  color?: boolean;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

/** Runs `main()` in-process; a guard interrupts it (exit 130) after 15 s so no test hangs. */
export async function run(args: string[], options: RunOptions = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const guard = new AbortController();
  const timer = setTimeout(() => guard.abort("SIGINT"), 15_000);
  const io: CliIO = {
    stdout: (text) => {
      stdout += text;
      options.onStdout?.(text);
    },
    stderr: (text) => {
      stderr += text;
      options.onStderr?.(text);
    },
    color: options.color ?? false,
    signal: options.signal ? AbortSignal.any([options.signal, guard.signal]) : guard.signal,
  };
  try {
    const code = await main(args, io);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Lines of output, without the trailing empty one. */
export function lines(text: string): string[] {
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

export /** A fresh directory under the system's temporary directory (TMPDIR). */
async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "douyu-cli-test-"));
}

/** Runs `fn` against a local HTTP server on 127.0.0.1 (a stand-in for Douyu's APIs), then closes it. */
export async function withHttp(
  handler: Handler,
  fn: (base: string) => Promise<void>,
): Promise<void> {
  await withServer(handler, (local) => fn(local.base));
}

/**
 * An NDJSON line as printed, without the `_t` it must carry (a time in ms,
 * checked) and its `_gift`: what the message itself says, as `formatJson`
 * writes it, to compare with the messages served.
 */
export function unstamped(line: string): string {
  const { _t, _gift, ...rest } = JSON.parse(line);
  if (!Number.isSafeInteger(_t) || _t < Date.UTC(2000, 0, 1)) {
    throw new Error(`no arrival time _t in ${line}`);
  }
  return formatJson(rest);
}

/** Every line of NDJSON output {@linkcode unstamped}, each with its newline. */
export function unstampedLines(stdout: string): string {
  return lines(stdout).map((line) => unstamped(line) + "\n").join("");
}
