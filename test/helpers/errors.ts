/** Whatever a call threw, failing the test when it succeeds: the emulator's testing helper. */
export { thrownBy } from "@ferry/emulator/testing";
