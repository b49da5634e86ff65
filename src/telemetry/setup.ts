/**
 * Build a gateway's Telemetry from its parts (main.ts calls this once): tracing from the
 * OTEL_* environment, metrics reading the emitter, outbox, breakers and projection lag at
 * scrape time, and the per-request log line.
 */
import type { AnalyticsRuntime } from "../analytics/runtime.ts";
import type { BatchingEmitter } from "../events/emitter.ts";
import type { OutboxEventLog } from "../events/outbox.ts";
import type { Router } from "../routing/router.ts";
import { GatewayMetrics } from "./metrics.ts";
import { Telemetry } from "./telemetry.ts";
import { startTracing } from "./tracing.ts";

export interface TelemetryParts {
  version: string;
  emitter: BatchingEmitter;
  outbox?: OutboxEventLog | undefined;
  router: Router;
  analytics?: AnalyticsRuntime | undefined;
  requestLog?: ((line: string) => void) | undefined;
  /** Defaults to process.env: OTEL_*, TOLLGATE_METRICS_MAX_TENANTS, TOLLGATE_METRICS_MAX_MODELS. */
  env?: Record<string, string | undefined>;
}

export function gatewayTelemetry(p: TelemetryParts): Telemetry {
  const env = p.env ?? process.env;
  const analytics = p.analytics;
  const metrics = new GatewayMetrics(
    {
      emitter: p.emitter,
      outbox: p.outbox,
      circuits: () => p.router.health().entries(),
      ...(analytics ? { lags: async () => ({ usage: await analytics.lag() }) } : {}),
    },
    { maxTenants: positiveInt(env.TOLLGATE_METRICS_MAX_TENANTS, 100), maxModels: positiveInt(env.TOLLGATE_METRICS_MAX_MODELS, 100) },
  );
  return new Telemetry({ tracing: startTracing({ version: p.version, env }), metrics, requestLog: p.requestLog });
}

function positiveInt(v: string | undefined, dflt: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}
