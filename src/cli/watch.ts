/**
 * `douyu <room…>`: the live barrage of one room or many, through a
 * {@linkcode Hub}, printed as text or NDJSON until a stop.
 *
 * @module
 */

import type { TimedMessage } from "../archive/timed.ts";
import { errorText } from "../base/errors.ts";
import { RecordWriter } from "../protocol/record.ts";
import { Hub, type RoomOptions } from "../rooms/hub.ts";
import type { StatusEvent } from "../session/session.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import {
  type CliIO,
  deadline,
  FAILURE,
  interruptCode,
  INTERRUPTED,
  OK,
  RECORDING_FAILED,
  say,
  stopController,
  UsageError,
} from "./io.ts";
import { openForWriting, readRoomsFile } from "./files.ts";
import {
  CONNECT_OPTIONS,
  defineOptions,
  endpointUrls,
  FILTER_OPTIONS,
  GIFT_WAIT_OPTION,
  giftBases,
  giftWait,
  HELP_OPTION,
  LOOKUP_OPTIONS,
  type Lookups,
  lookups,
  numberOption,
  OUTPUT_OPTIONS,
  type OutputOptions,
  outputOptions,
  parseCommand,
  parseRoom,
} from "./options.ts";
import { needEndpoints } from "./permissions.ts";
import { giftPricer, Printer } from "./printer.ts";
import { resolveRooms } from "./resolve.ts";

/** The options of watching rooms. */
export const WATCH_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    ...OUTPUT_OPTIONS,
    ...FILTER_OPTIONS,
    ...LOOKUP_OPTIONS,
    ...GIFT_WAIT_OPTION,
    ...CONNECT_OPTIONS,
    record: { type: "string" },
    "rooms-file": { type: "string" },
  } as const,
);

/** What watching needs, from the command line. */
interface WatchSettings {
  rooms: string[];
  urls: string[];
  output: OutputOptions;
  heartbeat: number | undefined;
  lookups: Lookups;
  /** `--gift-wait`, ms. */
  giftWait: number | undefined;
}

/**
 * `douyu [options] <room…>`: watches the rooms until a stop (Ctrl-C,
 * `--count`, `--duration`), or until every room is lost.
 *
 * @param args The arguments (rooms and options).
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code.
 */
export async function watchCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, WATCH_OPTIONS, "watching a room");
  const rooms = [...positionals];
  if (values["rooms-file"] !== undefined) rooms.push(...await readRoomsFile(values["rooms-file"]));
  if (rooms.length === 0) throw new UsageError("missing <room>: a room id, name or URL");
  for (const room of rooms) parseRoom(room); // every room checked before anything starts
  const settings: WatchSettings = {
    rooms,
    urls: endpointUrls(values.url),
    output: outputOptions(values),
    heartbeat: numberOption(values.heartbeat, "heartbeat", "seconds"),
    lookups: lookups(values, endpointUrls(values.url)),
    giftWait: giftWait(values["gift-wait"]),
  };
  needEndpoints(settings.urls);

  let recorder: RecordWriter | undefined;
  let recordError: unknown;
  let closeFile = async () => {};
  const { stop, unlink } = stopController(io);
  let code: number;
  try {
    if (values.record !== undefined) {
      // Opened first: a recording that cannot be written should fail before connecting.
      const file = await openForWriting(values.record, "recording");
      closeFile = () => file.close();
      recorder = new RecordWriter((text) => file.write(text), {
        onError: (error) => {
          recordError = error;
          stop.abort(RECORDING_FAILED);
        },
      });
    }
    code = await watchRooms(settings, io, stop, recorder);
  } finally {
    unlink();
    // After the rooms closed (no more bodies), and also on Ctrl-C: flush and close.
    try {
      await recorder?.close();
    } catch (error) {
      recordError ??= error;
    }
    await closeFile().catch((error) => (recordError ??= error));
  }
  if (recordError !== undefined) {
    await say(io, `cannot write recording ${values.record}: ${errorText(recordError)}`);
    return FAILURE;
  }
  return code;
}

/** Resolves the rooms, joins them, prints until a stop; returns the exit code. */
async function watchRooms(
  settings: WatchSettings,
  io: CliIO,
  stop: AbortController,
  recorder: RecordWriter | undefined,
): Promise<number> {
  const { urls, output, heartbeat, lookups } = settings;
  const several = settings.rooms.length > 1;
  const ids = await resolveRooms(settings.rooms, lookups, io, stop.signal);
  if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
  if (ids === undefined) return FAILURE;

  const hub = new Hub({
    ...(urls.length > 0 ? { url: urls } : {}),
    ...(output.types ? { types: [...output.types] } : {}),
    ...(heartbeat !== undefined ? { heartbeatInterval: heartbeat * 1000 } : {}),
  });
  const closeOnStop = () => void hub.close();
  stop.signal.addEventListener("abort", closeOnStop, { once: true });
  const lost: unknown[] = [];
  const status = reportStatus(hub, io, several, (error) => {
    lost.push(error);
    // Every room is gone for good: nothing more will come.
    if (hub.rooms.length === 0) void hub.close();
  });
  // Douyu's gift API knows Douyu's rooms: asked only when the barrage comes
  // from Douyu (no --url), or when --gift-api-base says where to ask.
  const gifts = urls.length === 0 || lookups.giftApiBase
    ? new GiftCatalogCache(giftBases(lookups))
    : undefined;
  const printer = new Printer({ io, options: output, stop: stop.signal, showRoom: several });
  const pricer = giftPricer(io, output, gifts, settings.giftWait, stop.signal);
  let cancelDeadline = () => {};
  try {
    const added = await Promise.allSettled(ids.map(async (room) => {
      const options: RoomOptions = recorder
        ? { onBody: (body: string, t: number) => recorder.add(body, t, room) }
        : {};
      const id = await hub.add(room, options);
      // Joined: its gift catalogue is asked for now, so that its first gift has a value.
      pricer?.join(id);
      return id;
    }));
    if (stop.signal.aborted) return stopCode(io, stop);
    const failures = added.flatMap((result, i) =>
      result.status === "rejected" ? [{ room: ids[i]!, error: result.reason }] : []
    );
    if (failures.length === ids.length && !several) throw failures[0]!.error;
    for (const { room, error } of failures) await say(io, `room ${room}: ${errorText(error)}`);
    if (failures.length === ids.length) return FAILURE;
    cancelDeadline = deadline(stop, output.duration);
    const arrivals = timed(hub);
    for await (const item of pricer ? pricer.price(arrivals) : arrivals) {
      // After a stop, the hub hands over what it had queued: drop it.
      if (stop.signal.aborted) break;
      if (!await printer.print(item)) break;
    }
  } finally {
    cancelDeadline();
    stop.signal.removeEventListener("abort", closeOnStop);
    await hub.close(); // every room logs out; idempotent
    gifts?.clear(); // abandons a lookup still in flight
    await status;
  }
  if (printer.outputError !== undefined) return await printer.outputFailure(io);
  if (stop.signal.aborted) return stopCode(io, stop);
  if (lost.length > 0 && hub.rooms.length === 0) {
    await say(io, `connection lost: ${errorText(lost.at(-1))}`);
    return FAILURE;
  }
  return OK;
}

/** The hub's messages, each with the time it was taken from the hub. */
async function* timed(hub: Hub): AsyncGenerator<TimedMessage, void, undefined> {
  for await (const { room, message } of hub) yield { t: Date.now(), room, message };
}

/** The exit code of a stopped watch: interrupted, recording failed, or done (count, duration). */
function stopCode(io: CliIO, stop: AbortController): number {
  if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
  if (stop.signal.reason === RECORDING_FAILED) return FAILURE; // reported by watchCommand
  return OK;
}

/**
 * Reports connections, reconnects and drops on stderr until the hub closes.
 * `onLost` is called for a room that failed for good.
 */
async function reportStatus(
  hub: Hub,
  io: CliIO,
  several: boolean,
  onLost: (error: unknown) => void,
): Promise<void> {
  const connected = new Set<number>();
  for await (const { room, event } of hub.status()) {
    const prefix = several ? `room ${room}: ` : "";
    const text = describeStatus(event, connected.has(room));
    if (event.type === "connected") {
      // The first connection of a room: where it is watched from.
      if (!connected.has(room)) {
        connected.add(room);
        await say(io, `room ${room}: connected to ${event.url}`);
        continue;
      }
    }
    if (event.type === "closed" && event.info.reason === "error" && connected.has(room)) {
      onLost(event.info.error);
      if (several) await say(io, `${prefix}connection lost: ${errorText(event.info.error)}`);
      continue;
    }
    if (text !== undefined) await say(io, prefix + text);
  }
}

function describeStatus(event: StatusEvent, wasConnected: boolean): string | undefined {
  switch (event.type) {
    case "connected":
      return `reconnected to ${event.url}`;
    case "disconnected":
      return wasConnected ? `disconnected from ${event.url}: ${errorText(event.error)}` : undefined;
    case "reconnecting":
      return `reconnecting in ${(event.delay / 1000).toFixed(1)} s (attempt ${event.attempt})`;
    case "dropped":
      return `${event.count} messages dropped (output too slow; ${event.total} in all)`;
    case "error":
      return `error: ${errorText(event.error)}`;
    default:
      return undefined;
  }
}
