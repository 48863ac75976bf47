// What components import: `import { connectionsList, type ConnectionDto } from "$lib/ipc"`.
export * from "./ipc";
export type * from "./types";
