/**
 * The `douyu` command as a process of Deno, Bun or Node: arguments, the
 * standard streams (with backpressure), colour, SIGINT and SIGTERM, and the
 * exit. Everything else is {@linkcode main}, which tests run in-process.
 *
 * @module
 */

import type { Writable } from "node:stream";
import { errorText } from "../base/errors.ts";
import { isDeno } from "../transport/default.ts";
import { main } from "./cli.ts";
import { type CliIO, FAILURE, writeAll } from "./io.ts";

/** How long an interrupted process waits for stdout and stderr to drain before exiting, ms. */
const INTERRUPTED_FLUSH_MS = 500;

/** The runtime's side of a {@linkcode CliIO}. */
interface SystemIO {
  io: CliIO;
  args: string[];
  /** Waits until everything written has been handed to the OS. */
  flush(): Promise<void>;
  /** Removes the signal handlers. */
  dispose(): void;
  exit(code: number): void;
}

/** Serialises writes to one stream, so concurrent notes never interleave mid-line. */
function serialized(write: (text: string) => Promise<void>): (text: string) => Promise<void> {
  let chain = Promise.resolve();
  return (text) => {
    const next = chain.then(() => write(text));
    chain = next.catch(() => {});
    return next;
  };
}

function denoIO(): SystemIO {
  const encoder = new TextEncoder();
  const writer = (file: typeof Deno.stdout) =>
    serialized((text) => writeAll(encoder.encode(text), (chunk) => file.write(chunk)));
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((name) => {
    const handler = () => {
      // A second Ctrl-C while logging out means "now".
      if (controller.signal.aborted) Deno.exit(name === "SIGTERM" ? 143 : 130);
      controller.abort(name);
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  const stdout = writer(Deno.stdout);
  const stderr = writer(Deno.stderr);
  return {
    io: {
      stdout,
      stderr,
      // Deno.noColor reflects NO_COLOR without reading the environment (no --allow-env).
      color: Deno.stdout.isTerminal() && !Deno.noColor,
      progress: Deno.stderr.isTerminal(),
      signal: controller.signal,
    },
    args: Deno.args,
    flush: async () => {
      await stdout("").catch(() => {});
      await stderr("").catch(() => {});
    },
    dispose: () => {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    },
    exit: (code) => Deno.exit(code),
  };
}

type Stream = Writable;

async function nodeIO(): Promise<SystemIO> {
  const { default: process } = await import("node:process");
  const writer = (stream: Stream) => {
    let failure: unknown;
    stream.on("error", (error) => (failure ??= error));
    return serialized((text) =>
      new Promise<void>((resolve, reject) => {
        if (failure !== undefined) return reject(failure);
        const done = () => {
          stream.off("error", onError);
          resolve();
        };
        const onError = (error: unknown) => {
          stream.off("drain", done);
          reject(error);
        };
        // Waiting for "drain" when the buffer is full is the backpressure.
        if (stream.write(text)) return resolve();
        stream.once("drain", done);
        stream.once("error", onError);
      })
    );
  };
  const controller = new AbortController();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (controller.signal.aborted) process.exit(name === "SIGTERM" ? 143 : 130);
      controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  const flushStream = (stream: Stream) =>
    new Promise<void>((resolve) => {
      if (stream.writableLength === 0) return resolve();
      stream.write("", () => resolve());
    });
  const noColor = process.env.NO_COLOR;
  return {
    io: {
      stdout: writer(process.stdout),
      stderr: writer(process.stderr),
      color: process.stdout.isTTY === true && (noColor === undefined || noColor === ""),
      progress: process.stderr.isTTY === true,
      signal: controller.signal,
    },
    args: process.argv.slice(2),
    flush: async () => {
      await flushStream(process.stdout);
      await flushStream(process.stderr);
    },
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
    exit: (code) => process.exit(code),
  };
}

/**
 * Runs the command line tool in this process: reads the arguments, wires
 * stdout/stderr (with backpressure), colour (a terminal, and NO_COLOR
 * unset), SIGINT and SIGTERM, then exits with {@linkcode main}'s code. A
 * second Ctrl-C exits at once.
 *
 * Under Deno it reads no environment variable (`Deno.noColor` gives
 * NO_COLOR) and no file the user did not name, so watching a room needs
 * only `--allow-net` (`-N`); `--record` adds `--allow-write`, `replay` and
 * `serve <file>` `--allow-read`.
 *
 * @param args The arguments; default: this process's.
 *
 * @example What `mod.ts` does as the main module
 * ```ts ignore
 * import { runCli } from "./process_io.ts";
 *
 * if (import.meta.main) await runCli();
 * ```
 */
export async function runCli(args?: string[]): Promise<void> {
  const system = isDeno ? denoIO() : await nodeIO();
  let code: number;
  try {
    code = await main(args ?? system.args, system.io);
  } catch (error) {
    // main() reports expected failures itself; this is a bug, but still one line.
    await system.io.stderr(`douyu: unexpected error: ${errorText(error)}\n`);
    code = FAILURE;
  } finally {
    system.dispose();
  }
  if (code === 130 || code === 143) {
    // Interrupted: output a blocked stdout (a pipe nobody reads) still holds
    // must not keep the process alive.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      system.flush(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, INTERRUPTED_FLUSH_MS))),
    ]);
    clearTimeout(timer);
  } else {
    await system.flush();
  }
  system.exit(code);
}
