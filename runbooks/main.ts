// `ferry`'s entry point: what bin/ferry.mjs runs, bundled (dist/ferry.mjs) or from the sources.
import { interrupted, processIo, runCli } from "./cli";

process.on("SIGINT", interrupted);
process.exit(await runCli(process.argv.slice(2), processIo()));
