import { describe, expect, it } from "vitest";
import { isFerryError, isUserError } from "../../../../core/errors";
import {
  completePhaseReached,
  completePhases,
  completeStepAfter,
  completeStepsFrom,
  isCompletePhase,
  nextCompletePhase,
  type CompletePhase,
  type CompleteStep,
} from "../../../../runbooks/failback/complete-phase";

describe("nextCompletePhase", () => {
  it("walks from notStarted to succeeded, one step per phase, in the order Azure needs", () => {
    const visited: CompletePhase[] = [];
    let phase: CompletePhase = "notStarted";
    for (const step of [
      "stopDrVms",
      "copyFinalPass",
      "detachNewDisks",
      "takeFirstPoints",
      "swapDisks",
      "startPrimaryVms",
      "rewriteSources",
      "catchUpStaging",
      "upStandby",
      "reattachStaging",
    ] as const)
      visited.push((phase = nextCompletePhase(phase, step)));
    expect(visited).toEqual([
      "drVmsStopped",
      "finalPassCopied",
      "newDisksDetached",
      "firstPointsTaken",
      "disksSwapped",
      "primaryStarted",
      "sourcesRewritten",
      "stagingCaughtUp",
      "standby",
      "succeeded",
    ]);
  });

  it.each<[CompletePhase, CompleteStep, CompleteStep]>([
    // A skip: the swap before the first points would let a VM write a disk before its first point.
    ["newDisksDetached", "swapDisks", "takeFirstPoints"],
    // A repeat of a step already done.
    ["drVmsStopped", "stopDrVms", "copyFinalPass"],
    // Backwards: no final pass once the disks are off the appliance.
    ["newDisksDetached", "copyFinalPass", "takeFirstPoints"],
    // The as-is staging disks go back only after the standby up removed the DR VMs.
    ["sourcesRewritten", "reattachStaging", "catchUpStaging"],
  ])("refuses %s on step %s with InvalidTransition naming the next step (%s)", (phase, step, next) => {
    let error: unknown;
    try {
      nextCompletePhase(phase, step);
    } catch (e) {
      error = e;
    }
    expect(isFerryError(error)).toBe(true);
    expect(isUserError(error)).toBe(false);
    expect(error).toMatchObject({ code: "InvalidTransition", details: { phase, step } });
    expect((error as Error).message).toContain(`its next step is "${next}"`);
  });

  it("refuses any step once complete has succeeded", () => {
    expect(() => nextCompletePhase("succeeded", "reattachStaging")).toThrow(/phase "succeeded".*it is done/);
  });
});

describe("completeStepsFrom", () => {
  it("resumes after the swap with the start of the primary VMs, and nothing before it", () => {
    expect(completeStepsFrom("disksSwapped")).toEqual([
      "startPrimaryVms",
      "rewriteSources",
      "catchUpStaging",
      "upStandby",
      "reattachStaging",
    ]);
  });

  it("has nothing left to do once complete has succeeded", () => {
    expect(completeStepsFrom("succeeded")).toEqual([]);
    expect(completeStepAfter("succeeded")).toBeUndefined();
  });

  it.each(completePhases.filter((p) => p !== "succeeded"))(
    "from %s, takes each later phase once and ends in succeeded",
    (from) => {
      const reached: CompletePhase[] = [];
      let phase: CompletePhase = from;
      for (const step of completeStepsFrom(from)) reached.push((phase = nextCompletePhase(phase, step)));
      expect(reached).toEqual(completePhases.slice(completePhases.indexOf(from) + 1));
    },
  );
});

describe("completePhaseReached", () => {
  it.each<[CompletePhase, boolean]>([
    ["finalPassCopied", false],
    ["newDisksDetached", true],
    ["standby", true],
  ])("says whether %s is at or past newDisksDetached (%s)", (phase, reached) => {
    expect(completePhaseReached(phase, "newDisksDetached")).toBe(reached);
  });
});

describe("isCompletePhase", () => {
  it.each<[unknown, boolean]>([
    ["disksSwapped", true],
    // The flags of the state before phases are not phases.
    ["finalDone", false],
    [undefined, false],
  ])("%j: %s", (value, expected) => {
    expect(isCompletePhase(value)).toBe(expected);
  });
});
