/**
 * The npm build (`dist/npm/`, from `deno task build:npm`) under the Node on
 * this machine: `node --test tests/node/npm_test.mjs`, which `deno task
 * test:node` runs after building. Plain JavaScript, so that Node runs it as
 * it is; it needs nothing installed but `bun`, which runs the busy mock
 * server of the logout tests in a process of its own.
 *
 * The package is reached the way a project that installed it reaches it:
 * through `node_modules/@x/douyu` (a link to `dist/npm/`) and the `exports`
 * and `bin` of its package.json.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE_DIR = fileURLToPath(new URL("../../dist/npm/", import.meta.url));
const ROOM = 9999;
/** Every test's limit: a hung child process or socket fails the test instead of the run. */
const LIMIT = { timeout: 30_000 };

/** What the mock server streams: chat, a gift, an entry (STT bodies as the server sends them). */
const SERVED = [
  "type@=chatmsg/rid@=9999/uid@=1/nn@=Ann/txt@=hello a@Sb/level@=12/dms@=5/",
  "type@=dgb/rid@=9999/uid@=2/nn@=Bo/gfid@=824/gfcnt@=1/hits@=3/",
  "type@=uenter/rid@=9999/uid@=3/nn@=小鱼干/level@=3/",
  "type@=chatmsg/rid@=9999/uid@=4/nn@=Cy/txt@=second/level@=7/dms@=5/",
  "type@=chatmsg/rid@=9999/uid@=5/nn@=Dee/txt@=third/level@=1/dms@=5/",
  "type@=chatmsg/rid@=9999/uid@=6/nn@=Eve/txt@=fourth/level@=2/dms@=5/",
];

let consumerDir = "";
/** `require` as a CommonJS module of a project that installed the package. */
let requireFromConsumer = createRequire(import.meta.url);
let manifest = {};
/** The package's `.` export, imported through its package.json. */
let douyu;
/** The package's `./testing` export. */
let testing;

before(async () => {
  manifest = JSON.parse(await readFile(join(PACKAGE_DIR, "package.json"), "utf8"));
  consumerDir = await mkdtemp(join(tmpdir(), "douyu-npm-test-"));
  const link = join(consumerDir, "node_modules", ...manifest.name.split("/"));
  await mkdir(join(link, ".."), { recursive: true });
  await symlink(PACKAGE_DIR, link, "dir");
  requireFromConsumer = createRequire(join(consumerDir, "consumer.js"));
  douyu = await import(pathToFileURL(requireFromConsumer.resolve(manifest.name)).href);
  testing = await import(
    pathToFileURL(requireFromConsumer.resolve(`${manifest.name}/testing`)).href
  );
});

after(async () => {
  if (consumerDir !== "") await rm(consumerDir, { recursive: true, force: true });
});

test(
  "package.json: an ES module package for Node 20 with its exports and the douyu bin",
  LIMIT,
  () => {
    strictEqual(manifest.name, "@x/douyu");
    strictEqual(manifest.type, "module");
    match(manifest.engines.node, /^>=20(\.|$)/);
    deepStrictEqual(Object.keys(manifest.exports).sort(), [
      ".",
      "./archive",
      "./nats",
      "./package.json",
      "./testing",
    ]);
    ok(typeof manifest.bin.douyu === "string", "bin.douyu");
    strictEqual(typeof douyu.connect, "function");
    strictEqual(typeof testing.MockServer, "function");
    strictEqual(testing.parseEndpoint, douyu.parseEndpoint, "one copy of the code both export");
    strictEqual(douyu.runCli, undefined, "runCli is not public");
  },
);

test(
  "./nats: loads on Node with the NATS client bundled in (no dependency to install)",
  LIMIT,
  async () => {
    const nats = await import(
      pathToFileURL(requireFromConsumer.resolve(`${manifest.name}/nats`)).href
    );
    strictEqual(typeof nats.Cluster.connect, "function");
    strictEqual(typeof nats.subscribe, "function");
    strictEqual(nats.parseSince("10m", 1_000_000), 400_000);
    strictEqual(manifest.dependencies, undefined);
    ok(new nats.ClusterError("x") instanceof douyu.DouyuError, "one DouyuError for both");
  },
);

test(
  "./archive: loads on Node; a SQLite archive without node:sqlite is one clear error",
  LIMIT,
  async () => {
    const archive = await import(
      pathToFileURL(requireFromConsumer.resolve(`${manifest.name}/archive`)).href
    );
    strictEqual(typeof archive.Archive.open, "function");
    const dir = await mkdtemp(join(tmpdir(), "douyu-npm-archive-"));
    try {
      const hasSqlite = await import("node:sqlite").then(() => true, () => false);
      const opened = archive.Archive.open(join(dir, "a.db"));
      if (hasSqlite) {
        await (await opened).close();
      } else {
        // Node 20: no node:sqlite. One line that says which runtimes have it.
        const error = await opened.then(() => undefined, (e) => e);
        ok(error instanceof archive.ArchiveError, String(error));
        match(error.message, /node:sqlite, built into Deno 2\.2\+, Bun 1\.4\+ and Node 22\.13\+/);
        match(error.message, /this is Node 20\./);
        const bin = join(PACKAGE_DIR, manifest.bin.douyu);
        const run = await runNode([bin, "archive", "--db", join(dir, "b.db"), "9999"]);
        strictEqual(run.code, 1, run.stderr);
        strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
        match(run.stderr, /^douyu: SQLite archives need node:sqlite/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "library: connects over TCP to the mock server from ./testing and gets every message",
  LIMIT,
  async () => {
    const { connect, ProtocolError, sanitizeForTerminal } = douyu;
    const server = await testing.MockServer.start({ messages: SERVED });
    try {
      strictEqual(server.url.startsWith("tcp://127.0.0.1:"), true, server.url);
      const session = await connect(ROOM, { url: server.url, reconnect: false });
      const got = [];
      try {
        for await (const msg of session) {
          if (msg.type === "loginres" || msg.type === "pingreq") continue;
          got.push(msg);
          if (got.length === SERVED.length) break;
        }
      } finally {
        await session.close();
      }
      deepStrictEqual(got.map((msg) => msg.type), [
        "chatmsg",
        "dgb",
        "uenter",
        "chatmsg",
        "chatmsg",
        "chatmsg",
      ]);
      strictEqual(got[0].nn, "Ann");
      strictEqual(got[0].txt, "hello a/b");
      strictEqual(got[2].nn, "小鱼干");
      strictEqual(sanitizeForTerminal("a\u001b[31mb"), "a[31mb");
      ok(new ProtocolError("x") instanceof douyu.DouyuError);
      const client = await server.nextClient();
      strictEqual(client.received[0].type, "loginreq");
      strictEqual(client.received[0].roomid, String(ROOM));
    } finally {
      await server.close();
    }
  },
);

test(
  "library: ws:// works on Node 20 too (the package speaks WebSocket itself)",
  LIMIT,
  async () => {
    const { connect } = douyu;
    const { MockServer } = testing;
    const server = await MockServer.start({
      protocols: ["ws"],
      messages: ["type@=chatmsg/nn@=Ann/txt@=over ws/"],
    });
    try {
      match(server.url, /^ws:\/\//);
      const session = await connect(ROOM, {
        url: server.url,
        reconnect: false,
        types: ["chatmsg"],
      });
      try {
        for await (const msg of session) {
          strictEqual(msg.txt, "over ws");
          break;
        }
      } finally {
        await session.close();
      }
      const client = await server.nextClient();
      await client.waitFor("logout");
    } finally {
      await server.close();
    }
  },
);

/**
 * The mock server under Bun, in its own process, streaming flat out to every
 * client (tests/peers/busy_rooms.ts): its `node:net` drops what it had not
 * read once a write to a reset connection fails, so a client that closes
 * with unread bytes (RST) loses its logout there.
 */
function startBusyServer(protocol) {
  const script = fileURLToPath(new URL("../peers/busy_rooms.ts", import.meta.url));
  const child = spawn("bun", [script, protocol], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const next = () =>
    new Promise((resolve) => lines.once("line", (line) => resolve(JSON.parse(line))));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    next,
    report: () => {
      child.stdin.write("report\n");
      return next();
    },
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

for (const protocol of ["tcp", "ws"]) {
  test(
    `library: a hub of 50 rooms streaming at the moment of closing logs every room out (${protocol})`,
    LIMIT,
    async () => {
      const server = startBusyServer(protocol);
      try {
        const { url } = await server.next();
        const hub = new douyu.Hub({ url, reconnect: false, types: ["chatmsg"] });
        await Promise.all(Array.from({ length: 50 }, (_, i) => hub.add(1001 + i)));
        const seen = new Set();
        for await (const { room } of hub) {
          seen.add(room);
          if (seen.size === 50) break; // closes every room, with logout
        }
        await hub.closed;
        let report = await server.report();
        for (let asked = 0; report.logouts < 50 && asked < 20; asked++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          report = await server.report();
        }
        deepStrictEqual(report, { joined: 50, logouts: 50 });
      } finally {
        await server.stop();
      }
    },
  );
}

test("library: CommonJS can require() it (Node 20.19+, 22.12+: no top-level await)", LIMIT, (t) => {
  if (!process.features.require_module) return t.skip("this Node cannot require ES modules");
  const required = requireFromConsumer(manifest.name);
  strictEqual(required.connect, douyu.connect, "the same module as import");
  strictEqual(requireFromConsumer(`${manifest.name}/testing`).MockServer, testing.MockServer);
});

test(
  "bin: `douyu --json --count 5` prints 5 NDJSON lines from the mock server and exits 0",
  LIMIT,
  async () => {
    const bin = join(PACKAGE_DIR, manifest.bin.douyu);
    match(await readFile(bin, "utf8"), /^#!\/usr\/bin\/env node\n/);
    const server = await testing.MockServer.start({ messages: SERVED });
    try {
      const args = ["--url", server.url, "--json", "--count", "5", String(ROOM)];
      const { code, stdout, stderr } = await runNode([bin, ...args]);
      strictEqual(code, 0, stderr);
      const lines = stdout.split("\n").filter((line) => line !== "");
      strictEqual(lines.length, 5, stdout);
      const printed = lines.map((line) => JSON.parse(line));
      deepStrictEqual(printed.map((msg) => msg.nn), ["Ann", "Bo", "小鱼干", "Cy", "Dee"]);
      match(stderr, new RegExp(`connected to ${server.url}`));
    } finally {
      await server.close();
    }
  },
);

test("bin: --version prints the package version; a bad option exits 2", LIMIT, async () => {
  const bin = join(PACKAGE_DIR, manifest.bin.douyu);
  const version = await runNode([bin, "--version"]);
  strictEqual(version.code, 0, version.stderr);
  strictEqual(version.stdout, `douyu ${manifest.version}\n`);
  const usage = await runNode([bin, "--bogus", "9999"]);
  strictEqual(usage.code, 2);
  match(usage.stderr, /unknown option --bogus/);
});

test(
  "bin: `douyu resolve` looks a room name up over HTTP (a local stand-in for Douyu)",
  LIMIT,
  async () => {
    const paths = [];
    const server = createServer((request, response) => {
      paths.push(request.url);
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ error: 0, room: { room_id: 288016, show_status: 1 } }));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${server.address().port}`;
      const bin = join(PACKAGE_DIR, manifest.bin.douyu);
      const args = ["resolve", "douyu.com/yyf", "--api-base", base, "--mobile-base", `${base}/m`];
      const { code, stdout, stderr } = await runNode([bin, ...args]);
      strictEqual(code, 0, stderr);
      strictEqual(stdout, "288016\n");
      deepStrictEqual(paths, ["/betard/yyf"]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  },
);

test(
  "bin: `douyu serve` serves the sample over TCP and WebSocket; SIGINT ends it with 0",
  LIMIT,
  async () => {
    const bin = join(PACKAGE_DIR, manifest.bin.douyu);
    const child = spawn(process.execPath, [bin, "serve", "--speed", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    const exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
    const listening = new Promise((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (text) => {
        stderr += text;
        const url = /listening on (tcp:\/\/\S+) and (ws:\/\/\S+)/.exec(stderr)?.[2];
        if (url !== undefined && stderr.includes("Ctrl-C stops")) resolve(url);
      });
      exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    });
    try {
      const url = await listening;
      const session = await douyu.connect(ROOM, { url, reconnect: false, types: ["chatmsg"] });
      try {
        for await (const msg of session) {
          strictEqual(typeof msg.txt, "string");
          break;
        }
      } finally {
        await session.close();
      }
    } finally {
      child.kill("SIGINT");
    }
    strictEqual(await exited, 0, stderr);
  },
);

/** Runs `node <args>` and collects its output; a guard kills it after 20 s. */
function runNode(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}
