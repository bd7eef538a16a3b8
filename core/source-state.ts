import { FerryError } from "./errors";
import type { SourceState } from "./schemas/source";

/** Something that happened to a protected source disk. */
export type SourceEvent =
  | { type: "enable" }
  | { type: "startBackfill" }
  | { type: "backfillDone" }
  | { type: "verifyPassed" }
  /** The staging device does not hash like the applied snapshot. */
  | { type: "verifyFailed" }
  /** A failure; `needsPerson` when retrying on its own will not fix it (quota, deleted disk, role). */
  | { type: "error"; needsPerson: boolean }
  | { type: "retryBackfill" }
  | { type: "checkHealth" }
  | { type: "disable" };

export type SourceEventType = SourceEvent["type"];

const active: readonly SourceState[] = ["pending", "backfilling", "verifying", "healthy", "degraded"];

// Where each event may come from. `error` and `disable` are handled in nextSourceState because
// their target depends on the event or is the same from everywhere.
const transitions: Record<
  Exclude<SourceEventType, "error" | "disable">,
  { from: readonly SourceState[]; to: SourceState }
> = {
  enable: { from: ["disabled"], to: "pending" },
  startBackfill: { from: ["pending"], to: "backfilling" },
  backfillDone: { from: ["backfilling"], to: "verifying" },
  verifyPassed: { from: ["verifying"], to: "healthy" },
  // A replica that differs from its snapshot is not something to retry blindly: a person looks,
  // then asks for retryBackfill.
  verifyFailed: { from: ["verifying"], to: "degraded" },
  // Also from backfilling: restarting a backfill from scratch after a crash is legitimate.
  retryBackfill: { from: ["backfilling", "verifying", "healthy", "degraded"], to: "backfilling" },
  checkHealth: { from: ["healthy", "degraded"], to: "verifying" },
};

/**
 * The state a source moves to on `event`: `disabled → pending → backfilling → verifying →
 * healthy`; `degraded` on errors that need a person (or a failed verification);
 * `retryBackfill` and `checkHealth` move back. An error that does not need a person leaves the
 * state alone (the caller retries). `disable` works from every state, including `disabled`, so
 * a re-run pipeline does not fail. Throws a {@link FerryError} with code "InvalidTransition"
 * for anything else.
 */
export function nextSourceState(state: SourceState, event: SourceEvent): SourceState {
  switch (event.type) {
    case "disable":
      return "disabled";
    case "error":
      if (!active.includes(state)) throw invalidTransition(state, event.type);
      return event.needsPerson ? "degraded" : state;
    default: {
      const rule = transitions[event.type];
      if (!rule.from.includes(state)) throw invalidTransition(state, event.type);
      return rule.to;
    }
  }
}

/** Events a source in `state` accepts, e.g. for the choices a runbook offers. */
export function allowedSourceEvents(state: SourceState): SourceEventType[] {
  const allowed = (Object.keys(transitions) as (keyof typeof transitions)[]).filter((type) =>
    transitions[type].from.includes(state),
  ) as SourceEventType[];
  if (active.includes(state)) allowed.push("error");
  allowed.push("disable");
  return allowed;
}

function invalidTransition(state: SourceState, event: SourceEventType): FerryError {
  return new FerryError(
    `A source in state "${state}" cannot take event "${event}". ` +
      `Events allowed in "${state}": ${allowedSourceEvents(state).join(", ")}.`,
    { code: "InvalidTransition", details: { state, event } },
  );
}
