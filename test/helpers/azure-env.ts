/** Builders of small primary environments through the SDK clients (shared with the local drill). */
export { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "@ferry/emulator/testing";
