/**
 * The TypeScript blocks of the README and `docs/*.md`, for `docs_test.ts`:
 * found with their markers, and changed as "Every example here, offline" in
 * docs/library.md says (and nothing more): the offline prelude first, and `offline`
 * given to every call that would reach Douyu.
 *
 * A block's marker is an HTML comment on the line before it (a blank line
 * between is allowed), invisible on the rendered page:
 *
 * - `<!-- docs-test: runs-until-stopped -->`: a program that runs until it is
 *   stopped (a live loop, a server); without it a block must end by itself.
 * - `<!-- docs-test: check-only (REASON) -->`: needs what a test cannot start
 *   (a running nats-server, say): type-checked only, and the reason says why.
 * - `<!-- docs-test: offline-prelude -->`: the stand-ins the other blocks run
 *   against.
 */

/** What a block's marker says about running it. */
export type BlockKind = "ends" | "runs-until-stopped" | "check-only" | "offline-prelude";

/** One ```ts block of a Markdown file. */
export interface DocBlock {
  /** The Markdown file, relative to the repository. */
  file: string;
  /** The line of its opening fence, 1-based. */
  line: number;
  /** The words after ```ts on the fence line (such as `ignore`). */
  flags: string[];
  kind: BlockKind;
  /** Why a `check-only` block cannot run. */
  reason?: string;
  code: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)\s*(.*)$/;
const MARKER = /^<!--\s*docs-test:\s*([a-z-]+)\s*(?:\((.+)\))?\s*-->$/;

/**
 * The ```ts (or ```typescript) blocks of `text`, with their markers.
 *
 * @throws {Error} for a marker this file does not know, or a check-only
 * marker without its reason.
 */
export function blocksOf(file: string, text: string): DocBlock[] {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, language, rest] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trim().startsWith(fence!)) end++;
    if (language === "ts" || language === "typescript") {
      const code = lines.slice(i + 1, end).map((line) => line.slice(indent!.length)).join("\n");
      blocks.push({
        file,
        line: i + 1,
        flags: rest!.split(/\s+/).filter(Boolean),
        ...marker(lines, i),
        code,
      });
    }
    i = end;
  }
  return blocks;
}

/** The marker on the last non-blank line before line `at`, if any. */
function marker(lines: string[], at: number): { kind: BlockKind; reason?: string } {
  let i = at - 1;
  while (i >= 0 && lines[i]!.trim() === "") i--;
  const found = i >= 0 ? MARKER.exec(lines[i]!.trim()) : null;
  if (found === null) return { kind: "ends" };
  const [, kind, reason] = found;
  if (kind === "check-only") {
    if (reason === undefined) throw new Error(`line ${i + 1}: check-only needs its reason in ( )`);
    return { kind, reason };
  }
  if (kind === "runs-until-stopped" || kind === "offline-prelude") return { kind };
  throw new Error(`line ${i + 1}: unknown docs-test marker ${JSON.stringify(kind)}`);
}

/** The package's entries, for blocks run from outside the repository. */
export function withLocalImports(code: string, root: URL): string {
  const entries: Record<string, string> = {
    "@x/douyu": new URL("mod.ts", root).href,
    "@x/douyu/testing": new URL("src/testing/mod.ts", root).href,
    "@x/douyu/nats": new URL("src/nats/mod.ts", root).href,
    "@x/douyu/archive": new URL("src/archive/mod.ts", root).href,
  };
  return code.replace(
    /(["'])(@x\/douyu(?:\/testing|\/nats|\/archive)?)\1/g,
    (whole, quote: string, name: string) => `${quote}${entries[name] ?? whole}${quote}`,
  );
}

/** Whether a block starts its own stand-ins (it imports `@x/douyu/testing`): it runs as written. */
export function startsItsOwn(code: string): boolean {
  return /from\s+["']@x\/douyu\/testing["']/.test(code);
}

/**
 * The calls that reach Douyu, and which of their arguments is the options
 * object: `offline` goes there.
 */
const REACHING_DOUYU: ReadonlyArray<{ call: RegExp; options: number }> = [
  { call: /(?<![\w$.])connect\s*\(/g, options: 1 },
  { call: /(?<![\w$.])watchLive\s*\(/g, options: 1 },
  { call: /(?<![\w$.])fetchRoomInfo\s*\(/g, options: 1 },
  { call: /(?<![\w$.])resolveRoom\s*\(/g, options: 1 },
  { call: /(?<![\w$.])fetchGiftCatalog\s*\(/g, options: 1 },
  { call: /\bnew\s+Hub\s*\(/g, options: 0 },
  { call: /\bnew\s+GiftCatalogCache\s*\(/g, options: 0 },
];

/**
 * `code` with `offline` given to every call that would reach Douyu, over the
 * options it already has, as docs/library.md says: `f(a)` → `f(a, offline)`,
 * `f(a, { b })` → `f(a, { ...offline, b })`, `f(a, options)` →
 * `f(a, { ...offline, ...options })`. Calls named in comments and strings
 * are left alone. Also how many calls were changed.
 */
export function offlineCalls(code: string): { code: string; changed: number } {
  // Searched with comments and string contents blanked out, edited in the original.
  const bare = blankNonCode(code);
  const edits: { at: number; remove: number; text: string }[] = [];
  for (const { call, options } of REACHING_DOUYU) {
    for (const match of bare.matchAll(call)) {
      const open = match.index! + match[0].length - 1;
      const args = argumentsOf(bare, open);
      const target = args[options];
      if (target !== undefined) {
        const source = code.slice(target.start, target.end);
        const text = source.startsWith("{")
          ? `{ ...offline, ${source.slice(1).trimStart()}`
          : `{ ...offline, ...${source} }`;
        edits.push({ at: target.start, remove: target.end - target.start, text });
      } else if (args.length === options) {
        const last = args.at(-1);
        edits.push({
          at: last === undefined ? open + 1 : last.end,
          remove: 0,
          text: last === undefined ? "offline" : ", offline",
        });
      } else {
        throw new Error(`${match[0]}…) at offset ${open} has too few arguments`);
      }
    }
  }
  edits.sort((a, b) => b.at - a.at);
  let result = code;
  for (const edit of edits) {
    result = result.slice(0, edit.at) + edit.text + result.slice(edit.at + edit.remove);
  }
  return { code: result, changed: edits.length };
}

/**
 * The top-level arguments of the call whose `(` is at `open` in `bare` (code
 * with comments and strings blanked): each one's start and end offsets,
 * without the blanks around it.
 */
function argumentsOf(bare: string, open: number): { start: number; end: number }[] {
  const list: { start: number; end: number }[] = [];
  let depth = 0;
  let start = open + 1;
  const push = (end: number) => {
    const text = bare.slice(start, end);
    const lead = text.length - text.trimStart().length;
    const trimmed = text.trim();
    if (trimmed !== "") list.push({ start: start + lead, end: start + lead + trimmed.length });
  };
  for (let i = open + 1; i < bare.length; i++) {
    const c = bare[i]!;
    if (c === "(" || c === "[" || c === "{") {
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      if (depth === 0) {
        push(i);
        return list;
      }
      depth--;
    } else if (c === "," && depth === 0) {
      push(i);
      start = i + 1;
    }
  }
  throw new Error(`unbalanced call at offset ${open}`);
}

/**
 * `code` with the text of comments and of string and template literals
 * replaced by spaces (their quotes kept), offsets unchanged: what is left is
 * the code's own brackets, commas and names.
 */
export function blankNonCode(code: string): string {
  const out = code.split("");
  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (c === "/" && code[i + 1] === "/") {
      const end = code.indexOf("\n", i);
      const stop = end === -1 ? code.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && code[i + 1] === "*") {
      const end = code.indexOf("*/", i + 2);
      const stop = end === -1 ? code.length : end + 2;
      blank(i, stop);
      i = stop - 1;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < code.length && code[j] !== c) j += code[j] === "\\" ? 2 : 1;
      blank(i + 1, j);
      i = j;
    }
  }
  return out.join("");
}
