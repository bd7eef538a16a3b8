import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { redactSecrets } from "../core/redact";

export type HookOperationKind = "planned" | "unplanned" | "test" | "failback";
export interface HookVm {
  blueprint: string;
  row: string;
  name: string;
  id: string;
  privateIps: string[];
  region: string;
}
export interface HookContext {
  plan: string;
  group: string;
  operationId: string;
  kind: HookOperationKind;
  when: "before" | "after" | "gate";
  vms: HookVm[];
}
export interface HookSpec {
  script: string;
  /** seconds, default 300 */
  timeoutSeconds?: number;
  onFailure?: "stop" | "continue";
}
export interface HookResult {
  script: string;
  exitCode: number | null;
  timedOut: boolean;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  outputLines: number;
}
export interface RunHookOptions {
  repoRoot: string;
  context: HookContext;
  log: (line: string, stream: "stdout" | "stderr") => void;
  abortSignal?: AbortSignal;
}

function scriptPath(script: string, repoRoot: string): string | undefined {
  const path = resolve(repoRoot, script);
  const rel = relative(resolve(repoRoot), path);
  return rel.startsWith("..") || isAbsolute(rel) ? undefined : path;
}

export async function runHook(spec: HookSpec, options: RunHookOptions): Promise<HookResult> {
  const started = Date.now();
  const path = scriptPath(spec.script, options.repoRoot);
  if (!path) throw new Error(`hook ${spec.script} is outside the repository`);
  const child = spawn(process.execPath, [path], {
    cwd: options.repoRoot,
    env: { PATH: process.env.PATH ?? "", FERRY_HOOK_CONTEXT: JSON.stringify(options.context) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let lines = 0;
  const pipe = (stream: NodeJS.ReadableStream, name: "stdout" | "stderr") => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const l of parts) {
        lines++;
        options.log(redactSecrets(l), name);
      }
    });
    stream.on("end", () => {
      if (rest) {
        lines++;
        options.log(redactSecrets(rest), name);
      }
    });
  };
  pipe(child.stdout, "stdout");
  pipe(child.stderr, "stderr");
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      child.kill("SIGKILL");
    },
    (spec.timeoutSeconds ?? 300) * 1000,
  );
  const abort = () => child.kill("SIGKILL");
  options.abortSignal?.addEventListener("abort", abort);
  const exitCode = await new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  clearTimeout(timer);
  options.abortSignal?.removeEventListener("abort", abort);
  const ended = Date.now();
  return {
    script: spec.script,
    exitCode,
    timedOut,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(ended).toISOString(),
    durationMs: ended - started,
    outputLines: lines,
  };
}

export async function checkHook(spec: HookSpec, repoRoot: string): Promise<string[]> {
  const path = scriptPath(spec.script, repoRoot);
  if (!path) return [`${spec.script} is outside the repository`];
  if (!existsSync(path)) return [`${spec.script} does not exist`];
  const child = spawn(process.execPath, ["--check", path], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  return code === 0 ? [] : [`${spec.script} does not parse: ${err.trim().split("\n").slice(-1)[0] ?? ""}`];
}
