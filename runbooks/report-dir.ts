import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/errors";

/** The file a drill leaves in its report directory: a later drill may replace what is there. */
export const REPORT_MARKER = ".ferry-drill-report";

/**
 * Makes `dir` ready for a drill's report. A new or empty directory is used; one an earlier drill
 * wrote (it holds {@link REPORT_MARKER}) is emptied; anything else is refused with a UserError
 * naming it, untouched: `--report-dir` pointed at the wrong place must not delete someone's files.
 */
export function prepareReportDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new UserError(`--report-dir ${dir} is a file, not a directory: name a new or empty directory.`, {
        code: "ReportDirNotEmpty",
      });
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(REPORT_MARKER))
      throw new UserError(
        `--report-dir ${dir} is not empty and no drill wrote it (there is no ${REPORT_MARKER} in it): ` +
          "nothing was deleted. Name a new or empty directory, or one an earlier drill wrote.",
        { code: "ReportDirNotEmpty" },
      );
    // An earlier drill's report: replaced whole, so no file of it is mistaken for this drill's.
    for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, REPORT_MARKER), "A ferry drill's report: the next drill given this directory replaces it.\n");
}
