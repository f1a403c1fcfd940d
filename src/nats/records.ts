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
}

/** Most entries a snapshot reads: a bucket larger than this is not the cluster's. */
const MAX_ENTRIES = 100_000;
/** A snapshot that receives nothing for this long has everything there is. */
const SNAPSHOT_IDLE_MS = 2000;
/** A snapshot that takes longer fails. */
const SNAPSHOT_LIMIT_MS = 15_000;

/**
 * The live entries of a bucket: the latest value of every key, deleted and
 * expired keys left out. The client's `keys()` and `history()` stop when a
 * delivered entry reports nothing pending, which, on a bucket whose entries
 * are rewritten all the time (leases, heartbeats), may never happen: this
 * stops at the first entry at or past the stream's last sequence when it
 * started (entries are delivered in sequence order), when nothing is
 * pending, or when nothing came for two seconds.
 */
export async function snapshot(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  options: { keysOnly?: boolean } = {},
): Promise<Map<string, BucketEntry>> {
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.`;
  const entries = new Map<string, BucketEntry>();
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return entries;
  const consumer = await js.consumers.get(stream, {
    filter_subjects: `${prefix}>`,
    deliver_policy: DeliverPolicy.LastPerSubject,
    headers_only: options.keysOnly ?? false,
  });
  const messages = await consumer.consume({ max_messages: 1024 });
  const stop = new AbortController();
  let idle = () => {};
  const restartIdle = () => {
    idle();
    idle = setTimer(SNAPSHOT_IDLE_MS, () => messages.stop(), stop.signal);
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
      if (operation === "DEL" || operation === "PURGE") entries.delete(key);
      else entries.set(key, { key, value: message.data, revision: message.seq });
      if (entries.size > MAX_ENTRIES) throw new ClusterError(`bucket ${bucket} is too large`);
      if (message.seq >= state.last_seq || message.info.pending === 0) break;
      restartIdle();
    }
  } finally {
    stop.abort();
    messages.stop();
  }
  if (tooSlow) throw new ClusterError(`reading bucket ${bucket} took over ${SNAPSHOT_LIMIT_MS} ms`);
  return entries;
}

/** The live keys of a bucket (deleted and expired ones excluded). */
export async function listKeys(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
): Promise<Set<string>> {
  return new Set((await snapshot(js, jsm, bucket, { keysOnly: true })).keys());
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
  return { collector, instance, since };
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

/** A collector's heartbeat, or `undefined` when malformed. */
export function parseHealth(value: Uint8Array): CollectorHealth | undefined {
  const record = readJson(value);
  if (record === undefined) return undefined;
  const name = collectorName(ownField(record, "name"));
  const instance = text(ownField(record, "instance"), 64);
  const startedAt = time(ownField(record, "startedAt"));
  const updatedAt = time(ownField(record, "updatedAt"));
  const maxRooms = time(ownField(record, "maxRooms"));
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
    const entry = raw as Record<string, unknown>;
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
  return { name, instance, startedAt, updatedAt, maxRooms, rooms, counters };
}
