/**
 * The NATS commands against servers that require authentication and TLS:
 * the documented locked-down configuration (`docs/nats-server.conf`: TLS,
 * one account, a user per role with only the subjects it needs), a token,
 * and an operator's JWT with a creds file; on Deno and Bun alike. A refused
 * login is one line and exit 1, never a stack trace.
 */
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "../harness.ts";
import { startNatsServer } from "./nats_server.ts";
import { nkeyUser, operatorSetup } from "./nats_auth.ts";
import { MockServer } from "../../src/testing/mod.ts";
import { ROOT, runtimeCommand, startChild } from "../process.ts";

const TLS = new URL("../fixtures/tls/", import.meta.url).pathname;
const CA = join(TLS, "ca.pem");
const CONFIG = new URL("../../docs/nats-server.conf", import.meta.url).pathname;

const PASSWORDS = {
  DOUYU_ADMIN_PASS: "admin-secret",
  DOUYU_COLLECTOR_PASS: "collector-secret",
  DOUYU_READER_PASS: "reader-secret",
};

/** Runs `douyu` to its end in a child process of the runtime under test. */
async function douyu(args: string[]) {
  const child = startDouyu(args);
  const code = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

function startDouyu(args: string[]) {
  const [command, ...rest] = runtimeCommand(`${ROOT}mod.ts`, ["-A"]);
  return startChild(command!, [...rest, ...args]);
}

/** One line on stderr, `douyu: …`, and no stack trace. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^douyu: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at |ECONNRESET|Uncaught/);
}

test("the documented locked-down server: TLS with a CA file, a user per role, each held to its subjects", async () => {
  // The documented configuration, as written: the port and store come from the command line,
  // the certificate and passwords from the environment.
  const documented = (await readFile(CONFIG, "utf8"))
    .replace(/^port: .*$/m, "")
    .replace(/^jetstream \{ store_dir: .*\}$/m, "");
  Object.assign(process.env, PASSWORDS, {
    DOUYU_TLS_CERT: join(TLS, "server.pem"),
    DOUYU_TLS_KEY: join(TLS, "server.key"),
  });
  const nats = await startNatsServer({ config: () => documented });
  await using room = await MockServer.start({
    messages: [
      "type@=chatmsg/rid@=9999/uid@=1/nn@=Ann/txt@=hi/cid@=0123456789abcdef0123456789abcdef/",
    ],
  });
  const password = (user: string) =>
    PASSWORDS[`DOUYU_${user.toUpperCase()}_PASS` as keyof typeof PASSWORDS];
  const url = (user: string) => `tls://${user}:${password(user)}@127.0.0.1:${nats.port}`;
  const tls = ["--tls-ca", CA];
  let collector: ReturnType<typeof startDouyu> | undefined;
  try {
    // The first start, as admin: it creates the stream and buckets.
    const add = await douyu(["rooms", "--nats", url("admin"), ...tls, "add", "9999"]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, "added 1 room: 9999\n");
    // A collector claims the room and publishes; a reader reads it back, also durably.
    collector = startDouyu([
      "collect",
      "--nats",
      url("collector"),
      ...tls,
      "--name",
      "a",
      "--url",
      room.url,
    ]);
    await collector.waitFor("stderr", /room 9999: watching/, 20_000);
    const consume = await douyu([
      "consume",
      "--nats",
      url("reader"),
      ...tls,
      "--since",
      "1h",
      "--count",
      "1",
      "--json",
    ]);
    assert.equal(consume.code, 0, consume.stderr);
    assert.match(consume.stdout, /"txt":"hi"/);
    const durable = await douyu([
      "consume",
      "--nats",
      url("reader"),
      ...tls,
      "--durable",
      "r",
      "--since",
      "1h",
      "--count",
      "1",
    ]);
    assert.equal(durable.code, 0, durable.stderr);
    const list = await douyu(["rooms", "--nats", url("admin"), ...tls, "list"]);
    assert.match(list.stdout, /^9999 +a /m);
    // Each role is held to its subjects: a collector cannot change the desired rooms.
    const forged = await douyu(["rooms", "--nats", url("collector"), ...tls, "add", "1234"]);
    assert.equal(forged.code, 1);
    oneLine(forged.stderr, /[Pp]ermission/);
    // A wrong password, or no TLS trust: one line, exit 1.
    const wrong = await douyu([
      "rooms",
      "--nats",
      `tls://admin:nope@127.0.0.1:${nats.port}`,
      ...tls,
      "list",
    ]);
    assert.equal(wrong.code, 1);
    oneLine(wrong.stderr, /Authorization Violation/);
    assert.doesNotMatch(wrong.stderr, /nope/, "the password was printed");
    const untrusted = await douyu(["rooms", "--nats", url("admin"), "list"]);
    assert.equal(untrusted.code, 1);
    oneLine(untrusted.stderr, /cannot reach NATS/);
    collector.kill("SIGTERM");
    assert.equal(await collector.exited, 0, collector.stderr);
  } finally {
    collector?.kill("SIGKILL");
    await collector?.exited;
    await nats.close();
  }
});

test("a token in the URL, an NKEY seed file, and an operator's creds file (JWT and NKEY)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "douyu-auth-"));
  const operator = operatorSetup();
  const nkey = nkeyUser();
  const tokenServer = await startNatsServer({ config: () => `authorization { token: "t0ken" }\n` });
  const nkeyServer = await startNatsServer({
    config: () => `authorization { users: [{ nkey: ${nkey.publicKey} }] }\n`,
  });
  const jwtServer = await startNatsServer({ config: () => operator.serverConfig });
  try {
    await writeFile(join(dir, "user.creds"), operator.creds);
    await writeFile(join(dir, "user.nk"), nkey.seed);
    const token = await douyu([
      "rooms",
      "--nats",
      `nats://t0ken@127.0.0.1:${tokenServer.port}`,
      "add",
      "1",
    ]);
    assert.equal(token.code, 0, token.stderr);
    // Refused, many times in one process: under Deno the refused socket's late reset used to end
    // it with an uncaught ECONNRESET and its stack (in 3 runs of 6 from the command line).
    const [command, ...args] = runtimeCommand(`${ROOT}tests/peers/refused_logins.ts`, ["-A"]);
    const refused = startChild(command!, [
      ...args,
      `nats://someone:wrong@127.0.0.1:${nkeyServer.port}`,
      "100",
    ]);
    assert.equal(await refused.exited, 0, refused.stderr.slice(-2000));
    assert.deepEqual(JSON.parse(refused.stdout), { codes: Array(100).fill(1), lines: 100 });
    assert.doesNotMatch(refused.stderr, /ECONNRESET/);
    for (let run = 0; run < 2; run++) {
      const badToken = await douyu([
        "rooms",
        "--nats",
        `nats://nope@127.0.0.1:${tokenServer.port}`,
        "list",
      ]);
      assert.equal(badToken.code, 1);
      oneLine(badToken.stderr, /Authorization Violation/);
      assert.doesNotMatch(badToken.stderr, /nope/);
    }
    const seed = await douyu([
      "rooms",
      "--nats",
      `nats://127.0.0.1:${nkeyServer.port}`,
      "--nkey",
      join(dir, "user.nk"),
      "add",
      "2",
    ]);
    assert.equal(seed.code, 0, seed.stderr);
    const creds = await douyu([
      "rooms",
      "--nats",
      `nats://127.0.0.1:${jwtServer.port}`,
      "--creds",
      join(dir, "user.creds"),
      "add",
      "3",
    ]);
    assert.equal(creds.code, 0, creds.stderr);
    const none = await douyu(["rooms", "--nats", `nats://127.0.0.1:${jwtServer.port}`, "list"]);
    assert.equal(none.code, 1);
    oneLine(none.stderr, /Authorization Violation/);
  } finally {
    await Promise.all([tokenServer.close(), nkeyServer.close(), jwtServer.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});
