/**
 * The layers of `src/`, enforced: every import in `src/` (static, type-only,
 * re-export or a dynamic `import("…")` of a literal path) either stays in its
 * folder or goes to a folder listed above its own in `src/README.md`. So no
 * folder imports one above it, and no two folders import each other. Every
 * folder of `src/` must be in the list, and the list must name no folder that
 * is gone.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { test } from "./harness.ts";

const SRC = new URL("../src/", import.meta.url);

/** The folders in `src/README.md`'s table, lowest layer first. */
export function layerOrder(readme: string): string[] {
  const order: string[] = [];
  for (const line of readme.split("\n")) {
    const match = /^\|\s*`([a-z_]+)\/`\s*\|/.exec(line);
    if (match) order.push(match[1]!);
  }
  return order;
}

/** The paths a module's text imports: `from "…"`, `import "…"` and `import("…")` with a literal. */
export function importedPaths(source: string): string[] {
  // Comments go first, so an example in a doc comment is not taken for an import.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const paths: string[] = [];
  const patterns = [
    /\bfrom\s*["']([^"']+)["']/g,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) paths.push(match[1]!);
  }
  return paths;
}

/** One import that crosses the layers the wrong way. */
export interface LayerViolation {
  /** The importing file, relative to `src/`. */
  file: string;
  /** What it imports, as written. */
  imports: string;
  /** Why it is wrong. */
  why: string;
}

/**
 * The imports among `files` (path relative to `src/` → source text) that go
 * up the layers of `order`, leave `src/`, or come from a folder not listed.
 */
export function layerViolations(
  order: readonly string[],
  files: ReadonlyMap<string, string>,
): LayerViolation[] {
  const rank = new Map(order.map((folder, index) => [folder, index]));
  const violations: LayerViolation[] = [];
  for (const [file, source] of files) {
    const from = file.split("/")[0]!;
    const own = rank.get(from);
    if (own === undefined) {
      violations.push({ file, imports: "", why: `folder ${from}/ is not in src/README.md` });
      continue;
    }
    for (const path of importedPaths(source)) {
      if (!path.startsWith(".")) continue; // a runtime built-in or an npm package
      const target = new URL(path, new URL(file, "file:///src/")).pathname;
      if (!target.startsWith("/src/")) {
        violations.push({ file, imports: path, why: "imports from outside src/" });
        continue;
      }
      const to = target.slice("/src/".length).split("/")[0]!;
      const theirs = rank.get(to);
      if (theirs === undefined) {
        violations.push({ file, imports: path, why: `folder ${to}/ is not in src/README.md` });
      } else if (theirs > own) {
        violations.push({
          file,
          imports: path,
          why: `${from}/ imports ${to}/, which is above it in src/README.md`,
        });
      }
    }
  }
  return violations;
}

async function sourceFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = await readdir(SRC, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !/\.(ts|js|mjs)$/.test(entry.name)) continue;
    const dir = (entry.parentPath ?? (entry as { path?: string }).path ?? "").replace(/\\/g, "/");
    const relative = `${dir}/${entry.name}`.split("/src/").pop()!;
    files.set(relative, await readFile(new URL(relative, SRC), "utf8"));
  }
  return files;
}

test("layers: no folder of src/ imports one above it in src/README.md", async () => {
  const order = layerOrder(await readFile(new URL("README.md", SRC), "utf8"));
  const files = await sourceFiles();
  assert.ok(order.length >= 10, `src/README.md lists ${order.length} folders`);
  assert.ok(files.size >= 50, `read ${files.size} files of src/`);
  const folders = new Set([...files.keys()].map((file) => file.split("/")[0]!));
  for (const folder of order) assert.ok(folders.has(folder), `${folder}/ is listed but gone`);
  const found = layerViolations(order, files);
  assert.deepEqual(found, [], found.map((v) => `${v.file}: ${v.imports}: ${v.why}`).join("\n"));
});

test("layers: the check sees imports upward, sideways circles and strays", () => {
  const order = ["base", "protocol", "web"];
  const files = new Map([
    ["base/a.ts", 'import { b } from "./b.ts";\nimport type { X } from "../protocol/x.ts";'],
    ["protocol/x.ts", 'export { y } from "../base/a.ts";\nconst w = import("../web/w.ts");'],
    ["web/w.ts", '/** import { n } from "../nats/n.ts"; */\nimport "../../mod.ts";'],
    ["nats/n.ts", 'import { x } from "npm:thing";'],
  ]);
  const found = layerViolations(order, files).map((v) => `${v.file} ${v.imports}`);
  assert.deepEqual(found, [
    "base/a.ts ../protocol/x.ts",
    "protocol/x.ts ../web/w.ts",
    "web/w.ts ../../mod.ts",
    "nats/n.ts ",
  ]);
});
