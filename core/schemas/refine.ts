import type { z } from "zod";

/**
 * superRefine options that run a cross-field check even when a field already failed, so one
 * parse reports every problem. The check then sees partly invalid data: it must test types
 * before trusting a field (see {@link isRecord}). Skipped only when the value is not an object.
 */
export const evenWithFieldIssues = {
  when: (payload: z.core.ParsePayload) => isRecord(payload.value),
};

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
