import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JsonFileWriter, JsonText } from "../../storage/files";
import { tempDir } from "../../testing";

describe("JsonFileWriter", () => {
  it("coalesces saves made while a write is in flight into one more write, holding the last value", async () => {
    const path = join(tempDir(), "state.json");
    let value = 0;
    let reads = 0;
    const writer = new JsonFileWriter(path, () => {
      reads++;
      return { value };
    });
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      value = i;
      saves.push(writer.save());
    }
    await Promise.all(saves);
    expect(reads).toBeLessThanOrEqual(2);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ value: 100 });
    expect(writer.dirty).toBe(false);
  });

  it("resolves a save only once the file holds the change saved", async () => {
    const path = join(tempDir(), "state.json");
    let value = "first";
    const writer = new JsonFileWriter(path, () => ({ value }));
    const first = writer.save();
    value = "second";
    const second = writer.save();
    await first;
    // The first write may have read "second" already; either way the file holds at least the first change.
    expect(["first", "second"]).toContain((JSON.parse(readFileSync(path, "utf8")) as { value: string }).value);
    await second;
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ value: "second" });
  });

  it("rejects the saves of a failed write and writes the change with the next save", async () => {
    const dir = join(tempDir(), "later");
    const writer = new JsonFileWriter(join(dir, "state.json"), () => ({ value: 1 }));
    await expect(writer.save()).rejects.toThrow(/ENOENT/);
    expect(writer.dirty).toBe(true);
    mkdirSync(dir);
    await writer.durable();
    expect(JSON.parse(readFileSync(join(dir, "state.json"), "utf8"))).toEqual({ value: 1 });
  });

  it("writes a value serialised by its owner as it is", async () => {
    const path = join(tempDir(), "state.json");
    const writer = new JsonFileWriter(path, () => new JsonText('{"a":[1, 2]}'));
    await writer.save();
    expect(readFileSync(path, "utf8")).toBe('{"a":[1, 2]}');
  });
});
