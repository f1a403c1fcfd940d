/**
 * `douyu archive` from live sources: rooms watched through a hub, or the
 * cluster's `DOUYU` stream. Both price gifts on arrival (the room's
 * catalogue, waited for at a room's first gift) and write into the
 * archive, which commits within a second; a stop (Ctrl-C, SIGTERM,
 * `--count`, `--duration`) stores what has arrived and ends with status 0.
 *
 * @module
 */

import type { GiftPricer } from "../archive/pricing.ts";
import type { TimedMessage } from "../archive/timed.ts";
import { errorText } from "../base/errors.ts";
import { setRepeating } from "../base/timers.ts";
import type { Subscription } from "../nats/mod.ts";
import { Hub } from "../rooms/hub.ts";
import { GiftCatalogCache } from "../web/gifts.ts";
import { applyRetention, type ArchiveRun, keeps } from "./archive.ts";
import { giftPricer } from "./printer.ts";
import { readRoomsFile } from "./files.ts";
import { deadline, DONE, FAILURE, OK, say, stopController, UsageError } from "./io.ts";
import {
  endpointUrls,
  giftBases,
  type Lookups,
  lookups,
  numberOption,
  parseRoom,
} from "./options.ts";
import { clusterSettings, loadNats, openCluster, streamReading } from "./nats_setup.ts";
import { resolveRooms } from "./resolve.ts";

/** How often retention runs while archiving. */
const RETENTION_EVERY_MS = 3_600_000;
/**
 * Messages a durable stream reader may hold unacknowledged: four commits'
 * worth (`batchSize` is 5000), so that the next commit fills while one is
 * being written (with one commit's worth, the stream stopped for each
 * commit). Each is acknowledged once committed, which must happen within
 * the ack wait even when the database is slow, or it comes again (and is
 * recognised, but costs a second write).
 */
const STREAM_ACK_PENDING = 20_000;
/**
 * How long the stream waits for an acknowledgement before it sends a
 * message again: also how long a restart after `kill -9` waits for the
 * messages that were in flight.
 */
const STREAM_ACK_WAIT_MS = 30_000;

/** A message from a source, with what its commit must tell the source. */
type SourceItem = TimedMessage & { seq?: number; ack?: () => void };

type LiveValues = {
  url?: string[];
  heartbeat?: string;
  "rooms-file"?: string;
  "api-base"?: string;
  "mobile-base"?: string;
  "gift-api-base"?: string;
  "open-api-base"?: string;
};

/**
 * Watches rooms through a hub and archives everything they say, with
 * their connection changes (the gaps), until a stop.
 */
export async function archiveLive(
  run: ArchiveRun,
  positionals: string[],
  values: LiveValues,
  retain: number | undefined,
): Promise<number> {
  const { io, archive } = run;
  const texts = [...positionals];
  if (values["rooms-file"] !== undefined) texts.push(...await readRoomsFile(values["rooms-file"]));
  if (texts.length === 0) throw new UsageError("missing <room>: a room id, name or URL");
  for (const text of texts) parseRoom(text); // every room checked before anything starts
  const urls = endpointUrls(values.url);
  const heartbeat = numberOption(values.heartbeat, "heartbeat", "seconds");
  const apis = lookups(values, urls);
  const { stop, unlink } = stopController(io);
  try {
    const rooms = await resolveRooms(texts, apis, io, stop.signal);
    if (rooms === undefined) return stop.signal.aborted ? OK : FAILURE;
    const hub = new Hub({
      ...(urls.length > 0 ? { url: urls } : {}),
      ...(run.types ? { types: [...run.types] } : {}),
      ...(heartbeat !== undefined ? { heartbeatInterval: heartbeat * 1000 } : {}),
    });
    const closeHub = () => void hub.close();
    stop.signal.addEventListener("abort", closeHub, { once: true });
    if (retain !== undefined) {
      setRepeating(RETENTION_EVERY_MS, () => void applyRetention(archive, retain, io), stop.signal);
    }
    const pricer = pricerFor(run, urls.length === 0 || apis.giftApiBase ? apis : undefined, stop);
    const lost = new Set<number>();
    const status = recordStatus(hub, run, lost);
    let joined: number[] = [];
    const startedAt = Date.now();
    try {
      const added = await Promise.allSettled(rooms.map((room) => hub.add(room)));
      joined = rooms.filter((_, i) => added[i]!.status === "fulfilled");
      for (const [i, result] of added.entries()) {
        if (result.status === "rejected") {
          await say(io, `room ${rooms[i]}: ${errorText(result.reason)}`);
        }
      }
      if (joined.length === 0) return stop.signal.aborted ? OK : FAILURE;
      for (const room of joined) {
        pricer?.join(room);
        archive.writeStatus({ t: startedAt, room, status: "started" });
      }
      const cancelDeadline = deadline(stop, run.duration);
      try {
        await store(run, pricer, liveSource(hub, run), stop);
      } finally {
        cancelDeadline();
      }
    } finally {
      stop.signal.removeEventListener("abort", closeHub);
      await hub.close();
      await status;
      const now = Date.now();
      for (const room of joined) archive.writeStatus({ t: now, room, status: "stopped" });
    }
    if (!stop.signal.aborted && joined.every((room) => lost.has(room))) {
      await say(io, "every room's connection was lost for good");
      return FAILURE;
    }
    return OK;
  } finally {
    unlink();
  }
}

/** What the hub hands over, with its arrival time: also what it still held at a stop. */
async function* liveSource(hub: Hub, run: ArchiveRun): AsyncGenerator<SourceItem> {
  for await (const { room, message } of hub) {
    if (keeps(run, message.type)) yield { t: Date.now(), room, message };
  }
}

/**
 * Keeps the hub's status changes in the archive beside the messages (the
 * gaps), and reports them on stderr; `lost` gets the rooms that failed for good.
 */
async function recordStatus(hub: Hub, run: ArchiveRun, lost: Set<number>): Promise<void> {
  const { io, archive } = run;
  const connected = new Set<number>();
  for await (const { room, event } of hub.status()) {
    const t = Date.now();
    const keep = (status: string, detail?: string) => {
      try {
        archive.writeStatus(
          detail === undefined ? { t, room, status } : { t, room, status, detail },
        );
      } catch {
        // The archive failed or closed: the store loop reports it.
      }
    };
    switch (event.type) {
      case "connected":
        keep("connected", event.url);
        if (!run.quiet || connected.has(room)) {
          await say(
            io,
            `room ${room}: ${connected.has(room) ? "reconnected" : "connected"} to ${event.url}`,
          );
        }
        connected.add(room);
        break;
      case "disconnected":
        keep("disconnected", errorText(event.error));
        await say(io, `room ${room}: disconnected: ${errorText(event.error)}`);
        break;
      case "dropped":
        keep("dropped", `${event.count} messages`);
        await say(io, `room ${room}: ${event.count} messages dropped (${event.total} in all)`);
        break;
      case "closed":
        keep(
          "closed",
          event.info.error === undefined ? event.info.reason : errorText(event.info.error),
        );
        if (event.info.reason === "error") {
          lost.add(room);
          await say(io, `room ${room}: connection lost: ${errorText(event.info.error)}`);
        }
        break;
    }
  }
}

type StreamValues = {
  nats?: string[];
  durable?: string;
  rooms?: string[];
  since?: string;
  "api-base"?: string;
  "mobile-base"?: string;
  "gift-api-base"?: string;
  "open-api-base"?: string;
};

/**
 * Archives the cluster's `DOUYU` stream. With a durable consumer, each
 * message is acknowledged once its commit is done, so a restart (even
 * after `kill -9`) resumes with what was not stored yet, and what comes
 * again is recognised (by chat id, or stream sequence) and not stored twice.
 */
export async function archiveStream(
  run: ArchiveRun,
  values: StreamValues,
  retain: number | undefined,
): Promise<number> {
  const { io, archive } = run;
  const apis = lookups(values);
  const nats = await loadNats();
  const { durable, since, rooms: texts } = streamReading(values, nats);
  const { stop, unlink } = stopController(io);
  try {
    const rooms = texts.length > 0 ? await resolveRooms(texts, apis, io, stop.signal) : [];
    if (rooms === undefined) return stop.signal.aborted ? OK : FAILURE;
    const target = clusterSettings({ nats: values.nats ?? [] });
    target.options.name = "douyu archive";
    const cluster = await openCluster(nats, target, io);
    try {
      if (retain !== undefined) {
        setRepeating(
          RETENTION_EVERY_MS,
          () => void applyRetention(archive, retain, io),
          stop.signal,
        );
      }
      const subscription = nats.subscribe(cluster, {
        ...(rooms.length > 0 ? { rooms } : {}),
        ...(run.types !== undefined ? { types: [...run.types] } : {}),
        // A new durable archiver takes everything the stream still holds (unless --since):
        // nothing collected before it started is missed. Once created, it resumes.
        ...(since !== undefined ? { since } : durable !== undefined ? { since: 0 } : {}),
        ...(durable !== undefined
          ? {
            group: durable,
            maxAckPending: STREAM_ACK_PENDING,
            ackWait: STREAM_ACK_WAIT_MS,
          }
          : {}),
        signal: stop.signal,
      });
      if (!run.quiet) {
        await say(
          io,
          durable !== undefined
            ? `archiving the stream with durable consumer ${durable}; Ctrl-C stops`
            : "archiving the stream from now on; Ctrl-C stops",
        );
      }
      const pricer = pricerFor(run, apis, stop);
      const cancelDeadline = deadline(stop, run.duration);
      try {
        await store(run, pricer, streamSource(subscription, run), stop);
      } finally {
        cancelDeadline();
        await subscription.close();
        // What was handed over is committed, and so acknowledged, before NATS is left.
        await archive.flush().catch(() => {});
      }
      if (subscription.skipped > 0) {
        await say(io, `${subscription.skipped} malformed messages skipped`);
      }
    } finally {
      await cluster.close();
    }
    return OK;
  } finally {
    unlink();
  }
}

/**
 * The stream's messages, with their sequence (the key of messages other
 * than chat) and acknowledgement. A room whose collector changes, from one
 * message to a later one of the stream, is a handover, kept as a status
 * change. Messages may come out of the stream's order: after an archiver of
 * the same durable name was killed, what it had not acknowledged comes again
 * only after the ack wait, behind newer ones. So each room's oldest and
 * newest message seen are kept, and a collector change against either end
 * counts (what falls between them says nothing new).
 */
/** Who collected a message of a room, at which stream sequence, received when. */
interface SeenCollector {
  name: string;
  seq: number;
  t: number;
}

export async function* streamSource(
  subscription: Subscription,
  run: ArchiveRun,
): AsyncGenerator<SourceItem> {
  const seen = new Map<number, { oldest: SeenCollector; newest: SeenCollector }>();
  const handover = (room: number, from: string, to: SeenCollector) =>
    run.archive.writeStatus({ t: to.t, room, status: "handover", detail: `${from} → ${to.name}` });
  for await (const item of subscription) {
    if (item.collector !== "") {
      const at: SeenCollector = { name: item.collector, seq: item.seq, t: item.receivedAt };
      const ends = seen.get(item.room);
      if (ends === undefined) {
        seen.set(item.room, { oldest: at, newest: at });
      } else if (at.seq > ends.newest.seq) {
        if (ends.newest.name !== at.name) handover(item.room, ends.newest.name, at);
        ends.newest = at;
      } else if (at.seq < ends.oldest.seq) {
        if (ends.oldest.name !== at.name) handover(item.room, at.name, ends.oldest);
        ends.oldest = at;
      }
    }
    if (!keeps(run, item.message.type)) {
      item.ack?.();
      continue;
    }
    yield {
      t: item.receivedAt,
      room: item.room,
      message: item.message,
      seq: item.seq,
      ...(item.ack !== undefined ? { ack: item.ack } : {}),
    };
  }
}

/** The gift pricer of a run, or undefined when no catalogue is to be asked (or no gift kept). */
function pricerFor(
  run: ArchiveRun,
  apis: Lookups | undefined,
  stop: AbortController,
): GiftPricer | undefined {
  const gifts = apis === undefined ? undefined : new GiftCatalogCache(giftBases(apis));
  return giftPricer(run.io, run, gifts, undefined, stop.signal);
}

/**
 * Writes a source into the archive until it ends, or `--count` is reached:
 * each message priced (when a pricer is given), written with its stream
 * sequence, and acknowledged to the stream once committed.
 */
async function store(
  run: ArchiveRun,
  pricer: GiftPricer | undefined,
  source: AsyncGenerator<SourceItem>,
  stop: AbortController,
): Promise<void> {
  const { archive } = run;
  const priced = (pricer !== undefined ? pricer.price(source) : source) as AsyncGenerator<
    SourceItem
  >;
  let written = 0;
  for await (const item of priced) {
    const { seq, ack, ...timed } = item;
    const wait = archive.write(timed, {
      ...(seq !== undefined ? { seq } : {}),
      ...(ack !== undefined ? { onCommitted: () => ack() } : {}),
    });
    if (wait !== undefined) await wait;
    if (run.count !== undefined && ++written >= run.count) {
      stop.abort(DONE);
      break;
    }
  }
}
