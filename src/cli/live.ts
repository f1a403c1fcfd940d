/**
 * `douyu live <room…>`: one line per go-live, offline or rerun transition,
 * with the room's title and owner: the alert people ask RSSHub, DDBOT and
 * AstrBot for.
 *
 * @module
 */

import { readFile, rename, writeFile } from "node:fs/promises";
import { errorText } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { formatJson } from "../output/format.ts";
import {
  type LiveEvent,
  type LiveSnapshot,
  type LiveState,
  type LiveWatcher,
  watchLive,
} from "../rooms/live.ts";
import {
  CliFailure,
  type CliIO,
  deadline,
  FAILURE,
  interruptCode,
  INTERRUPTED,
  OK,
  quoted,
  say,
  stopController,
  unlessStopped,
  UsageError,
} from "./io.ts";
import { readRoomsFile } from "./files.ts";
import {
  defineOptions,
  endpointUrls,
  HELP_OPTION,
  LOOKUP_OPTIONS,
  lookups,
  numberOption,
  parseCommand,
  parseRoom,
} from "./options.ts";
import { needEndpoints, needRead, needWrite } from "./permissions.ts";
import { resolveRooms } from "./resolve.ts";

/** The options of `douyu live`. */
export const LIVE_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    ...LOOKUP_OPTIONS,
    url: { type: "string", multiple: true },
    json: { type: "boolean" },
    count: { type: "string" },
    duration: { type: "string" },
    "rooms-file": { type: "string" },
    "offline-confirmation": { type: "string" },
    resync: { type: "string" },
    state: { type: "string" },
  } as const,
);

const STATES: ReadonlySet<string> = new Set<LiveState>(["live", "offline", "loop"]);

/**
 * `douyu live [options] <room…>`: follows the rooms' live status and prints
 * each transition until a stop.
 *
 * @param args The arguments after `live`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code.
 */
export async function liveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, LIVE_OPTIONS, "douyu live");
  const rooms = [...positionals];
  if (values["rooms-file"] !== undefined) rooms.push(...await readRoomsFile(values["rooms-file"]));
  if (rooms.length === 0) throw new UsageError("missing <room>: a room id, name or URL");
  for (const room of rooms) parseRoom(room);
  const urls = endpointUrls(values.url);
  const lookup = lookups(values, urls);
  const count = numberOption(values.count, "count", "positive integer");
  const duration = numberOption(values.duration, "duration", "seconds");
  const confirmation = numberOption(
    values["offline-confirmation"],
    "offline-confirmation",
    "number >= 0",
  );
  const resync = numberOption(values.resync, "resync", "number >= 0");
  const statePath = values.state;
  needEndpoints(urls);
  if (statePath !== undefined) needWrite("state file", statePath, `${statePath}.tmp`);
  const saved = statePath === undefined ? undefined : await readState(statePath);

  const { stop, unlink } = stopController(io);
  try {
    const ids = await resolveRooms(rooms, lookup, io, stop.signal);
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    if (ids === undefined) return FAILURE;
    const watcher = watchLive(ids, {
      ...(urls.length > 0 ? { url: urls } : {}),
      ...(lookup.apiBase ? { apiBase: lookup.apiBase } : {}),
      ...(lookup.openApiBase ? { openApiBase: lookup.openApiBase } : {}),
      ...(lookup.fetch ? { fetch: lookup.fetch } : {}),
      ...(confirmation !== undefined ? { offlineConfirmation: confirmation * 1000 } : {}),
      ...(resync !== undefined ? { resyncInterval: resync * 1000 } : {}),
      ...(saved ? { state: saved } : {}),
      // Douyu's room API knows Douyu's rooms: asked only when the barrage
      // comes from Douyu (no --url), or when --api-base says where to ask.
      roomApi: urls.length === 0 || lookup.apiBase !== undefined,
      signal: stop.signal,
    });
    const cancelDeadline = deadline(stop, duration);
    const reporting = reportConnections(watcher, io);
    let printed = 0;
    try {
      for await (const event of watcher) {
        const line = values.json ? formatJson(event) : describe(event);
        if (!await unlessStopped(io.stdout(line + "\n"), stop.signal)) break;
        // Rooms not reported yet keep what the file knew of them.
        if (statePath !== undefined) await writeState(statePath, { ...saved, ...watcher.state() });
        if (count !== undefined && ++printed >= count) break;
      }
    } finally {
      cancelDeadline();
      await watcher.close();
      await reporting;
    }
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    return OK;
  } finally {
    unlink();
  }
}

/**
 * Tells stderr when a room cannot be joined or loses its connection, once
 * until it connects again (then says so), so that a watch that cannot reach
 * its server is not silent. The watcher itself keeps trying.
 */
async function reportConnections(watcher: LiveWatcher, io: CliIO): Promise<void> {
  const failing = new Set<number>();
  const connected = new Set<number>();
  for await (const { room, event } of watcher.status()) {
    if (event.type === "connected") {
      connected.add(room);
      if (failing.delete(room)) await say(io, `room ${room}: connected to ${event.url}`);
      continue;
    }
    const error = event.type === "closed" && event.info.reason === "error"
      ? event.info.error
      : event.type === "disconnected" && connected.has(room)
      ? event.error
      : undefined;
    if (error === undefined || failing.has(room)) continue;
    failing.add(room);
    const what = connected.has(room) ? "connection lost" : "cannot connect";
    await say(io, `room ${room}: ${what}: ${errorText(error)}; trying again`);
  }
}

/** `HH:MM:SS room state  owner: title [category]`, sanitised. */
function describe(event: LiveEvent): string {
  const at = new Date(event.at);
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
  const info = event.info;
  const owner = info?.nickname ? sanitizeForTerminal(info.nickname, { reveal: true }) : undefined;
  const title = info?.name ? sanitizeForTerminal(info.name) : undefined;
  const category = info?.category ? ` [${sanitizeForTerminal(info.category)}]` : "";
  const what = owner && title ? `${owner}: ${title}` : owner ?? title ?? "";
  return `${time} ${String(event.room).padEnd(9)} ${event.state.padEnd(8)} ${what}${category}`
    .trimEnd();
}

/** The state file, if it exists: `{ "<room>": { "state": "live", "at": <ms> } }`. */
async function readState(path: string): Promise<LiveSnapshot | undefined> {
  needRead(path, "state file");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    // The first run: there is no state yet.
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw new CliFailure(`cannot read state file ${path}: ${errorText(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliFailure(`state file ${path} is not JSON`);
  }
  const snapshot: LiveSnapshot = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliFailure(`state file ${path}: expected an object of rooms`);
  }
  for (const [room, entry] of Object.entries(value)) {
    const { state, at } = (entry ?? {}) as Record<string, unknown>;
    if (!/^\d{1,16}$/.test(room) || typeof state !== "string" || !STATES.has(state)) {
      throw new CliFailure(`state file ${path}: bad entry for room ${quoted(room)}`);
    }
    // Assigned as own data properties: a room key is digits, never __proto__.
    snapshot[room] = { state: state as LiveState, at: typeof at === "number" ? at : 0 };
  }
  return snapshot;
}

/** Writes the state file whole, through a temporary file, so a kill never leaves half of it. */
async function writeState(path: string, snapshot: LiveSnapshot): Promise<void> {
  const temporary = `${path}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(snapshot) + "\n");
    await rename(temporary, path);
  } catch (error) {
    throw new CliFailure(`cannot write state file ${path}: ${errorText(error)}`);
  }
}
