/** Byte patterns and positional I/O on device paths: the emulator's testing helpers. */
export { pattern, readAt, writeAt } from "@ferry/emulator/testing";
