import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Options of {@link writeJsonAtomic}. */
export interface WriteJsonAtomicOptions {
  /**
   * Flush the file and its folder to disk. Default true. Without: never half a file, but a power loss may keep the
   * old content (for a copy the process never reads back).
   */
  flush?: boolean;
}

/**
 * Writes `value` as JSON (two-space indented) to `path` so that the file is always either the old
 * content or the new, whole, even if the process or the machine stops half-way: the JSON goes to a
 * new temporary file beside it, which is flushed to disk, then renamed over `path`, and the folder
 * is flushed so the rename itself survives a power loss. The folder must exist.
 *
 * Asynchronous: the writes and flushes run on libuv's thread pool. Written synchronously, each flush
 * held the event loop for ~5 ms, and a process applying ten stacks at once stalled on them.
 */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: WriteJsonAtomicOptions = {},
): Promise<void> {
  const flush = options.flush ?? true;
  const text = JSON.stringify(value, null, 2);
  const dir = dirname(path);
  // A name of its own (never `path`, never another writer's): "wx" refuses an existing file.
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const file = await open(temp, "wx");
  try {
    try {
      await file.writeFile(text);
      if (flush) await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  if (flush) await fsyncDirectory(dir);
}

async function fsyncDirectory(dir: string): Promise<void> {
  // Windows cannot open a folder as a file, and its renames need no folder flush.
  if (process.platform === "win32") return;
  const folder = await open(dir, "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
