/**
 * The `douyu` command as a program of its own: the entry point of the npm
 * build's `bin` (`scripts/build_npm.ts`). `mod.ts` starts the command only
 * when `import.meta.main` is true, which Node has only from 24.2 on; this file
 * starts it unconditionally, so it must never be imported by the library.
 *
 * @module
 */

import { runCli } from "./process_io.ts";

await runCli();
