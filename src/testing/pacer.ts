/**
 * Keeping the event loop turning while a mock client is streamed to back to
 * back.
 *
 * On Bun, writes to a socket often complete at once, so a loop that awaits
 * one write after another never lets timers run: other connections' heartbeats
 * and idle checks would starve for 100 ms and more. A `setTimeout(0)` costs
 * 1–2 ms, so sleeping on one after every batch would cap streaming at about
 * 30,000 messages a second; a {@linkcode Pacer} waits for a timer turn only
 * when the loop really got none for a few milliseconds.
 *
 * @module
 */
import { sleep } from "../base/timers.ts";

/** Waits for a timer turn only when none happened for this many milliseconds. */
const STARVED_MS = 4;

/** Lets the event loop run timers at least every few milliseconds of a busy loop. */
export class Pacer {
  readonly #signal: AbortSignal;
  /** The marker timer, and whether it fired. */
  #tick: Promise<void> | undefined;
  #tickFired = false;
  #tickArmedAt = 0;

  /** @param signal Aborting it clears the marker timer. */
  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  /**
   * Returns at once when a timer turn happened lately (or the marker timer
   * is younger than a few ms); otherwise waits for one. Then arms a fresh
   * marker timer.
   */
  async yield(): Promise<void> {
    if (this.#tick !== undefined && !this.#tickFired) {
      if (performance.now() - this.#tickArmedAt < STARVED_MS) return;
      await this.#tick;
    }
    this.#tickFired = false;
    this.#tickArmedAt = performance.now();
    this.#tick = sleep(0, this.#signal).then(() => {
      this.#tickFired = true;
    });
  }
}
