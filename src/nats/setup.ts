/**
 * Setting the cluster's stream and buckets up on JetStream: created when
 * absent, an existing one changed only by what is given explicitly
 * (retention, replicas), the older layout (leases that expired by
 * themselves) moved to the current one, and the lease TTL changed only by
 * {@linkcode setLeaseTtl}, a guarded operation.
 *
 * @module
 */

import { nanos } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import { ClusterError } from "./errors.ts";
import { sleep } from "../base/timers.ts";
import {
  type ClusterOptions,
  COLLECTORS_BUCKET,
  DEFAULT_DUPLICATE_WINDOW,
  DEFAULT_LEASE_TTL,
  DEFAULT_MAX_AGE,
  DEFAULT_MAX_BYTES,
  LEASE_TTL_KEY,
  LEASES_BUCKET,
  MAX_MESSAGE_BYTES,
  MAX_VALUE_BYTES,
  MIN_LEASE_TTL,
  MIN_STREAM_BYTES,
  READERS_BUCKET,
  STREAM_NAME,
  SUBJECT_PREFIX,
} from "./layout.ts";
import { parseJsonObject } from "./records.ts";

/** A durable reader unused this long is forgotten (its position expires): 30 days. */
export const READER_INACTIVE_MS = 30 * 24 * 3600_000;

/** JetStream's "stream not found". */
export function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

/** JetStream's "insufficient storage resources" (a reservation the server cannot make). */
function isNoStorage(error: unknown): boolean {
  return error instanceof JetStreamApiError && [10023, 10047, 10077].includes(error.code);
}

/** The max age of a bucket's stream, ms (0: none). */
export async function bucketTtl(jsm: JetStreamManager, bucket: string): Promise<number> {
  const info = await jsm.streams.info(`KV_${bucket}`);
  return Math.round(info.config.max_age / 1e6);
}

/** What {@linkcode ensureLayout} set up. */
export interface Layout {
  rooms: KV;
  leases: KV;
  collectors: KV;
  /** The lease TTL the collectors run with, ms. */
  leaseTtl: number;
}

/**
 * The three buckets and the stream, created when absent. The lease TTL is the
 * heartbeat bucket's max age (a collector's rooms are its own while its
 * heartbeat lives); `options.leaseTtl` applies when that bucket is created.
 */
export async function ensureLayout(
  jsm: JetStreamManager,
  kvm: Kvm,
  options: ClusterOptions,
): Promise<Layout> {
  const replicas = options.replicas;
  const rooms = await ensureBucket(jsm, kvm, "douyu_rooms", { replicas });
  // The older layout gave leases a TTL of their own; now they live as long as their holder.
  const oldLeaseTtl = await bucketTtl(jsm, LEASES_BUCKET).catch((error) => {
    if (isNotFound(error)) return 0;
    throw error;
  });
  if (oldLeaseTtl > 0) {
    await updateBucket(jsm, LEASES_BUCKET, { max_age: 0 });
    await updateBucket(jsm, COLLECTORS_BUCKET, ttlConfig(oldLeaseTtl)).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
  }
  const leases = await ensureBucket(jsm, kvm, LEASES_BUCKET, { replicas });
  const collectors = await ensureBucket(jsm, kvm, COLLECTORS_BUCKET, {
    replicas,
    ttl: oldLeaseTtl || options.leaseTtl || DEFAULT_LEASE_TTL,
  });
  // Durable readers' positions: created here, so that a reader needs no right to create it.
  await ensureBucket(jsm, kvm, READERS_BUCKET, {
    replicas,
    ttl: READER_INACTIVE_MS,
    maxValueSize: 4096,
  });
  await ensureStream(jsm, options);
  const bucket = await bucketTtl(jsm, COLLECTORS_BUCKET);
  const announced = await announcedTtl(rooms);
  return {
    rooms,
    leases,
    collectors,
    leaseTtl: Math.min(bucket || DEFAULT_LEASE_TTL, announced ?? Infinity),
  };
}

/**
 * The lease TTL announced in `douyu_rooms` (by {@linkcode setLeaseTtl}, while
 * it lowers it), or `undefined`.
 */
export async function announcedTtl(rooms: KV): Promise<number | undefined> {
  const entry = await rooms.get(LEASE_TTL_KEY).catch(() => null);
  if (entry === null || entry.operation !== "PUT") return undefined;
  return parseTtlValue(entry.value);
}

/** The value of the announcement key, read defensively. */
export function parseTtlValue(value: Uint8Array): number | undefined {
  if (value.length > MAX_VALUE_BYTES) return undefined;
  const ttl = parseJsonObject(value)?.leaseTtl;
  return typeof ttl === "number" && Number.isSafeInteger(ttl) && ttl >= MIN_LEASE_TTL
    ? ttl
    : undefined;
}

export function ttlConfig(ttl: number): Partial<StreamConfig> {
  // JetStream requires the duplicate window to fit in the max age.
  return { max_age: nanos(ttl), duplicate_window: nanos(Math.min(ttl, DEFAULT_DUPLICATE_WINDOW)) };
}

export async function updateBucket(
  jsm: JetStreamManager,
  bucket: string,
  change: Partial<StreamConfig>,
): Promise<void> {
  const info = await jsm.streams.info(`KV_${bucket}`);
  await jsm.streams.update(`KV_${bucket}`, { ...info.config, ...change });
}

/**
 * Opens a bucket, creating it when absent; `replicas`, when given, is applied
 * to an existing one too. Two processes creating the same bucket at once is
 * fine: the loser opens the winner's.
 */
async function ensureBucket(
  jsm: JetStreamManager,
  kvm: Kvm,
  bucket: string,
  settings: { replicas: number | undefined; ttl?: number; maxValueSize?: number },
): Promise<KV> {
  let config: StreamConfig | undefined;
  try {
    config = (await jsm.streams.info(`KV_${bucket}`)).config;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (config === undefined) {
    try {
      return await kvm.create(bucket, {
        history: 1,
        replicas: settings.replicas ?? 1,
        storage: StorageType.File,
        maxValueSize: settings.maxValueSize ?? MAX_VALUE_BYTES,
        ...(settings.ttl !== undefined ? { ttl: settings.ttl } : {}),
      });
    } catch {
      // Created meanwhile by another process: open it below.
    }
  } else if (settings.replicas !== undefined && config.num_replicas !== settings.replicas) {
    await changeReplicas(jsm, `KV_${bucket}`, config, settings.replicas);
  }
  return await kvm.open(bucket);
}

/**
 * How long a change of replicas waits for peers to place them on: a cluster
 * just started, or a busy one whose peers answer late, says "no suitable
 * peers for placement" for a moment (seen under load in the tests).
 */
const PLACEMENT_WAIT_MS = 10_000;

async function changeReplicas(
  jsm: JetStreamManager,
  stream: string,
  config: StreamConfig,
  replicas: number,
): Promise<void> {
  // Bounded by PLACEMENT_WAIT_MS: nothing to abort it from outside.
  const never = new AbortController().signal;
  for (let waited = 0, delay = 250;; waited += delay, delay = Math.min(delay * 2, 2000)) {
    try {
      await jsm.streams.update(stream, { ...config, num_replicas: replicas });
      return;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (/no suitable peers/i.test(text) && waited < PLACEMENT_WAIT_MS) {
        await sleep(delay, never);
        continue;
      }
      throw new ClusterError(
        `cannot change ${stream} from ${config.num_replicas} to ${replicas} replicas: ${text}`,
        { cause: error },
      );
    }
  }
}

/**
 * Creates the message stream when absent; applies explicitly given retention
 * and replicas to an existing one. Without `maxBytes`, a new stream keeps
 * {@linkcode DEFAULT_MAX_BYTES}, or the largest half of it down to 256 MiB
 * that the server has room for (a stream reserves its size).
 */
async function ensureStream(jsm: JetStreamManager, options: ClusterOptions): Promise<void> {
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
  const duplicateWindow = Math.min(options.duplicateWindow ?? DEFAULT_DUPLICATE_WINDOW, maxAge);
  const wanted: Partial<StreamConfig> & { name: string } = {
    name: STREAM_NAME,
    subjects: [`${SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAge),
    max_bytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    max_msg_size: MAX_MESSAGE_BYTES,
    duplicate_window: nanos(duplicateWindow),
    num_replicas: options.replicas ?? 1,
  };
  let config: StreamConfig | undefined;
  try {
    config = (await jsm.streams.info(STREAM_NAME)).config;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (config === undefined) {
    for (;;) {
      try {
        await jsm.streams.add(wanted);
        return;
      } catch (error) {
        const smaller = Math.floor(wanted.max_bytes! / 2);
        if (isNoStorage(error) && options.maxBytes === undefined && smaller >= MIN_STREAM_BYTES) {
          wanted.max_bytes = smaller;
          continue;
        }
        // Created meanwhile by another process?
        config = (await jsm.streams.info(STREAM_NAME).catch(() => {
          throw error;
        })).config;
        break;
      }
    }
  }
  const update: Partial<StreamConfig> = {};
  if (options.maxAge !== undefined && config.max_age !== wanted.max_age) {
    update.max_age = wanted.max_age!;
  }
  if (options.maxBytes !== undefined && config.max_bytes !== wanted.max_bytes) {
    update.max_bytes = wanted.max_bytes!;
  }
  if (
    (options.duplicateWindow !== undefined || update.max_age !== undefined) &&
    config.duplicate_window !== wanted.duplicate_window
  ) {
    update.duplicate_window = wanted.duplicate_window!;
  }
  if (Object.keys(update).length > 0) {
    await jsm.streams.update(STREAM_NAME, { ...config, ...update });
  }
  if (options.replicas !== undefined && config.num_replicas !== options.replicas) {
    await changeReplicas(jsm, STREAM_NAME, { ...config, ...update }, options.replicas);
  }
}
