/**
 * Shared by the tests against a real ClickHouse server process (clickhouse-server*.test.ts): the
 * service script, a portable `usage_events` table 18.16 understands, deterministic rows with their
 * expected totals, and a spy that counts the store's retry pauses.
 */
import { spyOn } from "bun:test";
import { resolve } from "node:path";
import { type UsageRow } from "../../src/analytics/schema.ts";

const ROOT = resolve(import.meta.dir, "../..");
export const SCRIPT = resolve(ROOT, "scripts/clickhouse.sh");

/** Runs scripts/clickhouse.sh with extra env; throws with its stderr when it fails. */
export async function script(cmd: "start" | "stop" | "kill", env: Record<string, string>): Promise<{ stdout: string; ms: number }> {
  const started = performance.now();
  const proc = Bun.spawn(["bash", SCRIPT, cmd], { cwd: ROOT, env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`scripts/clickhouse.sh ${cmd} exited ${code}: ${stderr.trim()}`);
  return { stdout, ms: performance.now() - started };
}

export const uniqDb = () => `tollgate_test_${crypto.randomUUID().replaceAll("-", "")}`;

/** `usage_events` with the UsageRow columns in types ClickHouse 18.16 has (the real DDL is in schema.ts). */
export const portableTable = (db: string) => `${legacyPortableTable(db).replace(/\) ENGINE/, ",\n  cost_nanos UInt64,\n  saved_nanos UInt64\n) ENGINE")}`;

/** The portable table as it was before the nano-dollar columns (cost in micros only). */
export const legacyPortableTable = (db: string) => `CREATE TABLE ${db}.usage_events (
  time String,
  event_id String,
  request_id String,
  tenant String,
  service String,
  user String,
  key_prefix String,
  task_type String,
  provider String,
  model String,
  route String,
  input_tokens UInt32,
  output_tokens UInt32,
  cached_tokens UInt32,
  cost_micros UInt64,
  saved_micros UInt64,
  latency_ms Float64,
  ttft_ms Nullable(Float64),
  cached UInt8,
  status String,
  error_code String,
  attempts UInt8
) ENGINE = MergeTree ORDER BY (tenant, event_id)`;
// time is a String: the store sends `2025-01-02 10:33:00.123` (toClickHouseTime, for DateTime64),
// which 18.16's DateTime cannot parse (no fractional seconds).

export const TENANTS = ["acme", "globex", "initech"] as const;

/** Deterministic rows: row `i` of batch `b`; ids unique across batches. */
export function makeRows(batch: number, count: number): UsageRow[] {
  const rows: UsageRow[] = [];
  for (let i = 0; i < count; i++) {
    const n = batch * 100_000 + i;
    rows.push({
      time: new Date(Date.UTC(2025, 2, 1, 0, 0, 0, 0) + n * 1_001).toISOString(),
      event_id: `ev-${batch}-${i}`,
      request_id: `req-${n}`,
      tenant: TENANTS[i % TENANTS.length]!,
      service: i % 2 ? "web" : "batch",
      user: `user-${i % 7}`,
      key_prefix: "tg_abc",
      task_type: "",
      provider: i % 5 ? "openai" : "anthropic",
      model: i % 5 ? "gpt-4o" : "claude-3-5-sonnet",
      route: "smart",
      input_tokens: 100 + (i % 50),
      output_tokens: 10 + (i % 13),
      cached_tokens: i % 4 === 0 ? 20 : 0,
      cost_micros: 1_000 + i * 7 + batch,
      saved_micros: i % 9 === 0 ? 500 : 0,
      cost_nanos: (1_000 + i * 7 + batch) * 1000,
      saved_nanos: i % 9 === 0 ? 500_000 : 0,
      latency_ms: 50 + (i % 10) * 0.5,
      ttft_ms: i % 3 === 0 ? null : 20 + (i % 5),
      cached: i % 9 === 0 ? 1 : 0,
      status: i % 11 === 0 ? "error" : "ok",
      error_code: i % 11 === 0 ? "upstream_timeout" : "",
      attempts: 1 + (i % 2),
    });
  }
  return rows;
}

export interface Totals {
  tenant: string;
  n: number;
  ids: number;
  input: number;
  output: number;
  cost: number;
  latency: number;
  no_ttft: number;
  cached: number;
  errors: number;
}

export function expectedTotals(rows: readonly UsageRow[]): Totals[] {
  const by = new Map<string, Totals>();
  for (const r of rows) {
    const t = by.get(r.tenant) ?? { tenant: r.tenant, n: 0, ids: 0, input: 0, output: 0, cost: 0, latency: 0, no_ttft: 0, cached: 0, errors: 0 };
    t.n++;
    t.ids++;
    t.input += r.input_tokens;
    t.output += r.output_tokens;
    t.cost += r.cost_micros;
    t.latency += r.latency_ms;
    if (r.ttft_ms === null) t.no_ttft++;
    t.cached += r.cached;
    if (r.status === "error") t.errors++;
    by.set(r.tenant, t);
  }
  return [...by.values()].sort((a, b) => a.tenant.localeCompare(b.tenant));
}

export const TOTALS_SQL = (db: string) => `
  SELECT tenant, count() AS n, uniqExact(event_id) AS ids,
         sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cost_micros) AS cost,
         sum(latency_ms) AS latency, countIf(isNull(ttft_ms)) AS no_ttft,
         sum(cached) AS cached, countIf(status = 'error') AS errors
  FROM ${db}.usage_events GROUP BY tenant ORDER BY tenant`;

export const countSql = (db: string) => `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${db}.usage_events`;

/**
 * Bun.sleep spied: `calls` holds the pause of each call made by the store (its backoffs); the real
 * sleep still runs. Calls from elsewhere (other loops alive in this test process) are not counted.
 */
export function spySleep(onCall?: (ms: number, call: number) => void) {
  const real = Bun.sleep.bind(Bun);
  const calls: number[] = [];
  const spy = spyOn(Bun, "sleep").mockImplementation(((ms: number | Date) => {
    if (new Error().stack?.includes("clickhouse-store.ts")) {
      const pause = typeof ms === "number" ? ms : ms.getTime() - Date.now();
      calls.push(pause);
      onCall?.(pause, calls.length);
    }
    return real(ms);
  }) as typeof Bun.sleep);
  return { calls, restore: () => spy.mockRestore() };
}
