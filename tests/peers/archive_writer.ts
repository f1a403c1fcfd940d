/**
 * Writes chat messages into an archive as fast as it is asked, until it is
 * killed: the other side of the archive's `kill -9` test. Each message `i`
 * has the chat id `i` (as 32 hex digits) and the text `#i`. It prints
 * `{"committed": i}` once message `i` and all before it are committed, and
 * `{"written": i, "at": ms}` every 100 messages.
 *
 *   deno run -A tests/peers/archive_writer.ts <file or postgres://…> <room> [rate]
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { Archive } from "../../src/archive/archive.ts";

const [target, roomText, rateText] = process.argv.slice(2);
const room = Number(roomText);
const perMillisecond = Number(rateText ?? 2);
const archive = await Archive.open(target!);
let committed = -1;
const done = new Set<number>();
for (let i = 0;; i++) {
  archive.write({
    t: Date.now(),
    room,
    message: {
      type: "chatmsg",
      uid: String(i % 97),
      nn: `u${i % 97}`,
      txt: `#${i}`,
      cid: i.toString(16).padStart(32, "0"),
    },
  }, {
    onCommitted: () => {
      done.add(i);
      while (done.has(committed + 1)) done.delete(++committed);
      if (committed === i) console.log(JSON.stringify({ committed }));
    },
  });
  if (i % 100 === 0) console.log(JSON.stringify({ written: i, at: Date.now() }));
  if (i % perMillisecond === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
