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

/** A three-server NATS cluster with JetStream (for replicas), on free loopback ports. */
export interface NatsCluster {
  /** Each server's `nats://127.0.0.1:<port>`. */
  readonly urls: string[];
  /** Stops every server and removes their stores. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts three nats-servers routed into one JetStream cluster; resolves once it has a leader. */
export async function startNatsCluster(): Promise<NatsCluster> {
  const binary = natsServerPath();
  const dir = await mkdtemp(join(tmpdir(), "douyu-natsc-"));
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(", ");
  const children: ChildProcess[] = [];
  let log = "";
  const leader = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no JetStream leader within 20 s:\n${log.slice(-2000)}`)),
      20_000,
    );
    for (let i = 0; i < 3; i++) {
      const config = join(dir, `n${i}.conf`);
      const text = `server_name: n${i}
listen: 127.0.0.1:${clientPorts[i]}
jetstream { store_dir: "${join(dir, `s${i}`)}" }
cluster { name: douyu, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }
`;
      const start = async () => {
        await writeFile(config, text);
        const proc = spawn(binary, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
        children.push(proc);
        proc.stderr!.setEncoding("utf8");
        proc.stderr!.on("data", (chunk: string) => {
          log = (log + chunk).slice(-50_000);
          if (
            /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/
              .test(log)
          ) {
            clearTimeout(timer);
            resolve();
          }
        });
      };
      start().catch(reject);
    }
  });
  const close = async () => {
    await Promise.all(children.map((proc) => {
      if (proc.exitCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      return exited;
    }));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await leader;
  } catch (error) {
    await close();
    throw error;
  }
  return { urls: clientPorts.map((port) => `nats://127.0.0.1:${port}`), close };
}
