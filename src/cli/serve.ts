/**
 * `douyu serve [file]`: the mock Douyu server, replaying a recording (the
 * bundled sample by default) to every client that joins, until stopped.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { BOOKKEEPING_TYPES } from "../protocol/messages.ts";
import { peekType } from "../protocol/stt.ts";
import { MockServer } from "../testing/mock_server.ts";
import { samplePass } from "../testing/sample.ts";
import { CliFailure, type CliIO, OK, say, stopController, untilAborted, UsageError } from "./io.ts";
import { readRecording } from "./files.ts";
import { listenHost, needNet } from "./permissions.ts";
import { defineOptions, HELP_OPTION, numberOption, parseCommand } from "./options.ts";

/** The options of `douyu serve`. */
export const SERVE_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    port: { type: "string" },
    host: { type: "string" },
    speed: { type: "string" },
    loop: { type: "boolean" },
    "max-clients": { type: "string" },
    "idle-timeout": { type: "string" },
  } as const,
);

/** `serve --max-clients` by default. */
const SERVE_MAX_CLIENTS = 1000;
/**
 * `serve --idle-timeout` by default, seconds: like the real server, drop a
 * client that stopped heartbeating. Clients beat every 45 s by default.
 */
const SERVE_IDLE_TIMEOUT_S = 180;
/**
 * What `serve` lets each client make it hold, tighter than the library's
 * defaults since nobody reads the log here: a few messages, small packets,
 * and little queued for a client that does not read before it is dropped.
 */
const SERVE_CLIENT_LIMITS = {
  maxReceived: 16,
  maxReceivedChars: 16 * 1024,
  maxMessageTypes: 16,
  maxPendingBytes: 128 * 1024,
  maxFrameSize: 16 * 1024,
} as const;

/**
 * `douyu serve [file] [options]`: listens on TCP and WebSocket and streams
 * the recording to each client that joins, until Ctrl-C or SIGTERM, which
 * end it with status 0.
 *
 * @param args The arguments after `serve`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code.
 */
export async function serveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, SERVE_OPTIONS, "douyu serve");
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  const path = positionals[0];
  const port = numberOption(values.port, "port", "port") ?? 0;
  const speed = numberOption(values.speed, "speed", "number >= 0") ?? 1;
  const host = values.host ?? "127.0.0.1";
  const loop = values.loop ?? false;
  const maxClients = numberOption(values["max-clients"], "max-clients", "positive integer") ??
    SERVE_MAX_CLIENTS;
  const idleTimeout = numberOption(values["idle-timeout"], "idle-timeout", "number >= 0") ??
    SERVE_IDLE_TIMEOUT_S;
  needNet([listenHost(host)]);
  // The sample is played afresh for each client and pass (new chat ids, times
  // from now), so that what drops repeated ids shows every pass. A file is
  // played as it is, except that the mock answers the handshake and
  // heartbeats itself: replaying recorded ones would confuse clients.
  const recording = path === undefined
    ? samplePass
    : (await readRecording(path, io)).filter((line) =>
      !BOOKKEEPING_TYPES.has(peekType(line.body) ?? "")
    );
  const count = typeof recording === "function" ? recording().length : recording.length;

  let server: MockServer;
  try {
    server = await MockServer.start({
      host,
      port,
      protocols: ["tcp", "ws"],
      recording,
      speed,
      loop,
      maxClients,
      idleTimeout: idleTimeout * 1000,
      ...SERVE_CLIENT_LIMITS,
    });
  } catch (error) {
    throw new CliFailure(`cannot start the mock server on ${host}:${port}: ${errorText(error)}`);
  }
  const { stop, unlink } = stopController(io);
  try {
    const { tcp, ws } = server.urls;
    await say(io, `mock server listening on ${tcp} and ${ws}`);
    await say(
      io,
      `streaming ${count} messages from ${path ?? "the bundled sample"} to each client ` +
        `that joins (speed ${speed}${loop ? ", looping" : ""}); Ctrl-C stops`,
    );
    const announce = (async () => {
      for (;;) {
        const client = await server.nextClient({ signal: stop.signal });
        // The log may have moved past `joingroup` already (a client can send a lot).
        const join = await client.joined.catch(() => undefined);
        await say(
          io,
          `client ${client.id} joined room ${join?.rid ?? "?"} over ${client.protocol}`,
        );
      }
    })().catch(() => {});
    await untilAborted(stop.signal);
    await announce;
  } finally {
    unlink();
    await server.close();
  }
  if (server.refused > 0) {
    await say(
      io,
      `${server.refused} connections refused: over --max-clients, or requests the WebSocket ` +
        "port does not answer (not an upgrade, another site's page, another name than this " +
        "machine's)",
    );
  }
  return OK;
}
