/**
 * The provider SLA report: per provider, model and hour or day, from `provider_attempts`
 * (attempts, availability, latency percentiles, error codes, fallbacks caused) and `usage_events`
 * (time to first token of the answers each target gave).
 *
 * The SQL is written for every ClickHouse this project meets, down to 18.16 (test/analytics):
 * values are inlined as checked literals (18.16 has no `{name:Type}` parameters), and only
 * functions 18.16 has (`quantilesExact`, `-If` combinators, `toStartOfHour`, `FINAL`).
 * Percentiles are ClickHouse's `quantileExact`: the value at index ⌊p·n⌋ of the sorted values.
 */
import type { AnalyticsStore } from "./store.ts";

export type SlaGranularity = "hour" | "day";

export interface SlaFilter {
  from: Date;
  to: Date;
  granularity: SlaGranularity;
  provider?: string;
  model?: string;
  /** Only the attempts (and answers) of this tenant's requests. */
  tenant?: string;
  /** `FINAL` on the ReplacingMergeTree tables (default true; 18.16's portable test tables are plain MergeTree). */
  final?: boolean;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SlaRow {
  bucket: string;
  provider: string;
  model: string;
  attempts: number;
  succeeded: number;
  failed: number;
  client_errors: number;
  /** succeeded / attempts (null without attempts). */
  availability: number | null;
  /** succeeded / (attempts − client errors): the provider's own availability. */
  availability_excluding_client_errors: number | null;
  /** Of successful attempts. */
  latency_ms: Percentiles;
  /** Of the answers this target gave (streams), from usage_events. */
  ttft_ms: Percentiles & { samples: number };
  errors: Array<{ code: string; count: number }>;
  /** Failures that sent the request on to another target. */
  fallbacks_caused: number;
}

/** A string literal for ClickHouse SQL (backslash and quote escaped; control characters refused). */
export function sqlString(v: string): string {
  if (/[\u0000-\u001f]/.test(v)) throw new RangeError("control characters are not allowed in a filter value");
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** `toDateTime('YYYY-MM-DD hh:mm:ss', 'UTC')` (whole seconds: 18.16's DateTime has no fractions). */
export function sqlTime(d: Date): string {
  return `toDateTime('${d.toISOString().slice(0, 19).replace("T", " ")}', 'UTC')`;
}

function where(f: SlaFilter): string {
  // Whole seconds: the end rounds up, so an attempt in the last (partial) second is not left out.
  const to = new Date(Math.ceil(f.to.getTime() / 1000) * 1000);
  const parts = [`time >= ${sqlTime(f.from)}`, `time < ${sqlTime(to)}`];
  if (f.provider !== undefined) parts.push(`provider = ${sqlString(f.provider)}`);
  if (f.model !== undefined) parts.push(`model = ${sqlString(f.model)}`);
  if (f.tenant !== undefined) parts.push(`tenant = ${sqlString(f.tenant)}`);
  return parts.join(" AND ");
}

const bucketExpr = (g: SlaGranularity) => (g === "hour" ? "toString(toStartOfHour(time))" : "toString(toStartOfDay(time))");
const fin = (f: SlaFilter) => (f.final === false ? "" : " FINAL");

export function slaAttemptsSql(f: SlaFilter): string {
  return `SELECT ${bucketExpr(f.granularity)} AS bucket, provider, model,
    count() AS attempts, countIf(ok = 1) AS succeeded, countIf(client_error = 1) AS client_errors,
    sum(fallback) AS fallbacks, quantilesExactIf(0.5, 0.95, 0.99)(latency_ms, ok = 1) AS latency
  FROM provider_attempts${fin(f)} WHERE ${where(f)}
  GROUP BY bucket, provider, model ORDER BY bucket, provider, model`;
}

export function slaErrorsSql(f: SlaFilter): string {
  return `SELECT ${bucketExpr(f.granularity)} AS bucket, provider, model, error_code, count() AS n
  FROM provider_attempts${fin(f)} WHERE ok = 0 AND ${where(f)}
  GROUP BY bucket, provider, model, error_code ORDER BY bucket, provider, model, n DESC, error_code`;
}

export function slaTtftSql(f: SlaFilter): string {
  return `SELECT ${bucketExpr(f.granularity)} AS bucket, provider, model, count() AS n,
    quantilesExact(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms)) AS ttft
  FROM usage_events${fin(f)} WHERE status = 'ok' AND cached = 0 AND provider != '' AND isNotNull(ttft_ms) AND ${where(f)}
  GROUP BY bucket, provider, model`;
}

const num = (v: unknown) => (typeof v === "number" ? v : Number(v));
const pct = (xs: unknown): Percentiles => {
  const a = Array.isArray(xs) ? xs.map((x) => num(x)) : [];
  const v = (i: number) => (Number.isFinite(a[i]) ? a[i]! : null);
  return { p50: v(0), p95: v(1), p99: v(2) };
};
/** `2026-03-10 12:00:00` → `2026-03-10T12:00:00Z`. */
const isoBucket = (b: string) => `${String(b).slice(0, 19).replace(" ", "T")}Z`;

interface AttemptAgg { bucket: string; provider: string; model: string; attempts: unknown; succeeded: unknown; client_errors: unknown; fallbacks: unknown; latency: unknown }
interface ErrorAgg { bucket: string; provider: string; model: string; error_code: string; n: unknown }
interface TtftAgg { bucket: string; provider: string; model: string; n: unknown; ttft: unknown }

/** The report rows, oldest bucket first, then provider and model. */
export async function providerSla(store: AnalyticsStore, f: SlaFilter): Promise<SlaRow[]> {
  const [attempts, errors, ttfts] = await Promise.all([
    store.query<AttemptAgg>(slaAttemptsSql(f)),
    store.query<ErrorAgg>(slaErrorsSql(f)),
    store.query<TtftAgg>(slaTtftSql(f)),
  ]);
  const key = (r: { bucket: string; provider: string; model: string }) => `${isoBucket(r.bucket)}\u0000${r.provider}\u0000${r.model}`;
  const errorsBy = new Map<string, Array<{ code: string; count: number }>>();
  for (const e of errors) {
    const list = errorsBy.get(key(e)) ?? [];
    list.push({ code: e.error_code, count: num(e.n) });
    errorsBy.set(key(e), list);
  }
  const ttftBy = new Map(ttfts.map((t) => [key(t), t]));
  return attempts.map((a) => {
    const n = num(a.attempts);
    const ok = num(a.succeeded);
    const client = num(a.client_errors);
    const t = ttftBy.get(key(a));
    return {
      bucket: isoBucket(a.bucket),
      provider: a.provider,
      model: a.model,
      attempts: n,
      succeeded: ok,
      failed: n - ok,
      client_errors: client,
      availability: n ? ok / n : null,
      availability_excluding_client_errors: n - client ? ok / (n - client) : null,
      latency_ms: ok ? pct(a.latency) : { p50: null, p95: null, p99: null },
      ttft_ms: { ...(t ? pct(t.ttft) : { p50: null, p95: null, p99: null }), samples: t ? num(t.n) : 0 },
      errors: errorsBy.get(key(a)) ?? [],
      fallbacks_caused: num(a.fallbacks),
    };
  });
}
