import { join } from "node:path";
import type { Logger } from "pino";
import { createAzureClients, type AzureClients } from "../adapters/azure/clients";
import { staticTokenCredential } from "../adapters/azure/credentials";
import { SourceStore, sourceStoreClient } from "../adapters/state/store";
import type { Readiness } from "../core/schemas/blueprint";
import type { Source } from "../core/schemas/source";
import type { RunningEmulator } from "@ferry/emulator";
import { SyncConfigSchema } from "../sync/config";
import { createSyncRuntime, type SyncRuntime } from "../sync/runtime";
import { loadBlueprint, sourceDisks } from "../runbooks/blueprints";
import { FerryConfigSchema, type FerryConfig } from "../runbooks/config";
import { createContext, type RunbookContext } from "../runbooks/context";
import { localDeployer } from "./deployer/local-deployer";
import {
  createEmptyDisk,
  createGroup,
  createNic,
  createSubnet,
  createTrustedLaunchDisk,
  createVm,
  writeGuestIdentity,
  type GuestIdentity,
} from "@ferry/emulator/testing";
import { enableDr } from "../runbooks/sources";
import { failover } from "../runbooks/failover";
import type { Operation } from "../runbooks/journal";

/**
 * A DR setup on the local Azure (the emulator) and Table storage (Azurite), built the way an
 * operator would build it: a primary region with a network, a DR region with its network, the
 * landing zone deployed, a ferry context, and the appliance's sync daemon. Used by the local drill,
 * the failover benchmark and the end-to-end tests.
 */

export const PRIMARY = {
  rg: "prod",
  location: "westeurope",
  appliance: "ferry-primary-appliance",
  /** ferry's snapshot group of the primary region (the landing zone makes it). */
  snapshotRg: "ferry-snapshots-westeurope",
};
export const DR = {
  rg: "dr-rg",
  networkRg: "dr-network-rg",
  location: "northeurope",
  appliance: "ferry-appliance",
  /** ferry's snapshot group of the DR region: the recovery points of the staging disks. */
  snapshotRg: "ferry-snapshots-northeurope",
};

export interface LocalWorldOptions {
  emu: RunningEmulator;
  /** Azurite's connection string (handed to ferry through an environment variable, never a file). */
  tableConnectionString: string;
  tableName: string;
  /** Where the local deployer's stacks and the runbook journal live. */
  dir: string;
  logger: Logger;
  /** Long-running operation polls, in milliseconds. Default 10 (the emulator's operations are short). */
  pollIntervalInMs?: number;
  /** The SDKs' retries. Default: 3 retries from 20 ms (a test must not wait out Azure's back-off). */
  retry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Appliance size: how many staging disks it takes. Default Standard_D16s_v5 (32). */
  applianceVmSize?: string;
  /**
   * Sync daemon's seconds between a source's cycles. Default 43, Azure's snapshot rate; lower lets
   * the daemon cycle on its own against the zero-latency emulator (the Azure-like profile refuses
   * snapshots faster than 7 per disk per 5 minutes, divided by its speed-up).
   */
  syncIntervalSeconds?: number;
  /**
   * The emulator's request throttling from the moment the landing zone is up (building it is not what a drill or
   * a benchmark measures): `azure` as Azure throttles, `off` none. Default: as the emulator was started.
   */
  throttling?: "azure" | "off";
}

export interface WorkloadOptions {
  osStrategy?: "attachAsIs" | "fromSnapshot";
  dataStrategy?: "attachAsIs" | "fromSnapshot";
  dataLuns?: number[];
  /** VMs (blueprint rows): `<name>` alone, or `<name>a`, `<name>b`… Default 1. */
  vms?: number;
  /** Per-row strategies, overriding the two above (row i gets strategies[i]). */
  strategies?: { os: "attachAsIs" | "fromSnapshot"; data: "attachAsIs" | "fromSnapshot" }[];
  /** Size of each OS disk, in GiB. Default 1. */
  osDiskSizeGiB?: number;
  /** Size of each data disk, in GiB. Default 1. */
  dataDiskSizeGiB?: number;
  vmSize?: string;
  /** Hyper-V generation of each source OS disk, stated in the blueprint too. Default: none (Gen1). */
  hyperVGeneration?: "V1" | "V2";
  /**
   * Trusted Launch sources (Gen2 OS disks made as Trusted Launch, VMs with Secure Boot and vTPM), stated in the
   * blueprint too. Default: Standard.
   */
  trustedLaunch?: boolean;
  /**
   * The OS of every source VM. Default Linux. A Windows source's OS disk holds a Windows Server guest (its computer
   * name the VM's, upper-cased: {@link windowsGuestOf}) unless `prepareOsDisk` writes it.
   */
  osType?: "Linux" | "Windows";
  /** Each source VM's licence (`Windows_Server`, …), stated in the blueprint too. Default: none. */
  licenseType?: string;
  /** Each row's zone in the DR region. Default: none. */
  zone?: "1" | "2" | "3";
  /** Writes each OS disk before the VM boots (a file system, say), by device path. */
  prepareOsDisk?: (devicePath: string, vm: string) => Promise<void>;
  /** Each row's readiness checks (RTO to OS ready, app ready). */
  readiness?: Readiness;
}

/** The Windows Server guest of a Windows source VM's OS disk, as its VM agent reports it. */
export function windowsGuestOf(vm: string): GuestIdentity {
  return { computerName: vm.toUpperCase(), osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2849" };
}

/** A primary VM of a workload: one blueprint row. */
export interface WorkloadVm {
  vm: string;
  vmId: string;
  osDiskId: string;
  dataDiskIds: Map<number, string>;
  strategies: { os: "attachAsIs" | "fromSnapshot"; data: "attachAsIs" | "fromSnapshot" };
  sourceDevice(lun: number | "os"): string;
}

/** A blueprint stack (`bp-<name>`) of one or more VMs; the first VM's fields are repeated at the top. */
export interface Workload extends WorkloadVm {
  stack: string;
  vms: WorkloadVm[];
}

export interface LocalWorld {
  ctx: RunbookContext;
  config: FerryConfig;
  /** The environment the runbooks read their state-store connection string from. */
  env: NodeJS.ProcessEnv;
  sync: SyncRuntime;
  /** Clients of the person building the environment (not ferry's). */
  builder: AzureClients;
  targetSubnetId: string;
  workload(name: string, options?: WorkloadOptions): Promise<Workload>;
  /**
   * Runs `fn` while the daemon ticks in the background (for the sources `only` keeps), `tickInMs` apart (default
   * 20: tests want the sync to move at once; a benchmark passes the daemon's own pace).
   */
  whileSyncing<T>(fn: () => Promise<T>, only?: (s: Source) => boolean, tickInMs?: number): Promise<T>;
  /** Runs the daemon's ticks until `until` holds (or fails after `timeoutInMs`, default 60 s). */
  syncUntil(
    until: () => Promise<boolean>,
    what: string,
    only?: (s: Source) => boolean,
    timeoutInMs?: number,
  ): Promise<void>;
  /** Enables DR for a workload (new staging disks) and syncs until every disk is healthy at an applied point. */
  protect(w: Workload, timeoutInMs?: number): Promise<void>;
  /** Only the sources of one workload. */
  sourcesOf(w: Workload): (s: Source) => boolean;
  /** An unplanned failover of a workload while its primary region is down (back up once it ends). */
  unplannedFailover(w: Workload): Promise<Operation>;
  close(): Promise<void>;
}

export async function createLocalWorld(o: LocalWorldOptions): Promise<LocalWorld> {
  const { emu } = o;
  const poll = { updateIntervalInMs: o.pollIntervalInMs ?? 10 };
  const builder = createAzureClients({
    subscriptionId: emu.subscriptionId,
    credential: staticTokenCredential(),
    armEndpoint: emu.endpoint,
    caCertPem: emu.caCertPem,
    userAgentPrefix: "ferry-local-env",
    retryOptions: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
  });
  await createGroup(builder, PRIMARY.rg, PRIMARY.location);
  const primarySubnet = await createSubnet(
    builder,
    PRIMARY.rg,
    PRIMARY.location,
    "prod-vnet",
    { addressSpace: "10.0.0.0/16", subnet: "app", subnetPrefix: "10.0.0.0/22" },
    poll,
  );
  // The primary region's sync appliance: failback copies into new primary disks attached to it.
  const primaryAppliance = await createVm(builder, PRIMARY.rg, PRIMARY.location, PRIMARY.appliance, {
    osDiskId: await createEmptyDisk(builder, PRIMARY.rg, PRIMARY.location, `${PRIMARY.appliance}-os`, 1, {
      osType: "Linux",
    }),
    nicId: await createNic(builder, PRIMARY.rg, PRIMARY.location, `${PRIMARY.appliance}-nic`, primarySubnet),
  });
  await createGroup(builder, DR.networkRg, DR.location);
  const targetSubnetId = await createSubnet(
    builder,
    DR.networkRg,
    DR.location,
    "dr-vnet",
    { addressSpace: "10.1.0.0/16", subnet: "app", subnetPrefix: "10.1.0.0/22" },
    poll,
  );
  const env = { ...process.env, FERRY_LOCAL_TABLE: o.tableConnectionString };
  const azure = {
    subscriptionId: emu.subscriptionId,
    armEndpoint: emu.endpoint,
    caCertPath: emu.caCertPath,
    credential: { kind: "emulator" as const },
    pollIntervalInMs: poll.updateIntervalInMs,
    retry: o.retry ?? { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
  };
  const stateStore = { kind: "connectionStringEnv" as const, variable: "FERRY_LOCAL_TABLE", tableName: o.tableName };
  const config = FerryConfigSchema.parse({
    azure,
    stateStore,
    deployer: { kind: "local", stateDir: join(o.dir, "stacks") },
    landingZoneStack: "lz",
    journalDir: join(o.dir, "journal"),
    timeouts: { pauseSeconds: 60, finalSyncSeconds: 120 },
    failback: {
      appliances: {
        [PRIMARY.location]: { vmId: primaryAppliance.id!, deviceDir: emu.deviceDir(PRIMARY.rg, PRIMARY.appliance) },
      },
      smallDeltaMiB: 1,
      reprotectSeconds: 120,
    },
  });
  // In Azure the landing zone makes the table; ferry and the daemon only open it (see SourceStore.open).
  await SourceStore.open({
    client: sourceStoreClient({ connectionString: o.tableConnectionString, tableName: o.tableName }),
    createTable: true,
  });
  const ctx = await createContext(config, { env, logger: o.logger, localDeployer });
  await ctx.deployer.setConfig(config.landingZoneStack, {
    kind: "landing-zone",
    region: DR.location,
    resourceGroup: DR.rg,
    targetSubnetId,
    testNetwork: {
      name: "dr-test-vnet",
      addressPrefix: "10.99.0.0/16",
      subnetName: "app",
      subnetPrefix: "10.99.0.0/22",
    },
    stateStore: { accountName: "ferrystate01", tableName: o.tableName },
    appliance: {
      sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 local",
      vmSize: o.applianceVmSize ?? "Standard_D16s_v5",
    },
    sourceScopes: [`/subscriptions/${emu.subscriptionId}/resourceGroups/${PRIMARY.rg}`],
    // As in production: the sync's snapshots of the primary region's disks live in ferry's own group there.
    snapshotResourceGroups: { [PRIMARY.location]: PRIMARY.snapshotRg, [DR.location]: DR.snapshotRg },
  });
  const lz = await ctx.deployer.up(config.landingZoneStack, { message: "landing zone" });
  if (o.throttling) emu.throttling.setMode(o.throttling);
  const applianceId = (lz.outputs.appliance as { vmId: string }).vmId;
  const sync = await createSyncRuntime(
    SyncConfigSchema.parse({
      instanceId: "appliance",
      applianceId,
      deviceDir: emu.deviceDir(DR.rg, DR.appliance),
      azure,
      stateStore,
      sync: {
        intervalInSeconds: o.syncIntervalSeconds ?? 43,
        minIntervalInSeconds: Math.min(43, o.syncIntervalSeconds ?? 43),
        tickSeconds: 0.05,
        leaseSeconds: 10,
      },
      metrics: { enabled: false, port: 0 },
    }),
    { env, logger: o.logger.child({ component: "sync" }) },
  );
  let n = 0;
  const world: LocalWorld = {
    ctx,
    config,
    env,
    sync,
    builder,
    targetSubnetId,
    async workload(name, options = {}) {
      const luns = options.dataLuns ?? [0];
      const count = options.strategies?.length ?? options.vms ?? 1;
      const names =
        count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}${String.fromCharCode(97 + i)}`);
      const osSize = options.osDiskSizeGiB ?? 1;
      const osType = options.osType ?? "Linux";
      const dataSize = options.dataDiskSizeGiB ?? 1;
      const vms = await Promise.all(
        names.map(async (vmName, i): Promise<WorkloadVm> => {
          const nic = await createNic(builder, PRIMARY.rg, PRIMARY.location, `${vmName}-nic`, primarySubnet);
          const os = options.trustedLaunch
            ? await createTrustedLaunchDisk(builder, PRIMARY.rg, PRIMARY.location, `${vmName}-os`, osSize, {
                osType,
              })
            : await createEmptyDisk(builder, PRIMARY.rg, PRIMARY.location, `${vmName}-os`, osSize, {
                osType,
                ...(options.hyperVGeneration ? { hyperVGeneration: options.hyperVGeneration } : {}),
              });
          const data = new Map<number, string>();
          for (const lun of luns)
            data.set(
              lun,
              await createEmptyDisk(builder, PRIMARY.rg, PRIMARY.location, `${vmName}-data${lun}`, dataSize),
            );
          const vm = await createVm(builder, PRIMARY.rg, PRIMARY.location, vmName, {
            osDiskId: os,
            nicId: nic,
            dataDisks: [...data].map(([lun, diskId]) => ({ lun, diskId })),
            ...(options.vmSize ? { vmSize: options.vmSize } : {}),
            osType,
            ...(options.licenseType ? { licenseType: options.licenseType } : {}),
            ...(options.trustedLaunch
              ? {
                  securityProfile: {
                    securityType: "TrustedLaunch",
                    uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
                  },
                }
              : {}),
          });
          const strategies = options.strategies?.[i] ?? {
            os: options.osStrategy ?? "attachAsIs",
            data: options.dataStrategy ?? "attachAsIs",
          };
          const w: WorkloadVm = {
            vm: vmName,
            vmId: vm.id!,
            osDiskId: os,
            dataDiskIds: data,
            strategies,
            sourceDevice: (lun) => emu.devicePath(PRIMARY.rg, vmName, lun),
          };
          if (options.prepareOsDisk) await options.prepareOsDisk(w.sourceDevice("os"), vmName);
          else if (osType === "Windows") writeGuestIdentity(w.sourceDevice("os"), windowsGuestOf(vmName));
          return w;
        }),
      );
      const stack = `bp-${name}`;
      await ctx.deployer.setConfig(stack, {
        kind: "blueprint",
        landingZoneStack: config.landingZoneStack,
        blueprint: {
          name: stack,
          target: { vmSizes: [options.vmSize ?? "Standard_D2s_v5"] },
          rows: vms.map((v) => {
            const k = ++n;
            return {
              name: v.vm,
              sourceVmId: v.vmId,
              sourceRegion: PRIMARY.location,
              osDisk: {
                sourceDiskId: v.osDiskId,
                osType,
                sizeGiB: osSize,
                ...(options.licenseType ? { licenseType: options.licenseType } : {}),
                ...(options.hyperVGeneration ? { hyperVGeneration: options.hyperVGeneration } : {}),
                ...(options.trustedLaunch ? { hyperVGeneration: "V2", securityType: "TrustedLaunch" } : {}),
              },
              dataDisks: [...v.dataDiskIds].map(([lun, sourceDiskId]) => ({ lun, sourceDiskId, sizeGiB: dataSize })),
              vmSize: options.vmSize ?? "Standard_D2s_v5",
              ...(options.zone ? { zone: options.zone } : {}),
              privateIpAddress: `10.1.${Math.floor(k / 250)}.${4 + (k % 250)}`,
              osStrategy: v.strategies.os,
              dataStrategy: v.strategies.data,
              ...(options.readiness ? { readiness: options.readiness } : {}),
            };
          }),
        },
      });
      await ctx.deployer.up(stack, { message: `standby ${stack}` });
      return { stack, ...vms[0]!, vms };
    },
    async whileSyncing(fn, only, tickInMs = 20) {
      let done = false;
      let wake: (() => void) | undefined;
      const loop = (async () => {
        while (!done) {
          await sync.daemon.tick(only ? { filter: only } : {});
          if (done) break;
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, tickInMs);
          });
        }
      })();
      try {
        return await fn();
      } finally {
        done = true;
        wake?.();
        await loop;
      }
    },
    async syncUntil(until, what, only, timeoutInMs = 60_000) {
      const deadline = Date.now() + timeoutInMs;
      while (!(await until())) {
        if (Date.now() > deadline) throw new Error(`the sync did not reach: ${what}`);
        await sync.daemon.tick(only ? { filter: only } : {});
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async protect(w, timeoutInMs) {
      await enableDr(ctx, w.stack, { prepare: "empty" });
      const disks = sourceDisks((await loadBlueprint(ctx, w.stack)).blueprint);
      await world.syncUntil(
        async () =>
          (await Promise.all(disks.map((d) => ctx.store.get(d.sourceDiskId)))).every(
            (r) => r?.source.state === "healthy" && r.source.applied !== undefined && !r.source.applying,
          ),
        `every disk of ${w.stack} healthy`,
        world.sourcesOf(w),
        timeoutInMs,
      );
    },
    async unplannedFailover(w) {
      emu.faults.setRegionOutage(PRIMARY.location, true);
      try {
        return await world.whileSyncing(() => failover(ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
      } finally {
        emu.faults.setRegionOutage(PRIMARY.location, false);
      }
    },
    sourcesOf(w) {
      const ids = new Set(w.vms.flatMap((v) => [v.osDiskId, ...v.dataDiskIds.values()].map((id) => id.toLowerCase())));
      return (s: Source) => ids.has(s.sourceDiskId.toLowerCase());
    },
    async close() {
      await sync.daemon.stop(10_000);
    },
  };
  return world;
}
