import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  acquireLease,
  currentLease,
  operationRunning,
  releaseLease,
  renewLease,
  type HeldLease,
  type OperationLease,
} from "../adapters/state/operation-lease";
import type { RunStateStore } from "../adapters/state/run-state";
import { writeJsonAtomic } from "../adapters/files/atomic-json";
import { FerryError } from "../core/errors";
import { redactDeep, redactSecrets } from "../core/redact";

/** One step of a runbook operation, with its timing. */
export interface JournalStep {
  name: string;
  row?: string;
  startedAt: string;
  endedAt?: string;
  status: "running" | "succeeded" | "failed";
  detail?: string;
}

/** Recovery time of one blueprint row: seconds from the start of the failover. */
export interface RowRto {
  row: string;
  vm: string;
  strategy: string;
  vmCreatedSeconds?: number;
  osReadySeconds?: number;
  appReadySeconds?: number;
}

/** A resource an operation created, updated or deleted: seconds from the operation's start, and how long it took. */
export interface OperationEvent {
  row?: string;
  resource: string;
  name: string;
  action: string;
  atSeconds: number;
  ms?: number;
}

/** A runbook operation (failover, drill, cleanup…), kept as it progresses: resumable state and history. */
export interface Operation {
  id: string;
  kind: string;
  blueprint: string;
  startedAt: string;
  endedAt?: string;
  /**
   * `waiting`: stopped on purpose for a person (a plan at a manual step), neither done nor failed; a resume goes on.
   */
  status: "notStarted" | "running" | "waiting" | "succeeded" | "failed" | "canceled";
  /**
   * How far the operation got, in its kind's own typed phases (a failover's are in
   * failover-phase.ts): a re-run resumes on the phase, never on step names.
   */
  phase?: string;
  recoveryPoints?: Record<string, string>;
  rpoSeconds?: number;
  steps: JournalStep[];
  rto: RowRto[];
  /** Per-row resource events (the timeline of each row). */
  events?: OperationEvent[];
  error?: string;
  details?: Record<string, unknown>;
  /** The process that runs it (the store's operation lease tells whether it is still alive). */
  pid?: number;
  host?: string;
}

/** Options for a {@link Journal}. */
export interface JournalOptions {
  /** The run-state store: the record of every operation and of each blueprint's operation lease. */
  store: RunStateStore;
  /** This host's name in leases and operations (a pipeline agent's name, say). */
  host: string;
  /** How long an operation's lease lasts unless renewed, in milliseconds; renewed every third of it. */
  leaseInMs: number;
  now?: () => Date;
  /**
   * A folder that gets a copy of each operation as last written to the store (for people and build
   * artifacts). Never read: the store is the record. Default: none.
   */
  cacheDir?: string;
  logger?: Logger;
}

/** What the journal keeps of an operation it runs. */
interface Tracked {
  etag?: string;
  /** Writes of the operation, one after the other, in call order. */
  writes: Promise<void>;
  lease: HeldLease;
  renewal?: NodeJS.Timeout;
  renewing?: Promise<void>;
  /** Set once the lease was taken over by another run: nothing more of this one is written. */
  lost?: FerryError;
}

const opKey = (id: string) => `op/${id}`;

/** The local copy of one operation being written: the newest state not yet written, and the write under way. */
interface CopyWrite {
  next?: Operation;
  writing?: Promise<void>;
}

/**
 * The operation journal: each operation a document in the run-state store (written under its ETag
 * as it progresses), one operation per blueprint at a time across hosts through the store's lease.
 */
export class Journal {
  /** Operations of this process not yet ended, with their journal (marked canceled if the process is interrupted). */
  private static readonly open = new Map<Operation, Journal>();

  /** Marks every unfinished operation of this process canceled (on Ctrl-C): their steps say how far they got. */
  static async cancelOpenOperations(reason: string): Promise<void> {
    await Promise.allSettled([...Journal.open].map(([op, journal]) => journal.cancel(op, reason)));
  }

  private readonly tracked = new Map<Operation, Tracked>();
  /** Local copies being written, by `<blueprint>/<operation id>`. */
  private readonly copies = new Map<string, CopyWrite>();
  private readonly now: () => Date;

  constructor(private readonly options: JournalOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Starts an operation of `blueprint`: takes the blueprint's operation lease (refused with
   * {@link UserError} "OperationRunning", naming the running operation, while another run holds
   * it), then records the operation. An operation whose host died holding the lease is recorded as
   * failed here, so that the next run of its kind can resume on its phase.
   */
  async start(kind: string, blueprint: string, id?: string): Promise<Operation> {
    const { store, host, leaseInMs } = this.options;
    // Ids are stamped to the second, and failback names disks after that stamp: an id already taken
    // (an operation of the same kind ended within the same second) moves on to the next second's
    // stamp. An id given by the caller is kept as it is.
    const stampAt = (ms: number) => `${kind}-${new Date(ms).toISOString().replace(/[-:.]/g, "").slice(0, 15)}Z`;
    let opId = id ?? stampAt(this.now().getTime());
    for (let n = 1; id === undefined && (await store.get(blueprint, opKey(opId))); n++)
      opId = stampAt(this.now().getTime() + n * 1000);
    // One instant for the operation's start and its lease's `since`: a refusal names both as one.
    const startedAt = this.now();
    const op: Operation = {
      id: opId,
      kind,
      blueprint,
      startedAt: startedAt.toISOString(),
      status: "running",
      steps: [],
      rto: [],
      pid: process.pid,
      host,
    };
    const lease = await acquireLease(store, blueprint, {
      operation: op.id,
      kind,
      host,
      pid: process.pid,
      now: startedAt,
      leaseInMs,
    });
    let etag: string;
    try {
      if (lease.tookOver) await this.abandoned(blueprint, lease.tookOver);
      etag = await store.create(blueprint, opKey(op.id), op);
    } catch (e) {
      await releaseLease(store, lease).catch(() => undefined);
      throw e;
    }
    const tracked: Tracked = { etag, writes: Promise.resolve(), lease };
    tracked.renewal = setInterval(() => this.renew(op, tracked), Math.max(50, leaseInMs / 3));
    tracked.renewal.unref();
    this.tracked.set(op, tracked);
    Journal.open.set(op, this);
    this.cache(op);
    return op;
  }

  /** The operation of `blueprint` that holds its lease now (on any host), if any. */
  async running(blueprint: string): Promise<Operation | undefined> {
    const lease = await currentLease(this.options.store, blueprint, this.now());
    return lease ? this.get(blueprint, lease.operation) : undefined;
  }

  /** Refuses a new operation of `blueprint` while another one runs, on this host or another. */
  async assertIdle(blueprint: string): Promise<void> {
    const lease = await currentLease(this.options.store, blueprint, this.now());
    if (lease) throw operationRunning(blueprint, lease);
  }

  /**
   * Runs `fn` as an operation of `blueprint` (refused while another runs), ended succeeded or failed
   * with its error.
   */
  async run<T>(
    kind: string,
    blueprint: string,
    fn: (op: Operation) => Promise<T>,
  ): Promise<{ op: Operation; result: T }> {
    const op = await this.start(kind, blueprint);
    try {
      const result = await fn(op);
      await this.end(op, "succeeded");
      return { op, result };
    } catch (e) {
      await this.end(op, "failed", e);
      throw e;
    }
  }

  /**
   * Writes `op` as it is now, conditional on the ETag of its last write: a write of the same
   * operation by anyone else is refused ("ConcurrentUpdate"), never overwritten. Writes of one
   * operation land in call order.
   */
  save(op: Operation): Promise<void> {
    const t = this.tracked.get(op);
    if (!t) {
      return Promise.reject(
        new FerryError(`Operation ${op.id} of ${op.blueprint} is not running in this process: it cannot be written`, {
          code: "OperationNotOpen",
        }),
      );
    }
    const snapshot = JSON.parse(JSON.stringify(op)) as Operation;
    const write = t.writes.then(async () => {
      if (t.lost) throw t.lost;
      const { store } = this.options;
      t.etag = await store.replace(op.blueprint, opKey(op.id), snapshot, t.etag!);
      this.cache(snapshot);
    });
    // A failed write fails its caller; the next write still runs (and fails too if the ETag moved).
    t.writes = write.catch(() => undefined);
    return write;
  }

  /** Runs `fn` as a step of `op`, recording its start, end and outcome. */
  async step<T>(op: Operation, name: string, fn: () => Promise<T>, row?: string): Promise<T> {
    const step: JournalStep = { name, startedAt: this.now().toISOString(), status: "running", ...(row ? { row } : {}) };
    op.steps.push(step);
    await this.save(op);
    let failure: unknown;
    try {
      const result = await fn();
      step.status = "succeeded";
      return result;
    } catch (e) {
      failure = e;
      step.status = "failed";
      step.detail = redactSecrets((e as Error).message);
      throw e;
    } finally {
      step.endedAt = this.now().toISOString();
      // The step's own failure wins over a failure to record it.
      await this.save(op).catch((e: unknown) => {
        if (failure === undefined) throw e;
      });
    }
  }

  /** Records the end of `op` (or its stop to wait for a person) and gives its blueprint's lease up. */
  async end(op: Operation, status: "waiting" | "succeeded" | "failed" | "canceled", error?: unknown): Promise<void> {
    Journal.open.delete(op);
    op.status = status;
    op.endedAt = this.now().toISOString();
    if (error) op.error = redactSecrets((error as Error).message);
    const t = this.tracked.get(op);
    try {
      // Ending on an error: that error is what the caller throws, not a failure to record it.
      await this.save(op).catch((e: unknown) => {
        if (error === undefined) throw e;
        this.options.logger?.error({ err: e, operation: op.id }, "could not record the operation's end");
      });
    } finally {
      if (t) {
        clearInterval(t.renewal);
        await t.renewing;
        this.tracked.delete(op);
        if (!t.lost) await releaseLease(this.options.store, t.lease).catch(() => undefined);
      }
      // An ended operation's copy is on disk when its end returns.
      await this.copies.get(`${op.blueprint}/${op.id}`)?.writing;
    }
  }

  /** An operation of a blueprint by id, if recorded. */
  async get(blueprint: string, id: string): Promise<Operation | undefined> {
    return (await this.options.store.get<Operation>(blueprint, opKey(id)))?.doc;
  }

  /** Every operation of a blueprint, newest first. */
  async list(blueprint: string): Promise<Operation[]> {
    const all = await this.options.store.list<Operation>(blueprint, "op/");
    return all.map((d) => d.doc).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  private async cancel(op: Operation, reason: string): Promise<void> {
    for (const s of op.steps) {
      if (s.status === "running") {
        s.status = "failed";
        s.detail = reason;
        s.endedAt = this.now().toISOString();
      }
    }
    await this.end(op, "canceled", new Error(reason));
  }

  private renew(op: Operation, t: Tracked): void {
    if (t.renewing || t.lost) return;
    const { store, leaseInMs, logger } = this.options;
    t.renewing = renewLease(store, t.lease, this.now(), leaseInMs)
      .then(
        (lease) => {
          t.lease = lease;
        },
        (e: unknown) => {
          if (e instanceof FerryError && e.code === "LeaseLost") {
            t.lost = e;
            clearInterval(t.renewal);
            logger?.error({ err: e, operation: op.id, blueprint: op.blueprint }, "operation lease lost");
          } else {
            // Tried again at the next tick; the lease lapses only if every renewal until then fails.
            logger?.warn({ err: e, operation: op.id, blueprint: op.blueprint }, "operation lease renewal failed");
          }
        },
      )
      .finally(() => {
        t.renewing = undefined;
      });
  }

  /** Records as failed an operation whose host stopped renewing its lease (if it is still shown running). */
  private async abandoned(blueprint: string, lease: OperationLease): Promise<void> {
    const { store, logger } = this.options;
    const { operation: id, host, until } = lease;
    const found = await store.get<Operation>(blueprint, opKey(id));
    if (!found || found.doc.status !== "running") return;
    const op = found.doc;
    for (const s of op.steps) if (s.status === "running") Object.assign(s, { status: "failed", endedAt: until });
    op.status = "failed";
    op.endedAt = until;
    op.error = `abandoned: its host ${host} stopped renewing the operation's lease, which lapsed at ${until}`;
    try {
      await store.replace(blueprint, opKey(id), op, found.etag);
      logger?.warn({ blueprint, operation: id, host, until }, "took over the lease of an abandoned operation");
    } catch (e) {
      if (!(e instanceof FerryError && e.code === "ConcurrentUpdate")) throw e;
    }
  }

  /**
   * Writes a copy of `op` into `cacheDir` in the background, newest state last. A copy for people, never read: it is
   * written asynchronously, without flushing it to disk (the store is the record), and writes of one operation are
   * coalesced, so that no operation's store writes wait behind the disk. (Written synchronously and flushed, each
   * copy held the event loop for ~10 ms: a plan's ten failovers lost seconds to it.)
   */
  private cache(op: Operation): void {
    const dir = this.options.cacheDir;
    if (dir === undefined) return;
    const key = `${op.blueprint}/${op.id}`;
    let copy = this.copies.get(key);
    if (!copy) {
      copy = {};
      this.copies.set(key, copy);
    }
    copy.next = op;
    copy.writing ??= this.writeCopies(dir, key, copy);
  }

  private async writeCopies(dir: string, key: string, copy: CopyWrite): Promise<void> {
    for (let op = copy.next; op; op = copy.next) {
      copy.next = undefined;
      try {
        const folder = join(dir, op.blueprint);
        await mkdir(folder, { recursive: true });
        // Renamed over the last copy (a reader never sees half a file), not flushed.
        await writeJsonAtomic(join(folder, `${op.id}.json`), redactDeep(op), { flush: false });
      } catch (e) {
        // A copy for people: its loss is not the operation's.
        this.options.logger?.warn({ err: e, operation: op.id }, "could not write the local copy of the operation");
      }
    }
    this.copies.delete(key);
  }
}
