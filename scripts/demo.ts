/**
 * `deno task demo`: the first command to run. Starts the mock server on
 * 127.0.0.1 replaying the bundled synthetic sample four times faster than
 * recorded (and `MockWebApi`, the stand-in for Douyu's web APIs, so gifts show
 * their names and values),
 * and runs the `douyu` command line tool against it, printing to this
 * terminal. No Douyu server, no file, no network beyond 127.0.0.1.
 *
 * Needs only `--allow-net=127.0.0.1`.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { main } from "../src/cli/cli.ts";
import { formatMessage } from "../src/output/format.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { SAMPLE_ROOM, sampleRecording } from "../src/testing/sample.ts";
import { MockWebApi } from "../src/testing/web_api.ts";

const SPEED = 4;

// Starting now, so times inside messages (when a mute ends) read naturally.
const sample = sampleRecording(Date.now());
// Stop after the last message that has a line of its own: the sample is over.
const shown = sample.filter((line) => formatMessage(parseMessage(line.body)) !== undefined).length;

const encoder = new TextEncoder();
const write = (file: typeof Deno.stdout) => async (text: string) => {
  const bytes = encoder.encode(text);
  for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
};

const interrupt = new AbortController();
const onInterrupt = () => interrupt.abort("SIGINT");
Deno.addSignalListener("SIGINT", onInterrupt);

const server = await MockServer.start({ recording: sample, speed: SPEED });
// A stand-in for Douyu's web APIs, so gifts show their names and values offline.
const web = await MockWebApi.start();
console.error(
  `demo: a mock Douyu server on ${server.url} replays ${sample.length} invented messages ` +
    `at ${SPEED}x speed;\ndemo: this is what \`douyu --url ${server.url} ${SAMPLE_ROOM}\` prints:\n`,
);
let code: number;
try {
  const args = ["--url", server.url, "--gift-api-base", web.url, "--count", String(shown)];
  code = await main([...args, String(SAMPLE_ROOM)], {
    stdout: write(Deno.stdout),
    stderr: write(Deno.stderr),
    color: Deno.stdout.isTerminal() && !Deno.noColor,
    signal: interrupt.signal,
  });
} finally {
  Deno.removeSignalListener("SIGINT", onInterrupt);
  await server.close();
  await web.close();
}
if (code === 0) {
  console.error(
    "\ndemo: next: `deno task start <room>` watches a real room (e.g. 9999 or douyu.com/yyf);" +
      "\ndemo: `deno run -A mod.ts --help` lists the options; `deno task test` runs the tests.",
  );
}
Deno.exit(code);
