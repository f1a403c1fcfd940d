/**
 * The bundled sample room: every chat has its own id (`cid`), in a pass and
 * from one pass to the next, so that what drops repeated ids (the overlay's
 * page, NATS de-duplication) shows every chat of the demo. The cluster half
 * is `tests/cluster/sample_test.ts`.
 */
import assert from "node:assert/strict";
import type { OverlayEvent } from "../src/overlay/events.ts";
import { isType, parseMessage } from "../src/protocol/messages.ts";
import { connect } from "../src/session/session.ts";
import { SAMPLE_ROOM, samplePass, sampleRecording } from "../src/testing/sample.ts";
import { command, serveSample } from "./commands.ts";
import { test } from "./harness.ts";

/** The sample's chat messages, in order: one pass's worth. */
const CHATS = sampleRecording().map((line) => parseMessage(line.body))
  .filter((message) => isType(message, "chatmsg"));
const TEXTS = CHATS.map((chat) => chat.txt);

/** Reads an overlay's event stream until `enough` says so (or 60 s pass). */
async function readChat(
  url: string,
  enough: (chats: Extract<OverlayEvent, { type: "chat" }>[]) => boolean,
): Promise<Extract<OverlayEvent, { type: "chat" }>[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  const chats: Extract<OverlayEvent, { type: "chat" }>[] = [];
  const response = await fetch(`${url}events`, { signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (!enough(chats)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end; (end = buffer.indexOf("\n\n")) >= 0; buffer = buffer.slice(end + 2)) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        const event = data === undefined ? undefined : JSON.parse(data) as OverlayEvent;
        if (event?.type === "chat") chats.push(event);
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
    await reader.cancel().catch(() => {});
  }
  return chats;
}

test("sample: every chat has its own cid, shaped as Douyu's; passes from two starts share none", () => {
  assert.equal(CHATS.length, 14);
  const ids = CHATS.map((chat) => chat.cid);
  for (const id of ids) assert.match(id ?? "", /^[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, ids.length, `repeated ids: ${ids}`);
  const later = sampleRecording(Date.UTC(2024, 4, 1, 12, 0, 18)).map((line) =>
    parseMessage(line.body)
  ).flatMap((message) => isType(message, "chatmsg") ? [message.cid] : []);
  assert.equal(new Set([...ids, ...later]).size, 2 * ids.length);
  // Two passes made back to back still differ.
  const first = samplePass().map((line) => line.body).join("\n");
  assert.notEqual(samplePass().map((line) => line.body).join("\n"), first);
});

test("douyu serve --loop: each pass of the sample brings every chat again, with new ids", async () => {
  const { serve, url } = await serveSample(50);
  try {
    await using session = await connect(SAMPLE_ROOM, { url, types: ["chatmsg"] });
    const received: { txt?: string; cid?: string }[] = [];
    for await (const chat of session) {
      received.push(chat);
      if (received.length === 2 * CHATS.length) break;
    }
    assert.deepEqual(received.map((chat) => chat.txt), [...TEXTS, ...TEXTS]);
    assert.equal(new Set(received.map((chat) => chat.cid)).size, received.length);
  } finally {
    serve.stop.abort("SIGINT");
    assert.equal(await serve.code, 0);
  }
});

test("the sample played through the overlay: every chat of two passes, each with its own id", async () => {
  const { serve, url } = await serveSample(50);
  const overlay = command(["overlay", "--url", url, "--port", "0", String(SAMPLE_ROOM)]);
  try {
    const [, page] = await overlay.match(/^overlay: (\S+) {2}\(Ctrl-C stops\)$/m);
    const chats = await readChat(page!, (chats) => chats.length >= 2 * CHATS.length);
    assert.deepEqual(chats.map((chat) => chat.text), [...TEXTS, ...TEXTS]);
    // The page shows an id once (a reconnect never shows a line twice): every one must differ.
    assert.equal(new Set(chats.map((chat) => chat.id)).size, chats.length);
  } finally {
    overlay.stop.abort("SIGINT");
    serve.stop.abort("SIGINT");
    assert.equal(await overlay.code, 0);
    assert.equal(await serve.code, 0);
  }
});

test("douyu overlay --demo: a user's second chat is not taken for a repeat of the first", async () => {
  const overlay = command(["overlay", "--demo", "--port", "0"]);
  try {
    const [, page] = await overlay.match(/^overlay: (\S+) {2}\(Ctrl-C stops\)$/m);
    // Lucky_Cat's second chat comes 7 s into the demo's first pass.
    const second = CHATS.findIndex((chat, i) => i > 1 && chat.uid === CHATS[1]!.uid);
    const chats = await readChat(page!, (chats) => chats.length > second);
    assert.deepEqual(chats.map((chat) => chat.text), TEXTS.slice(0, second + 1));
    assert.equal(new Set(chats.map((chat) => chat.id)).size, chats.length);
  } finally {
    overlay.stop.abort("SIGINT");
    assert.equal(await overlay.code, 0);
  }
});
