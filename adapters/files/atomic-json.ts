import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes `value` as JSON (two-space indented) to `path` so that the file is always either the old
 * content or the new, whole, even if the process or the machine stops half-way: the JSON goes to a
 * new temporary file beside it, which is flushed to disk, then renamed over `path`, and the folder
 * is flushed so the rename itself survives a power loss. The folder must exist.
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  const dir = dirname(path);
  // A name of its own (never `path`, never another writer's): "wx" refuses an existing file.
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx");
  try {
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  fsyncDirectory(dir);
}

function fsyncDirectory(dir: string): void {
  // Windows cannot open a folder as a file, and its renames need no folder flush.
  if (process.platform === "win32") return;
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
