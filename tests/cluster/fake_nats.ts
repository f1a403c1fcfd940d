/**
 * A minimal NATS server over `node:net`, for answers a real nats-server never
 * gives (acks with broken headers, say): INFO, CONNECT, PING/PONG, SUB/UNSUB,
 * and PUB/HPUB handed to the test, which may reply on the publish's reply
 * subject. Listens on 127.0.0.1 on a free port.
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** One publish the server received. */
export interface FakePublish {
  subject: string;
  reply: string;
  header: string;
  body: Uint8Array;
}

/** Replies on a publish's reply subject: with a header block (`"NATS/1.0\r\n…\r\n\r\n"`) or none. */
export type FakeReply = (header: string | undefined, body: string) => void;

/** A running fake server. */
export interface FakeNats {
  url: string;
  close(): Promise<void>;
}

/** Starts a fake server; `answer` sees every publish. */
export async function startFakeNats(
  answer: (publish: FakePublish, reply: FakeReply) => void,
): Promise<FakeNats> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const subscriptions = new Map<string, string>(); // sid → subject (no wildcards needed here)
    const info = { server_id: "FAKE", version: "2.10.0", proto: 1, headers: true };
    socket.write(`INFO ${JSON.stringify({ ...info, max_payload: 1048576 })}\r\n`);
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf("\r\n");
        if (end < 0) return;
        const [op, ...args] = pending.subarray(0, end).toString().split(" ");
        if (op === "HPUB" || op === "PUB") {
          const total = Number(args[args.length - 1]);
          const headerBytes = op === "HPUB" ? Number(args[args.length - 2]) : 0;
          if (pending.length < end + 2 + total + 2) return;
          const payload = pending.subarray(end + 2, end + 2 + total);
          pending = pending.subarray(end + 4 + total);
          const hasReply = op === "HPUB" ? args.length === 4 : args.length === 3;
          const reply = hasReply ? args[1]! : "";
          answer({
            subject: args[0]!,
            reply,
            header: payload.subarray(0, headerBytes).toString(),
            body: new Uint8Array(payload.subarray(headerBytes)),
          }, (header, body) => {
            const sid = [...subscriptions].find(([, subject]) =>
              subject === reply ||
              (subject.endsWith(".*") && reply.startsWith(subject.slice(0, -1)))
            )?.[0];
            if (sid === undefined) return;
            const size = Buffer.byteLength(body);
            if (header === undefined) socket.write(`MSG ${reply} ${sid} ${size}\r\n${body}\r\n`);
            else {
              const h = Buffer.byteLength(header);
              socket.write(`HMSG ${reply} ${sid} ${h} ${h + size}\r\n${header}${body}\r\n`);
            }
          });
          continue;
        }
        pending = pending.subarray(end + 2);
        if (op === "PING") socket.write("PONG\r\n");
        else if (op === "SUB") subscriptions.set(args[args.length - 1]!, args[0]!);
        else if (op === "UNSUB") subscriptions.delete(args[0]!);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
