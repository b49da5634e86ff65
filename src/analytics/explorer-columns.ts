/**
 * The request explorer's columns on `usage_events` and its request-id → log-position index
 * table (`request_log_index`), with a migration that runs on embedded chDB and on any
 * ClickHouse server, 18.16 included: 18.16 has no `ADD COLUMN IF NOT EXISTS`, so the missing
 * columns are read from `system.columns` and added one by one (idempotent all the same).
 * Types are plain (String, UIntN): no LowCardinality, no DateTime64, so the DDL parses everywhere.
 */
import type { EventEnvelope } from "../events/envelope.ts";
import { checkIdentifier } from "./schema.ts";

/** Column name → type and default, in the order they are added. */
export const EXPLORER_COLUMNS: ReadonlyArray<{ name: string; type: string; def: string }> = [
  { name: "key_id", type: "String", def: "''" },
  { name: "http_status", type: "UInt16", def: "0" },
  { name: "config_version", type: "UInt64", def: "0" },
  { name: "cache_key_hash", type: "String", def: "''" },
  { name: "cache_result", type: "String", def: "''" },
  { name: "route_level", type: "String", def: "''" },
  { name: "route_override", type: "String", def: "''" },
  { name: "guardrail_action", type: "String", def: "''" },
  { name: "guardrail_detections", type: "UInt32", def: "0" },
];

/** The explorer's part of a usage row (column names as in the table). */
export interface ExplorerColumns {
  key_id: string;
  http_status: number;
  config_version: number;
  cache_key_hash: string;
  cache_result: string;
  route_level: string;
  route_override: string;
  guardrail_action: string;
  guardrail_detections: number;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const uint = (v: unknown, max: number) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.min(Math.round(v), max) : 0);

/** Pure: the explorer columns of a `request.completed` event. */
export function explorerColumns(event: EventEnvelope): ExplorerColumns {
  const p = event.payload;
  return {
    key_id: str(p.keyId),
    http_status: uint(p.httpStatus, 65_535),
    config_version: uint(event.configVersion, Number.MAX_SAFE_INTEGER),
    cache_key_hash: str(p.cacheKeyHash),
    cache_result: str(p.cacheResult),
    route_level: str(p.routeLevel),
    route_override: str(p.routeOverride),
    guardrail_action: str(p.guardrailAction),
    guardrail_detections: uint(p.guardrailDetections, 0xffffffff),
  };
}

/** DDL of the index table: one row per event of the requests stream that has a request id. */
export function logIndexTable(db: string): string {
  const d = checkIdentifier(db);
  return `CREATE TABLE IF NOT EXISTS ${d}.request_log_index (
    request_id String,
    tenant String,
    type String,
    time_ms UInt64,
    partition UInt32,
    offset UInt64
  ) ENGINE = ReplacingMergeTree
  ORDER BY (request_id, partition, offset)`;
}

/** What a migration needs of a store (both AnalyticsStore implementations have it). */
export interface MigratableStore {
  query<T>(sql: string): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

/** Adds the explorer's columns that `usage_events` lacks and creates the index table (idempotent). */
export async function migrateExplorer(store: MigratableStore, db: string): Promise<void> {
  const d = checkIdentifier(db);
  const have = new Set((await store.query<{ name: string }>(`SELECT name FROM system.columns WHERE database = '${d}' AND table = 'usage_events'`)).map((r) => r.name));
  for (const c of EXPLORER_COLUMNS) {
    if (have.has(c.name)) continue;
    await store.exec(`ALTER TABLE ${d}.usage_events ADD COLUMN ${c.name} ${c.type} DEFAULT ${c.def}`);
  }
  await store.exec(logIndexTable(d));
}
