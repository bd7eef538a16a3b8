// `npm run ferry:local -- …`: the `ferry` CLI against the local Azure, with the in-process deployer
// (`deployer.kind: "local"` in the config), which the product CLI refuses.
import { pathToFileURL } from "node:url";
import { interrupted, processIo, runCli } from "../runbooks/cli";
import type { CliIo } from "../runbooks/commands/common";
import { localDeployer } from "./deployer/local-deployer";

/** Runs a `ferry` command with the local harness's deployer available. */
export function runLocalCli(argv: string[], io: CliIo): Promise<number> {
  return runCli(argv, { ...io, context: { ...io.context, localDeployer } });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.on("SIGINT", interrupted);
  process.exit(await runLocalCli(process.argv.slice(2), processIo()));
}
