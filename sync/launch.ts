/**
 * How the daemon is started on the appliance (sync/ferry-sync.service) and in the memory benchmark:
 * a small young generation and two malloc arenas keep its resident memory within the bound while
 * it copies many disks; throughput does not suffer (the copies' memory is buffers, not heap).
 */
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=2"] as const;
export const DAEMON_ENV = { MALLOC_ARENA_MAX: "2" } as const;
