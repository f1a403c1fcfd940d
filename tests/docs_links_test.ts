/**
 * The README and the manuals of `docs/` link to each other, to sections and
 * to files of the repository: every such link must lead somewhere. A
 * section is named by its heading as GitHub (and JSR) make anchors of it.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { test } from "./harness.ts";
import { ROOT } from "./process.ts";

/**
 * Pages linked to while another change writes them. A page here that exists
 * fails the test, so the list empties itself as they land.
 */
const PAGES_BEING_WRITTEN: string[] = [];

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\- _]/gu, "").replace(/ /g, "-");
}

/** The anchors of a Markdown text's headings (outside code blocks), repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(line);
    if (heading === null) continue;
    const anchor = anchorOf(heading[1]!.trim());
    const count = seen.get(anchor) ?? 0;
    seen.set(anchor, count + 1);
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
  }
  return anchors;
}

/** The relative link targets of a Markdown text (outside code blocks and code spans). */
function linksOf(markdown: string): string[] {
  const links: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) continue;
    const text = line.replace(/`[^`]*`/g, "``");
    for (const match of text.matchAll(/\]\(([^)\s]+)\)|^\[[^\]]+\]: (\S+)$/g)) {
      const target = match[1] ?? match[2]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

async function pages(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, "docs"))).filter((name) => name.endsWith(".md"));
  return ["README.md", ...docs.sort().map((name) => `docs/${name}`)];
}

test("docs: every relative link of the README and docs/ leads to a file and a section", async () => {
  const broken: string[] = [];
  const anchors = new Map<string, Set<string>>();
  const anchorsIn = async (page: string) => {
    if (!anchors.has(page)) anchors.set(page, anchorsOf(await readFile(join(ROOT, page), "utf8")));
    return anchors.get(page)!;
  };
  for (const page of await pages()) {
    for (const link of linksOf(await readFile(join(ROOT, page), "utf8"))) {
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === "" ? page : normalize(join(dirname(page), path));
      if (PAGES_BEING_WRITTEN.includes(target)) continue;
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${page}: ${link} (no file ${target})`);
      } else if (anchor !== undefined && target.endsWith(".md")) {
        if (!(await anchorsIn(target)).has(anchor)) broken.push(`${page}: ${link} (no section)`);
      }
    }
  }
  deepStrictEqual(broken, []);
  for (const page of PAGES_BEING_WRITTEN) {
    ok(!existsSync(join(ROOT, page)), `${page} exists now: take it off PAGES_BEING_WRITTEN`);
  }
});

test("docs: anchors are made as GitHub makes them", () => {
  deepStrictEqual(
    [...anchorsOf("# A\n## Many rooms: the `Hub`\n```\n# not a heading\n```\n## A\n")],
    ["a", "many-rooms-the-hub", "a-1"],
  );
  deepStrictEqual(
    anchorOf("Testing your bot with `@x/douyu/testing`"),
    "testing-your-bot-with-xdouyutesting",
  );
  deepStrictEqual(anchorOf("On Node: the npm build"), "on-node-the-npm-build");
  deepStrictEqual(
    linksOf("[a](b.md#c) `[x](y)` [d](https://e)\n```\n[f](g)\n```\n[sse]: ./h.md"),
    ["b.md#c", "./h.md"],
  );
});
