/**
 * What one collector knows of the others: each live one's heartbeat (its
 * session, its limit, until when it surely lives), and the sessions known to
 * have ended for good, which is what lets it take their rooms.
 *
 * @module
 */

import type { Cluster, Lease } from "./cluster.ts";
import { parseHealth } from "./records.ts";
import { renewInterval, type SessionLease } from "./leases.ts";
import type { Link } from "./link.ts";
import type { ViewEntry } from "./view.ts";

/** Most ended sessions remembered (a few hundred bytes each). */
export const MAX_DEAD = 10_000;

/** One live collector, as its heartbeat says. */
interface Peer {
  instance: string;
  /** Its `maxRooms`. */
  maxRooms: number;
  /** Until when its heartbeat surely lives, monotonic ms (an estimate: verified before use). */
  expiresAt: number;
  leaseTtl: number | undefined;
}

/** What {@linkcode Peers} needs of the coordinator that keeps it. */
export interface PeersContext {
  readonly name: string;
  readonly cluster: Cluster;
  readonly link: Link;
  readonly session: SessionLease;
  /** This session's id (a new one after a fence). */
  instance(): string;
}

/** The other collectors, as one collector knows them; see the module documentation. */
export class Peers {
  readonly #c: PeersContext;
  readonly #peers = new Map<string, Peer>();
  /** Instances known to be gone for good (a session never comes back). */
  readonly #dead = new Set<string>();

  constructor(context: PeersContext) {
    this.#c = context;
  }

  /**
   * A heartbeat was seen, or went (`entry` undefined). True when who is live
   * changed, which changes the shares.
   */
  seen(key: string, entry: ViewEntry | undefined, reloaded: boolean): boolean {
    const before = this.#peers.get(key);
    let revived = false;
    if (entry === undefined) {
      this.#peers.delete(key);
      // Deleted (a collector stopping): its session has ended. Missing from a reread: maybe
      // expired, maybe not; a claim of its rooms asks the server first.
      if (before !== undefined && !reloaded) this.#markDead(before.instance);
    } else {
      const health = parseHealth(entry.value);
      // Not a heartbeat (a foreign or hostile write, or a later version's format): it says
      // nothing of whether a session ended. What was known stands until it expires, and the
      // collector's own next renewal overwrites the value.
      if (health === undefined) return false;
      const ttl = this.#c.session.ttl;
      const age = Math.min(ttl, Math.max(0, Date.now() - entry.created));
      this.#peers.set(key, {
        instance: health.instance,
        maxRooms: health.maxRooms,
        expiresAt: entry.seenAt + ttl - age,
        leaseTtl: health.leaseTtl,
      });
      // A session that heartbeats is live, whatever was concluded before (its key deleted by
      // someone else, say): it renews its heartbeat within a renewal interval.
      revived = this.#dead.delete(health.instance);
      if (before !== undefined && before.instance !== health.instance) {
        this.#markDead(before.instance);
      }
    }
    // Only a change of who is live changes the shares.
    return revived || before?.instance !== this.#peers.get(key)?.instance;
  }

  /**
   * Remembers that a session ended, forgetting the oldest past
   * {@linkcode MAX_DEAD}: the values come from the bucket, which anyone with
   * write access can fill. A session forgotten is asked of the server again.
   */
  #markDead(instance: string): void {
    this.#dead.delete(instance);
    this.#dead.add(instance);
    if (this.#dead.size > MAX_DEAD) {
      this.#dead.delete(this.#dead.values().next().value!);
    }
  }

  /**
   * The live collectors (this one's `instance` first), each other one's
   * limit with a count of its rooms to fill in, and when the first of their
   * heartbeats expires (monotonic ms).
   */
  live(now: number): {
    live: Set<string>;
    loads: Map<string, { maxRooms: number; held: number }>;
    nextExpiry: number;
  } {
    const live = new Set([this.#c.instance()]);
    /** Per live collector: its limit, and how many rooms it holds. */
    const loads = new Map<string, { maxRooms: number; held: number }>();
    let nextExpiry = Infinity;
    for (const [name, peer] of this.#peers) {
      if (name !== this.#c.name && peer.expiresAt > now && !this.#dead.has(peer.instance)) {
        live.add(peer.instance);
        loads.set(peer.instance, { maxRooms: peer.maxRooms, held: 0 });
        nextExpiry = Math.min(nextExpiry, peer.expiresAt);
      }
    }
    return { live, loads, nextExpiry };
  }

  /** True when another collector is live, as far as this one knows. */
  othersLive(): boolean {
    const now = performance.now();
    for (const [name, peer] of this.#peers) {
      if (name !== this.#c.name && peer.expiresAt > now && !this.#dead.has(peer.instance)) {
        return true;
      }
    }
    return false;
  }

  /**
   * True when a lease's holder has surely ended its session: its heartbeat is
   * gone from the server, or belongs to another instance now.
   */
  async holderGone(lease: Lease): Promise<boolean> {
    if (lease.instance === this.#c.instance()) return false;
    if (this.#dead.has(lease.instance)) return true;
    const entry = await this.#c.link.run(() => this.#c.cluster.collectors.get(lease.collector))
      .catch(() => undefined);
    if (entry === undefined) return false; // unknown: not now
    const health = entry !== null && entry.operation === "PUT"
      ? parseHealth(entry.value)
      : undefined;
    if (health?.instance === lease.instance) {
      // Still alive (the estimate was early): look again in a renewal interval.
      this.#peers.set(lease.collector, {
        instance: health.instance,
        maxRooms: health.maxRooms,
        expiresAt: performance.now() + renewInterval(this.#c.session.ttl),
        leaseTtl: health.leaseTtl,
      });
      return false;
    }
    this.#markDead(lease.instance);
    return true;
  }
}
