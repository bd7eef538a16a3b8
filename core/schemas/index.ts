export * from "./blueprint";
export * from "./fields";
export * from "./ids";
export * from "./landing-zone";
export * from "./dr-point";
export * from "./recovery-point";
export * from "./source";
export * from "./target";
export { evenWithFieldIssues } from "./refine";
