/**
 * The evaluator's aggregates: what the alert rules need to know about recent traffic, folded from
 * `requests` events with no I/O and no clock (times are the events' own). Minute buckets for the
 * sliding windows (≤ 1 h), hour buckets of spend for the spike baseline (8 days), the latest
 * budget ratio per budget and period, circuit states per target.
 */
import type { EventEnvelope } from "../events/envelope.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Minute buckets of spend kept (the spike's last hour). */
const KEEP_MINUTES = 62;
/** Sliding-window buckets: 5 s wide (windows are 10 s to 1 h), 62 minutes kept. */
const STEP = 5_000;
const KEEP_STEPS = (62 * MINUTE) / STEP;
/** Hour buckets of spend kept: the spike's last hour + 7 days before it. */
const KEEP_HOURS = 24 * 8 + 1;
/** Latency samples kept per bucket (a uniform-enough cap: beyond it one in n is kept). */
const MAX_SAMPLES = 500;

export interface Bucket {
  n: number;
  bad: number;
  samples: number[];
}

/** Series of 5-second buckets per scope key. */
class MinuteSeries {
  readonly byScope = new Map<string, Map<number, Bucket>>();
  add(scope: string, timeMs: number, bad: boolean, sample?: number): void {
    const step = Math.floor(timeMs / STEP);
    let s = this.byScope.get(scope);
    if (!s) this.byScope.set(scope, (s = new Map()));
    let b = s.get(step);
    if (!b) s.set(step, (b = { n: 0, bad: 0, samples: [] }));
    b.n++;
    if (bad) b.bad++;
    if (sample !== undefined && Number.isFinite(sample)) {
      if (b.samples.length < MAX_SAMPLES) b.samples.push(sample);
      else b.samples[b.n % MAX_SAMPLES] = sample;
    }
  }
  /** Totals over (now - windowMs, now]. */
  window(scope: string, nowMs: number, windowMs: number): Bucket {
    const out: Bucket = { n: 0, bad: 0, samples: [] };
    const s = this.byScope.get(scope);
    if (!s) return out;
    const from = Math.floor((nowMs - windowMs) / STEP) + 1;
    const to = Math.floor(nowMs / STEP);
    for (const [m, b] of s) {
      if (m < from || m > to) continue;
      out.n += b.n;
      out.bad += b.bad;
      out.samples.push(...b.samples);
    }
    return out;
  }
  prune(nowMs: number): void {
    const oldest = Math.floor(nowMs / STEP) - KEEP_STEPS;
    for (const [scope, s] of this.byScope) {
      for (const m of s.keys()) if (m < oldest) s.delete(m);
      if (s.size === 0) this.byScope.delete(scope);
    }
  }
  scopes(): IterableIterator<string> {
    return this.byScope.keys();
  }
}

export interface BudgetReading {
  /** spent / limit, percent (max seen in the period). */
  pct: number;
  /** Start of the period (UTC day or month) the reading belongs to, ms. */
  periodStart: number;
  period: "day" | "month";
  tenant: string;
}

/** A clientside error: not the provider's fault (excluded from availability and error rates). */
export function isClientError(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

type P = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export class AlertWindows {
  /** Provider attempts: scope `<tenant>|<provider>` and `<tenant>|<provider>/<model>`; bad = failed (not a client error). */
  readonly attempts = new MinuteSeries();
  /** Completed requests answered by a provider, latency samples; scope `<tenant>|<provider>/<model>`. */
  readonly latency = new MinuteSeries();
  readonly ttft = new MinuteSeries();
  /** Requests per route; bad = answered by a fallback target. Scope `<tenant>|<route>`. */
  readonly routes = new MinuteSeries();
  /** Blocked requests; scope `<tenant>`. */
  readonly blocks = new MinuteSeries();
  /** Spend in minute buckets (for the last hour) and hour buckets (baseline); scope `<tenant>` and `<tenant>/<service>`. */
  readonly spendMinutes = new Map<string, Map<number, number>>();
  readonly spendHours = new Map<string, Map<number, number>>();
  /** First hour with spend per scope (never pruned): a spike needs 7 days of baseline behind it. */
  readonly spendSince = new Map<string, number>();
  readonly budgets = new Map<string, BudgetReading>();
  /** Spend per end customer (`user`) per UTC day, for customer budget rules: key `<tenant>|<user>`. */
  readonly customerDays = new Map<string, Map<number, number>>();
  /** Circuit state per target `<provider>/<model>`: true = open. */
  readonly circuits = new Map<string, boolean>();
  /** First target tried per request in flight (to see a fallback at completion). */
  private readonly firstTarget = new Map<string, string>();
  /** Latest event time seen, ms (the evaluator's clock on replay). */
  lastTimeMs = 0;

  observe(e: EventEnvelope): void {
    const t = Date.parse(e.time);
    if (!Number.isFinite(t)) return;
    if (t > this.lastTimeMs) this.lastTimeMs = t;
    const p = (e.payload ?? {}) as P;
    const tenant = e.tenant;
    switch (e.type) {
      case "provider.attempt.succeeded":
      case "provider.attempt.failed": {
        const provider = str(p.provider);
        if (!provider) return;
        const target = `${provider}/${str(p.model) ?? ""}`;
        if (e.requestId && !this.firstTarget.has(e.requestId)) {
          this.firstTarget.set(e.requestId, target);
          if (this.firstTarget.size > 100_000) this.firstTarget.delete(this.firstTarget.keys().next().value!);
        }
        const failed = e.type.endsWith("failed");
        if (failed && isClientError(num(p.status))) return; // the client's fault: not counted at all
        this.attempts.add(`${tenant}|${provider}`, t, failed);
        this.attempts.add(`${tenant}|${target}`, t, failed);
        return;
      }
      case "request.completed": {
        const provider = str(p.provider);
        const model = str(p.model) ?? "";
        const first = e.requestId ? this.firstTarget.get(e.requestId) : undefined;
        if (e.requestId) this.firstTarget.delete(e.requestId);
        const route = str(p.requestedModel);
        if (route && p.cached !== true && provider) this.routes.add(`${tenant}|${route}`, t, first !== undefined && first !== `${provider}/${model}`);
        if (provider && p.status === "ok" && p.cached !== true) {
          this.latency.add(`${tenant}|${provider}/${model}`, t, false, num(p.latencyMs));
          const ttft = num(p.ttftMs);
          if (ttft !== undefined) this.ttft.add(`${tenant}|${provider}/${model}`, t, false, ttft);
        }
        const cost = num(p.costUsd) ?? 0;
        const user = str(p.user);
        if (cost > 0 && user) bump(this.customerDays, `${tenant}|${user}`, Math.floor(t / 86_400_000), cost);
        if (cost > 0) {
          this.addSpend(tenant, t, cost);
          const service = str(p.service);
          if (service) this.addSpend(`${tenant}/${service}`, t, cost);
        }
        return;
      }
      case "guardrail.blocked":
        this.blocks.add(tenant, t, true);
        return;
      case "budget.reserved":
        for (const b of Array.isArray(p.budgets) ? (p.budgets as P[]) : []) {
          const key = str(b.key);
          const limit = num(b.limitMicros);
          if (!key || !limit) continue;
          // Committed spend: settled + reserved by requests in flight (concurrent calls each see
          // the others' reservations, so a burst crosses 50 % and 80 % visibly, not only 100 %).
          this.budgetReading(key, tenant, t, str(b.period), (100 * ((num(b.spentMicros) ?? 0) + (num(b.reservedMicros) ?? 0))) / limit);
        }
        return;
      case "budget.exceeded": {
        // The budget cannot fit a request: it is used up for this period.
        const key = str(p.budget);
        if (key) this.budgetReading(key, tenant, t, undefined, 100);
        return;
      }
      case "circuit.opened":
      case "circuit.closed": {
        const target = str(p.target);
        if (target) this.circuits.set(target, e.type === "circuit.opened");
        return;
      }
    }
  }

  private budgetReading(key: string, tenant: string, t: number, period: string | undefined, pct: number): void {
    const prev = this.budgets.get(key);
    const kind = period === "month" || period === "day" ? period : (prev?.period ?? "day");
    const periodStart = periodStartOf(t, kind);
    if (!prev || periodStart > prev.periodStart) this.budgets.set(key, { pct, periodStart, period: kind, tenant });
    else if (periodStart === prev.periodStart && pct > prev.pct) prev.pct = pct; // readings from several instances: the max counts
  }

  private addSpend(scope: string, t: number, usd: number): void {
    bump(this.spendMinutes, scope, Math.floor(t / MINUTE), usd);
    const hour = Math.floor(t / HOUR);
    bump(this.spendHours, scope, hour, usd);
    if (hour < (this.spendSince.get(scope) ?? Infinity)) this.spendSince.set(scope, hour);
  }

  /** Spend in (now - 1 h, now] and the median of the 168 full hours before the current hour. */
  spend(scope: string, nowMs: number): { lastHour: number; medianHour: number; baselineComplete: boolean } {
    const minutes = this.spendMinutes.get(scope);
    let lastHour = 0;
    const from = Math.floor((nowMs - HOUR) / MINUTE) + 1;
    const to = Math.floor(nowMs / MINUTE);
    for (const [m, usd] of minutes ?? []) if (m >= from && m <= to) lastHour += usd;
    const hours = this.spendHours.get(scope);
    const current = Math.floor((nowMs - HOUR) / HOUR);
    const baseline: number[] = [];
    for (let h = current - 168; h < current; h++) baseline.push(hours?.get(h) ?? 0);
    baseline.sort((a, b) => a - b);
    const medianHour = (baseline[83]! + baseline[84]!) / 2;
    return { lastHour, medianHour, baselineComplete: (this.spendSince.get(scope) ?? Infinity) <= current - 168 };
  }

  /** A customer's spend in the UTC day or month of `nowMs`, over every tenant or one. */
  customerSpend(user: string, tenant: string | undefined, period: "day" | "month", nowMs: number): number {
    const d = new Date(nowMs);
    const from = Math.floor((period === "day" ? nowMs : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)) / 86_400_000);
    const to = Math.floor(nowMs / 86_400_000);
    let usd = 0;
    for (const [key, days] of this.customerDays) {
      const bar = key.indexOf("|");
      if (key.slice(bar + 1) !== user || (tenant !== undefined && key.slice(0, bar) !== tenant)) continue;
      for (const [day, v] of days) if (day >= from && day <= to) usd += v;
    }
    return usd;
  }

  /** Drop what no window needs any more. */
  prune(nowMs: number): void {
    for (const s of [this.attempts, this.latency, this.ttft, this.routes, this.blocks]) s.prune(nowMs);
    const oldMinute = Math.floor(nowMs / MINUTE) - KEEP_MINUTES;
    const oldHour = Math.floor(nowMs / HOUR) - KEEP_HOURS;
    for (const [, m] of this.spendMinutes) for (const k of m.keys()) if (k < oldMinute) m.delete(k);
    for (const [, m] of this.spendHours) for (const k of m.keys()) if (k < oldHour) m.delete(k);
    const oldDay = Math.floor(nowMs / 86_400_000) - 32;
    for (const [, m] of this.customerDays) for (const k of m.keys()) if (k < oldDay) m.delete(k);
  }
}

function bump(map: Map<string, Map<number, number>>, scope: string, bucket: number, v: number): void {
  let m = map.get(scope);
  if (!m) map.set(scope, (m = new Map()));
  m.set(bucket, (m.get(bucket) ?? 0) + v);
}

/** Start of the UTC day or month of `t`, ms. */
export function periodStartOf(t: number, period: "day" | "month"): number {
  const d = new Date(t);
  return period === "month" ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** The p-th percentile (0..100) of samples, nearest rank; NaN when empty. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Combine the per-tenant scopes `<tenant>|<rest>` into `<rest>` (a global rule) or keep one tenant's. */
export function scopesFor(keys: Iterable<string>, tenant: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of keys) {
    const bar = k.indexOf("|");
    const t = k.slice(0, bar);
    const rest = k.slice(bar + 1);
    if (tenant !== undefined && t !== tenant) continue;
    let list = out.get(rest);
    if (!list) out.set(rest, (list = []));
    list.push(k);
  }
  return out;
}
