/** Options for {@link onInterrupt}. */
export interface OnInterruptOptions {
  /**
   * A signal this soon after the first is the same Ctrl-C passed on (it is ignored), in
   * milliseconds. Default 1000.
   */
  sameWithinInMs?: number;
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** Where the signals come from. Default: this process. */
  emitter?: Pick<NodeJS.EventEmitter, "on" | "off">;
}

/**
 * Calls `first` on the first SIGINT or SIGTERM of the process, and `again` on one that comes later
 * than `sameWithinInMs` after it. The ones in between are ignored: a Ctrl-C in a terminal reaches
 * every process of the foreground group, and `npm run` passes it on to its script once more, so a
 * harness started through npm gets each Ctrl-C twice. Taken for a second Ctrl-C, that copy would
 * end the process in the middle of stopping its servers. Returns a function that removes the
 * handlers.
 */
export function onInterrupt(
  first: (signal: NodeJS.Signals) => void,
  again: (signal: NodeJS.Signals) => void,
  options: OnInterruptOptions = {},
): () => void {
  const now = options.now ?? Date.now;
  const sameWithinInMs = options.sameWithinInMs ?? 1000;
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const t = now();
    if (firstAt === undefined) {
      firstAt = t;
      first(signal);
    } else if (t - firstAt > sameWithinInMs) again(signal);
  };
  const emitter = options.emitter ?? process;
  emitter.on("SIGINT", handler);
  emitter.on("SIGTERM", handler);
  return () => {
    emitter.off("SIGINT", handler);
    emitter.off("SIGTERM", handler);
  };
}
