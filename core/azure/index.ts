export * from "./clients";
export * from "./credentials";
export * from "./http";
export * from "./resource-id";
export { toStorageHttpClient } from "./storage-http-client";
