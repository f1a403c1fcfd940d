/**
 * `douyu rooms --nats URL add|remove|list`: the rooms a cluster of
 * collectors watches (the `douyu_rooms` bucket), and who watches what.
 *
 * @module
 */

import type { ClusterOverview } from "../nats/mod.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { formatJson } from "../output/format.ts";
import { CliFailure, type CliIO, interruptCode, stopController, UsageError } from "./io.ts";
import { defineOptions, LOOKUP_OPTIONS, lookups } from "./options.ts";
import { resolveRooms } from "./resolve.ts";
import {
  clusterSettings,
  leaseTtlMs,
  loadNats,
  NATS_OPTIONS,
  NATS_OPTIONS_HELP,
  type NatsValues,
  OK,
  runNatsCommand,
  withCluster,
} from "./nats_setup.ts";

const OPTIONS = defineOptions(
  {
    ...NATS_OPTIONS,
    ...LOOKUP_OPTIONS,
    json: { type: "boolean" },
    types: { type: "string" },
  } as const,
);

const HELP = `Usage:
  douyu rooms --nats URL add <room>...     add rooms to the desired set
  douyu rooms --nats URL remove <room>...  remove rooms (their collectors stop them)
  douyu rooms --nats URL list [--json]     who watches what, unassigned rooms,
                                           each room's last message, each collector,
                                           what the stream holds
  douyu rooms --nats URL set-lease-ttl S   change the lease TTL of a running cluster:
                                           a longer one at once; a shorter one once
                                           every live collector has adopted it

<room> is a room id, a name such as yyf, or a URL; several may be given, or
comma-separated.

  --types a,b,c          with add: collect only these message types for these rooms
  --json                 with list: one JSON object instead of a table
${NATS_OPTIONS_HELP}`;

const COMMAND = { name: "douyu rooms", options: OPTIONS, help: HELP, positionals: true };

/**
 * `douyu rooms`: adds, removes or lists the cluster's rooms.
 *
 * @param args The arguments after `rooms`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 done, 1 failure (NATS, room lookup), 2 usage error.
 *
 * @example
 * ```ts ignore
 * import { roomsCommand } from "./rooms.ts";
 *
 * const io = { stdout: (text: string) => void console.log(text), stderr: () => {} };
 * await roomsCommand(["--nats", "nats://127.0.0.1:4222", "add", "9999", "288016"], io);
 * ```
 */
export function roomsCommand(args: string[], io: CliIO): Promise<number> {
  return runNatsCommand(COMMAND, args, io, async ({ values, positionals }) => {
    const [action, ...words] = positionals;
    if (action === "set-lease-ttl") return await setTtl(words, values, io);
    if (action !== "add" && action !== "remove" && action !== "list") {
      throw new UsageError(
        action === undefined
          ? "missing action: add, remove, list or set-lease-ttl"
          : `unknown action ${
            JSON.stringify(action)
          } (expected add, remove, list or set-lease-ttl)`,
      );
    }
    if (action === "list" && words.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(words[0])}`);
    }
    if (action !== "list" && words.length === 0) {
      throw new UsageError(`missing <room> to ${action}`);
    }
    if (values.json && action !== "list") throw new UsageError("--json applies to list only");
    let types: string[] | undefined;
    if (values.types !== undefined) {
      if (action !== "add") throw new UsageError("--types applies to add only");
      types = values.types.split(",").map((type) => type.trim()).filter((type) => type !== "");
      if (types.length === 0 || types.some((type) => !/^[A-Za-z0-9_]{1,64}$/.test(type))) {
        throw new UsageError(
          `invalid value for --types: ${
            JSON.stringify(values.types)
          } (expected names such as chatmsg,dgb)`,
        );
      }
    }
    const target = clusterSettings(values);
    const { stop, unlink } = stopController(io);
    try {
      const texts = words.flatMap((word) => word.split(/[,，]/)).map((word) => word.trim())
        .filter((word) => word !== "");
      const rooms = action === "list"
        ? []
        : await resolveRooms(texts, lookups(values), io, stop.signal);
      if (rooms === undefined) {
        if (stop.signal.aborted) return interruptCode(io);
        throw new CliFailure(`no room to ${action}`);
      }
      const nats = await loadNats();
      target.options.name = "douyu rooms";
      await withCluster(nats, target, io, async (cluster) => {
        if (action === "add") {
          await nats.addRooms(cluster, rooms, types !== undefined ? { types } : {});
          await io.stdout(
            `added ${rooms.length} room${rooms.length === 1 ? "" : "s"}: ${rooms.join(" ")}\n`,
          );
        } else if (action === "remove") {
          await nats.removeRooms(cluster, rooms);
          await io.stdout(
            `removed ${rooms.length} room${rooms.length === 1 ? "" : "s"}: ${rooms.join(" ")}\n`,
          );
        } else {
          const view = await nats.overview(cluster);
          await io.stdout(
            values.json ? `${formatJson(view)}\n` : formatOverview(view, Date.now()),
          );
        }
      });
    } finally {
      unlink();
    }
    return OK;
  });
}

/** `douyu rooms set-lease-ttl S`: the guarded change of a running cluster's lease TTL. */
async function setTtl(words: string[], values: NatsValues, io: CliIO): Promise<number> {
  if (words.length !== 1) {
    throw new UsageError(
      words.length === 0
        ? "missing the new lease TTL in seconds"
        : `unexpected argument ${JSON.stringify(words[1])}`,
    );
  }
  if (values["lease-ttl"] !== undefined) {
    throw new UsageError("set-lease-ttl takes the TTL as its argument, not --lease-ttl");
  }
  const ttl = leaseTtlMs(words[0]!, "set-lease-ttl");
  const target = clusterSettings(values);
  target.options.name = "douyu rooms";
  const nats = await loadNats();
  const { stop, unlink } = stopController(io);
  try {
    await withCluster(nats, target, io, async (cluster) => {
      const previous = await nats.setLeaseTtl(cluster, ttl, { signal: stop.signal });
      await io.stdout(
        previous === ttl
          ? `lease TTL is ${ttl / 1000} s already\n`
          : `lease TTL changed from ${previous / 1000} s to ${ttl / 1000} s\n`,
      );
    });
  } finally {
    unlink();
  }
  return OK;
}

/**
 * The overview as a table: one line per room (its collector, since when,
 * its last message), then the collectors and the unassigned rooms.
 *
 * @param view The overview.
 * @param now The current time, ms since the epoch.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { formatOverview } from "./rooms.ts";
 *
 * const text = formatOverview({ rooms: [{ room: 9999, settings: {} }], unassigned: [9999], collectors: [], leaseTtl: 15000 }, 0);
 * console.log(text.includes("unassigned: 1 room: 9999")); // true
 * ```
 */
export function formatOverview(view: ClusterOverview, now: number): string {
  const lines = [
    `${"room".padEnd(12)}${"collector".padEnd(20)}${"since".padEnd(10)}${
      "messages".padStart(10)
    }  last message`,
  ];
  for (const room of view.rooms) {
    lines.push(
      `${String(room.room).padEnd(12)}${
        sanitizeForTerminal(room.collector ?? "-").slice(0, 18).padEnd(20)
      }${(room.since !== undefined ? clock(room.since) : "-").padEnd(10)}${
        String(room.messages ?? "-").padStart(10)
      }  ${
        room.lastMessageAt !== undefined
          ? `${clock(room.lastMessageAt)} (${ago(now - room.lastMessageAt)})`
          : "-"
      }`,
    );
  }
  lines.push("");
  lines.push(`collectors: ${view.collectors.length}`);
  for (const collector of view.collectors) {
    const c = collector.counters;
    lines.push(
      `  ${
        sanitizeForTerminal(collector.name)
      }: ${collector.rooms.length}/${collector.maxRooms} rooms, ` +
        `${c.received ?? 0} received, ${c.published ?? 0} published, ` +
        `${c.buffered ?? 0}/${c.bufferLimit ?? "?"} buffered, heartbeat ${
          ago(now - collector.updatedAt)
        }`,
    );
  }
  const count = view.unassigned.length;
  lines.push(
    `unassigned: ${count} room${count === 1 ? "" : "s"}${
      count > 0 ? `: ${view.unassigned.join(" ")}` : ""
    }`,
  );
  lines.push(`lease TTL: ${view.leaseTtl / 1000} s`);
  const stream = view.stream;
  if (stream !== undefined) {
    const held = stream.firstAt !== undefined && stream.lastAt !== undefined
      ? `, from ${clock(stream.firstAt)} (${span(stream.lastAt - stream.firstAt)} of messages)`
      : "";
    const limits = [
      stream.maxBytes > 0 ? size(stream.maxBytes) : "",
      stream.maxAge > 0 ? span(stream.maxAge) : "",
    ].filter((part) => part !== "").join(" or ");
    lines.push(
      `stream: ${stream.messages} messages, ${size(stream.bytes)}${held}; keeps ${
        limits || "everything"
      }`,
    );
  }
  return lines.join("\n") + "\n";
}

function clock(ms: number): string {
  const date = new Date(ms);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
}

function size(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function span(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(ms / 3_600_000);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

function ago(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
