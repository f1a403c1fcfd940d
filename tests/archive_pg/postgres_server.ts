/**
 * A throwaway PostgreSQL server for the archive's tests and bench: Debian's
 * `postgresql` (`initdb`, `pg_ctl`), a cluster in a temporary directory, on
 * a free port of 127.0.0.1, trusting local connections, stopped and deleted
 * afterwards. Run as root (CI), it runs the server as the `postgres` user,
 * which PostgreSQL requires. Missing binaries are an error, never a skip.
 */
import { execFile } from "node:child_process";
import { access, chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** A running server. */
export interface PostgresServer {
  /** `postgres://douyu@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server at once and deletes its files. */
  stop(): Promise<void>;
}

const SEARCH = [
  "/usr/lib/postgresql/17/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/15/bin",
];

/** The directory holding `initdb` and `pg_ctl`: the PATH first, then Debian's places. */
async function binDir(): Promise<string> {
  const dirs = [...(process.env.PATH ?? "").split(":").filter((dir) => dir !== ""), ...SEARCH];
  for (const dir of dirs) {
    try {
      await access(join(dir, "initdb"));
      await access(join(dir, "pg_ctl"));
      return dir;
    } catch {
      // Not here.
    }
  }
  throw new Error(
    "PostgreSQL is not installed: the archive's PostgreSQL tests need initdb and pg_ctl " +
      "(Debian: apt-get install postgresql)",
  );
}

function run(command: string, args: string[]): Promise<string> {
  // As root, as the postgres user: initdb and postgres refuse to run as root.
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", command, ...args]]
    : [command, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A free TCP port of 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a server: `initdb` (trust, user `douyu`, UTF-8, locale C) and
 * `pg_ctl start` on a free port.
 *
 * @throws {Error} PostgreSQL is not installed, or it failed to start.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), "douyu-pg-"));
  // The postgres user must reach its directory (it is made for root, 0700).
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  try {
    await run(join(bin, "initdb"), [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "douyu",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    let port = 0;
    for (let attempt = 0;; attempt++) {
      port = await freePort();
      try {
        await run(join(bin, "pg_ctl"), [
          "-D",
          data,
          "-l",
          join(dir, "log"),
          "-w",
          "-t",
          "60",
          "-o",
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off ` +
          "-c synchronous_commit=on -c max_connections=40 -c shared_buffers=64MB",
          "start",
        ]);
        break;
      } catch (error) {
        // Another process took the port between our check and the server's bind.
        if (attempt >= 3) throw error;
      }
    }
    const stop = async () => {
      await run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    };
    return { url: `postgres://douyu@127.0.0.1:${port}/postgres`, port, stop };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
