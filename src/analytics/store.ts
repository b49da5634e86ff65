/**
 * AnalyticsStore: where usage rows land and analytics SQL runs. Two implementations pass one
 * contract suite (test/analytics/contract.ts): embedded chDB (`ChdbAnalyticsStore`) and a
 * ClickHouse server over HTTP (`ClickHouseAnalyticsStore`). Both run the same SQL: tables are
 * referenced unqualified and resolve in the store's database; parameters are bound server-side
 * with ClickHouse's `{name:Type}` placeholders, never concatenated.
 */
import type { FramedChunk } from "../events/polling-consumer.ts";
import { checkIdentifier, type UsageRow } from "./schema.ts";

export type AnalyticsParams = Record<string, string | number | boolean>;

/** The tables the projections append to. */
export type RowTable = "usage_events" | "provider_attempts" | "request_log_index";
const ROW_TABLES: readonly RowTable[] = ["usage_events", "provider_attempts", "request_log_index"];

/** `insertRows`' arguments checked (a table of the list, identifier column names): the columns as given. */
export function checkRowTarget(table: RowTable, columns: readonly string[]): string[] {
  if (!ROW_TABLES.includes(table)) throw new Error(`insertRows: unknown table ${String(table)}`);
  return columns.map(checkIdentifier);
}

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
  /**
   * Appends rows given as arrays of values in `columns` order (an `undefined` value: the column's
   * DEFAULT). The projections' bulk path: chDB parses this shape (JSONCompactEachRow) about twice
   * as fast as objects; a ClickHouse server gets JSONEachRow objects as before.
   */
  insertRows(table: RowTable, columns: readonly string[], rows: readonly (readonly unknown[])[], dedupToken?: string): Promise<void>;
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

/**
 * Pure: objects as column names and value arrays (every key any row has; a key a row lacks is
 * `undefined` there, i.e. the column's DEFAULT). `convert` maps one value (e.g. the time format).
 */
export function toColumns<R extends object>(rows: readonly R[], convert?: (column: string, value: unknown) => unknown): { columns: string[]; values: unknown[][] } {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  const columns = [...seen];
  const values = rows.map((r) => columns.map((c) => {
    const v = (r as Record<string, unknown>)[c];
    return convert && v !== undefined ? convert(c, v) : v;
  }));
  return { columns, values };
}

/** Pure: value arrays back to objects (undefined values left out), for stores that take JSONEachRow. */
export function fromColumns(columns: readonly string[], rows: readonly (readonly unknown[])[]): Record<string, unknown>[] {
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      if (r[i] !== undefined) o[c] = r[i];
    });
    return o;
  });
}

/** Parses a JSONEachRow text body. */
export function parseJsonEachRow<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split("\n")) if (line.trim()) out.push(JSON.parse(line) as T);
  return out;
}
