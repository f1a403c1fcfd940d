/**
 * Child processes for tests, on Deno (`Deno.Command`) and Bun/Node
 * (`node:child_process`): piped standard streams, waiting for a line, the
 * resident memory from `/proc`, and a clean end (so Deno's resource
 * sanitizer stays green).
 */
import { spawn } from "node:child_process";
import { runtime } from "./harness.ts";

/** The repository root, as a path. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** A running child process. */
export interface Child {
  readonly pid: number;
  /** Everything written on stdout so far. */
  readonly stdout: string;
  /** Everything written on stderr so far. */
  readonly stderr: string;
  /**
   * Resolves with the first match of `pattern` in the stream, waiting for
   * more output up to `ms`; rejects after that, or once the child exited
   * without a match.
   */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Closes the child's stdin. */
  closeStdin(): Promise<void>;
  kill(signal: "SIGINT" | "SIGTERM" | "SIGKILL"): void;
  /** The exit code (null when a signal ended it), once both pipes are drained. */
  readonly exited: Promise<number | null>;
}

/**
 * The runtime running the tests, as a command line: `deno run <permissions>`
 * under Deno, `bun` (or `node`) otherwise, followed by `script`.
 */
export function runtimeCommand(script: string, permissions: string[]): string[] {
  if (runtime === "deno") return [Deno.execPath(), "run", "--no-prompt", ...permissions, script];
  return [process.execPath, script];
}

/** Starts `command` with piped stdin, stdout and stderr. */
export function startChild(command: string, args: readonly string[]): Child {
  const text = { stdout: "", stderr: "" };
  let ended = false;
  const changed = new Set<() => void>();
  const append = (stream: "stdout" | "stderr", chunk: string) => {
    text[stream] += chunk;
    for (const wake of changed) wake();
  };
  let pid: number;
  let kill: (signal: "SIGINT" | "SIGTERM" | "SIGKILL") => void;
  let closeStdin: () => Promise<void>;
  let exited: Promise<number | null>;
  if (runtime === "deno") {
    const child = new Deno.Command(command, {
      args: [...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    pid = child.pid;
    const pump = async (from: ReadableStream<Uint8Array>, stream: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of from) append(stream, decoder.decode(chunk, { stream: true }));
    };
    const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
    const stdin = child.stdin.getWriter();
    let stdinClosed: Promise<void> | undefined;
    closeStdin = () => (stdinClosed ??= stdin.close().catch(() => {}));
    kill = (signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    };
    exited = (async () => {
      const status = await child.status;
      await pumps;
      await closeStdin();
      return status.signal === null ? status.code : null;
    })();
  } else {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    pid = child.pid!;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => append("stdout", chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => append("stderr", chunk));
    child.stdin.on("error", () => {});
    closeStdin = () => new Promise((resolve) => child.stdin.end(resolve));
    kill = (signal) => void child.kill(signal);
    exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  }
  exited = exited.finally(() => {
    ended = true;
    for (const wake of changed) wake();
  });
  return {
    pid,
    get stdout() {
      return text.stdout;
    },
    get stderr() {
      return text.stderr;
    },
    waitFor(stream, pattern, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(text[stream]);
          if (match === null && !ended) return;
          clearTimeout(timer);
          changed.delete(check);
          if (match) resolve(match);
          else reject(new Error(`exited without ${pattern} on ${stream}: ${text[stream]}`));
        };
        const timer = setTimeout(() => {
          changed.delete(check);
          reject(new Error(`no ${pattern} on ${stream} within ${ms} ms: ${text[stream]}`));
        }, ms);
        changed.add(check);
        check();
      });
    },
    closeStdin: () => closeStdin(),
    kill: (signal) => kill(signal),
    exited,
  };
}

/** What {@linkcode watchProcess} saw so far. */
export interface ProcessWatch {
  /** The largest resident memory seen (VmRSS), bytes. */
  readonly peakResident: number;
  /** The most file descriptors seen open at once. */
  readonly peakDescriptors: number;
  /** The latest resident memory seen, bytes. */
  readonly resident: number;
  /** Stops watching. */
  stop(): Promise<void>;
}

/**
 * Samples process `pid`'s resident memory (VmRSS) and open file descriptors
 * every 100 ms, from `/proc`. A shell loop does the reading: Deno grants
 * `/proc/<pid>/` only with `--allow-all`, and a separate process also keeps
 * the sampling off this process's event loop.
 */
export function watchProcess(pid: number): ProcessWatch {
  const loop = 'while [ -d "/proc/$1" ]; do ' +
    'echo "sample $(awk \'/^VmRSS:/ { print $2 }\' "/proc/$1/status") $(ls "/proc/$1/fd" | wc -l)"; ' +
    "sleep 0.1; done";
  const sampler = startChild("sh", ["-c", loop, "sh", String(pid)]);
  let seen = 0;
  const state = { peakResident: 0, peakDescriptors: 0, resident: 0 };
  const update = () => {
    const lines = sampler.stdout.split("\n");
    for (; seen < lines.length - 1; seen++) {
      const match = /^sample (\d+) (\d+)$/.exec(lines[seen]!);
      if (match === null) continue;
      state.resident = Number(match[1]) * 1024;
      state.peakResident = Math.max(state.peakResident, state.resident);
      state.peakDescriptors = Math.max(state.peakDescriptors, Number(match[2]));
    }
  };
  return {
    get peakResident() {
      update();
      return state.peakResident;
    },
    get peakDescriptors() {
      update();
      return state.peakDescriptors;
    },
    get resident() {
      update();
      return state.resident;
    },
    async stop() {
      sampler.kill("SIGTERM");
      await sampler.exited;
      update();
    },
  };
}
