import { Writable } from "node:stream";
import { createLogger } from "../../core/logger";
import { createLocalWorld, DR, PRIMARY, type LocalWorld, type Workload, type WorkloadVm } from "../../runbooks/local/world";
import type { AzuriteFixture } from "./azurite";
import { tempDir, type EmulatorFixture } from "./emulator";

export { DR, PRIMARY, type Workload, type WorkloadVm };

/** The local DR world of the drill, on a test's emulator and Azurite, with every log line kept. */
export interface DrWorld extends LocalWorld {
  logLines: string[];
}

export async function createDrWorld(f: EmulatorFixture, a: AzuriteFixture): Promise<DrWorld> {
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
  });
  return Object.assign(world, { logLines });
}
