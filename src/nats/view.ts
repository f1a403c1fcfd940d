/**
 * A bucket kept in memory: read once (a snapshot), then followed change by
 * change (a watch from the snapshot's revision on), so a collector knows the
 * desired rooms, the leases and the live collectors without reading them
 * again and again. Reloaded only when asked (after a reconnect, and rarely
 * otherwise), or when its watch ends.
 *
 * @module
 */

import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { backoffDelay, sleep } from "../base/timers.ts";
import { snapshotAt } from "./records.ts";

/** One live entry of a {@linkcode BucketView}. */
export interface ViewEntry {
  /** The value. */
  readonly value: Uint8Array;
  /** Its revision. */
  readonly revision: number;
  /** When the server stored it, ms since the epoch (the server's clock). */
  readonly created: number;
  /** When this process learned of it, ms on the monotonic clock (`performance.now()`). */
  readonly seenAt: number;
}

/**
 * A change a {@linkcode BucketView} reports: the entry now, `undefined` when
 * deleted. `reloaded`: found by reading the bucket again, not seen on the
 * watch (a key then missing was deleted, or expired, while it was not
 * followed).
 */
export type ViewListener = (key: string, entry: ViewEntry | undefined, reloaded: boolean) => void;

/** Longest wait between two attempts to reload a view whose watch failed. */
const RETRY_MAX_MS = 5000;

/**
 * The live entries of a bucket, kept up to date. Changes are applied by
 * revision: one older than what the view has for its key (a snapshot and a
 * watch overlap) is ignored. Expired entries (buckets with a TTL) are not
 * reported by NATS; readers judge them by `created`.
 *
 * @example
 * ```ts ignore
 * const view = new BucketView(cluster.js, cluster.jsm, cluster.rooms, "douyu_rooms", onChange);
 * await view.load(signal);
 * console.log(view.entries.size);
 * ```
 */
export class BucketView {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #kv: KV;
  readonly #bucket: string;
  readonly #listener: ViewListener;
  readonly #entries = new Map<string, ViewEntry>();
  /** The revision of each key's last change, deletions included. */
  readonly #revisions = new Map<string, number>();
  #generation = 0;
  #stopWatch: (() => void) | undefined;
  #following: Promise<void> = Promise.resolve();

  /**
   * @param js The JetStream client.
   * @param jsm The JetStream manager.
   * @param kv The bucket.
   * @param bucket Its name.
   * @param listener Told of every change after the first load (and of the differences a reload finds).
   */
  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    kv: KV,
    bucket: string,
    listener: ViewListener,
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#kv = kv;
    this.#bucket = bucket;
    this.#listener = listener;
  }

  /** The live entries by key. */
  get entries(): ReadonlyMap<string, ViewEntry> {
    return this.#entries;
  }

  /**
   * Reads the bucket afresh and follows it from there, until `signal`
   * aborts. Entries that changed while it was not followed are reported.
   * Rejects when the snapshot fails (the view keeps what it had).
   */
  async load(signal: AbortSignal): Promise<void> {
    const generation = ++this.#generation;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    const { entries, revision } = await snapshotAt(this.#js, this.#jsm, this.#bucket);
    if (generation !== this.#generation || signal.aborted) return;
    const seenAt = performance.now();
    // The snapshot is the truth: deletions it no longer shows need no memory (the watch
    // starts after it).
    this.#revisions.clear();
    for (const key of [...this.#entries.keys()]) {
      if (!entries.has(key)) this.#apply(key, undefined, revision, true);
    }
    for (const [key, entry] of entries) {
      const known = this.#entries.get(key);
      this.#revisions.set(key, entry.revision);
      if (known?.revision === entry.revision) continue;
      this.#apply(key, { ...entry, seenAt }, entry.revision, true);
    }
    const watch = await this.#kv.watch({ resumeFromRevision: revision + 1 });
    if (generation !== this.#generation || signal.aborted) {
      watch.stop();
      return;
    }
    const stop = () => watch.stop();
    signal.addEventListener("abort", stop, { once: true });
    this.#stopWatch = () => {
      signal.removeEventListener("abort", stop);
      watch.stop();
    };
    this.#following = (async () => {
      try {
        for await (const change of watch) {
          if (generation !== this.#generation) break;
          const deleted = change.operation === "DEL" || change.operation === "PURGE";
          const entry = deleted ? undefined : {
            value: change.value,
            revision: change.revision,
            created: change.created.getTime(),
            seenAt: performance.now(),
          };
          this.#apply(change.key, entry, change.revision, false);
        }
      } finally {
        signal.removeEventListener("abort", stop);
      }
      // A watch that ended by itself (its consumer gone for good): read the bucket again.
      for (let attempt = 1; generation === this.#generation && !signal.aborted; attempt++) {
        try {
          await this.load(signal);
          return;
        } catch {
          await sleep(backoffDelay(attempt, { initial: 250, max: RETRY_MAX_MS }), signal);
        }
      }
    })();
  }

  /** Stops following the bucket; resolves once the watch has ended. */
  async stop(): Promise<void> {
    this.#generation++;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    await this.#following.catch(() => {});
  }

  #apply(key: string, entry: ViewEntry | undefined, revision: number, fromSnapshot: boolean): void {
    if (!fromSnapshot) {
      if ((this.#revisions.get(key) ?? 0) >= revision) return;
      this.#revisions.set(key, revision);
    }
    if (entry === undefined) {
      if (!this.#entries.delete(key)) return;
    } else {
      this.#entries.set(key, entry);
    }
    this.#listener(key, entry, fromSnapshot);
  }
}
