#!/usr/bin/env node
// `ferry`: the runbooks' command, run from its TypeScript sources.
import { register } from "tsx/esm/api";

register();
const { runCli, processIo, interrupted } = await import("../runbooks/cli.ts");
process.on("SIGINT", interrupted);
process.exit(await runCli(process.argv.slice(2), processIo()));
