import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "../build";
import { startAzurite } from "../local/azurite";
import type { BenchResult } from "./report";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface CliBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Timed runs of each command per side. Default 5. */
  runs?: number;
}

/** The median of some numbers. */
function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs a command to its end; resolves with its wall time in milliseconds. */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("error", reject);
    child.once("exit", (c) => resolve({ code: c, stderr: err }));
  });
  const ms = performance.now() - start;
  if (code !== 0) throw new Error(`cli bench: node ${args.join(" ")} exited ${code}: ${stderr}`);
  return ms;
}

/**
 * `npm run bench -- cli`: the wall time of `ferry --help`, and of `ferry sources list` against a local
 * state store (a command that loads the Azure SDK and answers), run from the bundle that `npm run
 * build` makes against the reference: the same command from the TypeScript sources through tsx (what
 * bin/ferry.mjs runs without a bundle). Both sides run in turn, after one untimed run each (tsx's
 * compile cache warm, the files in the page cache); each value is the median of `runs`.
 */
export async function runCliBenches(options: CliBenchOptions): Promise<BenchResult[]> {
  const { workDir, log } = options;
  const runs = options.runs ?? 5;
  mkdirSync(workDir, { recursive: true });
  // Inside the project: the bundle imports Pulumi's packages from node_modules.
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const outDir = mkdtempSync(join(ROOT, ".tmp", "bench-cli-"));
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  try {
    log("cli: building the bundle");
    const bundle = (await buildBundle("ferry", { outDir })).file;
    const sides = { bundle: [bundle], tsx: ["--import", "tsx/esm", join(ROOT, "runbooks", "main.ts")] };
    const config = join(workDir, "ferry.json");
    writeFileSync(
      config,
      JSON.stringify({
        azure: { subscriptionId: "00000000-0000-0000-0000-000000000001", credential: { kind: "emulator" } },
        stateStore: { kind: "connectionStringEnv", variable: "FERRY_BENCH_TABLE", tableName: "benchcli" },
        landingZoneStack: "lz",
        journalDir: join(workDir, "journal"),
      }),
    );
    const env = { ...process.env, FERRY_BENCH_TABLE: azurite.connectionString, FERRY_LOG_LEVEL: "warn" };
    const commands = [
      { bench: "cli: ferry --help", args: ["--help"], goal: "under 1 s; ratio = tsx / bundle" },
      {
        bench: "cli: ferry sources list",
        args: ["sources", "list", "--json", "--config", config],
        goal: "faster than tsx; ratio = tsx / bundle",
      },
    ];
    const results: BenchResult[] = [];
    for (const c of commands) {
      log(`${c.bench}: ${runs} runs of the bundle and of the sources through tsx, in turn`);
      const times = { bundle: [] as number[], tsx: [] as number[] };
      for (let i = 0; i <= runs; i++)
        for (const side of ["bundle", "tsx"] as const) {
          const ms = await timed([...sides[side], ...c.args], env);
          if (i > 0) times[side].push(ms);
        }
      const value = median(times.bundle);
      const reference = median(times.tsx);
      log(
        `${c.bench}: bundle ${times.bundle.map((t) => t.toFixed(0)).join(" ")} ms; ` +
          `tsx ${times.tsx.map((t) => t.toFixed(0)).join(" ")} ms`,
      );
      results.push({
        bench: c.bench,
        value,
        unit: "ms",
        reference,
        ratio: reference / value,
        goal: c.goal,
        ok: c.args[0] === "--help" ? value < 1000 : value < reference,
      });
    }
    return results;
  } finally {
    await azurite.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}
