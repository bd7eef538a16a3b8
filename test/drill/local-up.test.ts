import { spawn, spawnSync as runSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";

// `npm run local -- up` as the README tells an operator to start it, then the `ferry` CLI through
// the one line it prints, with nothing but the files it wrote.

const repo = process.cwd();
// Each ferry command starts a process that compiles its sources (tsx): seconds, a minute on a busy machine.
const CLI_TIMEOUT = 240_000;

interface LocalWorldProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A terminal's Ctrl-C: SIGINT to every process of the group (npm, node, Azurite, the device daemon). */
  ctrlC(): void;
}

/** Starts `npm run local -- up` in a process group of its own, as a shell starts a foreground job. */
function startLocalWorld(tmp: string): LocalWorldProcess {
  const child = spawn("npm", ["run", "local", "--", "up", "--latency", "zero"], {
    cwd: repo,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const output: string[] = [];
  const keep = (d: Buffer) => output.push(...d.toString().split("\n"));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited, ctrlC: () => process.kill(-child.pid!, "SIGINT") };
}

/** Waits until the world serves; returns the line it printed to run `ferry` with its files. */
async function serving(world: LocalWorldProcess): Promise<string> {
  await waitFor(
    async () => world.output.some((l) => l.startsWith("serving until Ctrl-C")) || world.child.exitCode !== null,
    "the local world to serve",
    240_000,
    200,
  );
  const all = world.output.join("\n");
  if (world.child.exitCode !== null) throw new Error(`npm run local -- up exited ${world.child.exitCode}:\n${all}`);
  const line = world.output.map((l) => l.trim()).find((l) => l.startsWith("set -a; . "));
  if (!line) throw new Error(`no line to run ferry with in:\n${all}`);
  return line;
}

/**
 * Runs the printed line with `command` in place of its own, in a shell whose environment has only
 * PATH and HOME: whatever ferry needs beyond them must come from the files.
 */
function ferry(line: string, command: string): { status: number | null; stdout: string; stderr: string } {
  const r = runSync(
    "sh",
    ["-c", line.replace(/npm run ferry:local -- .*$/, `npm run --silent ferry:local -- ${command}`)],
    {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: "utf8",
      timeout: CLI_TIMEOUT - 10_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function portOf(output: string[], scheme: string): number {
  const line = output.find((l) => l.includes("local Azure https://")) ?? "";
  const m = new RegExp(`${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(line);
  if (!m) throw new Error(`no ${scheme} endpoint in ${line}`);
  return Number(m[1]);
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

/** The world's own folder, from the env file's path in the printed line. */
const folderOf = (line: string) => /\. '?(\S+?)\/ferry\.env'?;/.exec(line)![1]!;

describe("npm run local -- up, then ferry with the files it wrote", () => {
  let world: LocalWorldProcess;
  let line: string;

  beforeAll(async () => {
    world = startLocalWorld(tempDir("ferry-local-up-"));
    line = await serving(world);
  }, 300_000);

  afterAll(async () => {
    if (world.child.exitCode !== null || world.child.signalCode !== null) return;
    world.ctrlC();
    await world.exited;
  }, 60_000);

  it("writes ferry.json and ferry.env readable by their owner only, the env file naming two variables", () => {
    const dir = folderOf(line);
    for (const f of ["ferry.json", "ferry.env"]) expect(statSync(`${dir}/${f}`).mode & 0o777, f).toBe(0o600);
    const vars = readFileSync(`${dir}/ferry.env`, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split("=")[0]);
    expect(vars).toEqual(["FERRY_CONFIG", "FERRY_LOCAL_TABLE"]);
    // The config names the variable, never the connection string (whose key is Azurite's public one).
    expect(readFileSync(`${dir}/ferry.json`, "utf8")).not.toMatch(/AccountKey/);
  });

  it(
    "ferry sources list shows every disk of bp-web healthy",
    () => {
      const r = ferry(line, "sources list --json");
      expect(r.status, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout) as { disk: string; state: string }[];
      expect(rows.map((s) => s.disk)).toEqual(["weba-data0", "weba-os", "webb-data0", "webb-os"]);
      for (const s of rows) expect(s.state).toBe("healthy");
    },
    CLI_TIMEOUT,
  );

  it(
    "ferry blueprints show bp-web shows its two rows and their strategies",
    () => {
      const r = ferry(line, "blueprints show bp-web");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/blueprint bp-web \(stack bp-web\): mode standby/);
      expect(r.stdout).toMatch(/weba +\S+ +\S+ +attachAsIs +attachAsIs/);
      expect(r.stdout).toMatch(/webb +\S+ +\S+ +fromSnapshot +fromSnapshot/);
    },
    CLI_TIMEOUT,
  );

  it(
    "ferry precheck bp-web --test passes (exit 0)",
    async () => {
      // The daemon keeps syncing: a precheck that lands while a point is being applied fails that disk and says
      // to run it again, which is what an operator does.
      let r = ferry(line, "precheck bp-web --test");
      for (let i = 0; i < 5 && r.status !== 0 && onlyApplying(r.stdout); i++) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        r = ferry(line, "precheck bp-web --test");
      }
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).not.toMatch(/FAIL/);
    },
    CLI_TIMEOUT,
  );
});

/** Every FAIL line of a precheck's table is a point being applied (a moment of the sync, not a problem). */
function onlyApplying(table: string): boolean {
  const fails = table.split("\n").filter((l) => l.startsWith("FAIL"));
  return fails.length > 0 && fails.every((l) => /is being applied/.test(l));
}

describe("npm run local -- up, stopped by Ctrl-C", () => {
  it("stops its servers and removes its folder", async () => {
    const tmp = tempDir("ferry-local-stop-");
    const world = startLocalWorld(tmp);
    const line = await serving(world);
    const dir = folderOf(line);
    const ports = [portOf(world.output, "https"), portOf(world.output, "http")];
    world.ctrlC();
    const { code, signal } = await world.exited;
    const out = world.output.join("\n");
    // npm got the Ctrl-C too: once its script has ended it ends by the signal (a shell shows 130).
    expect(code === 0 || signal === "SIGINT", out).toBe(true);
    expect(out).toMatch(/servers stopped; .* removed/);
    // The device daemon outlives nothing and is cut off by nothing: no capture fails as it stops.
    expect(out).not.toMatch(/internal error|device daemon/);
    for (const port of ports) expect(await listening(port), `port ${port}`).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith("ferry-"))).toEqual([]);
  }, 300_000);
});
