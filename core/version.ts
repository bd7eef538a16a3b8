import pkg from "../package.json" with { type: "json" };

/**
 * The git commit a bundle was built from: the build (build.ts) puts it in as a literal. Not defined when
 * the commands run from their TypeScript sources, where nothing says which commit the files match.
 */
declare const FERRY_BUILD_COMMIT: string | undefined;

/** What `--version` reports: which ferry this is, for audit reports and bug reports. */
export interface BuildInfo {
  /** The version in package.json. */
  version: string;
  /**
   * The full git commit id the bundle was built from (`-dirty` when the tree had uncommitted changes), or `unknown`.
   */
  commit: string;
}

export const BUILD_INFO: BuildInfo = {
  version: pkg.version,
  commit: typeof FERRY_BUILD_COMMIT === "string" ? FERRY_BUILD_COMMIT : "unknown",
};

/** The line `<command> --version` prints, e.g. `ferry 0.1.0 (commit 3f2c…)`. */
export function versionLine(command: string, info: BuildInfo = BUILD_INFO): string {
  return `${command} ${info.version} (commit ${info.commit})`;
}
