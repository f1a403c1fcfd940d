/**
 * CI smoke test of the single-file binary (`deno run -A scripts/smoke_binary.ts`,
 * the last step of `deno task ci`): builds `dist/douyu-bun` with
 * `deno task compile:bun`, as the README writes it (the task installs the
 * NATS client the binary bundles, then runs `bun build --compile`), runs it
 * against an in-process mock server, and checks its NDJSON output,
 * `--version`, `--help` and a usage error. Prints one line per check and
 * exits non-zero when one failed.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { VERSION } from "../src/cli/cli.ts";
import { formatJson } from "../src/output/format.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { encodeStt } from "../src/protocol/stt.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BINARY = `${ROOT}dist/douyu-bun`;

const MESSAGES = [
  encodeStt({
    type: "chatmsg",
    rid: 9999,
    uid: 1,
    nn: "Ann",
    txt: "hello a/b @x",
    level: 12,
    dms: 5,
  }),
  encodeStt({
    type: "dgb",
    rid: 9999,
    nn: "Bo",
    gfid: 824,
    gfcnt: 1,
    hits: 2,
    el: [{ eid: 1500000113, etp: 1 }],
  }),
  "type@=uenter/rid@=9999/nn@=小鱼干/level@=3/",
  "type@=synexp/o_lev@=56/rid@=9999/",
  "type@=chatmsg/rid@=9999/nn@=\u001b[31mEvil\u0007/txt@=\u001b]0;x\u0007hi/dms@=5/",
];

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(command: string, args: string[]): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

let failed = false;
function check(name: string, pass: boolean, detail: () => string): void {
  console.log(`${pass ? "ok  " : "FAIL"} ${name}`);
  if (!pass) {
    console.log(detail());
    failed = true;
  }
}

const build = await exec(Deno.execPath(), ["task", "compile:bun"]);
check("deno task compile:bun", build.code === 0, () => build.stdout + build.stderr);

if (!failed) {
  const server = await MockServer.start({ messages: MESSAGES });
  try {
    const expected = MESSAGES.map((body) => formatJson(parseMessage(body)) + "\n").join("");
    const live = await exec(BINARY, [
      "--url",
      server.url,
      "--json",
      "--count",
      String(MESSAGES.length),
      "9999",
    ]);
    check(
      "live run against the mock server: exit 0, NDJSON equal to what was served",
      live.code === 0 && unstamped(live.stdout) === expected,
      () =>
        `exit ${live.code}\nstdout:\n${live.stdout}\nexpected:\n${expected}\nstderr:\n${live.stderr}`,
    );
    const client = server.clients[0];
    await client?.closed;
    check(
      "the session ended with logout",
      client?.received.some((message) => message.type === "logout") ?? false,
      () => JSON.stringify(client?.received),
    );
  } finally {
    await server.close();
  }

  const version = await exec(BINARY, ["--version"]);
  check(
    "--version: exit 0, the version",
    version.code === 0 && version.stdout === `douyu ${VERSION}\n`,
    () => `exit ${version.code}\n${version.stdout}${version.stderr}`,
  );
  const help = await exec(BINARY, ["--help"]);
  check(
    "--help: exit 0, usage on stdout",
    help.code === 0 && help.stdout.includes("Usage:"),
    () => `exit ${help.code}\n${help.stdout}${help.stderr}`,
  );
  // Port 1 refuses at once: the binary got as far as connecting, so it carries the NATS client.
  const nats = await exec(BINARY, ["rooms", "--nats", "nats://127.0.0.1:1", "list"]);
  check(
    "rooms --nats (nothing listening): exit 1, NATS unreachable (the client is bundled)",
    nats.code === 1 && nats.stderr.includes("cannot reach NATS"),
    () => `exit ${nats.code}\n${nats.stdout}${nats.stderr}`,
  );
  const bogus = await exec(BINARY, ["--bogus", "9999"]);
  check(
    "unknown flag: exit 2, named on stderr",
    bogus.code === 2 && bogus.stdout === "" && bogus.stderr.includes("unknown option --bogus"),
    () => `exit ${bogus.code}\n${bogus.stdout}${bogus.stderr}`,
  );
}

console.log(failed ? "smoke_binary: FAILED" : "smoke_binary: the Bun binary passed every check");
Deno.exit(failed ? 1 : 0);

/** NDJSON output without each line's `_t` (which must be there) and `_gift`. */
function unstamped(stdout: string): string {
  return stdout.split("\n").filter((line) => line !== "").map((line) => {
    const { _t, _gift, ...message } = JSON.parse(line);
    return Number.isSafeInteger(_t) ? formatJson(message) + "\n" : `no _t: ${line}\n`;
  }).join("");
}
