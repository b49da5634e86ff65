/**
 * Prometheus metrics (prom-client, one registry per app), derived in ONE place from the
 * request events: `observe(event)` is called for every event a request emits, so a plugin
 * that emits the documented events (cache, guardrails, limits…) feeds the counters with no
 * wiring of its own. The payload fields read are listed in docs/observability.md.
 */
import { NANOS_PER_USD, payloadNanos } from "../pricing/money.ts";
import { Counter, Gauge, Registry } from "prom-client";
import type { EventEnvelope } from "../events/envelope.ts";
import { LabelCap } from "./label-cap.ts";
import { FastCounter, FastHistogram } from "./fast-series.ts";

/** Live values read at scrape time. */
export interface MetricsSources {
  emitter?: { stats: { emitted: number; appended: number; appendErrors: number }; pending: number };
  outbox?: { backlog: number; stats: { forwarded: number; deadLettered?: number } } | undefined;
  /** Breaker state per target (`provider/model`). */
  circuits?: () => Iterable<[string, { state: "closed" | "open" | "half_open" }]>;
  /** Projections' lag in events, by projection name. */
  lags?: () => Promise<Record<string, number | null>>;
  /** Expiry times (ISO) of the live virtual keys (issue 29: key-expiry alert over /metrics). */
  keyExpiries?: () => Iterable<string>;
}

export interface MetricsOptions {
  /** Distinct tenant label values before folding into `other` (default 100). */
  maxTenants?: number;
  /** Distinct model label values before folding into `other` (default 100). */
  maxModels?: number;
}

/** OpenTelemetry GenAI semconv buckets. */
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** What the gen_ai series need from the request beyond the event (its operation, provider kinds). */
export interface EventContext {
  operation?: string;
  providerName?: (providerId: string) => string;
}

type P = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly tenants: LabelCap;
  private readonly models: LabelCap;
  private readonly scopes: LabelCap;
  private cacheHits = 0;
  private cacheMisses = 0;
  private readonly budgets = new Map<string, number>();
  // --- alerts (issue 29): series deploy/prometheus/alerts.yml needs ---
  private readonly budgetUsed = new Map<string, number>();
  private readonly fallbacks: FastCounter;

  private readonly requests;
  private readonly duration;
  private readonly cost;
  private readonly tokens;
  private readonly cache;
  private readonly saved;
  private readonly guardrail;
  private readonly ratelimited;
  private readonly budgetExceeded;
  private readonly opDuration;
  private readonly tokenUsage;
  private readonly ttfc;

  constructor(sources: MetricsSources = {}, opts: MetricsOptions = {}) {
    this.tenants = new LabelCap(opts.maxTenants ?? 100);
    this.models = new LabelCap(opts.maxModels ?? 100);
    this.scopes = new LabelCap(opts.maxTenants ?? 100);
    const registers = [this.registry];
    const reg = this.registry;
    this.requests = new FastCounter("llm_requests_total", "Requests answered, by tenant, provider, model, HTTP status and error code (`ok` when none).", ["tenant", "provider", "model", "status", "code"], reg);
    this.duration = new FastHistogram("llm_request_duration_seconds", "End-to-end request latency (receipt to the last byte of the answer).", ["provider", "model", "status"], DURATION_BUCKETS, reg);
    this.cost = new FastCounter("llm_cost_usd_total", "Cost of answered requests in USD.", ["tenant", "provider", "model"], reg);
    this.tokens = new FastCounter("llm_tokens_total", "Tokens by type (input, output, cached input).", ["type", "tenant", "provider", "model"], reg);
    this.cache = new FastCounter("llm_cache_requests_total", "Cache lookups by result (hit, miss).", ["result"], reg);
    this.saved = new FastCounter("llm_cache_saved_usd_total", "USD not spent thanks to cache hits (request.completed savedUsd).", [], reg);
    const self = this;
    new Gauge({ name: "llm_cache_hit_rate", help: "Cache hits / lookups since start (0 before the first lookup).", registers, collect() { const n = self.cacheHits + self.cacheMisses; this.set(n ? self.cacheHits / n : 0); } });
    this.guardrail = new FastCounter("llm_guardrail_violations_total", "Guardrail findings by detector type and action (redacted, blocked, detected).", ["type", "action"], reg);
    this.ratelimited = new FastCounter("llm_ratelimited_total", "Requests refused by a rate limit, by scope (key, tenant, provider).", ["scope"], reg);
    this.budgetExceeded = new FastCounter("llm_budget_exceeded_total", "Requests refused by a budget, by scope.", ["scope"], reg);
    new Gauge({ name: "llm_budget_remaining_usd", help: "USD left in a budget's current period as of its last reservation (scope: `tenant:<id>`, `key:<id>`, `provider:<id>`).", labelNames: ["scope"], registers, collect() { this.reset(); for (const [s, v] of self.budgets) this.set({ scope: s }, v); } });
    new Gauge({ name: "llm_circuit_state", help: "Circuit breaker per target: 0 closed, 1 half open, 2 open.", labelNames: ["target"], registers, collect() { this.reset(); for (const [t, h] of sources.circuits?.() ?? []) this.set({ target: t }, CIRCUIT_VALUE[h.state]); } });
    this.opDuration = new FastHistogram("gen_ai_client_operation_duration_seconds", "GenAI client operation duration: one observation per provider attempt (gen_ai.client.operation.duration).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"], DURATION_BUCKETS, reg);
    this.tokenUsage = new FastHistogram("gen_ai_client_token_usage", "Tokens per provider call by gen_ai_token_type (gen_ai.client.token.usage).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"], TOKEN_BUCKETS, reg);
    this.ttfc = new FastHistogram("gen_ai_client_operation_time_to_first_chunk_seconds", "Streams: receipt to the first chunk sent (gen_ai.client.operation.time_to_first_chunk).", ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"], DURATION_BUCKETS, reg);
    this.existing(sources);
    this.fallbacks = new FastCounter("llm_fallbacks_total", "Failed provider attempts that sent the request on to the next target (fallback), by the failing provider and model.", ["provider", "model"], reg);
    new Gauge({ name: "llm_budget_used_ratio", help: "Committed share of a budget's current period (spent + reserved) / limit, as of its last reservation (scope as llm_budget_remaining_usd).", labelNames: ["scope"], registers, collect() { this.reset(); for (const [sc, v] of self.budgetUsed) this.set({ scope: sc }, v); } });
    new Gauge({
      name: "tollgate_key_next_expiry_seconds",
      help: "Seconds until the soonest expiry of a live virtual key (no sample when no key expires).",
      registers,
      collect() {
        this.reset();
        let soonest = Infinity;
        for (const iso of sources.keyExpiries?.() ?? []) {
          const t = Date.parse(iso);
          if (t > Date.now() && t < soonest) soonest = t;
        }
        if (Number.isFinite(soonest)) this.set((soonest - Date.now()) / 1000);
      },
    });
  }

  /** The series /metrics had before prom-client, unchanged. */
  private existing(s: MetricsSources): void {
    const registers = [this.registry];
    const e = s.emitter;
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
    if (e) {
      counter("tollgate_events_emitted_total", "Events handed to the emitter.", () => e.stats.emitted);
      counter("tollgate_events_appended_total", "Events stored by the event log (or its outbox).", () => e.stats.appended);
      counter("tollgate_event_append_errors_total", "Failed appends (retried).", () => e.stats.appendErrors);
      new Gauge({ name: "tollgate_emitter_pending", help: "Events queued in memory, not yet stored.", registers, collect() { this.set(e.pending); } });
    }
    const o = s.outbox;
    if (o) {
      new Gauge({ name: "tollgate_outbox_backlog", help: "Events in the local outbox waiting for the broker.", registers, collect() { this.set(o.backlog); } });
      counter("tollgate_outbox_forwarded_total", "Events forwarded from the outbox to the broker.", () => o.stats.forwarded);
      counter("tollgate_outbox_deadlettered_total", "Events the broker refused for good (too large, invalid), sent to the dead-letter stream instead.", () => o.stats.deadLettered ?? 0);
    }
    if (s.lags) {
      const lags = s.lags;
      new Gauge({
        name: "tollgate_projection_lag_events",
        help: "Events on the log a projection has not processed yet (usage → analytics).",
        labelNames: ["projection"],
        registers,
        async collect() {
          this.reset();
          for (const [p, v] of Object.entries(await lags().catch(() => ({})))) if (typeof v === "number") this.set({ projection: p }, v);
        },
      });
    }
  }

  /** Feed one request event. Never throws. */
  observe(event: EventEnvelope, ec: EventContext = {}): void {
    try {
      this.apply(event, ec);
    } catch {
      // a malformed payload must never break a request
    }
  }

  private apply(event: EventEnvelope, ec: EventContext): void {
    const p = (event.payload ?? {}) as P;
    const op = ec.operation ?? "chat";
    const genaiProvider = (id: string | null) => (id ? (ec.providerName?.(id) ?? id) : "none");
    switch (event.type) {
      case "request.completed": {
        const tenant = this.tenants.value(event.tenant);
        const provider = str(p.provider) ?? "none";
        const model = this.models.value(str(p.model) ?? str(p.requestedModel));
        const status = String(num(p.httpStatus) || (p.status === "ok" ? 200 : 0));
        this.requests.inc([tenant, provider, model, status, str(p.errorCode) ?? "ok"]);
        this.duration.observe([provider, model, status], num(p.latencyMs) / 1000);
        const savedNanos = payloadNanos(p, "saved");
        if (savedNanos > 0) this.saved.inc([], savedNanos / NANOS_PER_USD);
        if (p.cached === true) return; // a cache hit spent no tokens and cost nothing upstream
        const input = num(p.inputTokens);
        const output = num(p.outputTokens);
        const cachedTokens = num(p.cachedTokens);
        if (input) this.tokens.inc(["input", tenant, provider, model], input);
        if (output) this.tokens.inc(["output", tenant, provider, model], output);
        if (cachedTokens) this.tokens.inc(["cached_input", tenant, provider, model], cachedTokens);
        const costNanos = payloadNanos(p, "cost");
        if (costNanos > 0) this.cost.inc([tenant, provider, model], costNanos / NANOS_PER_USD);
        if (str(p.provider)) {
          const genai = genaiProvider(str(p.provider));
          if (input || output) {
            this.tokenUsage.observe([op, genai, model, "input"], input);
            if (op !== "embeddings") this.tokenUsage.observe([op, genai, model, "output"], output);
          }
          if (typeof p.ttftMs === "number") this.ttfc.observe([op, genai, model], p.ttftMs / 1000);
        }
        return;
      }
      case "provider.attempt.succeeded":
      case "provider.attempt.failed": {
        const model = this.models.value(str(p.model));
        this.opDuration.observe([op, genaiProvider(str(p.provider)), model, event.type.endsWith("failed") ? (str(p.code) ?? "_OTHER") : ""], num(p.latencyMs) / 1000);
        if (p.next === "fallback") this.fallbacks.inc([str(p.provider) ?? "none", model]);
        return;
      }
      case "cache.hit":
        this.cacheHits++;
        this.cache.inc(["hit"]);
        return;
      case "cache.miss":
        this.cacheMisses++;
        this.cache.inc(["miss"]);
        return;
      case "guardrail.redacted":
      case "guardrail.blocked":
      case "guardrail.detected":
        this.guardrailEvent(p, event.type.slice("guardrail.".length));
        return;
      case "ratelimit.exceeded":
        this.ratelimited.inc([scopeOf(str(p.limit))]);
        return;
      case "budget.exceeded":
        this.budgetExceeded.inc([scopeOf(str(p.budget))]);
        return;
      case "budget.reserved":
        for (const b of Array.isArray(p.budgets) ? (p.budgets as P[]) : []) {
          const key = str(b.key);
          if (!key) continue;
          const scope = this.scopes.value(key.replace(/^budget:/, ""));
          if (scope === "other") continue; // a remaining amount folded with others would mean nothing
          this.budgets.set(scope, (num(b.limitMicros) - num(b.spentMicros) - num(b.reservedMicros)) / 1e6);
          if (num(b.limitMicros) > 0) this.budgetUsed.set(scope, (num(b.spentMicros) + num(b.reservedMicros)) / num(b.limitMicros));
        }
        return;
    }
  }

  /** guardrail.* events: `counts` or `types` as `{ type: n }`, or `types` as a list (1 each). */
  private guardrailEvent(p: P, action: string): void {
    const counts = (p.counts ?? p.types) as unknown;
    if (Array.isArray(counts)) {
      for (const t of counts) if (typeof t === "string") this.guardrail.inc([t, action]);
    } else if (counts && typeof counts === "object") {
      for (const [t, n] of Object.entries(counts as P)) if (num(n) > 0) this.guardrail.inc([t, action], num(n));
    } else if (str(p.type)) {
      this.guardrail.inc([str(p.type)!, action], num(p.count) || 1);
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `rpm:key:abc` → `key`; `budget:tenant:acme` → `tenant`. */
function scopeOf(limit: string | null): string {
  if (!limit) return "none";
  const parts = limit.split(":");
  return parts.length >= 3 ? parts[1]! : parts[0]!;
}
