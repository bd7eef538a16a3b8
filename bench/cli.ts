import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printResults, type BenchResult } from "./report";
import { runCliBenches } from "./cli-start";
import { runFailbackBenches } from "./failback";
import { runFailoverBenches } from "./failover";
import { runPlanBenches } from "./plan";
import { runSyncBenches } from "./sync";

/**
 * `npm run bench -- [sync] [failover] [failback] [cli] [plan] [--disk-gib <n>] [--only backfill,delta,memory]
 * [--speedup <n>] [--json] [--keep]`:
 * benchmarks with their references (tools, or the critical path of Azure's latencies), measured in the same run.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const keep = args.includes("--keep");
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? args[onlyAt + 1]?.split(",") : undefined;
  const diskAt = args.indexOf("--disk-gib");
  const diskGiB = diskAt >= 0 ? Number(args[diskAt + 1]) : undefined;
  if (diskGiB !== undefined && !(diskGiB >= 1 && Number.isInteger(diskGiB)))
    throw new Error(`--disk-gib must be a whole number >= 1 (got ${args[diskAt + 1]}).`);
  const speedupAt = args.indexOf("--speedup");
  const speedup = speedupAt >= 0 ? Number(args[speedupAt + 1]) : undefined;
  if (speedup !== undefined && !(speedup >= 1))
    throw new Error(`--speedup must be a number >= 1 (got ${args[speedupAt + 1]}).`);
  const suites = args.filter(
    (a, i) =>
      !a.startsWith("--") &&
      (onlyAt < 0 || i !== onlyAt + 1) &&
      (speedupAt < 0 || i !== speedupAt + 1) &&
      (diskAt < 0 || i !== diskAt + 1),
  );
  const known = ["sync", "failover", "failback", "cli", "plan"];
  const unknown = suites.filter((s) => !known.includes(s));
  if (unknown.length) throw new Error(`Unknown benchmark suite ${unknown.join(", ")}. Suites: ${known.join(", ")}.`);
  const workDir = mkdtempSync(join(tmpdir(), "ferry-bench-"));
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const results: BenchResult[] = [];
  try {
    if (suites.length === 0 || suites.includes("sync"))
      results.push(...(await runSyncBenches({ workDir: join(workDir, "sync"), log, ...(only ? { only } : {}) })));
    if (suites.length === 0 || suites.includes("failover"))
      results.push(
        ...(await runFailoverBenches({ workDir: join(workDir, "failover"), log, ...(speedup ? { speedup } : {}) })),
      );
    if (suites.length === 0 || suites.includes("failback"))
      results.push(
        ...(await runFailbackBenches({ workDir: join(workDir, "failback"), log, ...(diskGiB ? { diskGiB } : {}) })),
      );
    // 55 VMs: only when asked for (`npm run bench -- plan`).
    if (suites.includes("plan"))
      results.push(...(await runPlanBenches({ workDir: join(workDir, "plan"), log, ...(speedup ? { speedup } : {}) })));
    if (suites.length === 0 || suites.includes("cli"))
      results.push(...(await runCliBenches({ workDir: join(workDir, "cli"), log })));
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
  printResults(results, json);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
