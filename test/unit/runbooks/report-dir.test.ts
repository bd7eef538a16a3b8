import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { prepareReportDir, REPORT_MARKER } from "../../../runbooks/report-dir";

const made: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "ferry-report-dir-"));
  made.push(d);
  return d;
}
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

function refusal(f: () => void): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("not refused");
}

describe("a drill's report directory", () => {
  it("is made, with the marker, where nothing is", () => {
    const dir = join(scratch(), "new", "report");
    prepareReportDir(dir);
    expect(readdirSync(dir)).toEqual([REPORT_MARKER]);
  });

  it("uses an empty directory", () => {
    const dir = scratch();
    prepareReportDir(dir);
    expect(readdirSync(dir)).toEqual([REPORT_MARKER]);
  });

  it("refuses a directory with files no drill wrote, and deletes nothing", () => {
    const dir = scratch();
    writeFileSync(join(dir, "thesis.tex"), "years of work");
    mkdirSync(join(dir, "figures"));
    const e = refusal(() => prepareReportDir(dir));
    expect(isUserError(e) && e.code).toBe("ReportDirNotEmpty");
    expect(e.message).toContain(`--report-dir ${dir} is not empty`);
    expect(readdirSync(dir).sort()).toEqual(["figures", "thesis.tex"]);
  });

  it("refuses a file", () => {
    const file = join(scratch(), "report.html");
    writeFileSync(file, "<html>");
    expect(refusal(() => prepareReportDir(file)).message).toContain("is a file");
    expect(existsSync(file)).toBe(true);
  });

  it("replaces what an earlier drill wrote", () => {
    const dir = scratch();
    prepareReportDir(dir);
    writeFileSync(join(dir, "index.html"), "old report");
    mkdirSync(join(dir, "rows"));
    prepareReportDir(dir);
    expect(readdirSync(dir)).toEqual([REPORT_MARKER]);
  });
});
