import { isRestError } from "@azure/core-rest-pipeline";
import { expect } from "vitest";
import { thrownBy } from "../../testing";

/** The RestError a call was refused with; fails the test when the call succeeds or throws anything else. */
export async function refusal(
  call: PromiseLike<unknown>,
): Promise<{ statusCode: number | undefined; code: string | undefined; message: string }> {
  const thrown = await thrownBy(call);
  if (!isRestError(thrown)) throw new Error(`expected a RestError, got ${String(thrown)}`);
  return { statusCode: thrown.statusCode, code: thrown.code, message: thrown.message };
}

/** Asserts the status and Azure error code of a refusal; returns its message for further checks. */
export async function expectRefused(call: PromiseLike<unknown>, statusCode: number, code: string): Promise<string> {
  const e = await refusal(call);
  expect({ statusCode: e.statusCode, code: e.code }).toEqual({ statusCode, code });
  return e.message;
}
