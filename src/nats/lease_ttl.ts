/**
 * Changing a running cluster's lease TTL: announced first when it shrinks,
 * adopted by every live collector, only then applied to the heartbeat
 * bucket. Apart from `setup.ts` because it works through the
 * {@linkcode Cluster} handle, which `setup.ts` sits under.
 *
 * @module
 */

import { sleep } from "../base/timers.ts";
import type { Cluster } from "./cluster.ts";
import { ClusterError } from "./errors.ts";
import { COLLECTORS_BUCKET, LEASE_TTL_KEY, MIN_LEASE_TTL } from "./layout.ts";
import { parseHealth, snapshot } from "./records.ts";
import { bucketTtl, ttlConfig, updateBucket } from "./setup.ts";

/** Options of {@linkcode setLeaseTtl}. */
export interface SetLeaseTtlOptions {
  /** Milliseconds to wait for every live collector to adopt a lower TTL. Default: the old TTL + 5 s. */
  timeout?: number;
  /** Aborting it gives up (a lower TTL announced is withdrawn). */
  signal?: AbortSignal;
}

/**
 * Changes the cluster's lease TTL, safely while collectors run. A collector
 * fences its rooms by the TTL it knows, so:
 *
 * - a longer TTL is set on the heartbeat bucket first, then announced: until
 *   a collector sees it, it fences earlier than it must, which is safe;
 * - a shorter TTL is announced first (in `douyu_rooms`); every live
 *   collector adopts it at once and says so in its heartbeat; only once all
 *   have is the bucket changed. A collector that does not adopt it in time
 *   (an older version) leaves the TTL unchanged, and this fails naming it.
 *
 * @param cluster The cluster.
 * @param ttl The new TTL, ms (at least 1000).
 * @param options How long to wait for the collectors.
 * @returns The previous TTL, ms.
 * @throws {ClusterError} when a live collector did not adopt a lower TTL in time.
 *
 * @example
 * ```ts ignore
 * import { Cluster, setLeaseTtl } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await setLeaseTtl(cluster, 10_000);
 * ```
 */
export async function setLeaseTtl(
  cluster: Cluster,
  ttl: number,
  options: SetLeaseTtlOptions = {},
): Promise<number> {
  if (!Number.isSafeInteger(ttl) || ttl < MIN_LEASE_TTL) {
    throw new RangeError(`leaseTtl must be an integer of at least ${MIN_LEASE_TTL}, got ${ttl}`);
  }
  const { jsm, rooms } = cluster;
  const previous = await bucketTtl(jsm, COLLECTORS_BUCKET);
  const announce = (value: number) => rooms.put(LEASE_TTL_KEY, JSON.stringify({ leaseTtl: value }));
  if (ttl >= previous) {
    if (ttl > previous) await updateBucket(jsm, COLLECTORS_BUCKET, ttlConfig(ttl));
    await announce(ttl);
    return previous;
  }
  await announce(ttl);
  const deadline = Date.now() + (options.timeout ?? previous + 5000);
  const stop = options.signal ?? new AbortController().signal;
  let behind: string[] = [];
  for (;;) {
    const beats = await snapshot(cluster.js, jsm, COLLECTORS_BUCKET);
    behind = [];
    for (const entry of beats.values()) {
      const health = parseHealth(entry.value);
      if (health !== undefined && !(health.leaseTtl !== undefined && health.leaseTtl <= ttl)) {
        behind.push(health.name);
      }
    }
    if (behind.length === 0 || Date.now() > deadline || stop.aborted) break;
    await sleep(250, stop);
  }
  if (behind.length > 0) {
    await announce(previous);
    throw new ClusterError(
      `lease TTL left at ${previous / 1000} s: collector${behind.length === 1 ? "" : "s"} ${
        behind.sort().join(", ")
      } did not adopt ${ttl / 1000} s in time (an older version?)`,
    );
  }
  await updateBucket(jsm, COLLECTORS_BUCKET, ttlConfig(ttl));
  return previous;
}
