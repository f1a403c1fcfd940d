/**
 * `douyu consume --nats URL`: the collected messages, read back from the
 * `DOUYU` stream and printed exactly as the live command prints them (text
 * lines, or NDJSON with `--json`), through the same printer and filters.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type CliIO,
  deadline,
  interruptCode,
  INTERRUPTED,
  outputOptions,
  parseArgsMessage,
  Printer,
  say,
  stopController,
  UsageError,
} from "./cli.ts";
import {
  clusterSettings,
  invalid,
  loadNats,
  NATS_OPTIONS,
  NATS_OPTIONS_HELP,
  OK,
  openCluster,
  roomIds,
  runCommand,
} from "./nats_common.ts";

const OPTIONS = {
  ...NATS_OPTIONS,
  json: { type: "boolean" },
  types: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  "no-bots": { type: "boolean" },
  rooms: { type: "string", multiple: true },
  since: { type: "string" },
  durable: { type: "string" },
} as const;

const HELP = `Usage:
  douyu consume --nats URL [options]

Prints the messages the cluster's collectors publish, as the live command does.

  --rooms a,b            only these rooms (ids, names or URLs; repeatable)
  --types a,b,c          only these message types, e.g. chatmsg,dgb
  --since T              start T ago (90s, 10m, 2h, 1d) or at a date
                         (2024-05-01T20:00:00Z); default: new messages only
  --durable NAME         a durable consumer: a restart resumes where it stopped
  --json                 one JSON message per line (NDJSON) instead of text
  --count N              exit after printing N messages
  --duration S           exit after S seconds
  --no-bots              drop chat messages that look automated (no dms field)
${NATS_OPTIONS_HELP}`;

/**
 * `douyu consume`: prints collected messages until interrupted (or `--count`).
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
 * await consumeCommand(["--nats", "nats://127.0.0.1:4222", "--json", "--since", "10m", "--count", "5"], io);
 * ```
 */
export function consumeCommand(args: string[], io: CliIO): Promise<number> {
  return runCommand(io, async () => {
    let parsed;
    try {
      parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
    } catch (error) {
      throw new UsageError(parseArgsMessage(error));
    }
    const { values, positionals } = parsed;
    if (values.help) {
      await io.stdout(HELP);
      return OK;
    }
    if (positionals.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    }
    const output = outputOptions(values);
    const { servers, options } = clusterSettings(values);
    const durable = values.durable;
    if (durable !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(durable)) {
      throw invalid("durable", durable, "1 to 64 letters, digits, _ or -");
    }
    const nats = await loadNats();
    let since: number | undefined;
    if (values.since !== undefined) {
      since = nats.parseSince(values.since, Date.now());
      if (since === undefined) {
        throw invalid("since", values.since, "a duration such as 10m or 2h, or a date");
      }
    }
    const { stop, unlink } = stopController(io);
    try {
      const rooms = await roomIds(values.rooms ?? [], stop.signal);
      const cluster = await openCluster(nats, servers, { ...options, name: "douyu consume" });
      try {
        const subscription = nats.subscribe(cluster, {
          ...(rooms.length > 0 ? { rooms } : {}),
          ...(output.types !== undefined ? { types: [...output.types] } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(durable !== undefined ? { durable } : {}),
          signal: stop.signal,
        });
        const printer = new Printer(io, output, undefined, stop.signal);
        const cancelDeadline = deadline(stop, output.duration);
        try {
          for await (const item of subscription) {
            if (stop.signal.aborted) break;
            if (!await printer.print(item.message, item.receivedAt)) break;
          }
        } finally {
          cancelDeadline();
          await subscription.close();
        }
        if (subscription.skipped > 0) {
          await say(io, `${subscription.skipped} malformed messages skipped`);
        }
        if (printer.outputError !== undefined) return await printer.outputFailure(io);
      } finally {
        await cluster.close();
      }
    } finally {
      unlink();
    }
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    return OK;
  });
}
