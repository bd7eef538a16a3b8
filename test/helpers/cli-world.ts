import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { beforeAll } from "vitest";
import { runLocalCli } from "../../local/ferry";
import type { CliIo } from "../../runbooks/commands/common";
import { useDrWorld, type DrWorld, type DrWorldOptions } from "./dr-env";
import { tempDir } from "./emulator";

/** What `ferry` printed and returned, run in-process. */
export interface CliRun {
  code: number;
  /** Standard output (results). */
  out: string;
  /** The log and error stream. */
  err: string;
}

/** Options of {@link useCliWorld}. */
export interface CliWorldOptions extends DrWorldOptions {
  /** `FERRY_LOG_LEVEL` of every run. Default "info". */
  logLevel?: string;
}

/**
 * A test file's DR world with its `ferry.json` written to a temp folder, and `ferry`, which runs the
 * CLI in-process on it as an operator would (the local deployer injected): with the world's config
 * unless the arguments name one, in the world's environment unless given another.
 */
export function useCliWorld(options: CliWorldOptions = {}) {
  const dr = useDrWorld(options);
  let configPath = "";
  let env: NodeJS.ProcessEnv = {};
  beforeAll(() => {
    configPath = join(tempDir("ferry-cli-"), "ferry.json");
    writeFileSync(configPath, JSON.stringify(dr.world.config));
    env = { ...dr.world.env, FERRY_LOG_LEVEL: options.logLevel ?? "info" };
  });
  async function ferry(args: string[], environment: NodeJS.ProcessEnv = env): Promise<CliRun> {
    const out: string[] = [];
    const err = new PassThrough();
    const chunks: Buffer[] = [];
    err.on("data", (c: Buffer) => chunks.push(c));
    const io: CliIo = { out: (t) => out.push(t), logStream: err, logIsTty: false, env: environment };
    const code = await runLocalCli(args.includes("--config") ? args : [...args, "--config", configPath], io);
    return { code, out: out.join("\n"), err: Buffer.concat(chunks).toString() };
  }
  return {
    f: dr.f,
    a: dr.a,
    ferry,
    get world(): DrWorld {
      return dr.world;
    },
    /** The world's ferry.json (set once the tests run). */
    get configPath() {
      return configPath;
    },
    /** The environment every run gets by default (set once the tests run). */
    get env() {
      return env;
    },
  };
}
