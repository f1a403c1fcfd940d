/**
 * `douyu` commands run in-process for the tests that need several at once
 * (a server, an overlay, a collector): each with its own output and its own
 * Ctrl-C.
 */
import { main } from "../src/cli/cli.ts";
import type { CliIO } from "../src/cli/io.ts";

/** A `douyu` command run in-process until it ends or `stop` aborts. */
export interface Command {
  readonly code: Promise<number>;
  readonly stop: AbortController;
  out(): string;
  err(): string;
  /** The first match of `pattern` in stdout + stderr, once it shows (10 s at most). */
  match(pattern: RegExp): Promise<RegExpExecArray>;
}

/** Runs `douyu …args` in-process, capturing its output. */
export function command(args: string[]): Command {
  const stop = new AbortController();
  let out = "";
  let err = "";
  const io: CliIO = {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    signal: stop.signal,
  };
  return {
    code: main(args, io),
    stop,
    out: () => out,
    err: () => err,
    match: async (pattern) => {
      for (let i = 0; i < 1000; i++) {
        const found = pattern.exec(out + err);
        if (found !== null) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no ${pattern} in: ${out}${err}`);
    },
  };
}

/** `douyu serve --loop` of the sample at `speed`, and its TCP URL. */
export async function serveSample(speed: number): Promise<{ serve: Command; url: string }> {
  const serve = command(["serve", "--port", "0", "--loop", "--speed", String(speed)]);
  const [, url] = await serve.match(/listening on (tcp:\/\/\S+) and/);
  return { serve, url: url! };
}
