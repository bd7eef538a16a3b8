// `ferry`'s entry point: what bin/ferry.mjs runs, bundled (dist/ferry.mjs) or from the sources.
import { exitInterrupted, interrupted, processIo, runCli } from "./cli";
import { onInterrupt } from "./signals";

// `npm run ferry` passes a terminal's Ctrl-C on once more: that copy is not a second Ctrl-C.
onInterrupt(interrupted, exitInterrupted);
process.exit(await runCli(process.argv.slice(2), processIo()));
