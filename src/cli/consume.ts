/**
 * `douyu consume --nats URL`: the collected messages, read back from the
 * `DOUYU` stream and printed exactly as watching rooms prints them (text
 * lines, or NDJSON with `--json`), through the same printer, filters and
 * gift catalogue.
 *
 * @module
 */

import type { TimedMessage } from "../archive/timed.ts";
import type { Message } from "../protocol/messages.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import {
  type CliIO,
  deadline,
  interruptCode,
  INTERRUPTED,
  say,
  stopController,
  UsageError,
} from "./io.ts";
import {
  defineOptions,
  FILTER_OPTIONS,
  GIFT_WAIT_OPTION,
  giftBases,
  giftWait,
  LOOKUP_OPTIONS,
  lookups,
  OUTPUT_OPTIONS,
  outputOptions,
} from "./options.ts";
import { giftPricer, Printer } from "./printer.ts";
import { resolveRooms } from "./resolve.ts";
import {
  clusterSettings,
  loadNats,
  NATS_OPTIONS,
  NATS_OPTIONS_HELP,
  OK,
  runNatsCommand,
  streamReading,
  withCluster,
} from "./nats_setup.ts";

const OPTIONS = defineOptions(
  {
    ...NATS_OPTIONS,
    ...OUTPUT_OPTIONS,
    ...FILTER_OPTIONS,
    ...LOOKUP_OPTIONS,
    ...GIFT_WAIT_OPTION,
    rooms: { type: "string", multiple: true },
    since: { type: "string" },
    durable: { type: "string" },
  } as const,
);

const HELP = `Usage:
  douyu consume --nats URL [options]

Prints the messages the cluster's collectors publish, as watching rooms does
(with several rooms, each line shows its room; in JSON, "_room").

  --rooms a,b            only these rooms (ids, names or URLs; repeatable)
  --types a,b,c          only these message types, e.g. chatmsg,dgb
  --since T              start T ago (90s, 10m, 2h, 1d) or at a date
                         (2024-05-01T20:00:00Z); default: new messages only
  --durable NAME         a durable reader: a restart resumes where it stopped, in
                         the stream's order (with --since only when it is created)
  --json, --count N, --duration S, the filters (--no-bots, --only-room,
  --block-words, --block-users, --min-level, --min-gift-value, --fold-repeats)
  and --api-base, --mobile-base, --gift-api-base, --gift-wait: as when watching
  rooms (in JSON, "_t" is when the collector received the message)
${NATS_OPTIONS_HELP}`;

const COMMAND = { name: "douyu consume", options: OPTIONS, help: HELP };

/**
 * `douyu consume`: prints collected messages until interrupted (or `--count`,
 * `--duration`).
 *
 * @param args The arguments after `consume`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code: 0 done, 1 failure, 2 usage error, 130/143 interrupted.
 *
 * @example
 * ```ts ignore
 * import { consumeCommand } from "./consume.ts";
 *
 * const io = { stdout: (text: string) => void console.log(text), stderr: () => {} };
 * await consumeCommand(["--nats", "nats://127.0.0.1:4222", "--json", "--since", "10m"], io);
 * ```
 */
export function consumeCommand(args: string[], io: CliIO): Promise<number> {
  return runNatsCommand(COMMAND, args, io, async ({ values }) => {
    const output = outputOptions(values);
    const webApis = lookups(values);
    const wait = giftWait(values["gift-wait"]);
    const target = clusterSettings(values);
    target.options.name = "douyu consume";
    const nats = await loadNats();
    const { durable, since, rooms: texts } = streamReading(values, nats);
    const { stop, unlink } = stopController(io);
    const gifts = new GiftCatalogCache(giftBases(webApis));
    try {
      const rooms = texts.length > 0 ? await resolveRooms(texts, webApis, io, stop.signal) : [];
      if (rooms === undefined) {
        if (stop.signal.aborted) return interruptCode(io);
        throw new UsageError("no room left to read (see the lookups above)");
      }
      const code = await withCluster(nats, target, io, async (cluster) => {
        const gaps: Promise<void>[] = [];
        const subscription = nats.subscribe(cluster, {
          ...(rooms.length > 0 ? { rooms } : {}),
          ...(output.types !== undefined ? { types: [...output.types] } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(durable !== undefined ? { durable } : {}),
          onGap: (gap) => {
            gaps.push(say(
              io,
              `${gap.exact ? "" : "up to "}${gap.count} message${gap.count === 1 ? "" : "s"} ` +
                `removed by the stream's retention before this reader got ${
                  gap.count === 1 ? "it" : "them"
                } (stream sequence ${gap.from}${gap.to > gap.from ? `-${gap.to}` : ""})`,
            ));
          },
          signal: stop.signal,
        });
        // As when watching: one room shows no room column, several (or all) do.
        const printer = new Printer({
          io,
          options: output,
          stop: stop.signal,
          showRoom: rooms.length !== 1,
        });
        const pricer = giftPricer(io, output, gifts, wait, stop.signal);
        // The rooms named are asked for at once; others when first seen.
        for (const room of rooms) pricer?.join(room);
        const cancelDeadline = deadline(stop, output.duration);
        try {
          const arrivals = timed(subscription);
          for await (const item of pricer ? pricer.price(arrivals) : arrivals) {
            if (stop.signal.aborted) break;
            if (!await printer.print(item)) break;
          }
        } finally {
          cancelDeadline();
          await subscription.close();
        }
        await Promise.all(gaps);
        if (subscription.skipped > 0) {
          await say(io, `${subscription.skipped} malformed messages skipped`);
        }
        if (subscription.missed > 0) {
          await say(
            io,
            `${subscription.missed} messages missed in all: removed by the stream's retention ` +
              `before this reader got them (see douyu rooms list for what the stream keeps)`,
          );
        }
        if (printer.outputError !== undefined) return await printer.outputFailure(io);
        return undefined;
      });
      if (code !== undefined) return code;
    } finally {
      gifts.clear(); // abandons a lookup still in flight
      unlink();
    }
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    return OK;
  });
}

/** The stream's messages as timed messages: their arrival time is the collector's. */
async function* timed(
  subscription: AsyncIterable<{ room: number; message: Message; receivedAt: number }>,
): AsyncGenerator<TimedMessage, void, undefined> {
  for await (const { room, message, receivedAt } of subscription) {
    yield { t: receivedAt, room, message };
  }
}
