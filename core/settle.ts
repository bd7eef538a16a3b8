/**
 * Like `Promise.all`, but waits for every promise to settle before it rejects, with the first rejection.
 * `Promise.all` rejects at the first failure while the others go on: their writes to the state store then land
 * after the run has reported its failure, and a re-run that read the record before them finds it changed
 * under it. With this, everything a run started is settled, and recorded, before it says it failed.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
