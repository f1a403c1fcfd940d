/**
 * What the buckets hold, read defensively: keys are room ids, values JSON
 * that anyone with access to the NATS account could have written, so every
 * value is size-checked and schema-checked before use.
 *
 * @module
 */

import {
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { NoRespondersError, TimeoutError } from "@nats-io/transport-node";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { isRecord, ownField } from "../base/fields.ts";
import { setTimer } from "../base/timers.ts";
import { type Lease, MAX_VALUE_BYTES, type RoomSettings } from "./cluster.ts";

/**
 * A collector's heartbeat: the value under its name in `douyu_collectors`.
 *
 * @example
 * ```ts
 * import type { CollectorHealth } from "@x/douyu/nats";
 *
 * const health: Pick<CollectorHealth, "name" | "maxRooms"> = { name: "a", maxRooms: 200 };
 * console.log(health.name); // "a"
 * ```
 */
export interface CollectorHealth {
  /** The collector's name. */
  name: string;
  /** Its process's random id. */
  instance: string;
  /** When it started, ms since the epoch. */
  startedAt: number;
  /** When it wrote this heartbeat, ms since the epoch. */
  updatedAt: number;
  /** Its `maxRooms`. */
  maxRooms: number;
  /** The lease TTL it runs with, ms (see `setLeaseTtl`). */
  leaseTtl?: number;
  /** The rooms it holds. */
  rooms: CollectorRoom[];
  /** Its counters (see `CollectorCounters`), by name. */
  counters: Partial<Record<string, number>>;
}

/**
 * One room in a {@linkcode CollectorHealth}.
 *
 * @example
 * ```ts
 * import type { CollectorRoom } from "@x/douyu/nats";
 *
 * const room: CollectorRoom = { room: 9999, since: 0, state: "watching", messages: 3 };
 * console.log(room.state); // "watching"
 * ```
 */
export interface CollectorRoom {
  /** The room id. */
  room: number;
  /** Since when the collector holds it, ms since the epoch. */
  since: number;
  /** `joining` (connecting), `watching`, or `releasing` (in its handover window). */
  state: "joining" | "watching" | "releasing";
  /** Messages taken from it. */
  messages: number;
  /** When its last message arrived, ms since the epoch. */
  lastMessageAt?: number;
}

/** The KV key of a room: its decimal id. */
export function roomKey(room: number): string {
  return String(room);
}

/** The room id of a key, or `undefined` for a key that is not one. */
export function roomOfKey(key: string): number | undefined {
  if (!/^[1-9][0-9]{0,14}$/.test(key)) return undefined;
  return Number(key);
}

/** One live entry of a bucket, as {@linkcode snapshot} reads it. */
export interface BucketEntry {
  /** The key. */
  key: string;
  /** The value (empty when read with `keysOnly`). */
  value: Uint8Array;
  /** Its revision (the stream sequence). */
  revision: number;
  /** When the server stored it, ms since the epoch (the server's clock). */
  created: number;
}

/** A bucket's live entries, and the stream sequence they are complete up to. */
export interface BucketSnapshot {
  /** The live entries by key. */
  entries: Map<string, BucketEntry>;
  /** Every change up to this revision is in `entries`; later ones may be too. */
  revision: number;
}

/** A bucket could not be read in time (JetStream slow or stuck). */
export class SlowSnapshotError extends ClusterError {}

/** Most entries a snapshot reads: a bucket larger than this is not the cluster's. */
const MAX_ENTRIES = 100_000;
/** A snapshot that receives nothing for this long looks whether the bucket emptied meanwhile. */
const SNAPSHOT_IDLE_MS = 2000;
/** A snapshot that takes longer fails. */
const SNAPSHOT_LIMIT_MS = 15_000;

/**
 * The live entries of a bucket: the latest value of every key, deleted and
 * expired keys left out. It stops at the first entry at or past the
 * stream's last sequence once its consumer exists (entries rewritten meanwhile
 * arrive too, with higher revisions), or when the bucket has emptied since it
 * began (its entries expired); it never returns a part of the bucket: it fails
 * after 15 s, or when the read ends early.
 */
export async function snapshot(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  options: { keysOnly?: boolean } = {},
): Promise<Map<string, BucketEntry>> {
  return (await snapshotAt(js, jsm, bucket, options)).entries;
}

/** {@linkcode snapshot}, with the revision it is complete up to (to watch on from). */
export async function snapshotAt(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  options: { keysOnly?: boolean; markers?: Map<string, { created: number; revision: number }> } =
    {},
): Promise<BucketSnapshot> {
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.`;
  const entries = new Map<string, BucketEntry>();
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return { entries, revision: state.last_seq };
  const consumer = await js.consumers.get(stream, {
    filter_subjects: `${prefix}>`,
    deliver_policy: DeliverPolicy.LastPerSubject,
    headers_only: options.keysOnly ?? false,
  });
  const messages = await consumer.consume({ max_messages: 1024 });
  // Every entry up to the stream's last sequence once the consumer exists is delivered, in
  // sequence order (the last value of each key, then whatever came since): the read is
  // complete at the first entry at or past it, or once as many keys as the stream then had
  // have come (its last sequence may be a message since removed: a purged delete marker).
  // Not the pending count a message carries: a server just restarted reports it short.
  const after = await jsm.streams.info(stream).catch((error) => {
    messages.stop();
    throw error;
  });
  const until = after.state.last_seq;
  const keys = after.state.num_subjects ?? Infinity;
  const seen = new Set<string>();
  const stop = new AbortController();
  /** Set once every entry is in: nothing pending, or the bucket empty by now. */
  let complete = false;
  let received = 0;
  let last = 0;
  let idle = () => {};
  const restartIdle = () => {
    idle();
    idle = setTimer(SNAPSHOT_IDLE_MS, () => {
      // Nothing came: either everything expired since the count above, or the server is slow.
      // Only the first ends the read; a slow server is waited for, up to the limit.
      if (received > 0) return restartIdle();
      jsm.streams.info(stream).then((info) => {
        if (info.state.messages === 0) {
          complete = true;
          messages.stop();
        } else if (!stop.signal.aborted) {
          restartIdle();
        }
      }, () => restartIdle());
    }, stop.signal);
  };
  let tooSlow = false;
  setTimer(SNAPSHOT_LIMIT_MS, () => {
    tooSlow = true;
    messages.stop();
  }, stop.signal);
  restartIdle();
  try {
    for await (const message of messages) {
      if (!message.subject.startsWith(prefix)) continue;
      const key = message.subject.slice(prefix.length);
      const operation = message.headers?.get("KV-Operation") ?? "";
      if (operation === "DEL" || operation === "PURGE") {
        entries.delete(key);
        options.markers?.set(key, { created: message.time.getTime(), revision: message.seq });
      } else {
        options.markers?.delete(key);
        entries.set(key, {
          key,
          value: message.data,
          revision: message.seq,
          created: message.time.getTime(),
        });
      }
      if (entries.size > MAX_ENTRIES) throw new ClusterError(`bucket ${bucket} is too large`);
      received++;
      last = Math.max(last, message.seq);
      seen.add(key);
      if (message.seq >= until || seen.size >= keys) {
        complete = true;
        break;
      }
      restartIdle();
    }
  } finally {
    stop.abort();
    messages.stop();
  }
  // A part of a bucket is not the bucket: a reader would take what is missing for deleted.
  if (!complete) {
    throw new SlowSnapshotError(
      tooSlow
        ? `reading bucket ${bucket} took over ${SNAPSHOT_LIMIT_MS} ms`
        : `reading bucket ${bucket} ended early`,
    );
  }
  return { entries, revision: Math.max(until, last) };
}

/**
 * Purges a bucket's delete markers older than `grace` ms: a deleted key
 * leaves one, which every later reader of the bucket would read forever.
 * The grace lets watchers see the deletion first.
 *
 * @returns How many were purged.
 */
export async function purgeMarkers(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  grace: number,
): Promise<number> {
  const markers = new Map<string, { created: number; revision: number }>();
  await snapshotAt(js, jsm, bucket, { keysOnly: true, markers });
  const before = Date.now() - grace;
  let purged = 0;
  for (const [key, marker] of markers) {
    if (grace > 0 && marker.created > before) continue;
    // Up to the marker only: a put of the same key since then stays.
    const result = await jsm.streams.purge(`KV_${bucket}`, {
      filter: `$KV.${bucket}.${key}`,
      seq: marker.revision + 1,
    }).catch(() => undefined);
    purged += result?.purged ?? 0;
  }
  return purged;
}

/** The live keys of a bucket (deleted and expired ones excluded). */
export async function listKeys(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
): Promise<Set<string>> {
  return new Set((await snapshot(js, jsm, bucket, { keysOnly: true })).keys());
}

/** JetStream error codes of storage that ran out (a full disk, or the server's limits). */
export const STORAGE_ERRORS: ReadonlySet<number> = new Set([10023, 10028, 10047, 10077]);

/**
 * What is wrong when JetStream itself fails a request while NATS is
 * connected: out of storage (a full disk, or the server's limits), or not
 * answering at all; `undefined` for any other error.
 */
export function jetStreamTrouble(error: unknown): string | undefined {
  if (error instanceof JetStreamApiError && STORAGE_ERRORS.has(error.code)) {
    return `${error.message} (out of storage)`;
  }
  if (
    error instanceof NoRespondersError ||
    (error instanceof Error && /jetstream (is )?not (enabled|available)/i.test(error.message))
  ) {
    return "JetStream is not available";
  }
  // Connected, yet no answer in time: said only if it lasts (the caller waits a few seconds).
  if (error instanceof TimeoutError || error instanceof SlowSnapshotError) {
    return "JetStream is not answering";
  }
  return undefined;
}

/** True for JetStream's "wrong last sequence": a compare-and-set (or create) that lost. */
export function isWrongSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10071 || error.code === 10164);
}

const decoder = new TextDecoder();

/** UTF-8 bytes as a JSON object, or `undefined` when not JSON or not an object. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  return isRecord(parsed) ? parsed : undefined;
}

/** A value as a JSON object, or `undefined` when too large, not JSON or not an object. */
export function readJson(value: Uint8Array): Record<string, unknown> | undefined {
  if (value.length === 0 || value.length > MAX_VALUE_BYTES) return undefined;
  return parseJsonObject(value);
}

function text(value: unknown, max = 256): string | undefined {
  return typeof value === "string" && value.length <= max ? value : undefined;
}

/** A collector's name as collectors write it (so it is safe on a terminal and in JSON). */
function collectorName(value: unknown): string | undefined {
  return isSafeName(value) ? value : undefined;
}

function time(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** A lease value, or `undefined` when malformed. */
export function parseLease(value: Uint8Array): Lease | undefined {
  const record = readJson(value);
  if (record === undefined) return undefined;
  const collector = collectorName(ownField(record, "collector"));
  const instance = text(ownField(record, "instance"), 64);
  const since = time(ownField(record, "since"));
  if (collector === undefined || instance === undefined || since === undefined) return undefined;
  return {
    collector,
    instance,
    since,
    ...(ownField(record, "releasing") === true ? { releasing: true } : {}),
    ...(ownField(record, "joined") === true ? { joined: true } : {}),
  };
}

/** A room's settings; unknown or malformed fields are ignored. */
export function parseRoomSettings(value: Uint8Array): RoomSettings {
  const record = readJson(value);
  if (record === undefined) return {};
  const settings: RoomSettings = {};
  const types = ownField(record, "types");
  if (
    Array.isArray(types) && types.length > 0 && types.length <= 64 &&
    types.every((type) => typeof type === "string" && /^[A-Za-z0-9_]{1,64}$/.test(type))
  ) {
    settings.types = [...types] as string[];
  }
  const addedAt = time(ownField(record, "addedAt"));
  if (addedAt !== undefined) settings.addedAt = addedAt;
  return settings;
}

const ROOM_STATES = ["joining", "watching", "releasing"] as const;

/**
 * A heartbeat as JSON, its rooms compact (`[room, since, state, messages,
 * lastMessageAt]`, the state as its index, 0 for no message yet): every
 * collector receives every heartbeat, so its size is what coordination costs.
 */
export function encodeHealth(health: CollectorHealth): string {
  return JSON.stringify({
    ...health,
    rooms: health.rooms.map((room) => [
      room.room,
      room.since,
      ROOM_STATES.indexOf(room.state),
      room.messages,
      room.lastMessageAt ?? 0,
    ]),
  });
}

/** A collector's heartbeat, or `undefined` when malformed. */
export function parseHealth(value: Uint8Array): CollectorHealth | undefined {
  const record = readJson(value);
  if (record === undefined) return undefined;
  const name = collectorName(ownField(record, "name"));
  const instance = text(ownField(record, "instance"), 64);
  const startedAt = time(ownField(record, "startedAt"));
  const updatedAt = time(ownField(record, "updatedAt"));
  const maxRooms = time(ownField(record, "maxRooms"));
  const leaseTtl = time(ownField(record, "leaseTtl"));
  const rawRooms = ownField(record, "rooms");
  const rawCounters = ownField(record, "counters");
  if (
    name === undefined || instance === undefined || startedAt === undefined ||
    updatedAt === undefined || maxRooms === undefined || !Array.isArray(rawRooms)
  ) {
    return undefined;
  }
  const rooms: CollectorRoom[] = [];
  for (const raw of rawRooms.slice(0, 10_000)) {
    if (typeof raw !== "object" || raw === null) continue;
    // Compact (as `encodeHealth` writes it): [room, since, state, messages, lastMessageAt].
    const entry: Record<string, unknown> = Array.isArray(raw)
      ? {
        room: raw[0],
        since: raw[1],
        state: ROOM_STATES[raw[2] as number],
        messages: raw[3],
        lastMessageAt: raw[4] === 0 ? undefined : raw[4],
      }
      : raw as Record<string, unknown>;
    const room = time(ownField(entry, "room"));
    const since = time(ownField(entry, "since"));
    const state = ownField(entry, "state");
    const messages = time(ownField(entry, "messages")) ?? 0;
    const lastMessageAt = time(ownField(entry, "lastMessageAt"));
    if (room === undefined || since === undefined) continue;
    if (state !== "joining" && state !== "watching" && state !== "releasing") continue;
    rooms.push({
      room,
      since,
      state,
      messages,
      ...(lastMessageAt !== undefined ? { lastMessageAt } : {}),
    });
  }
  const counters: Record<string, number> = {};
  if (typeof rawCounters === "object" && rawCounters !== null) {
    for (const [key, count] of Object.entries(rawCounters).slice(0, 64)) {
      if (/^[A-Za-z]{1,32}$/.test(key) && time(count) !== undefined) {
        Object.defineProperty(counters, key, { value: count, enumerable: true, writable: true });
      }
    }
  }
  return {
    name,
    instance,
    startedAt,
    updatedAt,
    maxRooms,
    ...(leaseTtl !== undefined ? { leaseTtl } : {}),
    rooms,
    counters,
  };
}
