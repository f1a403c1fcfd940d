/**
 * Headless Chromium for the browser tests and the overlay benchmark: Debian's
 * `chromium` driven by `playwright-core` (a development dependency, pinned
 * here; the library itself has none).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "npm:playwright-core@1.65.1";

export type { BrowserContext, Page } from "npm:playwright-core@1.65.1";

/** Where Debian's package puts Chromium; `CHROMIUM` overrides it. */
export function chromiumPath(): string {
  const path = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    // A failure, never a skip: CI must have a browser (`.ci/run` installs it).
    throw new Error(`no Chromium at ${path}: apt-get install -y chromium (or set CHROMIUM)`);
  }
  return path;
}

/** Flags that work on a machine without a network beyond loopback. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser with a fresh profile; `close()` ends it and removes the profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh `--user-data-dir`; `args` adds flags
 * (say `--host-resolver-rules=MAP evil.example 127.0.0.1`).
 */
export async function launch(
  options: { width?: number; height?: number; args?: string[] } = {},
): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "douyu-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: [...FLAGS, ...(options.args ?? [])],
    viewport: { width: options.width ?? 480, height: options.height ?? 640 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
