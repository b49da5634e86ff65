/**
 * Pure: the facts the request explorer needs on `request.completed`, read from what the plugins
 * already left on the ctx (response headers, `ctx.state`). Never prompt text, never values:
 * the exact-cache key is a SHA-256 hash, guardrails are counts by type.
 *
 *   cacheKeyHash   the exact-cache key of the request, recorded whether the cache is on or off
 *   cacheResult    `exact` | `semantic` | `miss` | `bypass` | "" (no lookup ran)
 *   cacheBypass    why the lookup was skipped (`mode_off`, `not_deterministic`, …)
 *   routeLevel     the level that decided the route (`customer_service` … `global`, `alias`, …)
 *   routeOverride  the customer override id, when one decided it
 *   guardrailAction `blocked` | `redacted` | `detected` | ""
 *   guardrailDetections total detections (input + output)
 */
import type { Ctx, Outcome } from "./context.ts";

export const CACHE_KEY_STATE = "cache.keyHash";
export const CACHE_BYPASS_STATE = "cache.bypass";

function countsTotal(counts: unknown): number {
  let n = 0;
  if (!counts || typeof counts !== "object") return 0;
  for (const dir of Object.values(counts as Record<string, unknown>)) {
    if (!dir || typeof dir !== "object") continue;
    for (const v of Object.values(dir as Record<string, unknown>)) if (typeof v === "number" && v > 0) n += v;
  }
  return n;
}

export function requestFacts(ctx: Ctx, outcome: Outcome): Record<string, unknown> {
  const h = ctx.responseHeaders;
  const cacheHeader = h["x-tollgate-cache"];
  const cacheResult = cacheHeader === "hit" ? "exact" : cacheHeader === "semantic-hit" ? "semantic" : cacheHeader === "miss" || cacheHeader === "bypass" ? cacheHeader : "";
  const g = ctx.state["guardrails"] as { redacted?: boolean; counts?: unknown } | undefined;
  const detections = countsTotal(g?.counts);
  const guardrailAction = outcome.error?.code === "pii_blocked" ? "blocked" : g?.redacted ? "redacted" : detections > 0 ? "detected" : "";
  return {
    cacheKeyHash: (ctx.state[CACHE_KEY_STATE] as string | undefined) ?? null,
    cacheResult,
    cacheBypass: (ctx.state[CACHE_BYPASS_STATE] as string | undefined) ?? null,
    routeLevel: h["x-tollgate-route-level"] ?? null,
    routeOverride: h["x-tollgate-override"] ?? null,
    guardrailAction,
    guardrailDetections: detections,
  };
}
