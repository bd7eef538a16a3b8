/** Azure regions the emulator accepts, with their paired region. */
export const REGION_PAIRS: Record<string, string> = {
  eastus: "westus",
  westus: "eastus",
  eastus2: "centralus",
  centralus: "eastus2",
  westus2: "westcentralus",
  westcentralus: "westus2",
  westus3: "eastus",
  northcentralus: "southcentralus",
  southcentralus: "northcentralus",
  canadacentral: "canadaeast",
  canadaeast: "canadacentral",
  brazilsouth: "southcentralus",
  northeurope: "westeurope",
  westeurope: "northeurope",
  uksouth: "ukwest",
  ukwest: "uksouth",
  francecentral: "francesouth",
  francesouth: "francecentral",
  germanywestcentral: "germanynorth",
  germanynorth: "germanywestcentral",
  swedencentral: "swedensouth",
  swedensouth: "swedencentral",
  switzerlandnorth: "switzerlandwest",
  switzerlandwest: "switzerlandnorth",
  norwayeast: "norwaywest",
  norwaywest: "norwayeast",
  eastasia: "southeastasia",
  southeastasia: "eastasia",
  japaneast: "japanwest",
  japanwest: "japaneast",
  koreacentral: "koreasouth",
  koreasouth: "koreacentral",
  australiaeast: "australiasoutheast",
  australiasoutheast: "australiaeast",
  centralindia: "southindia",
  southindia: "centralindia",
  uaenorth: "uaecentral",
  uaecentral: "uaenorth",
  southafricanorth: "southafricawest",
  southafricawest: "southafricanorth",
};

/** The canonical form of a location ("East US" and "eastus" are the same region), or undefined if unknown. */
export function canonicalRegion(location: string): string | undefined {
  const key = location.replace(/\s+/g, "").toLowerCase();
  return key in REGION_PAIRS ? key : undefined;
}
