import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { writeJsonAtomic } from "../../../adapters/files/atomic-json";

const dirFor = () => mkdtempSync(join(tmpdir(), "ferry-atomic-json-"));

describe("writeJsonAtomic", () => {
  it("replaces the file with the new value and leaves nothing else in the folder", async () => {
    const dir = dirFor();
    const path = join(dir, "state.json");
    await writeJsonAtomic(path, { version: 1 });
    await writeJsonAtomic(path, { version: 2, rows: ["a"] });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ version: 2, rows: ["a"] });
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });

  it("leaves the old file whole when the writing process dies part-way through the new one", () => {
    const dir = dirFor();
    const path = join(dir, "state.json");
    writeFileSync(path, JSON.stringify({ version: 1 }));
    // The child may write at most 256 KiB to any file: its 4 MiB of JSON fail mid-write (EFBIG), and
    // the uncaught error ends it there, as a crash would.
    const module = pathToFileURL(resolve("adapters/files/atomic-json.ts")).href;
    const script =
      `const { writeJsonAtomic } = await import(${JSON.stringify(module)});` +
      `await writeJsonAtomic(${JSON.stringify(path)}, { version: 2, filler: "x".repeat(4 * 1024 * 1024) });`;
    const child = spawnSync(
      "bash",
      ["-c", 'ulimit -f 256 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script],
      { encoding: "utf8" },
    );
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/EFBIG/);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ version: 1 });
  });
});
