/**
 * GET /health (the process is alive) and GET /ready (its dependencies are reachable and the
 * event log keeps up).
 */
import { Elysia } from "elysia";
import type { BatchingEmitter } from "../events/emitter.ts";
import type { EventLog } from "../events/event-log.ts";
import type { StateStore } from "../stores/state-store.ts";
import type { OutboxEventLog } from "../events/outbox.ts";
import type { AnalyticsRuntime } from "../analytics/runtime.ts";
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
  return new Elysia({ name: "health-routes", normalize: false })
    .get("/health", () => ({ status: "ok", version: deps.version, uptime_s: Math.round((Date.now() - started) / 1000) }), {
      detail: { tags: ["Operations"], summary: "Liveness: the process answers" },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const log = await deps.log.health().catch((err: unknown) => ({ ok: false, detail: String(err) }));
        const e = deps.emitter;
        const emitter = { ok: !e.saturated && e.lastError === undefined, pending: e.pending, saturated: e.saturated, last_error: e.lastError ?? null };
        const store = await deps.store.health().catch((err: unknown) => ({ ok: false, detail: String(err) }));
        const outbox = deps.outbox ? { backlog: deps.outbox.backlog, ...deps.outbox.stats } : undefined;
        const analytics = await analyticsCheck(deps.analytics);
        // A broker outage absorbed by the outbox leaves the gateway serving: degraded, still ready.
        const logUsable = log.ok || outbox !== undefined;
        const ready = logUsable && emitter.ok && store.ok;
        const cache = deps.cache ? { kind: deps.cache.kind, ...deps.cache.health() } : undefined;
        const degraded = ready && (!log.ok || (outbox?.backlog ?? 0) > 0 || cache?.ok === false);
        set.status = ready ? 200 : 503;
        return {
          status: !ready ? "not_ready" : degraded ? "degraded" : "ready",
          checks: { event_log: { kind: deps.log.kind, ...log }, state_store: { kind: deps.store.kind, ...store }, emitter, ...(outbox ? { outbox } : {}), analytics, ...(cache ? { cache } : {}) },
        };
      },
      { detail: { tags: ["Operations"], summary: "Readiness: event log, state store, emitter (503 when not ready; `degraded` while the outbox holds events); analytics state and lag, for information" } },
    )
    .get(
      "/metrics",
      () => {
        const e = deps.emitter;
        const lines = [
          "# HELP tollgate_events_emitted_total Events handed to the emitter.",
          "# TYPE tollgate_events_emitted_total counter",
          `tollgate_events_emitted_total ${e.stats.emitted}`,
          "# HELP tollgate_events_appended_total Events stored by the event log (or its outbox).",
          "# TYPE tollgate_events_appended_total counter",
          `tollgate_events_appended_total ${e.stats.appended}`,
          "# HELP tollgate_event_append_errors_total Failed appends (retried).",
          "# TYPE tollgate_event_append_errors_total counter",
          `tollgate_event_append_errors_total ${e.stats.appendErrors}`,
          "# HELP tollgate_emitter_pending Events queued in memory, not yet stored.",
          "# TYPE tollgate_emitter_pending gauge",
          `tollgate_emitter_pending ${e.pending}`,
        ];
        if (deps.outbox) {
          lines.push(
            "# HELP tollgate_outbox_backlog Events in the local outbox waiting for the broker.",
            "# TYPE tollgate_outbox_backlog gauge",
            `tollgate_outbox_backlog ${deps.outbox.backlog}`,
            "# HELP tollgate_outbox_forwarded_total Events forwarded from the outbox to the broker.",
            "# TYPE tollgate_outbox_forwarded_total counter",
            `tollgate_outbox_forwarded_total ${deps.outbox.stats.forwarded}`,
          );
        }
        return new Response(lines.join("\n") + "\n", { headers: { "content-type": "text/plain; version=0.0.4" } });
      },
      { detail: { tags: ["Operations"], summary: "Prometheus metrics (event emitter and outbox)" } },
    );
}
