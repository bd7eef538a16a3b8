// The public surface of core/. Pure modules first; ./azure loads the Azure SDKs.
export * from "./errors";
export * from "./redact";
export * from "./logger";
export * from "./retry";
export * from "./validate";
export * from "./source-state";
export * from "./schemas";
export * from "./azure";
