/**
 * Health tracker: per target, an EWMA of latency, a rolling error rate, and the circuit
 * breaker. A plain, immutable data structure with pure functions over it; the shell keeps one
 * tracker per gateway process, replaces it with each function's result, and hands
 * `snapshot(tracker, now)` to `selectTargets` and to `GET /v1/providers/{id}/health`.
 *
 * Targets are keyed by `targetKey` (`provider/model`). A target never seen is absent from the
 * snapshot (the selector treats it as closed and unmeasured).
 */
import {
  breakerSettings,
  canPass,
  effectiveState,
  initialBreakerState,
  recordResult,
  type BreakerSettings,
  type BreakerState,
  type BreakerTransition,
} from "./breaker.ts";
import type { TargetHealth } from "./types.ts";
import { addOutcome, windowTotals, type OutcomeWindow } from "./window.ts";

export interface HealthSettings {
  /** EWMA smoothing factor in (0, 1]: weight of the newest sample. */
  alpha: number;
  /** Breaker settings; the error-rate window uses the same `windowMs` and `buckets`. */
  breaker: BreakerSettings;
}

export const DEFAULT_EWMA_ALPHA = 0.3;

export interface TargetStats {
  readonly ewmaLatencyMs?: number;
  readonly latencySamples: number;
  /** Every outcome (independent of the breaker's window, which resets on close). */
  readonly outcomes: OutcomeWindow;
  readonly breaker: BreakerState;
}

export interface HealthTracker {
  readonly settings: HealthSettings;
  readonly targets: Readonly<Record<string, TargetStats>>;
}

/** An empty tracker; missing settings take their defaults. */
export function createHealthTracker(settings: { alpha?: number; breaker?: Partial<BreakerSettings> } = {}): HealthTracker {
  const alpha = settings.alpha ?? DEFAULT_EWMA_ALPHA;
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`EWMA alpha must be in (0, 1], got ${alpha}`);
  return { settings: { alpha, breaker: breakerSettings(settings.breaker) }, targets: {} };
}

/** The stats for `key` (fresh ones when the target was never seen). */
export function statsOf(tracker: HealthTracker, key: string): TargetStats {
  return Object.hasOwn(tracker.targets, key)
    ? (tracker.targets[key] as TargetStats)
    : { latencySamples: 0, outcomes: [], breaker: initialBreakerState() };
}

/**
 * At most this many targets are tracked (least recently updated dropped first): clients choose
 * model names (`provider/<anything>`), and every decision walks the snapshot (issue 22).
 */
export const MAX_TRACKED_TARGETS = 512;

function withStats(tracker: HealthTracker, key: string, stats: TargetStats): HealthTracker {
  // Insertion order is recency: the updated key goes last, the oldest go first when full.
  const entries = Object.entries(tracker.targets).filter(([k]) => k !== key);
  entries.splice(0, Math.max(0, entries.length - (MAX_TRACKED_TARGETS - 1)));
  entries.push([key, stats]);
  return { settings: tracker.settings, targets: Object.fromEntries(entries) }; // own properties, also for `__proto__`
}

/** Fold one latency sample (ms) into the EWMA: `ewma = alpha·x + (1 − alpha)·ewma`; the first sample is taken as is. */
export function recordLatency(tracker: HealthTracker, key: string, latencyMs: number): HealthTracker {
  if (!Number.isFinite(latencyMs) || latencyMs < 0) return tracker;
  const s = statsOf(tracker, key);
  const a = tracker.settings.alpha;
  const ewma = s.ewmaLatencyMs === undefined ? latencyMs : a * latencyMs + (1 - a) * s.ewmaLatencyMs;
  return withStats(tracker, key, { ...s, ewmaLatencyMs: ewma, latencySamples: s.latencySamples + 1 });
}

/** Record a success or failure: updates the error-rate window and the breaker. */
export function recordOutcome(
  tracker: HealthTracker,
  key: string,
  ok: boolean,
  now: number,
): { tracker: HealthTracker; transition?: BreakerTransition } {
  const s = statsOf(tracker, key);
  const b = tracker.settings.breaker;
  const outcomes = addOutcome(s.outcomes, ok, now, b.windowMs, b.buckets);
  const r = recordResult(s.breaker, ok, now, b);
  const next = withStats(tracker, key, { ...s, outcomes, breaker: r.state });
  return r.transition ? { tracker: next, transition: r.transition } : { tracker: next };
}

/** Ask the target's breaker whether a request may go now (takes a probe slot when half-open). */
export function admit(
  tracker: HealthTracker,
  key: string,
  now: number,
): { tracker: HealthTracker; allowed: boolean; probe: boolean; transition?: BreakerTransition } {
  const s = statsOf(tracker, key);
  const d = canPass(s.breaker, now, tracker.settings.breaker);
  const next = d.state === s.breaker ? tracker : withStats(tracker, key, { ...s, breaker: d.state });
  const base = { tracker: next, allowed: d.allowed, probe: d.probe };
  return d.transition ? { ...base, transition: d.transition } : base;
}

/**
 * What the selector and the health API see at `now`, per known target. The state is the
 * breaker's effective state (an open breaker whose `openMs` has passed shows as `half_open`,
 * since the next request would be admitted as a probe).
 */
export function snapshot(tracker: HealthTracker, now: number): Map<string, TargetHealth> {
  const b = tracker.settings.breaker;
  const out = new Map<string, TargetHealth>();
  for (const [key, s] of Object.entries(tracker.targets)) {
    const { failed, total } = windowTotals(s.outcomes, now, b.windowMs);
    const h: TargetHealth = { state: effectiveState(s.breaker, now, b), errorRate: total === 0 ? 0 : failed / total, samples: total };
    if (s.ewmaLatencyMs !== undefined) h.ewmaLatencyMs = s.ewmaLatencyMs;
    out.set(key, h);
  }
  return out;
}
