import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A new empty folder under the system's temp folder; the caller removes it. */
export function tempDir(prefix = "ferry-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
