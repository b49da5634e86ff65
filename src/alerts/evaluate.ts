/**
 * The pure alert evaluator: given the aggregates (windows.ts), the rules, which alerts are open
 * (book.ts, folded from the `alerts` stream) and a clock, which alerts fire and which resolve.
 * No I/O. An alert is one (rule, scope) pair: e.g. rule `openai-errors`, scope `openai`.
 *
 * @example
 * const windows = new AlertWindows();
 * for (const e of events) windows.observe(e);
 * evaluate(windows, rules, book.openKeys(), { nowMs: windows.lastTimeMs, keys: [] });
 * // → [{ kind: "fired", rule: "openai-errors", scope: "openai", value: 31.2, threshold: 10, ... }]
 */
import { type AlertRuleFields, ruleDefaults } from "./config.ts";
import { type AlertWindows, percentile, periodStartOf, scopesFor } from "./windows.ts";

export interface AlertRule {
  id: string;
  fields: AlertRuleFields;
}

/** A key as the key-expiry rule sees it (from the config snapshot). */
export interface KeyInfo {
  id: string;
  tenant: string;
  name?: string;
  expiresAt?: string;
  revoked: boolean;
}

export interface Transition {
  kind: "fired" | "resolved";
  rule: string;
  ruleKind: AlertRuleFields["kind"];
  /** What the alert is about: a provider, `provider/model`, a route, a tenant, a budget@threshold, a key id. */
  scope: string;
  /** The tenant the alert belongs to (the rule's, or the scope's for per-tenant kinds), if any. */
  tenant?: string;
  value: number;
  threshold: number;
  unit: "pct" | "ms" | "usd" | "count" | "days" | "state";
  windowS: number;
  /** Samples behind the value (attempts, requests), when it is a rate or a percentile. */
  samples?: number;
}

export interface EvalContext {
  nowMs: number;
  keys: readonly KeyInfo[];
}

/** One condition's reading for one scope: firing or not (or undecided: too few samples). */
interface Reading {
  scope: string;
  tenant?: string;
  firing: boolean | undefined;
  value: number;
  threshold: number;
  unit: Transition["unit"];
  windowS: number;
  samples?: number;
}

export const alertKey = (rule: string, scope: string) => `${rule}\u0000${scope}`;

/**
 * Transitions for every enabled rule: `fired` for a firing scope not open yet, `resolved` for an
 * open one no longer firing. An undecided reading (too few samples) changes nothing.
 */
export function evaluate(w: AlertWindows, rules: readonly AlertRule[], open: ReadonlySet<string>, ctx: EvalContext): Transition[] {
  const out: Transition[] = [];
  for (const rule of rules) {
    if (!rule.fields.enabled) continue;
    const seen = new Set<string>();
    for (const r of readings(w, rule.fields, ctx)) {
      const key = alertKey(rule.id, r.scope);
      seen.add(key);
      if (r.firing === undefined) continue;
      const isOpen = open.has(key);
      if (r.firing === isOpen) continue;
      out.push({ kind: r.firing ? "fired" : "resolved", rule: rule.id, ruleKind: rule.fields.kind, scope: r.scope, ...(r.tenant ? { tenant: r.tenant } : {}), value: round(r.value), threshold: r.threshold, unit: r.unit, windowS: r.windowS, ...(r.samples !== undefined ? { samples: r.samples } : {}) });
    }
    // Open alerts whose scope has vanished (a key deleted, a circuit forgotten) resolve, except
    // those that need samples to decide (no traffic is no evidence of recovery).
    if (!NEEDS_SAMPLES.has(rule.fields.kind)) {
      for (const key of open) {
        if (!key.startsWith(`${rule.id}\u0000`) || seen.has(key)) continue;
        out.push({ kind: "resolved", rule: rule.id, ruleKind: rule.fields.kind, scope: key.slice(rule.id.length + 1), value: 0, threshold: 0, unit: "state", windowS: 0 });
      }
    }
  }
  return out;
}

const NEEDS_SAMPLES = new Set(["error_rate", "latency", "fallback_rate", "budget", "spend_spike", "guardrail_blocks"]);

function* readings(w: AlertWindows, f: AlertRuleFields, ctx: EvalContext): Generator<Reading> {
  const d = ruleDefaults(f);
  const windowS = d.windowMs / 1000;
  const tenantOf = f.tenant ? { tenant: f.tenant } : {};
  switch (f.kind) {
    case "error_rate": {
      for (const [scope, keys] of scopesFor(w.attempts.scopes(), f.tenant)) {
        if (scope.includes("/") || (f.provider && scope !== f.provider)) continue; // provider scopes only
        const b = sum(keys.map((k) => w.attempts.window(k, ctx.nowMs, d.windowMs)));
        const value = b.n ? (100 * b.bad) / b.n : 0;
        yield { scope, ...tenantOf, firing: b.n >= d.minSamples ? value >= f.threshold_pct! : undefined, value, threshold: f.threshold_pct!, unit: "pct", windowS, samples: b.n };
      }
      return;
    }
    case "latency": {
      const series = d.metric === "ttft" ? w.ttft : w.latency;
      for (const [scope, keys] of scopesFor(series.scopes(), f.tenant)) {
        const [provider, ...model] = scope.split("/");
        if ((f.provider && provider !== f.provider) || (f.model && model.join("/") !== f.model)) continue;
        const b = sum(keys.map((k) => series.window(k, ctx.nowMs, d.windowMs)));
        const value = percentile(b.samples, 95);
        yield { scope, ...tenantOf, firing: b.samples.length >= d.minSamples ? value > f.p95_ms! : undefined, value: Number.isNaN(value) ? 0 : value, threshold: f.p95_ms!, unit: "ms", windowS, samples: b.samples.length };
      }
      return;
    }
    case "fallback_rate": {
      for (const [scope, keys] of scopesFor(w.routes.scopes(), f.tenant)) {
        if (f.route && scope !== f.route) continue;
        const b = sum(keys.map((k) => w.routes.window(k, ctx.nowMs, d.windowMs)));
        const value = b.n ? (100 * b.bad) / b.n : 0;
        yield { scope, ...tenantOf, firing: b.n >= d.minSamples ? value >= f.threshold_pct! : undefined, value, threshold: f.threshold_pct!, unit: "pct", windowS, samples: b.n };
      }
      return;
    }
    case "breaker_open": {
      for (const [target, isOpen] of w.circuits) {
        if (f.provider && target.split("/")[0] !== f.provider) continue;
        yield { scope: target, firing: isOpen, value: isOpen ? 1 : 0, threshold: 1, unit: "state", windowS: 0 };
      }
      return;
    }
    case "guardrail_blocks": {
      for (const tenant of w.blocks.scopes()) {
        if (f.tenant && tenant !== f.tenant) continue;
        const b = w.blocks.window(tenant, ctx.nowMs, 3_600_000);
        yield { scope: tenant, tenant, firing: b.n > f.max_per_hour!, value: b.n, threshold: f.max_per_hour!, unit: "count", windowS: 3600 };
      }
      return;
    }
    case "spend_spike": {
      for (const scope of w.spendHours.keys()) {
        const [tenant, service] = scope.split("/");
        if (f.tenant && tenant !== f.tenant) continue;
        if (f.service ? service !== f.service : service !== undefined) continue;
        const { lastHour, medianHour, baselineComplete } = w.spend(scope, ctx.nowMs);
        const threshold = Math.max(d.factor * medianHour, d.minUsd);
        // Without 7 days behind it there is no baseline: undecided (a new tenant is not a spike).
        yield { scope, tenant: tenant!, firing: baselineComplete ? lastHour > threshold : undefined, value: lastHour, threshold: round(threshold), unit: "usd", windowS: 3600 };
      }
      return;
    }
    case "budget": {
      if (f.budget?.startsWith("customer:")) {
        // A customer's budget is the rule's own (amount_usd per period), over its spend in the log.
        const user = f.budget.slice("customer:".length);
        const pct = (100 * w.customerSpend(user, f.tenant, f.period ?? "month", ctx.nowMs)) / f.amount_usd!;
        for (const t of d.thresholds) yield { scope: `${f.budget}@${t}`, ...tenantOf, firing: pct >= t, value: pct, threshold: t, unit: "pct", windowS: 0 };
        return;
      }
      for (const [key, r] of w.budgets) {
        const scope = key.replace(/^budget:/, "");
        if (f.budget ? scope !== f.budget : r.tenant !== f.tenant) continue;
        // Each threshold is its own alert: it fires once in a period, resolves when a new period
        // starts (a reading of a past period counts as 0: also without traffic, also on a replay).
        const pct = r.periodStart < periodStartOf(ctx.nowMs, r.period) ? 0 : r.pct;
        for (const t of d.thresholds) yield { scope: `${scope}@${t}`, tenant: r.tenant, firing: pct >= t, value: pct, threshold: t, unit: "pct", windowS: 0 };
      }
      return;
    }
    case "key_expiry": {
      for (const k of ctx.keys) {
        if (f.tenant && k.tenant !== f.tenant) continue;
        if (!k.expiresAt || k.revoked) continue;
        const days = (Date.parse(k.expiresAt) - ctx.nowMs) / 86_400_000;
        if (days < 0) continue; // expired: no longer "expiring" (it resolves as its scope vanishes)
        yield { scope: k.id, tenant: k.tenant, firing: days <= d.days, value: days, threshold: d.days, unit: "days", windowS: 0 };
      }
      return;
    }
  }
}

function sum(bs: { n: number; bad: number; samples: number[] }[]) {
  const out = { n: 0, bad: 0, samples: [] as number[] };
  for (const b of bs) {
    out.n += b.n;
    out.bad += b.bad;
    for (const s of b.samples) out.samples.push(s);
  }
  return out;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
