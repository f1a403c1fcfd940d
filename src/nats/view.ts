/**
 * A bucket kept in memory: read once (a snapshot), then followed change by
 * change (a watch from the snapshot's revision on), so a collector knows the
 * desired rooms, the leases and the live collectors without reading them
 * again and again. Reloaded only when asked (after a reconnect, and rarely
 * otherwise), when its watch ends, or again after a reload that failed.
 *
 * @module
 */

import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { backoffDelay, childController, sleep } from "../base/timers.ts";
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
  /**
   * The current load's work (its watch, its retries): aborted by the next
   * load() and by stop(), and with the signal load() was given.
   */
  #scope: ReturnType<typeof childController> | undefined;
  /** The watches being followed and the retries under way, for stop() to await. */
  readonly #tasks = new Set<Promise<void>>();

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
   * Rejects when the snapshot fails: the view keeps what it had, and tries
   * again in the background, backing off, until one succeeds or a newer
   * load(), stop() or `signal` ends it.
   */
  async load(signal: AbortSignal): Promise<void> {
    const scope = childController(signal);
    this.#supersede(scope);
    try {
      await this.#reload(scope.signal);
    } catch (error) {
      // Its watch is stopped and none started: left alone, the view would follow nothing until
      // the caller's next load (the coordinator's resync is minutes away). Retried until one
      // succeeds, a newer load() takes over, stop() is called or `signal` aborts.
      this.#track(this.#retry(scope.signal, true));
      throw error;
    }
  }

  /** Stops following the bucket (and retrying); resolves once the watch has ended. */
  async stop(): Promise<void> {
    this.#supersede(undefined);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Ends the previous load's work (its watch, a retry waiting); `next` is the current one's. */
  #supersede(next: ReturnType<typeof childController> | undefined): void {
    this.#scope?.abort();
    this.#scope?.release();
    this.#scope = next;
  }

  /** A snapshot, then a watch from its revision on, until `scope` aborts. */
  async #reload(scope: AbortSignal): Promise<void> {
    const { entries, revision } = await snapshotAt(this.#js, this.#jsm, this.#bucket);
    if (scope.aborted) return;
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
    if (scope.aborted) {
      watch.stop();
      return;
    }
    const stop = () => watch.stop();
    scope.addEventListener("abort", stop, { once: true });
    this.#track((async () => {
      try {
        for await (const change of watch) {
          if (scope.aborted) break;
          const deleted = change.operation === "DEL" || change.operation === "PURGE";
          const entry = deleted ? undefined : {
            value: change.value,
            revision: change.revision,
            created: change.created.getTime(),
            seenAt: performance.now(),
          };
          this.#apply(change.key, entry, change.revision, false);
        }
      } catch {
        // A watch (or a listener) that failed ended it all the same: as below.
      } finally {
        scope.removeEventListener("abort", stop);
      }
      // A watch that ended by itself (its consumer gone for good): read the bucket again.
      await this.#retry(scope, false);
    })());
  }

  /**
   * Reads the bucket again until that succeeds (a watch follows it again),
   * backing off between attempts, or until `scope` aborts. `wait`: back off
   * before the first attempt too (one just failed).
   */
  async #retry(scope: AbortSignal, wait: boolean): Promise<void> {
    for (let attempt = wait ? 1 : 0; !scope.aborted; attempt++) {
      if (attempt > 0) {
        await sleep(backoffDelay(attempt, { initial: 250, max: RETRY_MAX_MS }), scope);
        if (scope.aborted) return;
      }
      try {
        await this.#reload(scope);
        return;
      } catch {
        // The next attempt, later.
      }
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    const done = () => void this.#tasks.delete(task);
    task.then(done, done);
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
