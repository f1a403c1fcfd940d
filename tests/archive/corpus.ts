/**
 * A synthetic archive, generated from the real capture
 * (`tests/fixtures/capture_room102965.jsonl`): its chat, gift, entry and
 * other bodies are the templates, its nicknames and texts the vocabulary.
 * Each generated message is a real body shape with new users, texts, chat
 * ids and times, so the archive sees what it would see from Douyu, at any
 * size. Deterministic for a seed: the bench and the tests see the same data.
 */
import { readFile } from "node:fs/promises";
import { type Message, parseMessage } from "../../src/protocol/messages.ts";
import { escapeStt, unescapeStt } from "../../src/protocol/stt.ts";
import { seededRandom } from "../fixtures.ts";

/** One generated message: as the archive is given it, and its raw STT body. */
export interface CorpusItem {
  /** Arrival time, ms since the epoch. */
  t: number;
  room: number;
  message: Message;
  /** The STT body the message was parsed from. */
  body: string;
}

/** What to generate. */
export interface CorpusOptions {
  /** How many messages. */
  messages: number;
  /** Rooms (ids 1001, 1002, …); the first is the busiest. Default 5. */
  rooms?: number;
  /** Days the messages spread over, evenly, from `start`. Default 30. */
  days?: number;
  /** The first message's time, ms. Default 2024-05-01T00:00:00Z. */
  start?: number;
  /** Distinct users per room. Default 50 000. */
  users?: number;
  /** Seed. Default 1. */
  seed?: number;
}

/** The share of each kind of message: a busy room's mix. */
const MIX: ReadonlyArray<[kind: "chat" | "enter" | "gift" | "other", share: number]> = [
  ["chat", 0.6],
  ["enter", 0.25],
  ["gift", 0.12],
  ["other", 0.03],
];

const CAPTURE = new URL("../fixtures/capture_room102965.jsonl", import.meta.url);
const HAN_RUN = /[\u4e00-\u9fff]+/g;
const LATIN_WORD = /[A-Za-z0-9]+/g;
/** Fields whose values are people's words: the vocabulary. */
const WORD_FIELDS =
  /(?:^|\/|@S)(?:nn|txt|nickname|nk|unk|dnic|snic|bnn|receive_nn|content|gfn|gn|sn|dn|donk)@A*=([^/@]*)/g;
/** Typical chat the capture is too short to show, in the same scripts. */
const CHANTS = ["666", "哈哈哈", "主播", "？？？", "gg", "来了", "牛", "awsl", "好", "8888"];

/** The capture as templates and vocabulary. */
export interface CorpusSource {
  chat: string[];
  enter: string[];
  gift: string[];
  other: string[];
  /** Words of 1 to 4 characters, most frequent first. */
  words: string[];
  /** Nickname pieces. */
  names: string[];
  /** Avatar paths seen. */
  avatars: string[];
}

/** Reads the capture into templates and a vocabulary. */
export async function loadSource(): Promise<CorpusSource> {
  const lines = (await readFile(CAPTURE, "utf8")).trim().split("\n").map((line) =>
    JSON.parse(line) as { body: string }
  );
  const source: CorpusSource = {
    chat: [],
    enter: [],
    gift: [],
    other: [],
    words: [],
    names: [],
    avatars: [],
  };
  const counts = new Map<string, number>();
  const count = (word: string) => counts.set(word, (counts.get(word) ?? 0) + 1);
  for (const { body } of lines) {
    const type = /(?:^|\/)type@=([^/]*)\//.exec(body)?.[1] ?? "";
    if (type === "chatmsg") source.chat.push(body);
    else if (type === "uenter") source.enter.push(body);
    else if (type === "dgb") source.gift.push(body);
    else if (["blab", "anbc", "spbc", "noble_num_info", "upgrade"].includes(type)) {
      source.other.push(body);
    }
    for (const match of body.matchAll(WORD_FIELDS)) {
      const value = match[1]!;
      if (value !== "") source.names.push(value);
      for (const run of value.match(HAN_RUN) ?? []) {
        for (let length = 1; length <= 4; length++) {
          for (let i = 0; i + length <= run.length; i++) count(run.slice(i, i + length));
        }
      }
      for (const word of value.match(LATIN_WORD) ?? []) count(word);
    }
    for (const match of body.matchAll(/(?:^|\/)ic@=([^/]*)\//g)) {
      source.avatars.push(unescapeStt(match[1]!));
    }
  }
  for (const chant of CHANTS) counts.set(chant, (counts.get(chant) ?? 0) + 50);
  source.words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  source.names = [...new Set(source.names)];
  source.avatars = [...new Set(source.avatars)];
  return source;
}

/** An index in [0, n) drawn with a Zipf-like skew: low indexes are much more likely. */
function skewed(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(n ** random()) - 1);
}

/**
 * A user in [0, n): the first 1% of users write about a tenth of the
 * messages, the busiest one about 0.5%, as in a lively room.
 */
function someone(random: () => number, n: number): number {
  const r = random();
  return Math.min(n - 1, Math.floor(n * r * r));
}

/** A chat text: one to five words of the vocabulary, sometimes with spaces or punctuation. */
export function chatText(random: () => number, words: readonly string[]): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(random() * random() * 5);
  for (let i = 0; i < n; i++) {
    parts.push(words[skewed(random, words.length)]!);
    const r = random();
    if (i < n - 1) parts.push(r < 0.15 ? " " : r < 0.2 ? "，" : r < 0.23 ? "!" : "");
  }
  return parts.join("");
}

/** A body as its `key@=value/` segments, so fields can be replaced without a regex each time. */
class Template {
  readonly #keys: string[] = [];
  readonly #values: string[] = [];
  constructor(body: string) {
    for (const segment of body.split("/")) {
      if (segment === "") continue;
      const at = segment.indexOf("@=");
      this.#keys.push(at < 0 ? segment : segment.slice(0, at));
      this.#values.push(at < 0 ? "" : segment.slice(at + 2));
    }
  }
  /** The body with these fields replaced (escaped here) or added. */
  fill(fields: ReadonlyMap<string, string>): string {
    let out = "";
    const done = new Set<string>();
    for (let i = 0; i < this.#keys.length; i++) {
      const key = this.#keys[i]!;
      const value = fields.get(key);
      out += `${key}@=${value === undefined ? this.#values[i] : escapeStt(value)}/`;
      if (value !== undefined) done.add(key);
    }
    for (const [key, value] of fields) if (!done.has(key)) out += `${key}@=${escapeStt(value)}/`;
    return out;
  }
}

const hex = (random: () => number, digits: number) => {
  let out = "";
  for (let i = 0; i < digits; i++) out += "0123456789abcdef"[Math.floor(random() * 16)];
  return out;
};

/**
 * Generates `messages` messages in time order over `days` days and `rooms`
 * rooms. Some users chat much more than others, and some all month.
 */
export function* generate(
  source: CorpusSource,
  options: CorpusOptions,
): Generator<CorpusItem> {
  const rooms = options.rooms ?? 5;
  const days = options.days ?? 30;
  const start = options.start ?? Date.UTC(2024, 4, 1);
  const users = options.users ?? 50_000;
  const random = seededRandom(options.seed ?? 1);
  const step = (days * 86_400_000) / options.messages;
  // A few chat servers, each numbering its chats, as Douyu's cids look.
  const servers = Array.from({ length: 8 }, () => hex(random, 16));
  const templates = {
    chat: source.chat.map((body) => new Template(body)),
    enter: source.enter.map((body) => new Template(body)),
    gift: source.gift.map((body) => new Template(body)),
    other: source.other.map((body) => new Template(body)),
  };
  const counters = servers.map(() => Math.floor(random() * 0xffff));
  for (let i = 0; i < options.messages; i++) {
    const t = Math.floor(start + i * step);
    // Room 1 is the busiest: about half of everything.
    const roomIndex = Math.min(rooms - 1, Math.floor(-Math.log2(1 - random() * 0.999)));
    const room = 1001 + roomIndex;
    const user = someone(random, users);
    const uid = 100_000 + roomIndex * 10_000_000 + user * 7;
    const nameSeed = seededRandom(uid);
    const nn = source.names[Math.floor(nameSeed() * source.names.length)]! +
      (nameSeed() < 0.5 ? String(user % 1000) : "");
    const level = 1 + Math.floor(nameSeed() * 60);
    const ic = source.avatars[Math.floor(nameSeed() * source.avatars.length)]!;
    let r = random();
    let kind: "chat" | "enter" | "gift" | "other" = "chat";
    for (const [k, share] of MIX) {
      if (r < share) {
        kind = k;
        break;
      }
      r -= share;
    }
    const choices = templates[kind];
    const template = choices[Math.floor(random() * choices.length)]!;
    const fields = new Map([["rid", String(room)]]);
    if (kind !== "other") {
      fields.set("uid", String(uid)).set("nn", nn).set("level", String(level)).set("ic", ic);
    }
    if (kind === "chat") {
      const server = Math.floor(random() * servers.length);
      const n = counters[server] = (counters[server]! + 1) & 0xffffff;
      const cid = servers[server]! + n.toString(16).padStart(6, "0") + "0100000000";
      fields.set("txt", chatText(random, source.words)).set("cid", cid);
      fields.set("cst", String(t - 1500));
    } else if (kind === "gift") {
      fields.set("gfcnt", String(1 + Math.floor(random() * random() * 100)));
    }
    const body = template.fill(fields);
    yield { t, room, message: parseMessage(body), body };
  }
}
