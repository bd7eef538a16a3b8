import { expect } from "vitest";
import type { FaultRule } from "../../../emulator/faults";
import { EXIT } from "../../../runbooks/commands/common";
import type { Operation } from "../../../runbooks/journal";
import type { useCliWorld, CliRun } from "../../helpers/cli-world";
import { DR, PRIMARY, type DrWorld, type Workload } from "../../helpers/dr-env";

// What every file of the fault-injection matrix shares: the faults, what each one's message must say,
// and the assertions of a cell. Each file is one runbook (or a few small ones) with a world of its own,
// so that vitest runs the files side by side.

export { EXIT };
export type CliWorld = ReturnType<typeof useCliWorld>;

/** The faults of the matrix. `daemon killed` has a file of its own (daemon-killed.test.ts). */
export type FaultName = "403" | "429 storm" | "503" | "failed LRO" | "dropped connection" | "state store down";
export type AzureFault = Exclude<FaultName, "state store down">;
export const AZURE_FAULTS: readonly AzureFault[] = ["403", "429 storm", "503", "failed LRO", "dropped connection"];

/** Each of Azure's failures, on `match` (every ARM call, or only the writes of a runbook). */
export function faultRule(name: AzureFault, match: FaultRule["match"]): FaultRule {
  switch (name) {
    case "403":
      return {
        match,
        action: { kind: "error", status: 403, code: "AuthorizationFailed", message: "The client has no role here." },
      };
    case "429 storm":
      return { match, action: { kind: "throttle", retryAfterSeconds: 0, retryAfterMs: 5 } };
    case "503":
      return { match, action: { kind: "error", status: 503, code: "ServiceUnavailable", message: "Try later." } };
    case "failed LRO":
      return { match, action: { kind: "lroFail", code: "InternalOperationError", message: "The operation failed." } };
    case "dropped connection":
      return { match, action: { kind: "drop", afterBytes: 0 } };
  }
}

/**
 * The fault on every ARM call matching `match`: a rule naming a region fires only once the emulator
 * knows the request's region, one naming none only before, so both kinds are added.
 */
export function onEveryArmCall(cli: CliWorld, fault: AzureFault, match: FaultRule["match"] = {}): void {
  for (const region of [undefined, DR.location, PRIMARY.location])
    cli.f.emu.faults.add(faultRule(fault, { plane: "arm", ...match, ...(region ? { region } : {}) }));
}

/** The world's environment with the state store's connection string pointed at a port where nothing listens. */
export function storeDown(cli: CliWorld): NodeJS.ProcessEnv {
  return {
    ...cli.env,
    FERRY_LOCAL_TABLE:
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFsMVTGa+Bx7LYRJB/Vw==;" +
      "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
  };
}

/** What each fault's message must say to do. */
export const FIX: Record<FaultName, RegExp> = {
  "403": /403 AuthorizationFailed.*lacks a role there: grant it/,
  "429 storm": /429.*throttling.*wait a minute and run again/,
  "503": /503 ServiceUnavailable.*run the same command again/,
  "failed LRO": /InternalOperationError|The operation failed/,
  "dropped connection": /cannot reach .*(socket hang up|ECONNRESET|other side closed).*run the same command again/,
  "state store down": /Cannot open the source store table .* no answer ECONNREFUSED\. Check the endpoint/,
};

/** What an operator reads: no stack trace anywhere, at most one `ferry:` message, and it says what to do. */
export function expectReadable(r: CliRun, fix: RegExp): void {
  expect(r.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.err).not.toMatch(/\\n\s+at /);
  expect(r.err.split("\n").filter((l) => l.startsWith("ferry:")).length).toBeLessThanOrEqual(1);
  expect(`${r.out}\n${r.err}`).toMatch(fix);
}

/** The `ferry:` message of a failed run (what the operator reads last). */
export function messageOf(r: CliRun): string {
  return r.err.slice(r.err.lastIndexOf("ferry:"));
}

/** No source disk of `w` left paused. */
export async function expectNotPaused(world: DrWorld, w: Workload): Promise<void> {
  for (const v of w.vms)
    for (const id of [v.osDiskId, ...v.dataDiskIds.values()])
      expect((await world.ctx.store.get(id))?.source.paused ?? false, id).toBe(false);
}

/** The newest operation of `kind` on `w`'s blueprint: recorded failed, with the fault's cause. */
export async function expectFailedOperation(
  world: DrWorld,
  w: Workload,
  kind: string,
  cause: RegExp = /./,
): Promise<Operation> {
  const op = (await world.ctx.journal.list(w.stack)).find((o) => o.kind === kind);
  expect(op, `an operation ${kind} of ${w.stack}`).toBeDefined();
  expect(op!.status).toBe("failed");
  expect(op!.error).toMatch(cause);
  return op!;
}

/** What the journal records as the cause of each Azure fault (the SDK's error, redacted). */
export const CAUSE: Record<AzureFault, RegExp> = {
  "403": /no role here|AuthorizationFailed|403/,
  "429 storm": /429|[Tt]oo [Mm]any|throttl/,
  "503": /Try later|ServiceUnavailable|503/,
  "failed LRO": /The operation failed|InternalOperationError/,
  "dropped connection": /socket hang up|ECONNRESET|other side closed/,
};

/** A run that must succeed; its output is the failure's message when it did not. */
export function expectOk(r: CliRun): CliRun {
  expect(r.code, `${r.out}\n${r.err}`.slice(-4000)).toBe(EXIT.ok);
  return r;
}
