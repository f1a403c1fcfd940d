/**
 * A real `nats-server` with JetStream for the cluster tests: on a free
 * loopback port, with a temporary store directory, stopped (and the
 * directory removed) by `close()`. It can be stopped and started again on
 * the same port and store, as an outage. A missing `nats-server` fails the
 * test (Debian's `nats-server` package; `.ci/run` installs it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian puts it, in case /usr/sbin is not on the PATH. */
const CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** The `nats-server` binary: from the PATH or Debian's place; throws when there is none. */
export function natsServerPath(): string {
  for (const dir of (globalThis.process?.env?.PATH ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      "nats-server not found: install it (apt-get install -y nats-server); the cluster tests need it",
    );
  }
  return found;
}

/** A running (or stopped) nats-server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The running server's process id (undefined while stopped). */
  readonly pid: number | undefined;
  /** Stops it (SIGTERM; SIGKILL after 5 s); the store stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  close(): Promise<void>;
}

/** Options of {@linkcode startNatsServer}. */
export interface NatsServerOptions {
  /**
   * A configuration (accounts, authorization, TLS, limits…), given the store
   * directory; the port, the address and JetStream's store come from the
   * command line.
   */
  config?: (store: string) => string;
}

/** Starts a nats-server with JetStream on a free loopback port. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerPath();
  const store = await mkdtemp(join(tmpdir(), "douyu-nats-"));
  const configFile = join(store, "server.conf");
  if (options.config !== undefined) await writeFile(configFile, options.config(store));
  const configArgs = options.config !== undefined ? ["-c", configFile] : [];
  let child: ChildProcess | undefined;
  let port = -1;

  const launch = async (): Promise<void> => {
    // -p -1: a random free port the first time; the same port afterwards.
    const args = [...configArgs, "-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store];
    const proc = spawn(binary, args, {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    let log = "";
    const listening = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`nats-server did not start within 15 s:\n${log.slice(-2000)}`));
      }, 15_000);
      proc.stderr!.setEncoding("utf8");
      proc.stderr!.on("data", (chunk: string) => {
        log += chunk;
        if (log.length > 100_000) log = log.slice(-50_000);
        const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
        if (match !== null && /Server is ready/.test(log)) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log.slice(-2000)}`));
      });
    });
    port = listening;
    // Keep draining stderr so the server never blocks on a full pipe.
    proc.stderr!.removeAllListeners("data");
    proc.stderr!.resume();
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid;
    },
    stop,
    start: launch,
    async close() {
      await stop();
      await rm(store, { recursive: true, force: true });
    },
  };
}
