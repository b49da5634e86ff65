/**
 * AnalyticsStore: where usage rows land and analytics SQL runs. Two implementations pass one
 * contract suite (test/analytics/contract.ts): embedded chDB (`ChdbAnalyticsStore`) and a
 * ClickHouse server over HTTP (`ClickHouseAnalyticsStore`). Both run the same SQL: tables are
 * referenced unqualified and resolve in the store's database; parameters are bound server-side
 * with ClickHouse's `{name:Type}` placeholders, never concatenated.
 */
import type { FramedChunk } from "../events/polling-consumer.ts";
import type { UsageRow } from "./schema.ts";

export type AnalyticsParams = Record<string, string | number | boolean>;

export interface AnalyticsHealth {
  ok: boolean;
  kind: AnalyticsStore["kind"];
  /** Engine version when reachable. */
  version?: string;
  error?: string;
}

export interface AnalyticsStore {
  readonly kind: "chdb" | "clickhouse";
  /** The database the tables live in. */
  readonly database: string;
  /** Creates the database, tables and rollup view (idempotent). */
  migrate(): Promise<void>;
  /**
   * Appends rows (JSONEachRow). With `dedupToken`, re-sending the same batch with the same token is
   * dropped by the events table and the rollup alike (see schema.ts).
   */
  insert(rows: readonly UsageRow[], dedupToken?: string): Promise<void>;
  /** Runs a SELECT and returns its rows (JSONEachRow, parsed). */
  query<T>(sql: string, params?: AnalyticsParams): Promise<T[]>;
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, TRUNCATE). */
  exec(sql: string, params?: AnalyticsParams): Promise<void>;
  /** Drops the database (everything this store owns). `migrate()` recreates it. */
  drop(): Promise<void>;
  health(): Promise<AnalyticsHealth>;
  close(): Promise<void>;
  /**
   * The engine in a process of its own only: build and insert the log-index and usage rows of a
   * chunk of framed log records there (src/analytics/framed-projection.ts), so the gateway's
   * request thread never parses them. Absent: the projections parse and insert themselves.
   */
  projectFramed?(chunk: FramedChunk): Promise<FramedResult>;
}

/** What `projectFramed` did: rows written, and the records that were not valid envelopes (for the dead letters). */
export interface FramedResult {
  rows: number;
  bad: { offset: number; key: string; reason: string; raw: string }[];
}

/** Parses a JSONEachRow text body. */
export function parseJsonEachRow<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split("\n")) if (line.trim()) out.push(JSON.parse(line) as T);
  return out;
}
