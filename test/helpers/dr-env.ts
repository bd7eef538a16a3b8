import { Writable } from "node:stream";
import { afterAll, beforeAll } from "vitest";
import { createLogger } from "../../core/logger";
import {
  createLocalWorld,
  DR,
  PRIMARY,
  type LocalWorld,
  type LocalWorldOptions,
  type Workload,
  type WorkloadVm,
} from "../../local/world";
import { useAzurite, type AzuriteFixture } from "./azurite";
import type { StartEmulatorOptions } from "@ferry/emulator";
import { tempDir, useEmulator, type EmulatorFixture } from "./emulator";

export { DR, PRIMARY, type Workload, type WorkloadVm };

/** The local DR world of the drill, on a test's emulator and Azurite, with every log line kept. */
export interface DrWorld extends LocalWorld {
  logLines: string[];
}

/**
 * Options of the world a test builds: the sync interval, throttling, the SDKs' retries (everything else is the
 * test's fixtures).
 */
export type DrWorldOptions = Pick<LocalWorldOptions, "syncIntervalSeconds" | "throttling" | "retry">;

export async function createDrWorld(
  f: EmulatorFixture,
  a: AzuriteFixture,
  options: DrWorldOptions = {},
): Promise<DrWorld> {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const world = await createLocalWorld({
    emu: f.emu,
    tableConnectionString: a.azurite.connectionString,
    tableName: a.newTableName(),
    dir: tempDir("ferry-world-"),
    logger: createLogger({ level: "debug", destination: sink, env: {} }),
    ...options,
  });
  return Object.assign(world, { logLines });
}

/**
 * A test file's DR world: the emulator and Azurite fixtures, and the world built on them before the
 * file's tests (closed after them). `world` is set once the tests run.
 */
export function useDrWorld(
  options: DrWorldOptions = {},
  emulatorOptions: Partial<StartEmulatorOptions> = {},
): {
  f: EmulatorFixture;
  a: AzuriteFixture;
  readonly world: DrWorld;
} {
  const f = useEmulator(emulatorOptions);
  const a = useAzurite();
  let world: DrWorld | undefined;
  beforeAll(async () => {
    world = await createDrWorld(f, a, options);
  });
  afterAll(async () => {
    await world?.close();
  });
  return {
    f,
    a,
    get world() {
      if (!world) throw new Error("the DR world is built in beforeAll: use it inside tests");
      return world;
    },
  };
}
