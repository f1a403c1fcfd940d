/**
 * The overlay's Server-Sent Event streams, written only as fast as each
 * reader reads. A stream holds no queue of its own: a chat stream is a
 * cursor into the server's history (it catches up from there), a widget's
 * stream holds its latest state. Each turn, the {@linkcode StreamSet} writes
 * at most one piece to each stream whose socket has room, so a page that
 * stops reading costs a number and a piece, never a copy of the history, and
 * a thousand replays never hold up a request for the stylesheet.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import { setTimer } from "../base/timers.ts";
import { type MessageFilter, RepeatFolder } from "../output/filters.ts";
import type { Message } from "../protocol/messages.ts";
import type { GiftCatalog } from "../protocol/gifts.ts";
import type { LineEvent, OverlayEvent, StatusEvent } from "./events.ts";
import type { StreamSettings } from "./params.ts";

/**
 * One published line, as the history keeps it: its position in this
 * process's stream, the message (for the per-page filters), the event and
 * the event's JSON (made once, for every page).
 *
 * @example
 * ```ts
 * import type { HistoryEntry } from "./streams.ts";
 *
 * const seqOf = (entry: HistoryEntry) => entry.seq;
 * console.log(typeof seqOf); // "function"
 * ```
 */
export interface HistoryEntry {
  /** Position in the stream: 1, 2, 3… without gaps. */
  seq: number;
  /** The message it came from. */
  message: Message;
  /** The event. */
  event: LineEvent;
  /** `JSON.stringify(event)`. */
  json: string;
  /** The gift catalogue it was normalised with. */
  catalog: GiftCatalog | undefined;
}

/**
 * The last `size` published lines, by sequence number (O(1) lookup: the
 * numbers have no gaps). Trimmed in chunks, so a long-running overlay does
 * not shift the array on every message.
 *
 * @example
 * ```ts
 * import { EventHistory } from "./streams.ts";
 *
 * const history = new EventHistory(2);
 * console.log(history.first, history.last); // 1 0 (empty)
 * ```
 */
export class EventHistory {
  readonly #size: number;
  readonly #entries: HistoryEntry[] = [];
  #last = 0;

  /**
   * An empty history.
   *
   * @param size Entries kept (at least; up to a quarter more before a trim).
   */
  constructor(size: number) {
    this.#size = size;
  }

  /** Sequence number of the oldest entry kept (`last + 1` when empty). */
  get first(): number {
    return this.#entries[0]?.seq ?? this.#last + 1;
  }

  /** Sequence number of the newest entry (0 before the first). */
  get last(): number {
    return this.#last;
  }

  /** Adds a line; returns its entry. */
  push(fields: Omit<HistoryEntry, "seq" | "json">): HistoryEntry {
    const entry: HistoryEntry = {
      ...fields,
      seq: ++this.#last,
      json: JSON.stringify(fields.event),
    };
    this.#entries.push(entry);
    if (this.#entries.length > this.#size * 1.25) {
      this.#entries.splice(0, this.#entries.length - this.#size);
    }
    return entry;
  }

  /** The entry with sequence number `seq`, if still kept. */
  get(seq: number): HistoryEntry | undefined {
    const first = this.first;
    return seq >= first && seq <= this.#last ? this.#entries[seq - first] : undefined;
  }
}

const ENCODER = new TextEncoder();
/** Milliseconds a round of writes may take before it yields to the event loop. */
const ROUND_MS = 4;

/**
 * What {@linkcode EventStream.flush} did: wrote nothing more to write
 * (`idle`), wrote a full piece (`more`), or found the socket full (`blocked`).
 *
 * @example
 * ```ts
 * import type { FlushResult } from "./streams.ts";
 *
 * const result: FlushResult = "blocked";
 * console.log(result);
 * ```
 */
export type FlushResult = "idle" | "more" | "blocked";

/**
 * An SSE response that writes only while its socket keeps up: what it sends
 * next is made on demand ({@linkcode EventStream.produce}), one piece at a
 * time, when the socket's own buffer holds less than a piece.
 *
 * @example
 * ```ts
 * import { EventStream } from "./streams.ts";
 *
 * class Hello extends EventStream {
 *   #sent = false;
 *   produce(): string {
 *     if (this.#sent) return "";
 *     this.#sent = true;
 *     return "data: hello\n\n";
 *   }
 * }
 * console.log(typeof Hello); // "function"
 * ```
 */
export abstract class EventStream {
  readonly #res: ServerResponse;
  #wake: () => void = () => {};
  #waitingForDrain = false;
  #ended = false;
  #keepAlive = false;

  /**
   * A stream over a response.
   *
   * @param res The response, its SSE head already written.
   */
  constructor(res: ServerResponse) {
    this.#res = res;
  }

  /**
   * The next text to send, about `budget` characters at most (one event may
   * pass it); `""` when there is nothing; `undefined` to cut the stream (the
   * page reconnects and resumes).
   */
  abstract produce(budget: number): string | undefined;

  /** Bytes waiting in the socket's buffer (not yet taken by the kernel). */
  get queued(): number {
    return this.#ended ? 0 : this.#res.writableLength;
  }

  /** Whether it has ended (closed, cut or finished). */
  get ended(): boolean {
    return this.#ended || this.#res.destroyed || this.#res.writableEnded;
  }

  /** Called by the set: `wake` schedules a round (after a drain). */
  attach(wake: () => void): void {
    this.#wake = wake;
  }

  /** Asks for a keep-alive comment, sent if nothing else goes out first. */
  keepAlive(): void {
    this.#keepAlive = true;
  }

  /**
   * Writes at most one piece of about `piece` characters, if the socket's
   * buffer holds fewer than `piece` bytes.
   */
  flush(piece: number): FlushResult {
    if (this.ended) {
      this.#ended = true;
      return "idle";
    }
    const res = this.#res;
    if (res.writableLength >= piece) {
      if (!this.#waitingForDrain) {
        this.#waitingForDrain = true;
        res.once("drain", () => {
          this.#waitingForDrain = false;
          this.#wake();
        });
      }
      return "blocked";
    }
    const text = this.produce(piece);
    if (text === undefined) {
      this.cut();
      return "idle";
    }
    if (text === "") {
      if (!this.#keepAlive) return "idle";
      res.write(": keep-alive\n\n");
      this.#keepAlive = false;
      return "idle";
    }
    this.#keepAlive = false;
    // As bytes, so that the socket's buffer is counted in bytes on every runtime.
    res.write(ENCODER.encode(text));
    return text.length >= piece ? "more" : "idle";
  }

  /** Ends the stream abruptly (the page reconnects and resumes). */
  cut(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#res.destroy();
  }

  /** Ends the stream cleanly (the server is closing; the page reconnects later). */
  end(): void {
    if (this.ended) return;
    this.#ended = true;
    this.#res.end();
  }
}

/**
 * The open streams, and the rounds that write to them. A round gives each
 * stream one piece at most and is followed by another (after other work of
 * the event loop) while any stream has more; a stream whose socket is full
 * waits for its `drain`. Past `maxQueued` bytes in all sockets' buffers, the
 * stream with the most waiting is cut.
 *
 * @example
 * ```ts
 * import { StreamSet } from "./streams.ts";
 *
 * const lifetime = new AbortController();
 * const set = new StreamSet({ piece: 16 * 1024, maxQueued: 4 * 1024 * 1024, signal: lifetime.signal });
 * console.log(set.size); // 0
 * lifetime.abort();
 * ```
 */
export class StreamSet {
  readonly #streams = new Set<EventStream>();
  readonly #piece: number;
  readonly #maxQueued: number;
  readonly #signal: AbortSignal;
  #scheduled = false;
  /** Where the next round starts, after a round that ran out of time. */
  #next = 0;
  /** Streams cut because the sockets' buffers held too much in all. */
  cutForMemory = 0;

  /**
   * An empty set.
   *
   * @param options `piece`: characters per write; `maxQueued`: bytes all
   * sockets' buffers may hold; `signal`: the server's lifetime.
   */
  constructor(options: { piece: number; maxQueued: number; signal: AbortSignal }) {
    this.#piece = options.piece;
    this.#maxQueued = options.maxQueued;
    this.#signal = options.signal;
  }

  /** How many streams are open. */
  get size(): number {
    return this.#streams.size;
  }

  /** The open streams. */
  [Symbol.iterator](): IterableIterator<EventStream> {
    return this.#streams.values();
  }

  /** Adds a stream; it leaves the set when its response closes. */
  add(stream: EventStream, res: ServerResponse): void {
    this.#streams.add(stream);
    stream.attach(() => this.wake());
    res.once("close", () => {
      this.#streams.delete(stream);
      // Room in the shared budget: others may go on.
      this.wake();
    });
    this.wake();
  }

  /** Schedules a round (at most one is pending). */
  wake(): void {
    if (this.#scheduled || this.#signal.aborted) return;
    this.#scheduled = true;
    setTimer(0, () => this.#round(), this.#signal);
  }

  /** Bytes waiting in all streams' socket buffers. */
  get queued(): number {
    let total = 0;
    for (const stream of this.#streams) total += stream.queued;
    return total;
  }

  #round(): void {
    this.#scheduled = false;
    const streams = [...this.#streams];
    let total = this.queued;
    let more = false;
    // A round yields after a few milliseconds, so that under many replays the
    // event loop still takes new connections and requests: they wait for
    // their turn behind one short round, not behind every stream's piece.
    const deadline = performance.now() + ROUND_MS;
    for (let i = 0; i < streams.length; i++) {
      const stream = streams[(this.#next + i) % streams.length]!;
      if (performance.now() > deadline) {
        this.#next = (this.#next + i) % streams.length;
        this.wake();
        return;
      }
      if (stream.ended) continue;
      // A piece may become up to 3 bytes a character in UTF-8.
      while (total + this.#piece * 3 > this.#maxQueued) {
        const hog = this.#largest(stream);
        if (hog === undefined) break;
        total -= hog.queued;
        hog.cut();
        this.cutForMemory++;
      }
      if (total + this.#piece * 3 > this.#maxQueued) continue;
      const before = stream.queued;
      if (stream.flush(this.#piece) === "more") more = true;
      total += stream.queued - before;
    }
    this.#next = 0;
    if (more) this.wake();
  }

  /** The stream with the most bytes waiting, other than `except`; none when nothing waits. */
  #largest(except: EventStream): EventStream | undefined {
    let hog: EventStream | undefined;
    for (const stream of this.#streams) {
      if (stream === except || stream.ended || stream.queued === 0) continue;
      if (hog === undefined || stream.queued > hog.queued) hog = stream;
    }
    return hog;
  }
}

/** What a chat stream needs from the server. */
export interface ChatStreamInit {
  /** The page's filter (its parameters over the command's). */
  filter: MessageFilter;
  /** The page's settings. */
  settings: StreamSettings;
  /** The server's history. */
  history: EventHistory;
  /** The stream's boot id, the first half of every SSE id. */
  boot: string;
  /** The current status event (rooms, problems). */
  status: () => StatusEvent;
}

/** Most fold targets remembered per page (line number to event id). */
const MAX_FOLD_LINES = 2000;

/**
 * One page's chat stream: a cursor into the history, with the page's filter
 * and folding. It starts after what the page has, or where its backlog
 * starts, with a prelude of super chats still pinned that are older than
 * the backlog. A page that falls out of the history is cut:
 * it reconnects and gets the backlog.
 *
 * @example
 * ```ts
 * import { ChatStream } from "./streams.ts";
 *
 * console.log(typeof ChatStream.prototype.produce); // "function"
 * ```
 */
export class ChatStream extends EventStream {
  readonly #init: ChatStreamInit;
  readonly #folder: RepeatFolder | undefined;
  readonly #lines = new Map<number, string>();
  #prelude: HistoryEntry[] = [];
  #next: number;
  #statusDirty = true;

  /**
   * A stream that starts with the next line published; see
   * {@linkcode ChatStream.startAt}.
   *
   * @param res The response, its SSE head written.
   * @param init The page's filter and settings, and the server's state.
   */
  constructor(res: ServerResponse, init: ChatStreamInit) {
    super(res);
    this.#init = init;
    this.#folder = init.settings.fold ? new RepeatFolder() : undefined;
    this.#next = init.history.last + 1;
  }

  /**
   * Where the stream starts: `next` is the first sequence number to send,
   * and `prelude` goes before it.
   */
  startAt(next: number, prelude: HistoryEntry[]): void {
    this.#next = next;
    this.#prelude = prelude;
  }

  /** Whether this page shows the entry (before folding). */
  accepts(entry: HistoryEntry): boolean {
    if (entry.event.type === "enter" && !this.#init.settings.enter) return false;
    return this.#init.filter(entry.message, entry.catalog).keep;
  }

  /** Whether the history has moved past what this page still has to read. */
  get behind(): boolean {
    return this.#next < this.#init.history.first;
  }

  /** Whether it has lines to send. */
  get pending(): boolean {
    return this.#statusDirty || this.#prelude.length > 0 ||
      this.#next <= this.#init.history.last;
  }

  /** The status changed: the page gets the new one next. */
  statusChanged(): void {
    this.#statusDirty = true;
  }

  /** The status if it changed, then the lines the page has not had, up to `budget` characters. */
  produce(budget: number): string | undefined {
    let out = "";
    if (this.#statusDirty) {
      this.#statusDirty = false;
      out += `data: ${JSON.stringify(this.#init.status())}\n\n`;
    }
    while (out.length < budget && this.#prelude.length > 0) {
      out += this.#frame(this.#prelude.shift()!);
    }
    const history = this.#init.history;
    while (out.length < budget && this.#next <= history.last) {
      const entry = history.get(this.#next);
      if (entry === undefined) return undefined; // fell out of the history
      this.#next++;
      if (this.accepts(entry)) out += this.#frame(entry);
    }
    return out;
  }

  #frame(entry: HistoryEntry): string {
    const id = `id: ${this.#init.boot}.${entry.seq}\n`;
    const event = entry.event;
    if (event.type === "chat" && this.#folder !== undefined) {
      const fold = this.#folder.fold(event.text, event.time);
      const target = fold.repeat ? this.#lines.get(fold.line) : undefined;
      if (target !== undefined) {
        const folded: OverlayEvent = {
          id: event.id,
          type: "fold",
          room: event.room,
          time: event.time,
          target,
          count: fold.count,
        };
        return `${id}data: ${JSON.stringify(folded)}\n\n`;
      }
      this.#lines.set(fold.line, event.id);
      if (this.#lines.size > MAX_FOLD_LINES) {
        this.#lines.delete(this.#lines.keys().next().value!);
      }
    }
    return `${id}data: ${entry.json}\n\n`;
  }
}
