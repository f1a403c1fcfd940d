/**
 * Builds the npm package in `dist/npm/` (`deno task build:npm`), for Node 20
 * and later:
 *
 * - `mod.js` and `src/testing/mod.js`, the ES modules behind the package's
 *   exports (`.` and `./testing`, as in `deno.json`), and `src/cli/bin.js`,
 *   the `douyu` command. One `deno bundle --code-splitting` run makes them, so
 *   code they share (the error classes, the codec, the transports) is loaded
 *   once: an error thrown by the mock server is an `instanceof` the library's
 *   class.
 * - `types/`: one declaration file per source file, written by `tsc`
 *   (see {@linkcode emitDeclarations} for why not `deno bundle --declaration`),
 *   then compiled against from a Node-style consumer as a check.
 * - `package.json` (`"type": "module"`, `exports`, `bin`, `engines`), the
 *   README, the manuals of `docs/` it links to, and the licence.
 *
 * Needs `deno`, `node` and `npm` on the PATH, and the npm registry (or npm's
 * cache) the first time: `deno bundle` fetches esbuild, and the declarations
 * step installs TypeScript and Node's types into a temporary directory. The
 * NATS client, which `@x/douyu/nats` bundles and which `tsc` declares
 * against, comes from `node_modules/`: `deno task build:npm` first runs
 * `deno task deps`, which installs it as `deno.lock` pins it. Node users of
 * the package install nothing: it has no dependencies.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "dist", "npm");

/** The command's entry: `mod.ts` starts it only under `import.meta.main`, which Node 20 lacks. */
const BIN_ENTRY = "src/cli/bin.ts";

/** The compiler Deno 2.9.6 embeds, so `tsc` judges the code as `deno check` does. */
const TYPESCRIPT = "typescript@6.0.3";
/**
 * Node's types, for `node:net` and friends: those of Node 22, the first with
 * `node:sqlite` (the archive's SQLite engine, which says so on Node 20 at run
 * time); the tests run the package on the Node 20 of this machine.
 */
const NODE_TYPES = "@types/node@22.20.7";

/**
 * The oldest Node the package runs on: `AbortSignal.any` (room lookups) came in
 * 20.3, `Symbol.asyncDispose` (which `await using`, or TypeScript's
 * down-levelled form of it, calls to close a session) in 20.4. Tested: 20.20.
 */
const NODE_ENGINES = ">=20.4";

interface DenoConfig {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
  compilerOptions: Record<string, unknown>;
}

const config: DenoConfig = JSON.parse(await readFile(join(ROOT, "deno.json"), "utf8"));
const entries = Object.values(config.exports).map((path) => path.replace(/^\.\//, ""));

await rm(OUT, { recursive: true, force: true });
await bundle();
await makeExecutable(join(OUT, js(BIN_ENTRY)));
const work = await makeTempDir();
try {
  await installTypeScript(work);
  await emitDeclarations(work);
  await writePackageJson();
  await copyFile(join(ROOT, "README.md"), join(OUT, "README.md"));
  await copyDocs(); // the README links to them
  await copyFile(join(ROOT, "LICENSE"), join(OUT, "LICENSE"));
  await checkDeclarations(work);
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(`built ${relative(ROOT, OUT)}/ (${config.name} ${config.version})`);

/** `src/a.ts` → `src/a.js`: where `deno bundle` puts an entry's output. */
function js(path: string): string {
  return path.replace(/\.ts$/, ".js");
}

/** `src/a.ts` → `types/src/a.d.ts`: where `tsc` puts its declarations. */
function dts(path: string): string {
  return `types/${path.replace(/\.ts$/, ".d.ts")}`;
}

/** The library, `./testing` and the command, sharing their common code in chunks. */
async function bundle(): Promise<void> {
  await run(Deno.execPath(), [
    "bundle",
    "--no-lock",
    "--platform=deno", // keeps `node:` imports as imports; the code picks its runtime itself
    "--format=esm",
    "--code-splitting",
    "--keep-names", // error classes keep their names (`err.name`)
    `--outdir=${OUT}`,
    ...entries,
    BIN_ENTRY,
  ]);
  for (const entry of [...entries, BIN_ENTRY]) {
    await readFile(join(OUT, js(entry))); // throws if the bundler laid the files out otherwise
  }
}

/** `npx douyu` runs the bin file itself, so it needs a shebang and the x bit. */
async function makeExecutable(path: string): Promise<void> {
  const code = await readFile(path, "utf8");
  await writeFile(path, `#!/usr/bin/env node\n${code}`);
  await Deno.chmod(path, 0o755);
}

/** A private copy of `tsc` and Node's types: nothing is added to the repository. */
async function installTypeScript(work: string): Promise<void> {
  await run("npm", [
    "install",
    `--prefix=${work}`,
    "--no-save",
    "--no-package-lock",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--loglevel=error",
    TYPESCRIPT,
    NODE_TYPES,
  ]);
}

/**
 * Writes `types/`, one `.d.ts` per source file, with `tsc`.
 *
 * Why not `deno bundle --declaration` (Deno 2.9.6): its type check does not
 * see Node's built-in types (`Cannot find name 'node:net'`, even with
 * `@types/node` in `compilerOptions.types`), and with them added by hand its
 * output is wrong: one bundled file per entry that exports every internal
 * declaration, a dangling `import { type RecordLine } from
 * "../protocol/record.ts"` in the `./testing` one, doc comments run together
 * on one line, and, with several entries, `mod.d.ts` of both entries written
 * to the same file.
 *
 * `tsc` needs the types Deno checks the code with: `deno types` for the
 * `Deno` namespace, `@types/node` for `node:*`.
 */
async function emitDeclarations(work: string): Promise<void> {
  const denoTypes = join(work, "lib.deno.d.ts");
  await writeFile(denoTypes, await output(Deno.execPath(), ["types"]));
  const { lib: _denoLibs, ...checks } = config.compilerOptions;
  const tsconfig = {
    compilerOptions: {
      ...checks, // strict and friends, as deno.json has them
      target: "es2022",
      module: "preserve",
      moduleResolution: "bundler",
      allowImportingTsExtensions: true, // the sources import `./x.ts`
      lib: ["esnext", "dom"], // deno.json's, with `deno.ns` replaced by `deno types`
      types: ["node"],
      typeRoots: [join(work, "node_modules", "@types")],
      // The Deno, DOM and Node globals overlap; their own declarations need no check.
      skipLibCheck: true,
      declaration: true,
      emitDeclarationOnly: true,
      rootDir: ROOT,
      outDir: join(OUT, "types"),
    },
    files: [...entries.map((entry) => join(ROOT, entry)), denoTypes],
  };
  const project = join(work, "tsconfig.json");
  await writeFile(project, JSON.stringify(tsconfig, null, 2));
  await run("node", [join(work, "node_modules", "typescript", "bin", "tsc"), "-p", project]);
  // `mod.ts` imports the command lazily, so `tsc` declares it too; it is no part of the API.
  await rm(join(OUT, "types", "src", "cli"), { recursive: true, force: true });
  for (const file of await filesUnder(join(OUT, "types"))) {
    await writeFile(file, withJsSpecifiers(await readFile(file, "utf8")));
  }
}

/**
 * Rewrites relative `.ts` import specifiers in a declaration file to `.js`,
 * the files that exist next to the declarations at run time. TypeScript
 * accepts either in a `.d.ts`, but not every tool does. Comment lines (the
 * doc examples) are left alone.
 */
function withJsSpecifiers(text: string): string {
  return text.split("\n").map((line) =>
    /^\s*(\*|\/\*|\/\/)/.test(line)
      ? line
      : line.replace(/(["'])(\.\.?\/[^"']*)\.ts\1/g, (_, quote, path) =>
        `${quote}${path}.js${quote}`)
  ).join("\n");
}

async function writePackageJson(): Promise<void> {
  const exports: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(config.exports)) {
    const entry = path.replace(/^\.\//, "");
    // `types` first: TypeScript takes the first condition that matches.
    exports[name] = { types: `./${dts(entry)}`, default: `./${js(entry)}` };
  }
  exports["./package.json"] = "./package.json";
  const manifest = {
    name: config.name,
    version: config.version,
    description:
      "Douyu (斗鱼) live chat (barrage, 弹幕) client: typed messages, reconnects, a mock server and the douyu command",
    license: config.license,
    type: "module",
    main: `./${js(entries[0]!)}`,
    types: `./${dts(entries[0]!)}`,
    exports,
    bin: { douyu: `./${js(BIN_ENTRY)}` },
    engines: { node: NODE_ENGINES },
    keywords: ["douyu", "danmaku", "barrage", "live-chat", "斗鱼", "弹幕"],
  };
  await writeFile(join(OUT, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * Compiles a small consumer against the package as a Node project would see
 * it (`node_modules/@x/douyu`, `module: nodenext`, no `skipLibCheck`): the
 * declarations must stand on their own, without Deno's types.
 */
async function checkDeclarations(work: string): Promise<void> {
  const consumer = join(work, "consumer");
  const link = join(consumer, "node_modules", ...config.name.split("/"));
  await mkdir(dirname(link), { recursive: true });
  await Deno.symlink(OUT, link);
  await writeFile(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await writeFile(
    join(consumer, "check.ts"),
    `import { connect, type Message, ProtocolError, type Session } from "${config.name}";
import { MockServer, type MockServerOptions } from "${config.name}/testing";

const options: MockServerOptions = { messages: ["type@=chatmsg/nn@=Ann/txt@=hi/"] };
const server: MockServer = await MockServer.start(options);
const session = await connect(9999, { url: server.url, types: ["chatmsg"] });
const all: Session<Message> = session;
for await (const msg of session) {
  const text: string | undefined = msg.txt;
  console.log(text, all.isClosed, new ProtocolError("x") instanceof Error);
  break;
}
await session.close();
await server.close();
`,
  );
  await writeFile(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        lib: ["es2022", "esnext.disposable"],
        types: ["node"],
        typeRoots: [join(work, "node_modules", "@types")],
        strict: true,
        noEmit: true,
      },
      files: ["check.ts"],
    }),
  );
  await run("node", [
    join(work, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    join(consumer, "tsconfig.json"),
  ]);
}

/** `docs/*.md`, the manuals the README links to, as `docs/` of the package. */
async function copyDocs(): Promise<void> {
  await mkdir(join(OUT, "docs"), { recursive: true });
  for (const name of await readdir(join(ROOT, "docs"))) {
    if (name.endsWith(".md")) await copyFile(join(ROOT, "docs", name), join(OUT, "docs", name));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...await filesUnder(path));
    else found.push(path);
  }
  return found;
}

async function makeTempDir(): Promise<string> {
  return await Deno.makeTempDir({ dir: tmpdir(), prefix: "douyu-build-npm-" });
}

/** Runs a command quietly; on failure, shows what it printed and stops the build. */
async function run(command: string, args: string[]): Promise<void> {
  await output(command, args);
}

/** Runs a command and returns its stdout; on failure, shows its output and stops the build. */
async function output(command: string, args: string[]): Promise<string> {
  const shown = [command === Deno.execPath() ? "deno" : command, ...args.slice(0, 2)].join(" ");
  console.log(`build:npm: ${shown} …`);
  const result = await new Deno.Command(command, { args, cwd: ROOT, stdin: "null" }).output();
  const decoder = new TextDecoder();
  if (!result.success) {
    console.error(decoder.decode(result.stdout) + decoder.decode(result.stderr));
    throw new Error(`${shown} … failed with exit code ${result.code}`);
  }
  return decoder.decode(result.stdout);
}
