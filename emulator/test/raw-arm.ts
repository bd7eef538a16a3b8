import { request } from "node:https";
import type { RunningEmulator } from "../index";

/**
 * A few ARM and data-plane calls over plain HTTPS, for the emulator's guest-device tests: no SDK
 * and nothing of ferry, so these tests depend on the emulator alone. The emulator's zero-latency
 * profile finishes every operation at once, so no call here needs to poll.
 */
export interface RawArm {
  /** Any ARM call; throws on an answer of 400 or more, with its body. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; json: unknown }>;
  /** A resource group, a network with a subnet and a NIC in it: what a VM needs. */
  network(rg: string, location: string): Promise<string>;
  /** An empty disk of `sizeGB`, returns its id. */
  disk(rg: string, location: string, name: string, sizeGB: number, osType?: "Linux"): Promise<string>;
  /** A running VM on an existing OS disk with data disks by LUN. */
  vm(
    rg: string,
    location: string,
    name: string,
    o: { nicId: string; osDiskId: string; data: Map<number, string> },
  ): Promise<void>;
  power(rg: string, vm: string, action: "start" | "powerOff" | "deallocate"): Promise<void>;
  /** A snapshot of a disk; returns its id and `timeCreated`. */
  snapshot(rg: string, location: string, name: string, diskId: string): Promise<{ id: string; timeCreated: string }>;
  /** `length` bytes at `offset` of a snapshot, through a read SAS (granted and revoked around the read). */
  readSnapshot(rg: string, name: string, ranges: { offset: number; length: number }[]): Promise<Buffer[]>;
  deleteSnapshot(rg: string, name: string): Promise<void>;
}

type Headers = Record<string, string | string[] | undefined>;

export function rawArm(emu: RunningEmulator): RawArm {
  const sub = `/subscriptions/${emu.subscriptionId}`;
  const compute = (rg: string, type: string, name: string) =>
    `${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/${type}/${name}`;

  function send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; headers: Headers; data: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, ca: emu.caCertPem, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, data: Buffer.concat(parts) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  async function call(method: string, path: string, body?: unknown) {
    const url = new URL(path, emu.endpoint);
    if (!url.searchParams.has("api-version")) url.searchParams.set("api-version", "2024-03-02");
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await send(
      url,
      method,
      {
        authorization: "Bearer local",
        ...(text ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) } : {}),
      },
      text,
    );
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${res.data.toString()}`);
    return {
      status: res.status,
      headers: res.headers,
      json: res.data.length ? JSON.parse(res.data.toString()) : undefined,
    };
  }

  const arm: RawArm = {
    call,
    async network(rg, location) {
      await call("PUT", `${sub}/resourcegroups/${rg}`, { location });
      const vnet = `${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/vnet`;
      await call("PUT", vnet, {
        location,
        properties: {
          addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
          subnets: [{ name: "default", properties: { addressPrefix: "10.0.1.0/24" } }],
        },
      });
      const nic = `${sub}/resourceGroups/${rg}/providers/Microsoft.Network/networkInterfaces/nic`;
      await call("PUT", nic, {
        location,
        properties: {
          ipConfigurations: [
            {
              name: "ip",
              properties: { subnet: { id: `${vnet}/subnets/default` }, privateIPAllocationMethod: "Dynamic" },
            },
          ],
        },
      });
      return nic;
    },
    async disk(rg, location, name, sizeGB, osType) {
      const id = compute(rg, "disks", name);
      await call("PUT", id, {
        location,
        sku: { name: "Premium_LRS" },
        properties: { creationData: { createOption: "Empty" }, diskSizeGB: sizeGB, ...(osType ? { osType } : {}) },
      });
      return id;
    },
    async vm(rg, location, name, o) {
      await call("PUT", compute(rg, "virtualMachines", name), {
        location,
        properties: {
          hardwareProfile: { vmSize: "Standard_D4s_v5" },
          storageProfile: {
            osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: o.osDiskId } },
            dataDisks: [...o.data].map(([lun, id]) => ({ lun, createOption: "Attach", managedDisk: { id } })),
          },
          networkProfile: { networkInterfaces: [{ id: o.nicId }] },
        },
      });
    },
    async power(rg, vm, action) {
      await call("POST", `${compute(rg, "virtualMachines", vm)}/${action}`);
    },
    async snapshot(rg, location, name, diskId) {
      const { json } = await call("PUT", compute(rg, "snapshots", name), {
        location,
        properties: { creationData: { createOption: "Copy", sourceResourceId: diskId }, incremental: true },
      });
      const s = json as { id: string; properties: { timeCreated: string } };
      return { id: s.id, timeCreated: s.properties.timeCreated };
    },
    async readSnapshot(rg, name, ranges) {
      const path = compute(rg, "snapshots", name);
      const granted = await call("POST", `${path}/beginGetAccess`, { access: "Read", durationInSeconds: 600 });
      const result = await call("GET", String(granted.headers.location));
      const sas = new URL((result.json as { accessSAS: string }).accessSAS);
      try {
        const out: Buffer[] = [];
        for (const r of ranges) {
          const res = await send(sas, "GET", {
            "x-ms-version": "2021-08-06",
            "x-ms-range": `bytes=${r.offset}-${r.offset + r.length - 1}`,
          });
          if (res.status !== 206) throw new Error(`read of ${name}: ${res.status} ${res.data.toString()}`);
          out.push(res.data);
        }
        return out;
      } finally {
        await call("POST", `${path}/endGetAccess`);
      }
    },
    async deleteSnapshot(rg, name) {
      await call("DELETE", compute(rg, "snapshots", name));
    },
  };
  return arm;
}
