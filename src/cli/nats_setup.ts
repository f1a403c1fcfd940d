/**
 * What `douyu rooms`, `douyu collect` and `douyu consume` share: the
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
import { defineOptions, HELP_OPTION } from "./options.ts";
import { needNet } from "./permissions.ts";

/** `src/nats/mod.ts`, as its dynamic import gives it. */
export type NatsModule = typeof import("../nats/mod.ts");

export { FAILURE, OK, USAGE };

/** The options every NATS command takes. */
export const NATS_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    nats: { type: "string", multiple: true },
    "lease-ttl": { type: "string" },
    "retention-age": { type: "string" },
    "retention-bytes": { type: "string" },
    replicas: { type: "string" },
  } as const,
);

/** Help text of the options in {@linkcode NATS_OPTIONS}. */
export const NATS_OPTIONS_HELP =
  `Cluster options (each applies when the stream or bucket is created, and
changes an existing one when given):
  --nats URL             NATS server, repeatable (required): nats://host:4222
  --lease-ttl S          lease lifetime in seconds (default 15); collectors renew
                         every quarter of it; a dead collector's rooms move within ~1.25 x
  --retention-age D      keep messages this long: 90m, 12h, 7d (default 7d)
  --retention-bytes N    keep at most this much: 500M, 20G (default 1G); oldest go first
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

/** The servers and cluster settings from {@linkcode NATS_OPTIONS}' values. */
export function clusterSettings(
  values: {
    nats?: string[];
    "lease-ttl"?: string;
    "retention-age"?: string;
    "retention-bytes"?: string;
    replicas?: string;
  },
): { servers: string[]; options: ConnectClusterOptions } {
  const servers = values.nats ?? [];
  if (servers.length === 0) {
    throw new UsageError("missing --nats URL: the NATS server, e.g. nats://127.0.0.1:4222");
  }
  needNet(servers.map(natsHost));
  const options: ConnectClusterOptions = {};
  const ttl = values["lease-ttl"];
  if (ttl !== undefined) {
    const seconds = Number(ttl);
    if (
      !/^\s*[0-9.]+\s*$/.test(ttl) || !Number.isFinite(seconds) || seconds < 1 || seconds > 3600
    ) {
      throw invalid("lease-ttl", ttl, "seconds from 1 to 3600");
    }
    options.leaseTtl = Math.round(seconds * 1000);
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
  return { servers, options };
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

/** Connects to the cluster, as a one-line failure (exit 1) when it cannot. */
export async function openCluster(
  nats: NatsModule,
  servers: string[],
  options: ConnectClusterOptions,
): Promise<Cluster> {
  try {
    return await nats.Cluster.connect(servers, options);
  } catch (error) {
    throw new CliFailure(describeError(error));
  }
}

/** `nats://host:port`, `host:port` or `host` → `host:port` (4222 by default), as `--allow-net` names it. */
function natsHost(server: string): string {
  try {
    const url = new URL(server.includes("://") ? server : `nats://${server}`);
    return `${url.hostname}:${url.port === "" ? 4222 : url.port}`;
  } catch {
    return server; // not a URL: the connection says so
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
