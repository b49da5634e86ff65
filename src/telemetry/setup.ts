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
  /** Label caps (settings TOLLGATE_METRICS_MAX_TENANTS / _MODELS). */
  maxTenants?: number;
  maxModels?: number;
  /** Expiry times of the live virtual keys (tollgate_key_next_expiry_seconds). */
  keyExpiries?: () => Iterable<string>;
  /** The OTEL_* variables; defaults to process.env. */
  env?: Record<string, string | undefined>;
}

export async function gatewayTelemetry(p: TelemetryParts): Promise<Telemetry> {
  const env = p.env ?? process.env;
  const analytics = p.analytics;
  const metrics = new GatewayMetrics(
    {
      emitter: p.emitter,
      outbox: p.outbox,
      circuits: () => p.router.health().entries(),
      ...(p.keyExpiries ? { keyExpiries: p.keyExpiries } : {}),
      ...(analytics ? { lags: async () => ({ usage: await analytics.lag() }) } : {}),
    },
    { ...(p.maxTenants ? { maxTenants: p.maxTenants } : {}), ...(p.maxModels ? { maxModels: p.maxModels } : {}) },
  );
  return new Telemetry({ tracing: await startTracing({ version: p.version, env }), metrics, requestLog: p.requestLog });
}
