import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeJsonAtomic } from "../adapters/files/atomic-json";
import { UserError } from "../core/errors";

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
  status: "notStarted" | "running" | "succeeded" | "failed" | "canceled";
  recoveryPoints?: Record<string, string>;
  rpoSeconds?: number;
  steps: JournalStep[];
  rto: RowRto[];
  /** Per-row resource events (the timeline of each row). */
  events?: OperationEvent[];
  error?: string;
  details?: Record<string, unknown>;
  /** The process that runs it, to tell a live operation from one whose process died. */
  pid?: number;
  host?: string;
}

/** The operation journal: one JSON file per operation, under a folder per blueprint, written atomically. */
export class Journal {
  /** Operations of this process not yet ended, with their journal (marked canceled if the process is interrupted). */
  private static readonly open = new Map<Operation, Journal>();

  /** Marks every unfinished operation of this process canceled (on Ctrl-C): their steps say how far they got. */
  static cancelOpenOperations(reason: string): void {
    for (const [op, journal] of Journal.open) journal.cancel(op, reason);
  }

  constructor(
    private readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private file(op: Pick<Operation, "blueprint" | "id">): string {
    return join(this.dir, op.blueprint, `${op.id}.json`);
  }

  start(
    kind: string,
    blueprint: string,
    id = `${kind}-${this.now().toISOString().replace(/[-:.]/g, "").slice(0, 15)}Z`,
  ): Operation {
    const op: Operation = {
      id,
      kind,
      blueprint,
      startedAt: this.now().toISOString(),
      status: "running",
      steps: [],
      rto: [],
      pid: process.pid,
      host: hostname(),
    };
    this.save(op);
    Journal.open.set(op, this);
    return op;
  }

  /** An operation of `blueprint` still running in a live process (this machine's), if any. */
  running(blueprint: string): Operation | undefined {
    return this.list(blueprint).find(
      (o) => o.status === "running" && o.pid !== undefined && o.host === hostname() && alive(o.pid),
    );
  }

  /** Refuses a new operation of `blueprint` while another one runs. */
  assertIdle(blueprint: string): void {
    const busy = this.running(blueprint);
    if (busy)
      throw new UserError(
        `A ${busy.kind} of ${blueprint} is running (pid ${busy.pid}, since ${busy.startedAt}). Wait for it to end, or stop it first.`,
        { code: "OperationRunning" },
      );
  }

  /** Runs `fn` as an operation of `blueprint` (refused while another runs), ended succeeded or failed with its error. */
  async run<T>(
    kind: string,
    blueprint: string,
    fn: (op: Operation) => Promise<T>,
  ): Promise<{ op: Operation; result: T }> {
    this.assertIdle(blueprint);
    const op = this.start(kind, blueprint);
    try {
      const result = await fn(op);
      this.end(op, "succeeded");
      return { op, result };
    } catch (e) {
      this.end(op, "failed", e);
      throw e;
    }
  }

  private cancel(op: Operation, reason: string): void {
    for (const s of op.steps) {
      if (s.status === "running") {
        s.status = "failed";
        s.detail = reason;
        s.endedAt = this.now().toISOString();
      }
    }
    this.end(op, "canceled", new Error(reason));
  }

  save(op: Operation): void {
    mkdirSync(join(this.dir, op.blueprint), { recursive: true });
    const f = this.file(op);
    writeJsonAtomic(f, op);
  }

  /** Runs `fn` as a step of `op`, recording its start, end and outcome. */
  async step<T>(op: Operation, name: string, fn: () => Promise<T>, row?: string): Promise<T> {
    const step: JournalStep = { name, startedAt: this.now().toISOString(), status: "running", ...(row ? { row } : {}) };
    op.steps.push(step);
    this.save(op);
    try {
      const result = await fn();
      step.status = "succeeded";
      return result;
    } catch (e) {
      step.status = "failed";
      step.detail = (e as Error).message;
      throw e;
    } finally {
      step.endedAt = this.now().toISOString();
      this.save(op);
    }
  }

  end(op: Operation, status: "succeeded" | "failed" | "canceled", error?: unknown): void {
    Journal.open.delete(op);
    op.status = status;
    op.endedAt = this.now().toISOString();
    if (error) op.error = (error as Error).message;
    this.save(op);
  }

  /** Every operation of a blueprint, newest first. */
  list(blueprint: string): Operation[] {
    const dir = join(this.dir, blueprint);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Operation)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
