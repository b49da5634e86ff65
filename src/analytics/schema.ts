/**
 * The analytics schema: `usage_events` (one row per `request.completed` event) and the hourly
 * rollup `usage_hourly`, plus the pure mapping from an event envelope to a row.
 *
 * Exactness under replay — the choice, and why:
 * - `usage_events` is a `ReplacingMergeTree` whose sorting key ends in `event_id`: an event inserted
 *   twice (a replayed batch, a redelivered message) collapses to one row. Merges are eventual, so every
 *   analytics query (queries.ts) reads `usage_events FINAL`: totals are exact whatever the merge state.
 * - `usage_hourly` is a `SummingMergeTree` fed by a materialized view. An MV sees every INSERT block,
 *   so a replayed row would be counted twice there. Two defences:
 *     1. both tables set `non_replicated_deduplication_window`, and the projection passes a deterministic
 *        `insert_deduplication_token` per batch (e.g. `requests:<partition>:<firstOffset>-<lastOffset>`):
 *        re-inserting the same batch is dropped by the base table AND the rollup;
 *     2. the rollup is derived data: `rebuildRollupSql()` truncates it and recomputes it from
 *        `usage_events FINAL` (run after a full replay whose batch boundaries may differ).
 *   The API never reads the rollup; it is for Grafana / cheap long-range dashboards.
 */
import type { EventEnvelope } from "../events/envelope.ts";
import { microsFromNanos, payloadNanos } from "../pricing/money.ts";
import { type ExplorerColumns, explorerColumns } from "./explorer-columns.ts";

/** One row of `usage_events`, column names as in the table (the request explorer's columns: explorer-columns.ts). */
export interface UsageRow extends Partial<ExplorerColumns> {
  /** ISO-8601 time of the event (stored as DateTime64(3, 'UTC')). */
  time: string;
  event_id: string;
  request_id: string;
  tenant: string;
  service: string;
  user: string;
  key_prefix: string;
  task_type: string;
  provider: string;
  model: string;
  /** The model or alias the client asked for. */
  route: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** Cost in integer nano-dollars (1 USD = 1_000_000_000): the column every query sums. */
  cost_nanos: number;
  /** What a cache hit saved, integer nano-dollars (0 unless answered from the cache). */
  saved_nanos: number;
  /** Legacy: the cost rounded half-up to integer micro-dollars (kept for older readers). */
  cost_micros: number;
  /** Legacy: the saving in integer micro-dollars. */
  saved_micros: number;
  latency_ms: number;
  ttft_ms: number | null;
  /** 1 when answered from the cache. */
  cached: 0 | 1;
  /** `ok`, `error`, `client_disconnected`. */
  status: string;
  error_code: string;
  attempts: number;
  /** Cache-write input tokens (part of input_tokens). */
  cache_write_tokens?: number;
  /** Reasoning tokens (part of output_tokens). */
  reasoning_tokens?: number;
  /** Where the price came from: `catalog:<package@version>`, `config:price/<id>@v<n>`, or "". */
  price_source?: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws unless `name` is a plain identifier (database names are interpolated into DDL). */
export function checkIdentifier(name: string): string {
  if (!IDENT.test(name)) throw new Error(`invalid ClickHouse identifier: ${JSON.stringify(name)}`);
  return name;
}

/** Rollup columns, shared by the MV and the rebuild. */
const ROLLUP_SELECT = `
  toStartOfHour(time) AS hour, tenant, provider, model, service,
  count() AS requests,
  countIf(cached = 1) AS cached_requests,
  countIf(status = 'error') AS error_requests,
  sum(toUInt64(input_tokens)) AS input_tokens,
  sum(toUInt64(output_tokens)) AS output_tokens,
  sum(toUInt64(cached_tokens)) AS cached_tokens,
  sum(cost_micros) AS cost_micros,
  sum(latency_ms) AS latency_ms_sum,
  sum(cost_nanos) AS cost_nanos`;

/** DDL statements, in order, for database `db` (idempotent: IF NOT EXISTS everywhere). */
export function migrationStatements(db: string): string[] {
  const d = checkIdentifier(db);
  return [
    `CREATE DATABASE IF NOT EXISTS ${d}`,
    `CREATE TABLE IF NOT EXISTS ${d}.usage_events (
      time DateTime64(3, 'UTC'),
      event_id String,
      request_id String,
      tenant LowCardinality(String),
      service LowCardinality(String),
      user String,
      key_prefix String,
      task_type LowCardinality(String),
      provider LowCardinality(String),
      model LowCardinality(String),
      route LowCardinality(String),
      input_tokens UInt32,
      output_tokens UInt32,
      cached_tokens UInt32,
      cost_micros UInt64,
      saved_micros UInt64 DEFAULT 0,
      latency_ms Float64,
      ttft_ms Nullable(Float64),
      cached UInt8,
      status LowCardinality(String),
      error_code String,
      attempts UInt8
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(time)
    ORDER BY (tenant, time, event_id)
    SETTINGS non_replicated_deduplication_window = 10000`,
    // Migration for tables created before the cache recorded savings (a no-op on new tables).
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS saved_micros UInt64 DEFAULT 0 AFTER cost_micros`,
    `CREATE TABLE IF NOT EXISTS ${d}.usage_hourly (
      hour DateTime('UTC'),
      tenant LowCardinality(String),
      provider LowCardinality(String),
      model LowCardinality(String),
      service LowCardinality(String),
      requests UInt64,
      cached_requests UInt64,
      error_requests UInt64,
      input_tokens UInt64,
      output_tokens UInt64,
      cached_tokens UInt64,
      cost_micros UInt64,
      latency_ms_sum Float64
    ) ENGINE = SummingMergeTree
    PARTITION BY toYYYYMM(hour)
    ORDER BY (tenant, hour, provider, model, service)
    SETTINGS non_replicated_deduplication_window = 10000`,
    // The rollup's materialized view is created by nanoMigrations (below), after its columns exist.
    ...customerMigrations(d),
    ...nanoMigrations(d),
    ...attemptMigrations(d),
  ];
}

/**
 * Cost in nano-dollars (issue 23). Rows written before the upgrade have only `cost_micros` /
 * `saved_micros`: the new columns' DEFAULT expression (× 1000) is what they read back as (computed
 * on read for old parts, written out when they merge), so old rows keep their exact value and no
 * mutation runs. New rows carry their exact nanos. The hourly rollup gains `cost_nanos` the same
 * way; its view is recreated under a new name to feed it (the old view is dropped first: two views
 * would count every row twice). Idempotent.
 */
function nanoMigrations(d: string): string[] {
  return [
    ...nanoColumnStatements(d),
    `ALTER TABLE ${d}.usage_hourly ADD COLUMN IF NOT EXISTS cost_nanos UInt64 DEFAULT cost_micros * 1000`,
    `DROP TABLE IF EXISTS ${d}.usage_hourly_mv`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${d}.usage_hourly_nanos_mv TO ${d}.usage_hourly AS
      SELECT ${ROLLUP_SELECT} FROM ${d}.usage_events GROUP BY hour, tenant, provider, model, service`,
  ];
}

// --- provider attempts (issue 29: provider SLA report) -------------------------------------
/**
 * One row per provider attempt (`provider.attempt.succeeded|failed`): availability, latency and
 * error codes per provider and model, and which failures made the request fall back. A table of
 * its own (not columns of `usage_events`): a request has any number of attempts. Replay-safe like
 * `usage_events` (ReplacingMergeTree on event_id, read with FINAL; rows already stored are skipped).
 */
function attemptMigrations(d: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${d}.provider_attempts (
      time DateTime64(3, 'UTC'),
      event_id String,
      request_id String,
      tenant LowCardinality(String),
      provider LowCardinality(String),
      model LowCardinality(String),
      ok UInt8,
      client_error UInt8,
      http_status UInt16,
      error_code String,
      latency_ms Float64,
      fallback UInt8
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(time)
    ORDER BY (provider, model, time, event_id)`,
  ];
}

/** A `provider_attempts` row, column names as in the table. */
export interface AttemptRow {
  time: string;
  event_id: string;
  request_id: string;
  tenant: string;
  provider: string;
  model: string;
  ok: 0 | 1;
  /** A 4xx other than 408/429: the request's fault, left out of availability. */
  client_error: 0 | 1;
  http_status: number;
  error_code: string;
  latency_ms: number;
  /** 1 when this failure sent the request on to another target. */
  fallback: 0 | 1;
}

/** The `provider_attempts` row of an attempt event; undefined for any other event. */
export function toAttemptRow(event: EventEnvelope): AttemptRow | undefined {
  if (event.type !== "provider.attempt.succeeded" && event.type !== "provider.attempt.failed") return undefined;
  const p = event.payload;
  const ok = event.type === "provider.attempt.succeeded";
  const status = typeof p.status === "number" && Number.isInteger(p.status) && p.status > 0 && p.status < 1000 ? p.status : ok ? 200 : 0;
  return {
    time: event.time,
    event_id: event.id,
    request_id: event.requestId ?? "",
    tenant: event.tenant,
    provider: str(p.provider),
    model: str(p.model),
    ok: ok ? 1 : 0,
    client_error: !ok && status >= 400 && status < 500 && status !== 408 && status !== 429 ? 1 : 0,
    http_status: status,
    error_code: ok ? "" : str(p.code) || "unknown",
    latency_ms: ms(p.latencyMs),
    fallback: !ok && p.next === "fallback" ? 1 : 0,
  };
}
// --- end provider attempts ---

/**
 * Added for end customers and prices (issue 12); idempotent, so tables created by an older
 * version gain them at the next start. The `user` skip index (bloom filter) lets one customer's
 * query skip the granules without that user; parts written before it existed get it as they merge.
 */
function customerMigrations(d: string): string[] {
  return [
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS cache_write_tokens UInt32 DEFAULT 0`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS reasoning_tokens UInt32 DEFAULT 0`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS price_source LowCardinality(String) DEFAULT ''`,
    `ALTER TABLE ${d}.usage_events ADD INDEX IF NOT EXISTS usage_user_idx user TYPE bloom_filter(0.01) GRANULARITY 1`,
  ];
}

/** The `usage_events` half of the nano upgrade (also run by the ClickHouse 18.16 driver test on its portable table). */
export function nanoColumnStatements(db: string): string[] {
  const d = checkIdentifier(db);
  return [
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS cost_nanos UInt64 DEFAULT cost_micros * 1000`,
    `ALTER TABLE ${d}.usage_events ADD COLUMN IF NOT EXISTS saved_nanos UInt64 DEFAULT saved_micros * 1000`,
  ];
}

/** Statements that recompute `usage_hourly` from the deduplicated events (run in order). */
export function rebuildRollupStatements(db: string): string[] {
  const d = checkIdentifier(db);
  return [
    `TRUNCATE TABLE IF EXISTS ${d}.usage_hourly`,
    `INSERT INTO ${d}.usage_hourly SELECT ${ROLLUP_SELECT} FROM ${d}.usage_events FINAL GROUP BY hour, tenant, provider, model, service`,
  ];
}

/** `2025-01-02T10:33:00.123Z` → `2025-01-02 10:33:00.123` (what DateTime64 parses by default). */
export function toClickHouseTime(value: Date | string): string {
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) throw new Error(`invalid time: ${String(value)}`);
  return d.toISOString().replace("T", " ").replace("Z", "");
}

/** A row's value as stored (usage and attempt rows): `time` in ClickHouse's format, the rest as is (for `toColumns`). */
export function storedValue(column: string, value: unknown): unknown {
  return column === "time" ? toClickHouseTime(value as string) : value;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function count(v: unknown, max = 0xffffffff): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) return 0;
  return Math.min(Math.round(v), max);
}

function ms(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * A recorded `costUsd` as integer micro-dollars (0 for anything that is not a positive number).
 * @deprecated since issue 23 cost is nano-dollars: use `payloadNanos` (src/pricing/money.ts). Kept for callers on other branches.
 */
export function costMicros(costUsd: unknown): number {
  return typeof costUsd === "number" && Number.isFinite(costUsd) && costUsd > 0 ? Math.round(costUsd * 1e6) : 0;
}

/**
 * The `usage_events` row for a `request.completed` event; `undefined` for any other event type.
 * Cost is the event's integer `costNanos` (v2), else its `costUsd` converted (v1: micro-rounded, so
 * exact); the legacy micro columns get it rounded half-up. Missing strings become "".
 */
export function toUsageRow(event: EventEnvelope): UsageRow | undefined {
  if (event.type !== "request.completed") return undefined;
  const p = event.payload;
  const attempts = Array.isArray(p.attempts) ? p.attempts.length : p.attempts === undefined ? 1 : count(p.attempts, 255);
  const ttft = p.ttftMs;
  const costNanos = payloadNanos(p, "cost");
  const savedNanos = payloadNanos(p, "saved");
  return {
    time: event.time,
    event_id: event.id,
    request_id: event.requestId ?? "",
    tenant: event.tenant,
    service: str(p.service),
    user: str(p.user),
    key_prefix: str(p.keyPrefix),
    task_type: str(p.taskType),
    provider: str(p.provider),
    model: str(p.model),
    route: str(p.requestedModel),
    input_tokens: count(p.inputTokens),
    output_tokens: count(p.outputTokens),
    cached_tokens: count(p.cachedTokens),
    cost_nanos: costNanos,
    saved_nanos: savedNanos,
    cost_micros: microsFromNanos(costNanos),
    saved_micros: microsFromNanos(savedNanos),
    latency_ms: ms(p.latencyMs),
    ttft_ms: typeof ttft === "number" && Number.isFinite(ttft) ? Math.max(0, ttft) : null,
    cached: p.cached === true ? 1 : 0,
    status: str(p.status) || "ok",
    error_code: str(p.errorCode),
    attempts: Math.min(attempts, 255),
    cache_write_tokens: count(p.cacheWriteTokens),
    reasoning_tokens: count(p.reasoningTokens),
    price_source: str(p.priceSource),
    ...explorerColumns(event),
  };
}
