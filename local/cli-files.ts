import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FerryConfig } from "../runbooks/config";

/** Options for {@link writeLocalCliFiles}. */
export interface WriteLocalCliFilesOptions {
  /** The running local world's own folder: the files go there and last as long as it does. */
  dir: string;
  /** The local world's ferry config (`LocalWorld.config`), written as `ferry.json`. */
  config: FerryConfig;
  /**
   * Azurite's connection string, for the variable `config.stateStore` names. Its account key is
   * Azurite's well-known development key, published by Microsoft: the only key the files hold.
   */
  tableConnectionString: string;
  /** Who started the world, for the env file's heading (e.g. "npm run local -- up"). */
  startedBy: string;
}

/** The files that point the `ferry` CLI at a running local world. */
export interface LocalCliFiles {
  /** `ferry.json`: the local world's config (no secret in it). */
  configPath: string;
  /** `ferry.env`: `FERRY_CONFIG` and the state store's connection string, in `sh` syntax. */
  envPath: string;
  /** The shell line that runs `npm run ferry:local -- <command>` with them (from the repository). */
  useLine(command: string): string;
}

/**
 * Writes `ferry.json` and `ferry.env` for a running local world, both mode 0600: the CLI needs
 * nothing else. The config names the emulator's endpoint and CA file (`azure.caCertPath`), the
 * local deployer's and journal's folders, and the environment variable of the state store's
 * connection string, which only the env file holds (a ferry config never holds one).
 */
export function writeLocalCliFiles(options: WriteLocalCliFilesOptions): LocalCliFiles {
  const { dir, config } = options;
  if (config.stateStore.kind !== "connectionStringEnv")
    throw new Error("a local world's state store is Azurite, reached through a connection string variable");
  const configPath = join(dir, "ferry.json");
  const envPath = join(dir, "ferry.env");
  writePrivate(configPath, `${JSON.stringify(config, null, 2)}\n`);
  writePrivate(
    envPath,
    [
      `# The ferry CLI against the local world of \`${options.startedBy}\` (process ${process.pid}),`,
      "# valid while it runs. From the repository:",
      `#   set -a; . ${envPath}; set +a; npm run ferry:local -- sources list`,
      "# The account key is Azurite's well-known development key, the same in every Azurite.",
      `FERRY_CONFIG=${shellQuote(configPath)}`,
      `${config.stateStore.variable}=${shellQuote(options.tableConnectionString)}`,
      "",
    ].join("\n"),
  );
  return {
    configPath,
    envPath,
    useLine: (command) => `set -a; . ${shellQuote(envPath)}; set +a; npm run ferry:local -- ${command}`,
  };
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  // A file that was there keeps its mode through writeFileSync.
  chmodSync(path, 0o600);
}

/** `value` as one `sh` word: single-quoted unless it is plain. */
export function shellQuote(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
