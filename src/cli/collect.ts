/**
 * `douyu collect --nats URL --name NAME`: one collector of a scaled-out
 * deployment (one per machine or IP). It claims rooms of the cluster with
 * leases, watches them and publishes every message into the `DOUYU` stream,
 * until Ctrl-C or SIGTERM, which release its rooms at once.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import type { CollectorEvent } from "../nats/mod.ts";
import { type CliIO, say, stopController, untilAborted, UsageError } from "./io.ts";
import { CONNECT_OPTIONS, defineOptions, endpointUrls, numberOption } from "./options.ts";
import {
  clusterSettings,
  invalid,
  loadNats,
  NATS_OPTIONS,
  NATS_OPTIONS_HELP,
  OK,
  positiveOption,
  runNatsCommand,
  withCluster,
} from "./nats_setup.ts";
import { needEndpoints } from "./permissions.ts";

const OPTIONS = defineOptions(
  {
    ...NATS_OPTIONS,
    ...CONNECT_OPTIONS,
    name: { type: "string" },
    "max-rooms": { type: "string" },
    types: { type: "string" },
    buffer: { type: "string" },
    "queue-size": { type: "string" },
    "max-pending": { type: "string" },
    quiet: { type: "boolean", short: "q" },
  } as const,
);

const HELP = `Usage:
  douyu collect --nats URL --name NAME [options]

Claims rooms of the cluster (douyu rooms add …) with leases, up to a fair share
of them and at most --max-rooms, watches them and publishes every message into
the DOUYU stream. Run one per machine or IP. Ctrl-C or SIGTERM release its
rooms at once (others take them over) and end it with status 0.

  --name NAME            this collector's name, unique in the cluster (required)
  --max-rooms N          most rooms at once (default 200: Douyu's limit per IP)
  --url URL              Douyu endpoint, repeatable (default: Douyu's servers)
  --types a,b,c          collect only these message types (default: all)
  --heartbeat S          seconds between Douyu heartbeats (default 45)
  --buffer N             messages kept until NATS acknowledges them (default 10000);
                         when full, the rooms are paused until NATS takes more
  --queue-size N         messages of all rooms waiting for the publisher (default 10000)
  --max-pending N        publishes awaiting their ack at once (default 256)
  -q, --quiet            report only errors, not each room claimed or released
${NATS_OPTIONS_HELP}`;

const COMMAND = { name: "douyu collect", options: OPTIONS, help: HELP };

/**
 * `douyu collect`: runs a collector until interrupted.
 *
 * @param args The arguments after `collect`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 stopped, 1 failure (NATS unreachable, name taken), 2 usage error.
 *
 * @example
 * ```ts ignore
 * import { collectCommand } from "./collect.ts";
 *
 * const io = { stdout: () => {}, stderr: (text: string) => void console.error(text) };
 * await collectCommand(["--nats", "nats://127.0.0.1:4222", "--name", "a"], io);
 * ```
 */
export function collectCommand(args: string[], io: CliIO): Promise<number> {
  return runNatsCommand(COMMAND, args, io, async ({ values }) => {
    const name = values.name;
    if (name === undefined) throw new UsageError("missing --name NAME: this collector's name");
    if (!isSafeName(name)) {
      throw invalid("name", name, "1 to 64 letters, digits, _ or -");
    }
    const maxRooms = positiveOption(values, "max-rooms", 100_000);
    const buffer = positiveOption(values, "buffer", 10_000_000);
    const maxPending = positiveOption(values, "max-pending", 100_000);
    const queueSize = positiveOption(values, "queue-size", 10_000_000);
    const urls = endpointUrls(values.url);
    needEndpoints(urls);
    let types: string[] | undefined;
    if (values.types !== undefined) {
      types = values.types.split(",").map((type) => type.trim()).filter((type) => type !== "");
      if (types.length === 0 || types.some((type) => !/^[A-Za-z0-9_]{1,64}$/.test(type))) {
        throw invalid("types", values.types, "type names such as chatmsg,dgb");
      }
    }
    const heartbeat = numberOption(values.heartbeat, "heartbeat", "seconds");
    const target = clusterSettings(values);
    target.options.name = `douyu collect ${name}`;
    const { stop, unlink } = stopController(io);
    try {
      const nats = await loadNats();
      await withCluster(nats, target, io, async (cluster) => {
        const collector = new nats.Collector(cluster, {
          name,
          ...(maxRooms !== undefined ? { maxRooms } : {}),
          ...(queueSize !== undefined ? { queueSize } : {}),
          ...(urls.length > 0 ? { url: urls } : {}),
          ...(types !== undefined ? { types } : {}),
          ...(heartbeat !== undefined ? { heartbeatInterval: heartbeat * 1000 } : {}),
          publisher: {
            ...(buffer !== undefined ? { maxBuffered: buffer } : {}),
            ...(maxPending !== undefined ? { maxPending } : {}),
          },
        });
        const reporting = report(collector.events(), io, values.quiet ?? false);
        try {
          await collector.start();
          await say(
            io,
            `collector ${name} started (lease TTL ${collector.leaseTtl / 1000} s, ` +
              `at most ${maxRooms ?? 200} rooms); Ctrl-C stops`,
          );
          await untilAborted(stop.signal);
          await say(io, `stopping: releasing ${collector.rooms.length} rooms`);
        } finally {
          await collector.close();
          await reporting;
        }
        const { published, unpublished, oversized, rejected } = collector.counters;
        const lost = [
          unpublished > 0 ? `${unpublished} read but not taken by NATS in time (lost)` : "",
          oversized + rejected > 0 ? `${oversized + rejected} too large for NATS (dropped)` : "",
        ].filter((part) => part !== "");
        await say(
          io,
          `collector ${name} stopped: ${published} messages published` +
            (lost.length > 0 ? `; ${lost.join(", ")}` : ""),
        );
      });
    } finally {
      unlink();
    }
    return OK;
  });
}

/** Reports the collector's events on stderr until it stops. */
async function report(
  events: AsyncIterableIterator<CollectorEvent>,
  io: CliIO,
  quiet: boolean,
): Promise<void> {
  for await (const event of events) {
    switch (event.type) {
      case "claimed":
      case "watching":
        if (!quiet) await say(io, `room ${event.room}: ${event.type}`);
        break;
      case "released":
        if (!quiet) await say(io, `room ${event.room}: released (${event.reason})`);
        break;
      case "lost":
        await say(io, `room ${event.room}: lease taken by another collector; stopped`);
        break;
      case "fenced":
        await say(
          io,
          `room ${event.room}: lease could not be renewed in time; stopped (what it read is ` +
            `published once NATS takes it)`,
        );
        break;
      case "room-error":
        await say(io, `room ${event.room}: ${errorText(event.error)}`);
        break;
      case "nats":
        await say(io, `NATS ${event.state}`);
        break;
      case "jetstream":
        await say(
          io,
          event.state === "failing"
            ? `NATS JetStream is not storing messages: ${event.reason}. If its disk is full, ` +
              `free space on the NATS server (then restart it if it keeps failing); messages ` +
              `are held (up to --buffer), then the rooms pause; past the lease TTL they stop`
            : "NATS JetStream stores messages again",
        );
        break;
      case "error":
        await say(io, `error: ${errorText(event.error)}`);
        break;
    }
  }
}
