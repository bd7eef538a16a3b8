/** Whatever a call threw; fails the test when the call succeeds. */
export async function thrownBy(call: PromiseLike<unknown>): Promise<{ message: string; name?: string }> {
  try {
    await call;
  } catch (e) {
    return e as { message: string; name?: string };
  }
  throw new Error("expected the call to fail, and it succeeded");
}
