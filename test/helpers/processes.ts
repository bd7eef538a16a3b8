import { spawn, type ChildProcess } from "node:child_process";

export interface Spawned {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `ferry-sync` from its sources in a child process (a real process: it can be killed with SIGKILL). */
export function spawnSync(args: string[], env: NodeJS.ProcessEnv): Spawned {
  return spawnScript("sync/cli.ts", args, env);
}

/** Runs a TypeScript entry point of the project in a child process, its output kept line by line. */
export function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on("data", (d: Buffer) => stdout.push(...d.toString().split("\n").filter(Boolean)));
  child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout, stderr, exited };
}

/** Polls `check` every `everyInMs` until it returns a value, or fails after `timeoutInMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutInMs = 30_000,
  everyInMs = 25,
): Promise<T> {
  const until = Date.now() + timeoutInMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyInMs));
  }
}
