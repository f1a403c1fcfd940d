/**
 * `douyu overlay <room…>` and `douyu overlay --demo`: a chat overlay page for
 * OBS. One process watches the rooms (a `Hub`), names and prices gifts (a
 * `GiftCatalogCache`), and serves the page and its event stream
 * (`OverlayServer`) until Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { errorText } from "../base/errors.ts";
import { sleep } from "../base/timers.ts";
import type { FilterRules } from "../output/filters.ts";
import { OverlayServer } from "../overlay/server.ts";
import type { StreamSettings } from "../overlay/params.ts";
import type { RecordLine } from "../protocol/record.ts";
import { Hub } from "../rooms/hub.ts";
import { MockServer } from "../testing/mock_server.ts";
import { SAMPLE_ROOM, sampleRecording } from "../testing/sample.ts";
import { parseEndpoint } from "../transport/seam.ts";
import { GiftCatalog, GiftCatalogCache } from "../web/gifts.ts";
import { parseRoomInput, resolveRoom } from "../web/room.ts";
import { type CliIO, parseArgsMessage, say, stopController } from "./cli.ts";

/** The port the overlay listens on unless told otherwise: fixed, so OBS's URL keeps working. */
export const DEFAULT_OVERLAY_PORT = 8765;

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  demo: { type: "boolean" },
  host: { type: "string" },
  port: { type: "string" },
  url: { type: "string", multiple: true },
  "no-bots": { type: "boolean" },
  "block-words": { type: "string", multiple: true },
  "block-users": { type: "string", multiple: true },
  "min-level": { type: "string" },
  "min-gift-value": { type: "string" },
  "fold-repeats": { type: "boolean" },
  enter: { type: "boolean" },
  "gift-api-base": { type: "string" },
  "api-base": { type: "string" },
  "mobile-base": { type: "string" },
} as const;

const HELP = `douyu overlay: a chat overlay page for OBS

Usage:
  douyu overlay [options] <room...>   serve the rooms' chat as a page
  douyu overlay --demo [options]      the bundled sample room, looping, to style offline

It prints the page's URL: paste it into an OBS "Browser source". The page
takes parameters (max, fade, minGift, enter, block, blockUsers, minLevel,
fold, avatars, icons, css, theme, status, lang): see the README.

Options:
  --host ADDR             address to listen on (default 127.0.0.1)
  --port N                port to listen on (default ${DEFAULT_OVERLAY_PORT}; 0 = a free one)
  --url URL               Douyu endpoint, repeatable (default: Douyu's servers)
  --demo                  play the bundled sample room instead of real rooms
Defaults for every page (a page's parameters change them):
  --no-bots               drop chat that looks automated
  --block-words a,b       drop chat and super chats containing these words
  --block-users a,b       drop everything from these users (uid or nickname)
  --min-level N           drop chat and entries below this user level
  --min-gift-value YUAN   drop gifts and super chats worth less
  --fold-repeats          fold repeated chat into one line with a count
  --enter                 show room entries
Lookups:
  --gift-api-base URL     where gift lists and the props config are fetched
                          (default Douyu's; gift names and values come from there)
  --api-base URL          room lookup API (default https://www.douyu.com)
  --mobile-base URL       room lookup fallback (default https://m.douyu.com)
  -h, --help              show this help

Exit status: 0 when stopped (Ctrl-C, SIGTERM), 1 failure (the port is taken),
2 usage error.
`;

const USAGE = "usage: douyu overlay [options] <room...> | douyu overlay --demo\n" +
  "Try 'douyu overlay --help' for more information.\n";

/** Bad command line: exit 2. */
class UsageError extends Error {}

/** Waits between two tries to add a room that failed, ms: doubling, up to a minute. */
const RETRY_FIRST = 2000;
const RETRY_MAX = 60_000;

/**
 * Runs `douyu overlay`: serves the overlay page for the rooms given (or the
 * demo room) until `io.signal` aborts, then returns 0. Returns 1 when the
 * server cannot listen, 2 for a usage error.
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
  let settings: OverlaySettings | "help";
  try {
    settings = parseOverlayArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    await say(io, `${error.message}\n${USAGE}`);
    return 2;
  }
  if (settings === "help") {
    await io.stdout(HELP);
    return 0;
  }
  return await runOverlay(settings, io);
}

interface OverlaySettings {
  demo: boolean;
  rooms: string[];
  host: string;
  port: number;
  urls: string[];
  defaults: StreamSettings;
  giftApiBase: string | undefined;
  apiBase: string | undefined;
  mobileBase: string | undefined;
}

function parseOverlayArgs(args: string[]): OverlaySettings | "help" {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error, OPTIONS));
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
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
  for (const room of positionals) {
    try {
      parseRoomInput(room);
    } catch (error) {
      throw new UsageError(errorText(error));
    }
  }
  const urls = (values.url ?? []).map((url) => {
    try {
      return parseEndpoint(url).url;
    } catch {
      throw new UsageError(
        `invalid value for --url: ${quoted(url)} (expected tcp://host:port, ws://... or wss://...)`,
      );
    }
  });
  const rules: FilterRules = {};
  if (values["no-bots"]) rules.noBots = true;
  const words = list(values["block-words"]);
  if (words.length > 0) rules.blockWords = words;
  const users = list(values["block-users"]);
  if (users.length > 0) rules.blockUsers = users;
  const minLevel = number(values["min-level"], "min-level");
  if (minLevel !== undefined) rules.minLevel = minLevel;
  const minGift = number(values["min-gift-value"], "min-gift-value");
  if (minGift !== undefined) rules.minGiftValue = minGift;
  const portText = values.port;
  const port = portText === undefined ? DEFAULT_OVERLAY_PORT : Number(portText);
  if (portText !== undefined && (!/^\d+$/.test(portText.trim()) || port > 65535)) {
    throw new UsageError(
      `invalid value for --port: ${quoted(portText)} (expected a port number from 0 to 65535)`,
    );
  }
  return {
    demo,
    rooms: positionals,
    host: values.host ?? "127.0.0.1",
    port,
    urls,
    defaults: { rules, enter: values.enter ?? false, fold: values["fold-repeats"] ?? false },
    giftApiBase: httpUrl(values["gift-api-base"], "gift-api-base"),
    apiBase: httpUrl(values["api-base"], "api-base"),
    mobileBase: httpUrl(values["mobile-base"], "mobile-base"),
  };
}

function quoted(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

function list(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(/[,，]/)).map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

function number(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\s*$/.test(text) ? NaN : Number(text);
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected a number >= 0)`);
  }
  return n;
}

function httpUrl(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`invalid value for --${name}: ${quoted(text)} (expected an http(s) URL)`);
  }
  return text;
}

async function runOverlay(settings: OverlaySettings, io: CliIO): Promise<number> {
  const { stop, unlink } = stopController(io);
  let server: OverlayServer;
  try {
    server = await OverlayServer.start({
      host: settings.host,
      port: settings.port,
      defaults: settings.defaults,
    });
  } catch (error) {
    unlink();
    const code = (error as { code?: unknown }).code;
    const hint = code === "EADDRINUSE" ? " (another program uses it: try --port)" : "";
    await say(io, `cannot listen on ${settings.host}:${settings.port}: ${errorText(error)}${hint}`);
    return 1;
  }

  const demoStop = new AbortController();
  let mock: MockServer | undefined;
  let hub: Hub | undefined;
  const catalogs = settings.demo ? undefined : new GiftCatalogCache({
    ...(settings.giftApiBase !== undefined
      ? { giftApiBase: settings.giftApiBase, propsBase: settings.giftApiBase }
      : {}),
  });
  const tasks: Promise<void>[] = [];
  try {
    let urls = settings.urls;
    let rooms: (string | number)[] = settings.rooms;
    if (settings.demo) {
      mock = await MockServer.start({ messages: () => demoPass(demoStop.signal), loop: true });
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
    const demoCatalog = settings.demo ? sampleCatalog() : undefined;
    const activeHub = hub;
    tasks.push(
      (async () => {
        for await (const { room, message } of activeHub) {
          server.publish(room, message, demoCatalog ?? catalogs?.peek(room));
        }
      })(),
      reportStatus(activeHub, server, io),
      ...rooms.map((room) =>
        addRoom(room, { hub: activeHub, server, catalogs, settings, io, signal: stop.signal })
      ),
    );
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    unlink();
    demoStop.abort();
    await hub?.close();
    await Promise.allSettled(tasks);
    catalogs?.clear();
    await server.close();
    await mock?.close();
  }
  return 0;
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
      const id = "id" in parsed ? parsed.id : await resolveRoom(text, {
        ...(settings.apiBase ? { apiBase: settings.apiBase } : {}),
        ...(settings.mobileBase ? { mobileBase: settings.mobileBase } : {}),
        signal,
      });
      if (label === undefined) {
        label = id;
        await say(io, `room ${String(text)} is room ${id}`);
      }
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
      try {
        await sleep(delay, signal);
      } catch {
        return;
      }
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

/**
 * One pass of the sample room for `--demo`, in its own time. Each pass gives
 * its chat new ids (`cid`), so the page shows every pass rather than taking
 * the next one for a repeat of the first.
 */
async function* demoPass(signal: AbortSignal): AsyncGenerator<string> {
  const start = Date.now();
  const salt = (Math.floor(start / 1000) >>> 0).toString(16).padStart(8, "0");
  const lines: RecordLine[] = sampleRecording(start);
  for (const line of lines) {
    const wait = line.t - Date.now();
    if (wait > 0) await sleep(wait, signal);
    yield line.body.replace(/(cid@=[0-9a-f]{24})[0-9a-f]{8}/, `$1${salt}`);
  }
  await sleep(1000, signal);
}

/** A made-up catalogue for the sample room's gifts, so the demo shows values offline. */
function sampleCatalog(): GiftCatalog {
  return new GiftCatalog({
    roomId: SAMPLE_ROOM,
    gifts: [
      { id: "824", name: "荧光棒", price: 10, priceType: "YUCHI", paid: true, source: "room" },
      { id: "20008", name: "飞机", price: 10_000, priceType: "YUCHI", paid: true, source: "room" },
    ],
  });
}
