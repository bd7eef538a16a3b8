import type { Subnet } from "@azure/arm-network";
import { z } from "zod";
import { azureProblemOf, formatAzureProblem } from "../core/azure-error";
import { isNotFound, unlessNotFound } from "../core/errors";
import { ipv4PlaceProblem, parseIpv4Cidr, reservedIpv4, usableIpv4, type Ipv4Range } from "../core/ipv4";
import { parseResourceId } from "../core/resource-id";
import { rowNics, type BlueprintRow, type RowNic } from "../core/schemas/blueprint";
import { recoveredNicIp, recoveredNicName } from "../stacks/plan";
import type { LandingZoneFacts } from "./blueprints";
import type { RunbookContext } from "./context";
import type { PrecheckCheck } from "./precheck";

/** What the network checks read of a row: its name, its NICs and their static addresses. */
export type NetworkRow = Pick<BlueprintRow, "name" | "hostname" | "privateIpAddress" | "testPrivateIpAddress" | "nics">;

/** Which of the landing zone's subnets the checks are about: the target's (failover) or the test's (drill). */
export interface NetworkChecksOptions {
  mode: "failover" | "test";
  /** The landing-zone stack, named in the fixes. */
  landingZoneStack: string;
  /** Whether to check the subnet's region (`ferry targets validate` checks it with the subnet). Default true. */
  regionCheck?: boolean;
}

/**
 * What Azure would refuse of the recovered NICs, checked before a failover makes them: the subnet's
 * virtual network is in the landing zone's region (a NIC joins a network of its own region only,
 * `InvalidResourceReference`); a subnet a row's NIC names is in that network (a VM's NICs share one network,
 * and a subnet that is not there is `InvalidResourceReference`); each NIC's static address for this mode is
 * inside its subnet (`PrivateIPAddressNotInSubnet`), not one of the five Azure reserves there
 * (`PrivateIPAddressInReservedRange`), not another row's, and free, or held by the row's own recovered NIC
 * already (`PrivateIPAddressIsAllocated`).
 * The subnet's NSG and route table are reported, not judged: they are the network team's.
 *
 * Read-only. A subnet or network that does not exist gives no line here (the subnet check says so); an Azure
 * error is the FAIL line of what it stopped.
 */
export async function networkChecks(
  ctx: RunbookContext,
  rows: readonly NetworkRow[],
  zone: LandingZoneFacts,
  options: NetworkChecksOptions,
): Promise<PrecheckCheck[]> {
  const test = options.mode === "test";
  const which = test ? "test subnet" : "target subnet";
  const addressField = test ? "testPrivateIpAddress" : "privateIpAddress";
  const redeploy = `pulumi up -s ${options.landingZoneStack}`;
  const wanted = parseResourceId(test ? zone.testSubnetId : zone.targetSubnetId);
  const vnetName = wanted.parent!.name;
  const checks: PrecheckCheck[] = [];

  let subnet: Subnet | undefined;
  let vnetSubnets: Subnet[] = [];
  try {
    const vnet = await ctx.azure.network.virtualNetworks.get(wanted.resourceGroup, vnetName);
    const region = vnet.location ?? "?";
    const inRegion = region.toLowerCase() === zone.location.toLowerCase();
    if (options.regionCheck !== false)
      checks.push({
        name: `${which} region`,
        ok: inRegion,
        message: inRegion
          ? `${vnetName} is in ${region}`
          : `Virtual network ${vnetName} of the ${which} is in ${region}, not the landing zone's region ` +
            `${zone.location}: Azure refuses a NIC on a subnet of another region (InvalidResourceReference), so no ` +
            `recovered VM can join it. Give the landing zone ${options.landingZoneStack} a ${which} in ` +
            `${zone.location} and deploy it again (${redeploy}).`,
      });
    vnetSubnets = vnet.subnets ?? [];
    subnet = vnetSubnets.find((s) => s.name?.toLowerCase() === wanted.name.toLowerCase());
  } catch (e) {
    if (isNotFound(e)) return checks;
    return [{ name: `${which} region`, ok: false, message: `Cannot read ${vnetName}: ${unreadable(e)}` }];
  }
  if (!subnet) return checks;

  checks.push({ name: `${which} NSG and route table`, ok: true, message: attachments(subnet) });

  const subnetField = test ? "testSubnet" : "subnet";
  const nics = rows.flatMap((row) =>
    rowNics(row).map((nic) => ({ row, nic, subnetName: (test ? nic.testSubnet : nic.subnet) ?? subnet.name! })),
  );
  const subnetNamed = (name: string) => vnetSubnets.find((x) => x.name?.toLowerCase() === name.toLowerCase());
  for (const { row, nic, subnetName } of nics) {
    if (subnetName.toLowerCase() === subnet.name!.toLowerCase()) continue;
    const found = subnetNamed(subnetName);
    const checkName = `${row.name}: NIC ${nic.index + 1} ${test ? "test " : ""}subnet ${subnetName}`;
    checks.push(
      found
        ? {
            name: checkName,
            row: row.name,
            ok: true,
            message: `${vnetName}/${subnetName} (${found.addressPrefix ?? "?"}): ${attachments(found)}`,
          }
        : {
            name: checkName,
            row: row.name,
            ok: false,
            message:
              `rows[].${nic.keyPrefix}${subnetField} ${subnetName} of row ${row.name} is not a subnet of ${vnetName}, ` +
              `the virtual network of the landing zone's ${which}: Azure would refuse the recovered NIC ` +
              `(InvalidResourceReference), and a VM's NICs share one virtual network. Create ${subnetName} in ` +
              `${vnetName}, or set rows[].${nic.keyPrefix}${subnetField} of ${row.name} to one of its subnets: ` +
              `${vnetSubnets.map((x) => x.name).join(", ")}.`,
          },
    );
  }

  const statics = nics.flatMap(({ row, nic, subnetName }) => {
    const ip = recoveredNicIp(nic, options.mode);
    const inSubnet = subnetNamed(subnetName);
    return ip && inSubnet ? [{ row, nic, ip, subnet: inSubnet }] : [];
  });
  const key = (subnetName: string, ip: string) => `${subnetName.toLowerCase()}|${ip}`;
  const firstRowOf = new Map<string, string>();
  for (const { row, ip, subnet: s } of statics)
    if (!firstRowOf.has(key(s.name!, ip))) firstRowOf.set(key(s.name!, ip), row.name);

  const rowChecks = await Promise.all(
    statics.map(async ({ row, nic, ip, subnet: s }): Promise<PrecheckCheck> => {
      const name = `${row.name}: ${test ? "test " : ""}private IP ${ip}`;
      const base = { name, row: row.name };
      const field = `${nic.keyPrefix}${addressField}`;
      const value = `rows[].${field} ${ip} of row ${row.name}`;
      const where = `${vnetName}/${s.name}`;
      const range = parseIpv4Cidr(s.addressPrefix ?? "");
      if (!range) {
        return { ...base, ok: true, message: `${where} has no single addressPrefix to check it against; not checked` };
      }
      const pick = pickFix(range, field, row.name);
      const place = ipv4PlaceProblem(ip, range);
      if (place === "outside") {
        return {
          ...base,
          ok: false,
          message:
            `${value} is outside the ${s === subnet ? which : "subnet"} ${where} (${range.prefix}): Azure would ` +
            "refuse the recovered NIC " +
            `(PrivateIPAddressNotInSubnet). ${pick}`,
        };
      }
      if (place === "reserved") {
        return {
          ...base,
          ok: false,
          message:
            `${value} is one of the five addresses Azure reserves in ${where} (${reservedIpv4(range)}): Azure ` +
            `would refuse the recovered NIC (PrivateIPAddressInReservedRange). ${pick}`,
        };
      }
      const first = firstRowOf.get(key(s.name!, ip))!;
      if (first !== row.name) {
        return {
          ...base,
          ok: false,
          message:
            `${value} is row ${first}'s too: Azure would refuse the second recovered NIC ` +
            `(PrivateIPAddressIsAllocated). Give each row its own address in rows[].${field}.`,
        };
      }
      try {
        const free = await ctx.azure.network.virtualNetworks.checkIPAddressAvailability(
          wanted.resourceGroup,
          vnetName,
          ip,
        );
        if (free.available) return { ...base, ok: true, message: `free in ${where} (${range.prefix})` };
        const nicName = recoveredNicName(row, options.mode, nic.index);
        const own = await unlessNotFound(ctx.azure.network.networkInterfaces.get(zone.resourceGroupName, nicName));
        if (own?.ipConfigurations?.some((c) => c.privateIPAddress === ip)) {
          return {
            ...base,
            ok: true,
            message: `held by the row's recovered NIC ${nicName} already (a re-run keeps it)`,
          };
        }
        const others = (free.availableIPAddresses ?? []).filter((a) => !firstRowOf.has(key(s.name!, a)));
        return {
          ...base,
          ok: false,
          message:
            `${value} is in use in ${where} by another resource: Azure would refuse the recovered NIC ` +
            `(PrivateIPAddressIsAllocated). Free it, or set rows[].${field} of ${row.name} to a free address` +
            (others.length ? ` (free: ${others.join(", ")}).` : "."),
        };
      } catch (e) {
        return { ...base, ok: false, message: `Cannot check whether ${ip} is free in ${where}: ${unreadable(e)}` };
      }
    }),
  );
  return [...checks, ...rowChecks];
}

/** The fix of an address a subnet cannot give: the addresses it can, or that it has none. */
function pickFix(range: Ipv4Range, field: string, row: string): string {
  const usable = usableIpv4(range);
  return usable
    ? `Set rows[].${field} of ${row} to a free address from ${usable.first} to ${usable.last}, or remove it for a ` +
        "dynamic one."
    : `${range.prefix} has no address a NIC may hold: remove rows[].${field} of ${row}, or use a larger subnet.`;
}

/** The subnet's NSG and route table, by name, as the operator looks them up. */
function attachments(subnet: Subnet): string {
  const named = (id: string | undefined) => {
    if (!id) return undefined;
    const r = parseResourceId(id);
    return `${r.name} (${r.resourceGroup})`;
  };
  const nsg = named(subnet.networkSecurityGroup?.id);
  const routes = named(subnet.routeTable?.id);
  return `${nsg ? `NSG ${nsg}` : "no NSG"}, ${routes ? `route table ${routes}` : "no route table"}`;
}

/** Why something could not be read: Azure's answer and its fix, or the error's message. */
function unreadable(e: unknown): string {
  const problem = azureProblemOf(e);
  return problem ? formatAzureProblem(problem) : (e as Error).message;
}

/**
 * The rows of a blueprint as the network checks read them, from a stack's raw config (`blueprint.rows`): what
 * `ferry targets validate` checks without the rest of the blueprint being valid.
 */
export const NetworkRowsSchema = z.array(
  z.object({
    name: z.string().min(1),
    hostname: z.string().optional(),
    privateIpAddress: z.ipv4().optional(),
    testPrivateIpAddress: z.ipv4().optional(),
    nics: z
      .array(
        z.object({
          subnet: z.string().min(1).optional(),
          testSubnet: z.string().min(1).optional(),
          privateIpAddress: z.ipv4().optional(),
          testPrivateIpAddress: z.ipv4().optional(),
          acceleratedNetworking: z.boolean().optional(),
          primary: z.boolean().optional(),
        }),
      )
      .optional(),
  }),
);

/** What `targets validate --offline` cannot say of a blueprint's static addresses, or undefined when it has none. */
export function offlineNetworkNote(rows: readonly NetworkRow[]): PrecheckCheck | undefined {
  const named = rows
    .filter((r) => rowNics(r).some((n: RowNic) => n.privateIpAddress || n.testPrivateIpAddress))
    .map((r) => r.name);
  if (named.length === 0) return undefined;
  return {
    name: "static private IPs",
    ok: true,
    message:
      `not checked offline (rows ${named.join(", ")}): whether each is inside its subnet, not reserved by Azure and ` +
      "free is read from the landing zone's subnets in Azure. Run targets validate without --offline.",
  };
}

/** A source VM's NIC, as ferry reads it at enable time (the primary region is up then). */
export interface SourceNic {
  name: string;
  primary: boolean;
  /** Its static private IP; undefined when the address is dynamic. */
  staticIp?: string;
  acceleratedNetworking: boolean;
}

/**
 * Where a row's NICs differ from its source VM's, as sentences that say what the recovered VM gets and which key
 * keeps the source's shape. The row wins (its values are the override); nothing here is refused. Static addresses
 * compare by value: a DR network that mirrors the source's ranges keeps them, any other has its own.
 */
export function nicDifferences(row: NetworkRow, source: readonly SourceNic[]): string[] {
  const nics = rowNics(row);
  const out: string[] = [];
  if (source.length !== nics.length) {
    out.push(
      `the source VM has ${source.length} NIC${source.length === 1 ? "" : "s"} and the row ${nics.length}: the ` +
        `recovered VM gets ${nics.length}. List the source's in rows[].nics, in its order, to keep them`,
    );
  }
  const sourcePrimary = source.findIndex((n) => n.primary);
  const rowPrimary = nics.findIndex((n) => n.primary);
  if (sourcePrimary >= 0 && sourcePrimary !== rowPrimary && sourcePrimary < nics.length) {
    out.push(
      `the source's primary NIC is its NIC ${sourcePrimary + 1} (${source[sourcePrimary]!.name}), the row's its ` +
        `NIC ${rowPrimary + 1}: set rows[].nics[${sourcePrimary}].primary: true to keep the source's default route`,
    );
  }
  source.forEach((s, i) => {
    const nic = nics[i];
    if (!nic) return;
    const key = nic.keyPrefix ? `rows[].${nic.keyPrefix}` : "rows[].";
    if (s.acceleratedNetworking !== nic.acceleratedNetworking) {
      out.push(
        `the source's NIC ${i + 1} (${s.name}) has accelerated networking ${s.acceleratedNetworking ? "on" : "off"}, ` +
          `the row's ${nic.acceleratedNetworking ? "on" : "off"}: set rows[].nics[${i}].acceleratedNetworking: ` +
          `${s.acceleratedNetworking} to keep it`,
      );
    }
    if (s.staticIp && s.staticIp !== nic.privateIpAddress) {
      out.push(
        `the source's NIC ${i + 1} (${s.name}) has the static address ${s.staticIp}, the row's ` +
          `${nic.privateIpAddress ?? "a dynamic one"}: set ${key}privateIpAddress: ${s.staticIp} to keep it, where ` +
          "the DR subnet has that range",
      );
    }
  });
  return out;
}
