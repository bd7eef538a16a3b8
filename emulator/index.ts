import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Emulator, type RequestLogEntry } from "./emulator";
import { Faults, type FaultFile, type FaultRule } from "./faults";
import { FuseDevices, FuseUnavailable } from "./devices/fuse-host";
import { LinkDevices } from "./devices/links";
import type { GuestDeviceMode, GuestDevices } from "./devices/types";
import { Guest } from "./guest";
import { latencyProfile, spedUp, type LatencyProfileName } from "./latency";
import { EmulatorServer } from "./server";
import { State } from "./state";
import { ChunkStore } from "./storage/chunks";
import { Throttling, type BucketLimit, type ThrottlingMode, type ThrottlingStats } from "./throttling";
import { loadOrCreateTls } from "./tls";

export type { FaultAction, FaultFile, FaultRule } from "./faults";
export type { RequestLogEntry } from "./emulator";
export type { GuestDeviceMode } from "./devices/types";
export { AZURE_PROFILE, ZERO_PROFILE, type LatencyProfile, type LatencyProfileName } from "./latency";
export type { BucketLimit, ThrottlingMode, ThrottlingStats } from "./throttling";

export interface StartEmulatorOptions {
  /** Folder for state, disk files, snapshots and the TLS material. Created when missing. */
  dataDir: string;
  /** TCP port on 127.0.0.1. Default 0: any free port. */
  port?: number;
  /** Latency profile. Default `zero`. */
  latency?: LatencyProfileName;
  /** Divides every duration of the profile (≥ 1). Default 1. */
  speedup?: number;
  /**
   * Request throttling: `azure` refuses with 429 and `Retry-After` as Azure Resource Manager and the Compute
   * resource provider do (token buckets per subscription, region and resource; refill rates multiplied by
   * `speedup`), and sends the remaining counts on every ARM answer; `off` throttles nothing. Default `off`, also
   * with the `azure` latency profile: a test or drill that wants it says so.
   */
  throttling?: ThrottlingMode;
  /**
   * Bucket sizes to use instead of Azure's (`{"PutVM.Resource": {capacity: 2, refillPerMinute: 60}}`; keys in
   * emulator/README.md, "Throttling"). Default: Azure's.
   */
  throttlingLimits?: Record<string, BucketLimit>;
  /** Fault rules and region outages to start with (or a path to a JSON fault file). */
  faults?: FaultFile | string;
  /** Subscription id for a new data folder. Default: a random one, kept in the folder. */
  subscriptionId?: string;
  /**
   * How guests reach their disks. `fuse`: a FUSE file system the emulator serves (needs root and
   * /dev/fuse): point-in-time snapshots, and a stopped VM's guest cannot write; start fails when it
   * cannot be mounted. `links`: symbolic links to the disk files (no guarantees of either). `auto`
   * (default): `fuse` where it can be mounted, else `links`, with a warning that says why.
   */
  guestDevices?: "auto" | GuestDeviceMode;
  /** Where the start-up warning goes (the `links` fallback). Default: standard error. */
  warn?: (message: string) => void;
}

/** What the emulator prints on stdout when ready, and what in-process callers get. */
export interface EmulatorInfo {
  endpoint: string;
  caCertPath: string;
  subscriptionId: string;
  dataDir: string;
  /** How guests reach their disks (`fuse`: point-in-time snapshots and power states that bind). */
  guestDevices: GuestDeviceMode;
  /** Why guests reach their disks through links when `auto` could not mount FUSE. */
  guestDevicesFallback?: string;
}

export interface RunningEmulator extends EmulatorInfo {
  /** The CA certificate in PEM, for an https.Agent of the Azure SDK clients. */
  caCertPem: string;
  faults: {
    add(rule: FaultRule): string;
    remove(id: string): boolean;
    clear(): void;
    setRegionOutage(region: string, down: boolean): void;
    stats(): { id: string; fired: number }[];
  };
  throttling: {
    /** The mode and every 429 answered because a bucket was empty (as `GET /_emulator/throttling`). */
    stats(): ThrottlingStats;
    /** Switches throttling on (buckets start full) or off. */
    setMode(mode: ThrottlingMode): void;
  };
  /** Sets a region's vCPU quota (default 10000), as a quota request would. */
  setCoresQuota(region: string, vCPUs: number): void;
  /** Every request served, newest last (paths only: no query strings, so no SAS). */
  readonly requests: readonly RequestLogEntry[];
  /** The device path a VM's guest sees for a disk: `"os"` or a data-disk LUN. */
  devicePath(resourceGroup: string, vmName: string, lun: number | "os"): string;
  /** The device folder of a VM (its `lun<N>` and `os` entries exist while it runs). */
  deviceDir(resourceGroup: string, vmName: string): string;
  /**
   * The file behind a managed disk (its bytes, whatever it is attached to), or undefined when there is no such disk.
   */
  diskFile(diskId: string): string | undefined;
  close(): Promise<void>;
}

export async function startEmulator(options: StartEmulatorOptions): Promise<RunningEmulator> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const tls = await loadOrCreateTls(dataDir);
  const state = State.load(dataDir, options.subscriptionId);
  mkdirSync(resolve(dataDir, "chunks"), { recursive: true });
  const chunks = await ChunkStore.open(resolve(dataDir, "chunks"));
  const speedup = options.speedup ?? 1;
  const profile = spedUp(latencyProfile(options.latency ?? "zero"), speedup);
  const faults = typeof options.faults === "string" ? Faults.fromFile(options.faults) : new Faults(options.faults);
  const devices = await openGuestDevices(join(dataDir, "vms"), options.guestDevices ?? "auto");
  if (devices.fallbackReason)
    (options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
      `ferry emulator: guest devices are symbolic links because ${devices.fallbackReason}. Snapshots are ` +
        "read while guests write (not points in time) and a stopped VM's guest can still write through a " +
        "device it opened. Both need root, /dev/fuse and Node 22.6 or later.",
    );
  const guest = new Guest(state, devices, (region) => faults.isRegionDown(region));
  faults.onOutageChange = (region) => guest.syncRegion(region);
  const emu = new Emulator(state, chunks, profile, faults, guest);
  emu.snapshotWindowInMs = (5 * 60_000) / speedup;
  emu.speedup = speedup;
  emu.operationRetentionInMs = (24 * 3_600_000) / speedup;
  emu.throttling = new Throttling({
    mode: options.throttling ?? "off",
    speedup,
    ...(options.throttlingLimits ? { limits: options.throttlingLimits } : {}),
  });
  // Operations in flight when the emulator stopped have no timers any more: they complete now.
  emu.settleAll();
  guest.syncAll();
  await state.save();
  const server = new EmulatorServer(emu);
  const port = await server.listen(tls, options.port ?? 0);
  emu.endpoint = `https://127.0.0.1:${port}`;
  let closed = false;
  return {
    endpoint: emu.endpoint,
    caCertPath: tls.caCertPath,
    caCertPem: tls.caCertPem,
    subscriptionId: state.subscriptionId,
    dataDir,
    guestDevices: devices.mode,
    ...(devices.fallbackReason ? { guestDevicesFallback: devices.fallbackReason } : {}),
    faults: {
      add: (rule) => faults.add(rule),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      setRegionOutage: (region, down) => faults.setRegionOutage(region, down),
      stats: () => faults.stats(),
    },
    throttling: {
      stats: () => emu.throttling.snapshot(),
      setMode: (mode) => emu.throttling.setMode(mode),
    },
    setCoresQuota: (region, vCPUs) => emu.setCoresQuota(region, vCPUs),
    get requests() {
      return emu.requestLog;
    },
    devicePath: (rg, vm, lun) => guest.devicePath(rg, vm, lun),
    deviceDir: (rg, vm) => guest.deviceDir(rg, vm),
    diskFile: (id) => {
      const d = state.get(id, "disk");
      return d ? resolve(dataDir, d.file) : undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await emu.close();
      await devices.close();
    },
  };
}

async function openGuestDevices(root: string, mode: "auto" | GuestDeviceMode): Promise<GuestDevices> {
  if (mode === "links") return new LinkDevices(root);
  try {
    return await FuseDevices.start(root);
  } catch (e) {
    if (mode === "fuse" || !(e instanceof FuseUnavailable))
      throw new Error(`The emulator cannot serve guest devices through FUSE: ${(e as Error).message}.`, { cause: e });
    return new LinkDevices(root, e.message);
  }
}
