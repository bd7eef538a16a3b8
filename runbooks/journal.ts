import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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
  error?: string;
  details?: Record<string, unknown>;
}

/** The operation journal: one JSON file per operation, under a folder per blueprint, written atomically. */
export class Journal {
  constructor(
    private readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private file(op: Pick<Operation, "blueprint" | "id">): string {
    return join(this.dir, op.blueprint, `${op.id}.json`);
  }

  start(kind: string, blueprint: string, id = `${kind}-${this.now().toISOString().replace(/[-:.]/g, "").slice(0, 15)}Z`): Operation {
    const op: Operation = { id, kind, blueprint, startedAt: this.now().toISOString(), status: "running", steps: [], rto: [] };
    this.save(op);
    return op;
  }

  save(op: Operation): void {
    mkdirSync(join(this.dir, op.blueprint), { recursive: true });
    const f = this.file(op);
    writeFileSync(`${f}.tmp`, JSON.stringify(op, null, 2));
    renameSync(`${f}.tmp`, f);
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
