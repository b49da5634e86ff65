import type { FramedChunk } from "../events/polling-consumer.ts";
import type { RowTable } from "./store.ts";

/** The messages between `ProcessAnalyticsStore` (gateway side) and `store-process.ts` (engine side). */
export type StoreRequest =
  | { id: number; op: "migrate" | "drop" | "health" | "memory" | "close"; args: [] }
  | { id: number; op: "insertRows"; args: [table: RowTable, columns: string[], rows: unknown[][], dedupToken?: string] }
  | { id: number; op: "query" | "exec"; args: [sql: string, params?: Record<string, string | number | boolean>] }
  | { id: number; op: "projectFramed"; args: [chunk: FramedChunk] };

export type StoreReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
