/**
 * What `douyu rooms`, `douyu collect`, `douyu consume` and `douyu archive --nats` share: the
 * `--nats` and cluster options, loading `src/nats/` (and with it the NATS
 * client) only when one of them runs, and turning errors into exit codes.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import type { Cluster, ConnectClusterOptions } from "../nats/mod.ts";
import {
  CliFailure,
  type CliIO,
  describeError,
  FAILURE,
  OK,
  say,
  USAGE,
  UsageError,
} from "./io.ts";
import { readText } from "./files.ts";
import {
  defineOptions,
  HELP_OPTION,
  type OptionTable,
  parseCommand,
  type ParsedCommand,
} from "./options.ts";
import { needNet, needRead } from "./permissions.ts";

/** `src/nats/mod.ts`, as its dynamic import gives it. */
export type NatsModule = typeof import("../nats/mod.ts");

export { FAILURE, OK, USAGE };

/** The options every NATS command takes. */
export const NATS_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    nats: { type: "string", multiple: true },
    creds: { type: "string" },
    nkey: { type: "string" },
    "tls-ca": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "lease-ttl": { type: "string" },
    "retention-age": { type: "string" },
    "retention-bytes": { type: "string" },
    replicas: { type: "string" },
  } as const,
);

/** Help text of the options in {@linkcode NATS_OPTIONS}. */
export const NATS_OPTIONS_HELP = `Connecting:
  --nats URL             NATS server, repeatable (required): nats://host:4222;
                         nats://user:pass@host:4222 or nats://token@host:4222 to log in;
                         tls://host:4222 to require TLS
  --creds FILE           a creds file (the user's JWT and NKEY seed, as nsc writes it)
  --nkey FILE            a file holding an NKEY seed (SU...)
  --tls-ca FILE          trust this CA (PEM) for the server's certificate (implies TLS)
  --tls-cert FILE, --tls-key FILE
                         a client certificate and its key (PEM), for servers that verify clients
Cluster (retention and replicas change an existing stream and buckets when given):
  --lease-ttl S          lease lifetime in seconds when the cluster is created (default 15);
                         change a running cluster's with: douyu rooms set-lease-ttl S
  --retention-age D      keep messages this long: 90m, 12h, 7d (default 7d)
  --retention-bytes N    keep at most this much: 500M, 20G (default 16G, about 34 million
                         messages of ~500 bytes); the oldest go first
  --replicas N           JetStream replicas: 1, 3 or 5 (default 1)
`;

/**
 * Loads `src/nats/` (and the NATS client): only the NATS commands ever call
 * this. In a checkout the client comes from `node_modules/` (`deno.json` sets
 * `nodeModulesDir` to `manual`, so that no other task downloads it), and a
 * missing one is a one-line failure that says how to install it.
 */
export async function loadNats(): Promise<NatsModule> {
  try {
    return await import("../nats/mod.ts");
  } catch (error) {
    const reason = errorText(error).split("\n")[0]!.trim();
    throw new CliFailure(
      `cannot load the NATS client (${reason}); in a checkout, \`deno install\` installs it ` +
        "(`npm ci` for Bun and Node)",
      { cause: error },
    );
  }
}

/**
 * What a command reading the stream (`consume`, `archive --nats`) takes:
 * `--durable` (checked), `--since` (a time), `--rooms` (the texts typed,
 * split on commas, to resolve).
 *
 * @throws {UsageError} naming the option with a bad value.
 */
export function streamReading(
  values: { durable?: string; since?: string; rooms?: string[] },
  nats: NatsModule,
): { durable: string | undefined; since: number | undefined; rooms: string[] } {
  const durable = values.durable;
  if (durable !== undefined && !isSafeName(durable)) {
    throw invalid("durable", durable, "1 to 64 letters, digits, _ or -");
  }
  let since: number | undefined;
  if (values.since !== undefined) {
    since = nats.parseSince(values.since, Date.now());
    if (since === undefined) {
      throw invalid("since", values.since, "a duration such as 10m or 2h, or a date");
    }
  }
  const rooms = (values.rooms ?? []).flatMap((text) => text.split(/[,，]/))
    .map((text) => text.trim()).filter((text) => text !== "");
  return { durable, since, rooms };
}

/** The values of {@linkcode NATS_OPTIONS}. */
export interface NatsValues {
  nats?: string[];
  creds?: string;
  nkey?: string;
  "tls-ca"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "lease-ttl"?: string;
  "retention-age"?: string;
  "retention-bytes"?: string;
  replicas?: string;
}

/** The files {@linkcode NATS_OPTIONS} name, to read when connecting. */
export interface NatsFiles {
  creds?: string;
  nkey?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** What a NATS command connects with: servers, settings, and the files to read for them. */
export interface ClusterTarget {
  servers: string[];
  options: ConnectClusterOptions;
  files: NatsFiles;
}

/** Lease TTL seconds as ms, or a usage error. */
export function leaseTtlMs(text: string, name = "lease-ttl"): number {
  const seconds = Number(text);
  if (
    !/^\s*[0-9.]+\s*$/.test(text) || !Number.isFinite(seconds) || seconds < 1 || seconds > 3600
  ) {
    throw invalid(name, text, "seconds from 1 to 3600");
  }
  return Math.round(seconds * 1000);
}

/** The servers, cluster settings and files to read from {@linkcode NATS_OPTIONS}' values. */
export function clusterSettings(values: NatsValues): ClusterTarget {
  const servers = values.nats ?? [];
  if (servers.length === 0) {
    throw new UsageError("missing --nats URL: the NATS server, e.g. nats://127.0.0.1:4222");
  }
  needNet(servers.map((server) => {
    const host = natsHost(server);
    if (host === undefined) {
      throw invalid("nats", server, "a NATS URL such as nats://127.0.0.1:4222 or tls://host:4222");
    }
    return host;
  }));
  const options: ConnectClusterOptions = {};
  const ttl = values["lease-ttl"];
  if (ttl !== undefined) options.leaseTtl = leaseTtlMs(ttl);
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (values.creds !== undefined && values.nkey !== undefined) {
    throw new UsageError("--creds and --nkey are two ways to log in: give one");
  }
  const files: NatsFiles = {
    ...(values.creds !== undefined ? { creds: values.creds } : {}),
    ...(values.nkey !== undefined ? { nkey: values.nkey } : {}),
    ...(values["tls-ca"] !== undefined ? { tlsCa: values["tls-ca"] } : {}),
    ...(values["tls-cert"] !== undefined ? { tlsCert: values["tls-cert"] } : {}),
    ...(values["tls-key"] !== undefined ? { tlsKey: values["tls-key"] } : {}),
  };
  const what = { creds: "creds file", nkey: "NKEY seed file", tlsCa: "CA file" } as const;
  for (const [name, path] of Object.entries(files)) {
    needRead(path, what[name as keyof typeof what] ?? "TLS file");
  }
  const age = values["retention-age"];
  if (age !== undefined) {
    const ms = durationMs(age);
    if (ms === undefined || ms < 60_000) {
      throw invalid("retention-age", age, "a duration such as 12h or 7d");
    }
    options.maxAge = ms;
  }
  const size = values["retention-bytes"];
  if (size !== undefined) {
    const bytes = byteSize(size);
    if (bytes === undefined || bytes < 1024 * 1024) {
      throw invalid("retention-bytes", size, "a size such as 500M or 20G, at least 1M");
    }
    options.maxBytes = bytes;
  }
  const replicas = values.replicas;
  if (replicas !== undefined) {
    if (!["1", "3", "5"].includes(replicas.trim())) {
      throw invalid("replicas", replicas, "1, 3 or 5");
    }
    options.replicas = Number(replicas);
  }
  return { servers, options, files };
}

/** `90s`, `15m`, `12h`, `7d` (or plain seconds) in ms; `undefined` when not understood. */
export function durationMs(text: string): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d)?\s*$/.exec(text);
  if (match === null) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" ?? "s"] ?? 1000;
  const ms = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** `500M`, `20G`, `1T` or a plain number of bytes; `undefined` when not understood. */
export function byteSize(text: string): number | undefined {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?|B)?\s*$/i.exec(text);
  if (match === null) return undefined;
  const power = "BKMGT".indexOf((match[2] ?? "B")[0]!.toUpperCase());
  const bytes = Math.round(Number(match[1]) * 1024 ** power);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A positive integer option, or `undefined` when absent. */
export function positiveOption(
  values: Record<string, unknown>,
  name: string,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const text = values[name];
  if (typeof text !== "string") return undefined;
  const n = /^\s*[0-9]+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw invalid(
      name,
      text,
      max < Number.MAX_SAFE_INTEGER ? `an integer from 1 to ${max}` : "a positive integer",
    );
  }
  return n;
}

/** The usage error for an option's bad value. */
export function invalid(name: string, text: string, expected: string): UsageError {
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
  return new UsageError(`invalid value for --${name}: ${shown} (expected ${expected})`);
}

/**
 * Connects to the cluster (reading the creds, NKEY and TLS files first), as a
 * one-line failure (exit 1) when it cannot. A `--lease-ttl` that differs from
 * an existing cluster's is said, once: it applies when the cluster is
 * created.
 */
export async function openCluster(
  nats: NatsModule,
  target: ClusterTarget,
  io?: CliIO,
): Promise<Cluster> {
  const { files } = target;
  const options: ConnectClusterOptions = { ...target.options };
  if (files.creds !== undefined) options.creds = await readText(files.creds, "creds file");
  if (files.nkey !== undefined) options.nkeySeed = await readText(files.nkey, "NKEY seed file");
  if (files.tlsCa !== undefined || files.tlsCert !== undefined) {
    options.tls = {
      ...(files.tlsCa !== undefined ? { ca: await readText(files.tlsCa, "CA file") } : {}),
      ...(files.tlsCert !== undefined
        ? { cert: await readText(files.tlsCert, "certificate file") }
        : {}),
      ...(files.tlsKey !== undefined ? { key: await readText(files.tlsKey, "key file") } : {}),
    };
  }
  let cluster: Cluster;
  try {
    cluster = await nats.Cluster.connect(target.servers, options);
  } catch (error) {
    await ignoreOrphanedResets();
    throw new CliFailure(describeError(error));
  }
  const asked = target.options.leaseTtl;
  if (io !== undefined && asked !== undefined && asked !== cluster.leaseTtl) {
    await say(
      io,
      `--lease-ttl ${asked / 1000} applies when the cluster is created; its lease TTL is ` +
        `${cluster.leaseTtl / 1000} s (change it with: douyu rooms set-lease-ttl ${asked / 1000})`,
    );
  }
  return cluster;
}

/** A NATS command's name, options and help, for {@linkcode runNatsCommand}. */
export interface NatsCommand<O extends OptionTable> {
  /** `douyu rooms`, …: named in usage errors. */
  name: string;
  /** Its option table (with {@linkcode NATS_OPTIONS}). */
  options: O;
  /** What `--help` prints. */
  help: string;
  /** True when it takes positional arguments; otherwise any is a usage error. */
  positionals?: boolean;
}

/**
 * The preamble every NATS command shares: parses `args` against its table,
 * answers `--help`, refuses arguments it does not take, then runs `body`,
 * with errors turned into exit codes as {@linkcode runCommand} does.
 */
export function runNatsCommand<const O extends OptionTable>(
  command: NatsCommand<O>,
  args: string[],
  io: CliIO,
  body: (parsed: ParsedCommand<O>) => Promise<number>,
): Promise<number> {
  return runCommand(io, async () => {
    const parsed = parseCommand(args, command.options, command.name);
    if ((parsed.values as { help?: boolean }).help) {
      await io.stdout(command.help);
      return OK;
    }
    if (!command.positionals && parsed.positionals.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    }
    return await body(parsed);
  });
}

/**
 * Connects to the cluster, runs `body` with it, and closes it whatever
 * happens: the connection every NATS command opens and closes the same way.
 */
export async function withCluster<T>(
  nats: NatsModule,
  target: ClusterTarget,
  io: CliIO,
  body: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  const cluster = await openCluster(nats, target, io);
  try {
    return await body(cluster);
  } finally {
    await cluster.close();
  }
}

/**
 * After a refused connection (say "Authorization Violation"), the NATS client
 * drops its socket's listeners and destroys it; under Deno the socket may
 * still report the server's reset, with no listener left, as an uncaught
 * `ECONNRESET` and a stack trace after the one-line error. Such a reset of a
 * socket nobody listens to says nothing more: it is ignored from here on.
 * Any other uncaught error still ends the process as it would have.
 */
async function ignoreOrphanedResets(): Promise<void> {
  const { default: process } = await import("node:process");
  if (process.listenerCount("uncaughtException") > 0) return;
  process.on("uncaughtException", (error: unknown) => {
    const code = (error as { code?: unknown })?.code;
    if (code === "ECONNRESET" || code === "EPIPE") return;
    // As the runtime would have: say it, exit 1.
    process.stderr.write(`douyu: unexpected error: ${describeError(error)}\n`);
    process.exit(FAILURE);
  });
}

/** `nats://host:port`, `host:port` or `host` → `host:port` (4222 by default), as `--allow-net` names it. */
function natsHost(server: string): string | undefined {
  // No space or control character (a URL parser would drop or encode them), and a scheme the
  // NATS client speaks: anything else is a usage error, not a connection that fails later.
  if (/[\s\p{Cc}]/u.test(server)) return undefined;
  try {
    const url = new URL(server.includes("://") ? server : `nats://${server}`);
    if (url.protocol !== "nats:" && url.protocol !== "tls:") return undefined;
    if (url.hostname === "") return undefined;
    return `${url.hostname}:${url.port === "" ? 4222 : url.port}`;
  } catch {
    return undefined;
  }
}

/**
 * Runs a command body: usage errors exit 2 with a hint, expected failures
 * exit 1 with one line, as every `douyu` command does.
 */
export async function runCommand(io: CliIO, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      await say(io, `${error.message}\nTry 'douyu --help' for more information.`);
      return USAGE;
    }
    await say(io, describeError(error));
    return FAILURE;
  }
}
