/**
 * GET /health (the process is alive) and GET /ready (its dependencies are reachable and the
 * event log keeps up).
 */
import { Elysia } from "elysia";
import type { BatchingEmitter } from "../events/emitter.ts";
import type { EventLog } from "../events/event-log.ts";
import type { StateStore } from "../stores/state-store.ts";

export interface HealthDeps {
  log: EventLog;
  store: StateStore;
  emitter: BatchingEmitter;
  version: string;
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
        const ready = log.ok && emitter.ok && store.ok;
        set.status = ready ? 200 : 503;
        return { status: ready ? "ready" : "not_ready", checks: { event_log: { kind: deps.log.kind, ...log }, state_store: { kind: deps.store.kind, ...store }, emitter } };
      },
      { detail: { tags: ["Operations"], summary: "Readiness: event log reachable and keeping up (503 when not)" } },
    );
}
