/**
 * The publisher's two ways out: offered messages written as `HPUB` commands
 * a batch at a time (`src/nats/wire.ts`), and the client's `publish()` when
 * the client has no protocol writer of the expected shape. Both must store the
 * same messages, headers and bodies byte for byte.
 */
import assert from "node:assert/strict";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { startFakeNats } from "./fake_nats.ts";
import { Cluster, STREAM_NAME, subjectOf } from "../../src/nats/mod.ts";
import { headerBlock } from "../../src/nats/cluster.ts";
import { StreamPublisher } from "../../src/nats/publisher.ts";
import { CommandBuffer, protocolWriter } from "../../src/nats/wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A writer that keeps what it is handed, as the client's outbound buffer would. */
function keepingWriter(): { chunks: Uint8Array[]; sendCommand(command: Uint8Array): void } {
  const chunks: Uint8Array[] = [];
  return { chunks, sendCommand: (command) => void chunks.push(command) };
}

test("CommandBuffer: HPUB commands as the client writes them, one chunk per flush", () => {
  const writer = keepingWriter();
  const commands = new CommandBuffer(writer);
  const head = "NATS/1.0\r\nA: 1\r\n\r\n";
  const message = encoder.encode(`${head}{"txt":"主播"}`);
  assert.equal(commands.hpub("douyu.1.chatmsg", "_INBOX.x.1", message, head.length), true);
  assert.equal(commands.hpub("douyu.1.dgb", "_INBOX.x.2", message, head.length), true);
  assert.equal(writer.chunks.length, 0, "nothing handed over before flush");
  commands.flush();
  commands.flush(); // nothing new: nothing handed over
  assert.equal(writer.chunks.length, 1);
  const body = `${head}{"txt":"主播"}`;
  const size = encoder.encode(body).length;
  assert.equal(
    decoder.decode(writer.chunks[0]),
    `HPUB douyu.1.chatmsg _INBOX.x.1 ${head.length} ${size}\r\n${body}\r\n` +
      `HPUB douyu.1.dgb _INBOX.x.2 ${head.length} ${size}\r\n${body}\r\n`,
  );
});

test("CommandBuffer: a subject or reply that would break the command line is refused, nothing appended", () => {
  const writer = keepingWriter();
  const commands = new CommandBuffer(writer);
  const message = encoder.encode("NATS/1.0\r\n\r\n{}");
  for (
    const [subject, reply] of [["douyu.1 x", "r"], ["douyu.1.主播", "r"], ["", "r"], ["s", "r\r\n"]]
  ) {
    assert.equal(commands.hpub(subject!, reply!, message, 12), false, `${subject} ${reply}`);
  }
  assert.equal(commands.hpub("douyu.1.ok", "r", message, 12), true);
  commands.flush();
  assert.equal(
    decoder.decode(writer.chunks[0]),
    "HPUB douyu.1.ok r 12 14\r\nNATS/1.0\r\n\r\n{}\r\n",
  );
});

test("CommandBuffer: bytes handed over are never written again, across full buffers and a command larger than one", () => {
  // Copies of each chunk as it was when handed over, to compare with the chunks at the end.
  const writer = keepingWriter();
  const copies: string[] = [];
  const commands = new CommandBuffer({
    sendCommand(command) {
      writer.sendCommand(command);
      copies.push(decoder.decode(command));
    },
  });
  const small = encoder.encode(`NATS/1.0\r\n\r\n${"x".repeat(1000)}`);
  const large = encoder.encode(`NATS/1.0\r\n\r\n${"y".repeat(600 * 1024)}`);
  for (let i = 0; i < 1200; i++) {
    const message = i === 700 ? large : small;
    assert.equal(commands.hpub("douyu.1.dgb", `r.${i}`, message, 12), true);
    if (i % 7 === 0) commands.flush();
  }
  commands.flush();
  // More than one buffer was filled: some chunks were handed over when one ran out.
  assert.ok(copies.length > Math.ceil(1200 / 7));
  assert.deepEqual(writer.chunks.map((chunk) => decoder.decode(chunk)), copies);
  const all = copies.join("");
  assert.equal(all.split("HPUB ").length - 1, 1200);
  assert.ok(all.includes(`HPUB douyu.1.dgb r.700 12 ${large.length}\r\n`));
});

test("protocolWriter: the pinned client has one; an object without one gets undefined", async () => {
  const nats = await startNatsServer();
  const cluster = await Cluster.connect(nats.url);
  try {
    assert.notEqual(protocolWriter(cluster.connection), undefined);
    assert.equal(protocolWriter(withoutProtocol(cluster.connection)), undefined);
  } finally {
    await cluster.close();
    await nats.close();
  }
});

/** The connection as a client without a protocol writer would look: `publish()` only. */
function withoutProtocol(connection: NatsConnection): NatsConnection {
  return new Proxy(connection, {
    get(target, key) {
      if (key === "protocol") return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

for (const way of ["as commands", "through publish()"] as const) {
  test(`offered messages are stored byte for byte ${way}; a duplicate chat once; one too large dropped, counted`, async () => {
    const nats = await startNatsServer();
    const cluster = await Cluster.connect(nats.url);
    try {
      const connection = way === "as commands"
        ? cluster.connection
        : withoutProtocol(cluster.connection);
      const publisher = new StreamPublisher(connection, { maxPending: 16 });
      const sent: { subject: string; head: string; body: string }[] = [];
      const offer = (room: number, type: string, body: string, msgId?: string) => {
        const head = headerBlock(room, 1_700_000_000_000 + sent.length, "a", msgId);
        const subject = subjectOf(room, type);
        assert.equal(publisher.offer(subject, encoder.encode(head + body), head.length), true);
        return { subject, head, body };
      };
      for (let i = 0; i < 300; i++) {
        const body = JSON.stringify({ type: "chatmsg", txt: `第${i}条 message ${i}` });
        sent.push(offer(1000 + i % 3, "chatmsg", body, `r:${i}`));
      }
      offer(1000, "chatmsg", "{}", "r:5"); // the same chat id again: stored once
      const large = new Uint8Array(2 * 1024 * 1024).fill(0x61);
      const head = headerBlock(1000, 0, "a", undefined);
      const whole = new Uint8Array(head.length + large.length);
      whole.set(encoder.encode(head));
      whole.set(large, head.length);
      assert.equal(publisher.offer(subjectOf(1000, "dgb"), whole, head.length), true);
      assert.equal(await publisher.flush(10_000), 0);
      const counters = publisher.counters;
      assert.equal(counters.published, 301);
      assert.equal(counters.duplicates, 1);
      assert.equal(counters.rejected, 1);
      publisher.close();

      const info = await cluster.jsm.streams.info(STREAM_NAME);
      assert.equal(info.state.messages, 300);
      for (let seq = 1; seq <= 300; seq++) {
        const stored = await cluster.jsm.streams.getMessage(STREAM_NAME, { seq });
        assert.ok(stored !== null, `message ${seq}`);
        const expected = sent[seq - 1]!;
        assert.equal(stored.subject, expected.subject);
        assert.equal(decoder.decode(stored.data), expected.body);
        assert.equal(stored.header.get("Nats-Msg-Id"), `r:${seq - 1}`);
        assert.equal(stored.header.get("Douyu-Collector"), "a");
        assert.equal(
          stored.header.get("Douyu-Received-At"),
          String(1_700_000_000_000 + seq - 1),
        );
      }
    } finally {
      await cluster.close();
      await nats.close();
    }
  });
}

test("an ack whose headers the client cannot decode is no ack: the message is sent again, the client reads on", async () => {
  let publishes = 0;
  const server = await startFakeNats((_publish, reply) => {
    publishes++;
    const ack = `{"stream":"DOUYU","seq":${publishes}}`;
    // The first answer's header key holds a space: the client throws when it decodes it.
    reply(publishes === 1 ? "NATS/1.0\r\nBad Key: 1\r\n\r\n" : undefined, ack);
  });
  const connection = await connect({ servers: server.url, reconnect: false });
  const publisher = new StreamPublisher(connection, { maxPending: 16, ackTimeout: 1000 });
  try {
    const head = headerBlock(1, Date.now(), "a", undefined);
    assert.equal(
      publisher.offer("douyu.1.dgb", encoder.encode(`${head}{"i":1}`), head.length),
      true,
    );
    assert.equal(await publisher.flush(10_000), 0, JSON.stringify(publisher.counters));
    assert.equal(publisher.counters.published, 1);
    assert.equal(publisher.counters.buffered, 0);
    assert.equal(publishes, 2); // sent again after the broken answer
    await connection.flush(); // still read: a PING gets its PONG
  } finally {
    publisher.close();
    await connection.close();
    await server.close();
  }
});

test("publish() refuses a msgId no header can carry, at once, to its caller", async () => {
  const server = await startFakeNats(() => {});
  const connection = await connect({ servers: server.url, reconnect: false });
  const publisher = new StreamPublisher(connection, { maxPending: 16 });
  try {
    for (const msgId of ["a\r\nb", "a b", "", "x".repeat(257)]) {
      await assert.rejects(
        publisher.publish("douyu.1.chatmsg", encoder.encode("{}"), headers(), msgId),
        RangeError,
        JSON.stringify(msgId),
      );
    }
    assert.equal(publisher.counters.buffered, 0);
  } finally {
    publisher.close();
    await connection.close();
    await server.close();
  }
});
