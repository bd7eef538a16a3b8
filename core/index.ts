// The public surface of core/: the domain, no I/O but the logger's stream.
export * from "./errors";
export * from "./html";
export * from "./redact";
export * from "./logger";
export * from "./retry";
export * from "./validate";
export * from "./source-state";
export * from "./schemas";
