/**
 * The bundled sample played through the cluster, as a user would run it:
 * `douyu serve --loop`, `douyu rooms add`, `douyu collect --url` and
 * `douyu consume`. NATS drops a chat whose id (`cid`) it has seen within its
 * duplicate window, so every chat of every pass arrives only when each has
 * its own id.
 */
import assert from "node:assert/strict";
import { test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { type Command, command, serveSample } from "../commands.ts";
import { isType, parseMessage } from "../../src/protocol/messages.ts";
import { SAMPLE_ROOM, sampleRecording } from "../../src/testing/sample.ts";

const TEXTS = sampleRecording().map((line) => parseMessage(line.body))
  .flatMap((message) => isType(message, "chatmsg") ? [message.txt] : []);

test("cluster: douyu serve --loop, collect and consume deliver every chat of two passes of the sample", async () => {
  const nats = await startNatsServer();
  const { serve, url } = await serveSample(20);
  let collect: Command | undefined;
  try {
    const rooms = command(["rooms", "--nats", nats.url, "add", String(SAMPLE_ROOM)]);
    assert.equal(await rooms.code, 0, rooms.err());
    collect = command(["collect", "--nats", nats.url, "--name", "a", "--url", url, "--quiet"]);
    const wanted = 2 * TEXTS.length;
    const consume = command([
      "consume",
      "--nats",
      nats.url,
      "--since",
      "1h",
      "--rooms",
      String(SAMPLE_ROOM),
      "--types",
      "chatmsg",
      "--json",
      "--count",
      String(wanted),
    ]);
    // A chat NATS took for a duplicate never comes: give up after a minute, and say so.
    const deadline = setTimeout(() => consume.stop.abort("SIGINT"), 60_000);
    try {
      await consume.code;
    } finally {
      clearTimeout(deadline);
    }
    const chats = consume.out().trim().split("\n").filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { txt?: string; cid?: string });
    assert.deepEqual(chats.map((chat) => chat.txt), [...TEXTS, ...TEXTS], consume.err());
    assert.equal(new Set(chats.map((chat) => chat.cid)).size, wanted);
  } finally {
    collect?.stop.abort("SIGINT");
    serve.stop.abort("SIGINT");
    assert.equal(await collect?.code, 0, collect?.err());
    assert.equal(await serve.code, 0);
    await nats.close();
  }
});
