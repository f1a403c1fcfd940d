/**
 * The desired rooms (`douyu_rooms`) and the cluster's state at a glance:
 * who watches which room, which rooms nobody watches, each room's last
 * message time, each collector's counters.
 *
 * @module
 */

import {
  type Cluster,
  COLLECTORS_BUCKET,
  LEASES_BUCKET,
  ROOMS_BUCKET,
  type RoomSettings,
  STREAM_NAME,
} from "./cluster.ts";
import {
  type CollectorHealth,
  type CollectorRoom,
  parseHealth,
  parseLease,
  parseRoomSettings,
  purgeMarkers,
  roomKey,
  roomOfKey,
  SlowSnapshotError,
  snapshot,
} from "./records.ts";

/**
 * One desired room in a {@linkcode ClusterOverview}.
 *
 * @example
 * ```ts
 * import type { RoomStatus } from "@x/douyu/nats";
 *
 * const status: RoomStatus = { room: 9999, settings: {}, collector: "a" };
 * console.log(status.collector ?? "unassigned"); // "a"
 * ```
 */
export interface RoomStatus {
  /** The room id. */
  room: number;
  /** Its settings. */
  settings: RoomSettings;
  /** The collector holding its lease; absent when unassigned. */
  collector?: string;
  /** Since when that collector holds it, ms since the epoch. */
  since?: number;
  /** What that collector's last heartbeat says of it. */
  state?: CollectorRoom["state"];
  /** When its last message arrived at its collector, ms since the epoch. */
  lastMessageAt?: number;
  /** Messages its collector took from it. */
  messages?: number;
}

/**
 * The cluster at a glance, as {@linkcode overview} reads it.
 *
 * @example
 * ```ts
 * import type { ClusterOverview } from "@x/douyu/nats";
 *
 * const empty: ClusterOverview = { rooms: [], unassigned: [], collectors: [], leaseTtl: 15000 };
 * console.log(empty.unassigned.length); // 0
 * ```
 */
export interface ClusterOverview {
  /** Every desired room, by id. */
  rooms: RoomStatus[];
  /** The desired rooms no live collector holds a lease on. */
  unassigned: number[];
  /** The live collectors (those whose heartbeat has not expired), by name. */
  collectors: CollectorHealth[];
  /** The lease TTL, ms. */
  leaseTtl: number;
  /** What the stream holds now, and may hold. */
  stream?: StreamUsage;
}

/**
 * What the `DOUYU` stream holds now (in {@linkcode ClusterOverview}).
 *
 * @example
 * ```ts
 * import type { StreamUsage } from "@x/douyu/nats";
 *
 * const usage: StreamUsage = { messages: 0, bytes: 0, maxBytes: 2 ** 34, maxAge: 7 * 86_400_000 };
 * console.log(usage.maxBytes / 2 ** 30); // 16
 * ```
 */
export interface StreamUsage {
  /** Messages stored. */
  messages: number;
  /** Bytes stored. */
  bytes: number;
  /** The size it keeps at most (oldest go first), bytes; -1: no limit. */
  maxBytes: number;
  /** The age it keeps at most, ms; 0: no limit. */
  maxAge: number;
  /** When its oldest message was stored, ms since the epoch. */
  firstAt?: number;
  /** When its newest message was stored, ms since the epoch. */
  lastAt?: number;
}

/** Delete markers older than this are purged by `addRooms` and `removeRooms`. */
const MARKER_GRACE_MS = 60_000;

/**
 * Adds rooms to the desired set (an existing room's settings are replaced).
 * Collectors pick them up within a scan.
 *
 * @param cluster The cluster.
 * @param rooms Room ids.
 * @param settings Settings for these rooms, e.g. `{ types: ["chatmsg"] }`.
 *
 * @example
 * ```ts ignore
 * import { addRooms, Cluster } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await addRooms(cluster, [9999, 288016]);
 * ```
 */
export async function addRooms(
  cluster: Cluster,
  rooms: readonly number[],
  settings: RoomSettings = {},
): Promise<void> {
  for (const room of rooms) checkRoom(room);
  const value = JSON.stringify({ ...settings, addedAt: settings.addedAt ?? Date.now() });
  await Promise.all(rooms.map((room) => cluster.rooms.put(roomKey(room), value)));
  await purgeOldMarkers(cluster, MARKER_GRACE_MS);
}

/**
 * Removes rooms from the desired set; their collectors stop them within a
 * scan and release their leases.
 *
 * @param cluster The cluster.
 * @param rooms Room ids.
 *
 * @example
 * ```ts ignore
 * import { Cluster, removeRooms } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await removeRooms(cluster, [288016]);
 * ```
 */
export async function removeRooms(
  cluster: Cluster,
  rooms: readonly number[],
  options: { markerGrace?: number } = {},
): Promise<void> {
  for (const room of rooms) checkRoom(room);
  await Promise.all(rooms.map((room) => cluster.rooms.delete(roomKey(room))));
  await purgeOldMarkers(cluster, options.markerGrace ?? MARKER_GRACE_MS);
}

/**
 * Purges the delete markers older than `grace` ms from the rooms and leases
 * buckets: a removed room (or a released lease) leaves one, which every
 * reader would otherwise read forever. The grace lets the collectors'
 * watches see the deletion first.
 */
async function purgeOldMarkers(cluster: Cluster, grace: number): Promise<void> {
  await Promise.all([
    purgeMarkers(cluster.js, cluster.jsm, ROOMS_BUCKET, grace),
    purgeMarkers(cluster.js, cluster.jsm, LEASES_BUCKET, grace),
  ]);
}

/**
 * Reads the desired rooms, the leases and the heartbeats: who watches what,
 * what is unassigned, and each room's last message time (from its
 * collector's last heartbeat, so up to a heartbeat interval old).
 *
 * @param cluster The cluster.
 * @returns The overview.
 *
 * @example
 * ```ts ignore
 * import { Cluster, overview } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * const { unassigned, collectors } = await overview(cluster);
 * console.log(unassigned, collectors.map((c) => [c.name, c.rooms.length]));
 * ```
 */
export async function overview(cluster: Cluster): Promise<ClusterOverview> {
  // A bucket read that a busy (or re-electing) server cut short is read again, twice at most.
  const read = async (bucket: string) => {
    for (let attempt = 1;; attempt++) {
      try {
        return await snapshot(cluster.js, cluster.jsm, bucket);
      } catch (error) {
        if (!(error instanceof SlowSnapshotError) || attempt === 3) throw error;
      }
    }
  };
  const [desired, leases, heartbeats, stream] = await Promise.all([
    read(ROOMS_BUCKET),
    read(LEASES_BUCKET),
    read(COLLECTORS_BUCKET),
    cluster.jsm.streams.info(STREAM_NAME).catch(() => undefined),
  ]);
  const collectors: CollectorHealth[] = [];
  /** Per instance: its rooms, from its heartbeat. */
  const reported = new Map<string, Map<number, CollectorRoom>>();
  for (const entry of heartbeats.values()) {
    const health = parseHealth(entry.value);
    if (health === undefined) continue;
    collectors.push(health);
    reported.set(health.instance, new Map(health.rooms.map((room) => [room.room, room])));
  }
  collectors.sort((a, b) => a.name.localeCompare(b.name));
  const rooms: RoomStatus[] = [];
  const unassigned: number[] = [];
  for (const [key, entry] of desired) {
    const room = roomOfKey(key);
    if (room === undefined) continue;
    const status: RoomStatus = { room, settings: parseRoomSettings(entry.value) };
    const leaseEntry = leases.get(key);
    const lease = leaseEntry === undefined ? undefined : parseLease(leaseEntry.value);
    // A lease is valid while its holder's session (its heartbeat) lives.
    if (lease === undefined || !reported.has(lease.instance)) {
      unassigned.push(room);
    } else {
      status.collector = lease.collector;
      status.since = lease.since;
      const seen = reported.get(lease.instance)?.get(room);
      if (seen !== undefined) {
        status.state = seen.state;
        status.messages = seen.messages;
        if (seen.lastMessageAt !== undefined) status.lastMessageAt = seen.lastMessageAt;
      }
    }
    rooms.push(status);
  }
  rooms.sort((a, b) => a.room - b.room);
  unassigned.sort((a, b) => a - b);
  const view: ClusterOverview = { rooms, unassigned, collectors, leaseTtl: cluster.leaseTtl };
  if (stream !== undefined) {
    const { state, config } = stream;
    const time = (text: string) => Date.parse(text);
    view.stream = {
      messages: state.messages,
      bytes: state.bytes,
      maxBytes: config.max_bytes,
      maxAge: Math.round(config.max_age / 1e6),
      ...(state.messages > 0 && Number.isFinite(time(state.first_ts))
        ? { firstAt: time(state.first_ts), lastAt: time(state.last_ts) }
        : {}),
    };
  }
  return view;
}

function checkRoom(room: number): void {
  if (!Number.isSafeInteger(room) || room < 1) {
    throw new RangeError(`a room id must be a positive integer, got ${room}`);
  }
}
