export * from "./clients";
export * from "./credentials";
export * from "./http";
export * from "../../core/resource-id";
export { toStorageHttpClient } from "./storage-http-client";
export * from "./pipelines";
