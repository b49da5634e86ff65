/**
 * Routing types shared by the pure routing core (`select`, `breaker`, `health`, `backoff`,
 * `overrides`). Nothing here does I/O; the routing plugin (the shell) feeds these in.
 */

/** How a route orders its targets. See `selectTargets` for the exact rules of each. */
export type Strategy = "priority" | "weighted" | "round_robin" | "least_latency" | "lowest_cost" | "ab";

/** One upstream a route may send to. */
export interface RouteTarget {
  provider: string;
  model: string;
  /** Relative share for `weighted` / `round_robin` (default 1; ≤ 0 = never picked first). */
  weight?: number;
  /** Lower is tried first for `priority` (and among the "rest" of an A/B split); default 0. */
  priority?: number;
}

/** An alias (e.g. `smart`, or a real model name) and the targets that can serve it. */
export interface Route {
  alias: string;
  strategy: Strategy;
  targets: RouteTarget[];
  /** For `ab`: `percent` (0–100) of traffic goes to `targets[target]`, the rest to the others. */
  ab?: { percent: number; target: number };
}

/** What the selector knows about a target's health (from the health tracker's snapshot). */
export interface TargetHealth {
  state: "closed" | "open" | "half_open";
  /** Exponentially weighted moving average of recent latency; undefined = never measured. */
  ewmaLatencyMs?: number;
  /** Failures / outcomes in the rolling window (0 when there are none). */
  errorRate: number;
  /** Outcomes in the rolling window. */
  samples: number;
}

/** USD per 1M tokens. */
export interface Price {
  input: number;
  output: number;
  cachedInput?: number;
}

/** Per-request routing wishes (header `x-tollgate-strategy` or the body's `routing` object). */
export interface RoutingHints {
  strategy?: Strategy;
  /** Provider ids to try first (stable: keeps the strategy's order among them). */
  prefer?: string[];
  /** Provider ids never to use for this request. */
  exclude?: string[];
  /** Makes A/B bucketing sticky per user. */
  userId?: string;
  /** Estimated prompt tokens, for `lowest_cost`. */
  promptTokens?: number;
  /** Requested output budget, for `lowest_cost`. */
  maxTokens?: number;
}

/** The selector's answer: every eligible target, in the order to try them. */
export interface Selection {
  /** First = try first; the rest are fallbacks, in order. Empty when every target was excluded. */
  targets: RouteTarget[];
  /** Human-readable: what decided the order (goes into the `route.selected` event). */
  reason: string;
}

/** The key used for health, prices and round-robin state: `provider/model`. */
export const targetKey = (t: { provider: string; model: string }): string => `${t.provider}/${t.model}`;
