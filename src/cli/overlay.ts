/**
 * `douyu overlay <room…>` and `douyu overlay --demo`: a chat overlay page for
 * OBS. One process watches the rooms (a `Hub`), names and prices gifts (a
 * `GiftCatalogCache`), and serves the page and its event stream
 * (`OverlayServer`) until Ctrl-C.
 *
 * @module
 */

import type { Archive } from "../archive/archive.ts";
import { errorText } from "../base/errors.ts";
import { sleep } from "../base/timers.ts";
import { OverlayServer } from "../overlay/server.ts";
import type { StreamSettings } from "../overlay/params.ts";
import { Hub } from "../rooms/hub.ts";
import { MockServer } from "../testing/mock_server.ts";
import { SAMPLE_ROOM } from "../testing/sample.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import { resolveRoom } from "../web/room.ts";
import { parseRoomInput } from "../web/room_input.ts";
import { demoCatalog, demoPasses, startDemoAssets } from "./overlay_demo.ts";
import { archiveTotals } from "./overlay_totals.ts";
import {
  type CliIO,
  describeError,
  FAILURE,
  OK,
  quoted,
  say,
  stopController,
  untilAborted,
  UsageError,
} from "./io.ts";
import {
  defineOptions,
  endpointUrls,
  FILTER_OPTIONS,
  filterOptions,
  giftBases,
  HELP_OPTION,
  type Lookups,
  lookups,
  numberOption,
  parseCommand,
  parseRoom,
} from "./options.ts";
import { listenHost, needEndpoints, needNet } from "./permissions.ts";

/** The port the overlay listens on unless told otherwise: fixed, so OBS's URL keeps working. */
export const DEFAULT_OVERLAY_PORT = 8765;

/** The options of `douyu overlay`. */
export const OVERLAY_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    ...FILTER_OPTIONS,
    demo: { type: "boolean" },
    host: { type: "string" },
    port: { type: "string" },
    "max-streams": { type: "string" },
    "allow-origin": { type: "string", multiple: true },
    "allow-host": { type: "string", multiple: true },
    url: { type: "string", multiple: true },
    enter: { type: "boolean" },
    "gift-api-base": { type: "string" },
    "api-base": { type: "string" },
    "mobile-base": { type: "string" },
    db: { type: "string" },
  } as const,
);

/** Waits between two tries to add a room that failed, ms: doubling, up to a minute. */
const RETRY_FIRST = 2000;
const RETRY_MAX = 60_000;

/**
 * Runs `douyu overlay`: serves the overlay page for the rooms given (or the
 * demo room) until `io.signal` aborts, then returns 0. Returns 1 when the
 * server cannot listen; throws a usage error for a bad command line.
 *
 * @param args The arguments after `overlay`.
 * @param io Standard streams and the stop signal.
 * @returns The exit code.
 *
 * @example The demo room for a moment, in-process
 * ```ts
 * import { overlayCommand } from "./overlay.ts";
 *
 * const stop = new AbortController();
 * let out = "";
 * const done = overlayCommand(["--demo", "--port", "0"], {
 *   stdout: (text) => {
 *     out += text;
 *     stop.abort(); // as soon as it is up
 *   },
 *   stderr: () => {},
 *   signal: stop.signal,
 * });
 * console.log(await done, out.startsWith("overlay: http://127.0.0.1:")); // 0 true
 * ```
 */
export async function overlayCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, OVERLAY_OPTIONS, "douyu overlay");
  const demo = values.demo ?? false;
  if (demo && positionals.length > 0) {
    throw new UsageError(
      `--demo plays the sample room: no room to give (got ${quoted(positionals[0]!)})`,
    );
  }
  if (demo && values.url !== undefined) throw new UsageError("--demo and --url do not go together");
  if (!demo && positionals.length === 0) {
    throw new UsageError("missing <room>: a room id, name or URL (or --demo)");
  }
  for (const room of positionals) parseRoom(room);
  const { rules, fold } = filterOptions(values);
  const settings: OverlaySettings = {
    demo,
    rooms: positionals,
    host: values.host ?? "127.0.0.1",
    port: numberOption(values.port, "port", "port") ?? DEFAULT_OVERLAY_PORT,
    maxStreams: numberOption(values["max-streams"], "max-streams", "positive integer"),
    allowOrigins: (values["allow-origin"] ?? []).map(originOption),
    allowHosts: values["allow-host"] ?? [],
    urls: endpointUrls(values.url),
    defaults: { rules, enter: values.enter ?? false, fold },
    lookups: lookups(values, endpointUrls(values.url)),
    db: values.db,
    roomIds: new Set(),
  };
  needNet([listenHost(settings.host)]);
  if (!demo) needEndpoints(settings.urls);
  return await runOverlay(settings, io);
}

/** An `--allow-origin` value: `*`, or an origin (`https://dash.example`). */
function originOption(text: string): string {
  if (text === "*") return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.origin !== text.replace(/\/$/, "")
  ) {
    throw new UsageError(
      `invalid value for --allow-origin: ${
        quoted(text)
      } (an origin such as https://example.com, or *)`,
    );
  }
  return url.origin;
}

interface OverlaySettings {
  demo: boolean;
  rooms: string[];
  host: string;
  port: number;
  maxStreams: number | undefined;
  allowOrigins: string[];
  allowHosts: string[];
  urls: string[];
  defaults: StreamSettings;
  lookups: Lookups;
  /** The archive the widgets' starting totals come from (`--db`). */
  db: string | undefined;
  /** The rooms' numeric ids, as they are known (for widgets that name no room). */
  roomIds: Set<number>;
}

async function runOverlay(settings: OverlaySettings, io: CliIO): Promise<number> {
  const { giftApiBase } = settings.lookups;
  const { stop, unlink } = stopController(io);
  // The demo's avatars and gift icons come from a local stand-in.
  const assets = settings.demo ? await startDemoAssets() : undefined;
  const imageOrigins = [
    ...(giftApiBase ? [new URL(giftApiBase).origin] : []),
    ...(assets ? [assets.base] : []),
  ];
  let archive: Archive | undefined;
  if (settings.db !== undefined) {
    try {
      // Loaded only with --db: the overlay alone needs no archive code.
      const { Archive } = await import("../archive/archive.ts");
      archive = await Archive.open(settings.db, { readOnly: true });
    } catch (error) {
      unlink();
      await assets?.close();
      await say(io, describeError(error));
      return FAILURE;
    }
  }
  let server: OverlayServer;
  try {
    server = await OverlayServer.start({
      ...(archive ? { startingTotals: archiveTotals(archive, () => settings.roomIds) } : {}),
      host: settings.host,
      port: settings.port,
      defaults: settings.defaults,
      ...(settings.maxStreams !== undefined ? { maxStreams: settings.maxStreams } : {}),
      allowOrigins: settings.allowOrigins,
      allowHosts: settings.allowHosts,
      // Icons from the gift API given, as from Douyu's own image hosts.
      imageOrigins,
      ...(assets ? { avatarBase: `${assets.base}/upload/` } : {}),
    });
  } catch (error) {
    unlink();
    await assets?.close();
    await archive?.close();
    const code = (error as { code?: unknown }).code;
    const hint = code === "EADDRINUSE" ? " (another program uses it: try --port)" : "";
    await say(io, `cannot listen on ${settings.host}:${settings.port}: ${errorText(error)}${hint}`);
    return FAILURE;
  }

  const demoStop = new AbortController();
  let mock: MockServer | undefined;
  let hub: Hub | undefined;
  // Douyu's gift API knows Douyu's rooms: asked only when the barrage comes
  // from Douyu (no --url), or when --gift-api-base says where to ask.
  const catalogs = settings.demo || (settings.urls.length > 0 && !giftApiBase)
    ? undefined
    : new GiftCatalogCache(giftBases(settings.lookups));
  const tasks: Promise<void>[] = [];
  try {
    let urls = settings.urls;
    let rooms: (string | number)[] = settings.rooms;
    if (settings.demo) {
      mock = await MockServer.start({ messages: demoPasses(demoStop.signal), loop: true });
      urls = [mock.url];
      rooms = [SAMPLE_ROOM];
    }
    await io.stdout(`overlay: ${server.url}  (Ctrl-C stops)\n`);
    if (settings.host !== "127.0.0.1" && settings.host !== "localhost" && settings.host !== "::1") {
      await say(io, `listening on ${settings.host}: other machines can open the overlay too`);
    }
    // An overlay shows what is happening now: under a flood, old messages go first.
    hub = new Hub({
      ...(urls.length > 0 ? { url: urls } : {}),
      overflow: "drop-oldest",
      signal: stop.signal,
    });
    const catalog = assets ? demoCatalog(assets.base) : undefined;
    const activeHub = hub;
    tasks.push(
      (async () => {
        for await (const { room, message } of activeHub) {
          // Asks the cache in the background (it fetches at most once per ttl, or
          // per retryAfter after a failure) and publishes with what is there.
          if (message.type === "dgb") catalogs?.get(room).catch(() => {});
          server.publish(room, message, catalog ?? catalogs?.peek(room));
        }
      })(),
      reportStatus(activeHub, server, io),
      ...rooms.map((room) =>
        addRoom(room, { hub: activeHub, server, catalogs, settings, io, signal: stop.signal })
      ),
    );
    await untilAborted(stop.signal);
  } finally {
    unlink();
    demoStop.abort();
    await hub?.close();
    await Promise.allSettled(tasks);
    catalogs?.clear();
    await server.close();
    await mock?.close();
    await assets?.close();
    await archive?.close();
  }
  return OK;
}

interface AddContext {
  hub: Hub;
  server: OverlayServer;
  catalogs: GiftCatalogCache | undefined;
  settings: OverlaySettings;
  io: CliIO;
  signal: AbortSignal;
}

/**
 * Adds a room to the hub, trying again (2 s doubling to a minute) while it
 * fails: the page says why meanwhile, rather than showing nothing.
 */
async function addRoom(text: string | number, context: AddContext): Promise<void> {
  const { hub, server, catalogs, settings, io, signal } = context;
  const parsed = parseRoomInput(text);
  let label = "id" in parsed ? parsed.id : undefined;
  if (label !== undefined) server.setRoom(label, { connected: false });
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const { apiBase, mobileBase, fetch } = settings.lookups;
      const id = "id" in parsed ? parsed.id : await resolveRoom(text, {
        ...(apiBase ? { apiBase } : {}),
        ...(mobileBase ? { mobileBase } : {}),
        ...(fetch ? { fetch } : {}),
        signal,
      });
      if (label === undefined) {
        label = id;
        await say(io, `room ${String(text)} is room ${id}`);
      }
      settings.roomIds.add(id);
      await hub.add(id);
      server.setRoom(id, { connected: true, error: undefined });
      await say(io, `room ${id}: connected`);
      // In the background: until it arrives, gifts show as ids.
      catalogs?.get(id, { signal }).then(
        (catalog) => say(io, `room ${id}: gift catalogue loaded (${catalog.size} gifts and props)`),
        (error) =>
          signal.aborted
            ? undefined
            : say(io, `room ${id}: no gift names and values: ${errorText(error)}`),
      );
      return;
    } catch (error) {
      if (signal.aborted) return;
      const delay = Math.min(RETRY_MAX, RETRY_FIRST * 2 ** attempt);
      const reason = errorText(error);
      if (label !== undefined) server.setRoom(label, { connected: false, error: oneLine(reason) });
      await say(io, `room ${String(text)}: ${reason}; trying again in ${delay / 1000} s`);
      await sleep(delay, signal); // never rejects; the loop ends once stopped
    }
  }
}

function oneLine(text: string): string {
  const line = text.split("\n")[0]!;
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/** Keeps the status line and stderr told of every room's connection. */
async function reportStatus(hub: Hub, server: OverlayServer, io: CliIO): Promise<void> {
  for await (const { room, event } of hub.status()) {
    switch (event.type) {
      case "connected":
        server.setRoom(room, { connected: true, error: undefined });
        break;
      case "disconnected":
        server.setRoom(room, { connected: false, error: oneLine(errorText(event.error)) });
        await say(io, `room ${room}: disconnected: ${errorText(event.error)}`);
        break;
      case "reconnecting":
        server.setRoom(room, {
          connected: false,
          error: `reconnecting in ${(event.delay / 1000).toFixed(1)} s`,
        });
        await say(io, `room ${room}: reconnecting in ${(event.delay / 1000).toFixed(1)} s`);
        break;
      case "dropped":
        await say(io, `room ${room}: ${event.count} messages dropped (${event.total} in all)`);
        break;
    }
  }
}
