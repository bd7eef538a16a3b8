import { describe, expect, it } from "vitest";
import { isFerryError, isUserError } from "../../../core/errors";
import { sourceStates } from "../../../core/schemas";
import type { SourceState } from "../../../core/schemas";
import { allowedSourceEvents, nextSourceState } from "../../../core/source-state";
import type { SourceEvent } from "../../../core/source-state";

describe("nextSourceState", () => {
  it("walks the happy path from disabled to healthy", () => {
    const events: SourceEvent[] = [
      { type: "enable" },
      { type: "startBackfill" },
      { type: "backfillDone" },
      { type: "verifyPassed" },
    ];
    const visited: SourceState[] = [];
    let state: SourceState = "disabled";
    for (const event of events) visited.push((state = nextSourceState(state, event)));
    expect(visited).toEqual(["pending", "backfilling", "verifying", "healthy"]);
  });

  it.each<[SourceState, SourceEvent, SourceState]>([
    ["verifying", { type: "verifyFailed" }, "degraded"],
    ["healthy", { type: "error", needsPerson: true }, "degraded"],
    ["backfilling", { type: "error", needsPerson: true }, "degraded"],
    ["pending", { type: "error", needsPerson: true }, "degraded"],
    ["degraded", { type: "error", needsPerson: true }, "degraded"],
    ["healthy", { type: "error", needsPerson: false }, "healthy"],
    ["backfilling", { type: "error", needsPerson: false }, "backfilling"],
    ["degraded", { type: "retryBackfill" }, "backfilling"],
    ["healthy", { type: "retryBackfill" }, "backfilling"],
    ["verifying", { type: "retryBackfill" }, "backfilling"],
    ["backfilling", { type: "retryBackfill" }, "backfilling"],
    ["healthy", { type: "checkHealth" }, "verifying"],
    ["degraded", { type: "checkHealth" }, "verifying"],
  ])("moves %s on %j to %s", (from, event, to) => {
    expect(nextSourceState(from, event)).toBe(to);
  });

  it.each(sourceStates)("disables from %s, so a re-run pipeline does not fail", (state) => {
    expect(nextSourceState(state, { type: "disable" })).toBe("disabled");
  });

  it.each<[SourceState, SourceEvent]>([
    ["disabled", { type: "startBackfill" }],
    ["disabled", { type: "error", needsPerson: true }],
    ["disabled", { type: "checkHealth" }],
    ["pending", { type: "enable" }],
    ["healthy", { type: "enable" }],
    ["pending", { type: "backfillDone" }],
    ["healthy", { type: "verifyPassed" }],
    ["backfilling", { type: "checkHealth" }],
    ["pending", { type: "retryBackfill" }],
    ["degraded", { type: "verifyFailed" }],
  ])("refuses %s on %j with InvalidTransition naming both", (state, event) => {
    let error: unknown;
    try {
      nextSourceState(state, event);
    } catch (e) {
      error = e;
    }
    expect(isFerryError(error)).toBe(true);
    expect(isUserError(error)).toBe(false);
    expect(error).toMatchObject({ code: "InvalidTransition", details: { state, event: event.type } });
    expect((error as Error).message).toContain(`state "${state}"`);
    expect((error as Error).message).toContain(`event "${event.type}"`);
  });
});

describe("allowedSourceEvents", () => {
  it("lists what each state accepts, matching nextSourceState", () => {
    expect(allowedSourceEvents("disabled")).toEqual(["enable", "disable"]);
    expect(allowedSourceEvents("healthy")).toEqual(["retryBackfill", "checkHealth", "error", "disable"]);
    for (const state of sourceStates) {
      for (const type of allowedSourceEvents(state)) {
        const event = (type === "error" ? { type, needsPerson: true } : { type }) as SourceEvent;
        expect(() => nextSourceState(state, event)).not.toThrow();
      }
    }
  });
});
