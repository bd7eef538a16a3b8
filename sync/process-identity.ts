// Who a process is, in a form another process of the same host can check: the pid alone is not
// enough (pids are reused), so it goes with the process's start time (in clock ticks since boot,
// field 22 of /proc/<pid>/stat) and the boot it belongs to (/proc/sys/kernel/random/boot_id).
import { readFileSync } from "node:fs";

/** A process of this host, told apart from any later process that reuses its pid. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks since boot when the process started; "" where /proc is missing. */
  startTime: string;
  /** The boot this process belongs to; "" where /proc is missing. */
  bootId: string;
}

let bootIdCache: string | undefined;
function bootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      bootIdCache = "";
    }
  }
  return bootIdCache;
}

/** State letter and start time of a live process, or undefined when there is no such process. */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces and ")": split after the last.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", startTime: fields[19] ?? "" };
}

let own: ProcessIdentity | undefined;
/** This process. */
export function currentProcess(): ProcessIdentity {
  own ??= { pid: process.pid, startTime: procStat(process.pid)?.startTime ?? "", bootId: bootId() };
  return own;
}

/**
 * Whether `p` still runs on this host. A stopped process (SIGSTOP, a debugger) runs; a zombie
 * (exited, not yet reaped: it holds no file any more) does not; a pid reused since does not.
 */
export function isRunning(p: ProcessIdentity): boolean {
  if (p.bootId !== bootId()) return false;
  const stat = procStat(p.pid);
  if (stat) return stat.state !== "Z" && stat.state !== "X" && (p.startTime === "" || stat.startTime === p.startTime);
  if (bootId() !== "") return false;
  // No /proc (not Linux): signal 0 tells whether the pid exists.
  try {
    process.kill(p.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `p` as one file-name-safe word: `<pid>-<startTime>`. */
export function identityName(p: ProcessIdentity): string {
  return `${p.pid}-${p.startTime || "0"}`;
}

/** This process as a lease session. */
export function currentSession(): string {
  return sessionOf(currentProcess());
}

/** `p` as a lease session: `<bootId>/<pid>/<startTime>`. */
export function sessionOf(p: ProcessIdentity): string {
  return `${p.bootId || "-"}/${p.pid}/${p.startTime || "0"}`;
}

/**
 * Whether the process of a lease session is known to have exited: it ran on this host, in this
 * boot, and runs no more. A session of another host (or an earlier boot) is never known to have.
 */
export function sessionEnded(session: string): boolean {
  const [boot, pid, startTime] = session.split("/");
  if (!boot || boot === "-" || boot !== currentProcess().bootId) return false;
  return !isRunning({ pid: Number(pid), startTime: startTime === "0" ? "" : (startTime ?? ""), bootId: boot });
}
