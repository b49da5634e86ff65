/**
 * GET /health (the process is alive) and GET /ready (its dependencies are reachable and the
 * event log keeps up).
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { BatchingEmitter } from "../events/emitter.ts";
import type { EventLog } from "../events/event-log.ts";
import type { StateStore } from "../stores/state-store.ts";
import type { OutboxEventLog } from "../events/outbox.ts";
import type { AnalyticsRuntime } from "../analytics/runtime.ts";
import { Loose, okResponse } from "./schemas.ts";
import { GatewayMetrics } from "../telemetry/metrics.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { errorResponse } from "./http.ts";
import { checkMetricsAccess, isOperator, type OperatorAccess } from "./operator-access.ts";

const ReadyBody = Loose({ status: T.Union([T.Literal("ready"), T.Literal("degraded"), T.Literal("not_ready"), T.Literal("draining")]), checks: Loose({}) });
import type { CacheStore } from "../cache/store.ts";

export interface HealthDeps {
  log: EventLog;
  store: StateStore;
  emitter: BatchingEmitter;
  outbox?: OutboxEventLog;
  analytics?: AnalyticsRuntime | undefined;
  /** The response cache: a failing cache store degrades, never blocks, readiness (a lookup then misses). */
  cache?: CacheStore;
  version: string;
  /** While draining (SIGTERM), readiness answers 503 `draining`. */
  lifecycle?: { readonly draining: boolean };
  /** The semantic tier: its built-in embedder's state is shown (`degraded` until its model is installed), never a reason to refuse traffic. */
  semantic?: { readonly embedder?: { health(): { state: string } } | undefined } | undefined;
  /** The app's metrics (main.ts builds them with every source); absent = the emitter/outbox series only. */
  metrics?: GatewayMetrics | undefined;
  /** Who sees `/ready` details and `/metrics` (absent: everyone, as in tests that build the app alone). */
  access?: OperatorAccess;
}

/** The analytics projection's state and lag: shown, never a reason to refuse traffic (it is off the request path). */
async function analyticsCheck(a: AnalyticsRuntime | undefined) {
  if (!a) return { state: "off" };
  const { state, error } = a.status();
  const lag = await a.lag().catch(() => null);
  return { kind: a.store.kind, state, projecting: a.projecting, group: a.group, lag, ...(error ? { last_error: error } : {}) };
}

export function healthRoutes(deps: HealthDeps) {
  const started = Date.now();
  const live = () => ({ status: "ok" as const, version: deps.version, uptime_s: Math.round((Date.now() - started) / 1000) });
  const Live = T.Object({ status: T.Literal("ok"), version: T.String(), uptime_s: T.Integer() });
  const metrics = deps.metrics ?? new GatewayMetrics({ emitter: deps.emitter, outbox: deps.outbox });
  return new Elysia({ name: "health-routes", normalize: false })
    .get("/health", live, {
      response: { 200: Live },
      detail: { tags: ["Operations"], summary: "Liveness: the process answers", responses: okResponse(Live, "Alive") },
    })
    .get("/api/v1/health", live, {
      response: { 200: Live },
      detail: { tags: ["Operations"], summary: "Liveness (alias of `/health` for services built for the generate API)" },
    })
    .get(
      "/ready",
      async ({ set, request }) => {
        const log = await deps.log.health().catch((err: unknown) => ({ ok: false, detail: String(err) }));
        const e = deps.emitter;
        const emitter = { ok: !e.saturated && e.lastError === undefined, pending: e.pending, saturated: e.saturated, last_error: e.lastError ?? null };
        const store = await deps.store.health().catch((err: unknown) => ({ ok: false, detail: String(err) }));
        const outbox = deps.outbox ? { backlog: deps.outbox.backlog, ...deps.outbox.stats } : undefined;
        const analytics = await analyticsCheck(deps.analytics);
        // A broker outage absorbed by the outbox leaves the gateway serving: degraded, still ready.
        const logUsable = log.ok || outbox !== undefined;
        const draining = deps.lifecycle?.draining === true;
        const ready = !draining && logUsable && emitter.ok && store.ok;
        const cache = deps.cache ? { kind: deps.cache.kind, ...deps.cache.health() } : undefined;
        const embedder = deps.semantic?.embedder?.health();
        const degraded = ready && (!log.ok || (outbox?.backlog ?? 0) > 0 || cache?.ok === false);
        set.status = ready ? 200 : 503;
        const status = draining ? "draining" : !ready ? "not_ready" : degraded ? "degraded" : "ready";
        // Details (backend errors, backlog) only for the admin key or the metrics token.
        if (deps.access && !isOperator(deps.access, request)) return { status, checks: {} };
        return {
          status: draining ? "draining" : !ready ? "not_ready" : degraded ? "degraded" : "ready",
          checks: { event_log: { kind: deps.log.kind, ...log }, state_store: { kind: deps.store.kind, ...store }, emitter, ...(outbox ? { outbox } : {}), analytics, ...(cache ? { cache } : {}), ...(embedder ? { semantic_embedder: embedder } : {}) },
        };
      },
      {
        detail: {
          tags: ["Operations"],
          summary: "Readiness: event log, state store, emitter (503 when not ready; `degraded` while the outbox holds events); analytics state and lag, for information. Without the admin key or metrics token: the status alone",
          responses: { ...okResponse(ReadyBody, "Ready (`ready` or `degraded`)"), ...okResponse(ReadyBody, "Not ready (`not_ready`)", 503) },
        },
      },
    )
    .get(
      "/metrics",
      async ({ request }) => {
        try {
          if (deps.access) checkMetricsAccess(deps.access, request);
        } catch (err) {
          if (err instanceof GatewayError) return errorResponse(err);
          throw err;
        }
        return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
      },
      {
        detail: {
          tags: ["Operations"],
          summary: "Prometheus metrics (with TOLLGATE_METRICS_TOKEN set: that token or the admin key as a bearer token)",
          description: "Prometheus text format (prom-client): requests, latency, tokens, cost, cache, guardrails, limits, budgets, circuit breakers, GenAI client metrics, event emitter, outbox and projection lag. Every series and its labels: docs/observability.md.",
          responses: { 200: { description: "Prometheus text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
        },
      },
    );
}
