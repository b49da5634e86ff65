/**
 * A pure circuit breaker, one per target. No clock, no timers: `now` is a parameter and every
 * function returns a new state (the shell stores it).
 *
 *   closed ──(window has ≥ minRequests outcomes and failure rate ≥ failureRateToOpen)──► open
 *   open ──(openMs elapsed, seen by canPass)──► half_open (admits up to halfOpenProbes probes)
 *   half_open ──(a success)──► closed (window reset)
 *   half_open ──(a failure)──► open (timer restarts)
 *
 * Every admitted probe must be reported with `recordResult` (a timeout is a failure) or, if
 * the request was abandoned for reasons unrelated to the target, given back with `releaseProbe`;
 * otherwise the breaker stays half-open with no probe slot free.
 */
import { addOutcome, windowTotals, type OutcomeWindow } from "./window.ts";

export interface BreakerSettings {
  /** Rolling window for the failure rate. */
  windowMs: number;
  /** Fewer outcomes than this in the window never open the breaker. */
  minRequests: number;
  /** Failure share (0–1) at or above which the breaker opens. */
  failureRateToOpen: number;
  /** How long the breaker stays open before admitting a probe. */
  openMs: number;
  /** Concurrent probes allowed while half-open. */
  halfOpenProbes: number;
  /** Buckets the window is split into (resolution = windowMs / buckets). */
  buckets: number;
}

export const DEFAULT_BREAKER_SETTINGS: Readonly<BreakerSettings> = Object.freeze({
  windowMs: 30_000,
  minRequests: 5,
  failureRateToOpen: 0.5,
  openMs: 15_000,
  halfOpenProbes: 1,
  buckets: 10,
});

export type BreakerStateName = "closed" | "open" | "half_open";
export type BreakerTransition = "opened" | "closed" | "half_opened";

export interface BreakerState {
  readonly state: BreakerStateName;
  /** When the breaker last opened (set while open or half-open). */
  readonly openedAt?: number;
  /** Outcomes while closed (reset when the breaker closes). */
  readonly window: OutcomeWindow;
  /** Probes admitted in half-open and not yet reported. */
  readonly probesInFlight: number;
}

export interface PassDecision {
  allowed: boolean;
  /** The request is a half-open probe: report its result (or release it). */
  probe: boolean;
  /** The state to store (a probe slot taken, or open → half_open). */
  state: BreakerState;
  transition?: BreakerTransition;
}

export interface RecordOutcome {
  state: BreakerState;
  transition?: BreakerTransition;
}

/** Defaults filled in. */
export function breakerSettings(s: Partial<BreakerSettings> = {}): BreakerSettings {
  return { ...DEFAULT_BREAKER_SETTINGS, ...s };
}

export function initialBreakerState(): BreakerState {
  return { state: "closed", window: [], probesInFlight: 0 };
}

/** The state as a caller would see it at `now`: an open breaker past `openMs` is half-open. */
export function effectiveState(state: BreakerState, now: number, settings: Partial<BreakerSettings> = {}): BreakerStateName {
  const s = breakerSettings(settings);
  if (state.state === "open" && now - (state.openedAt ?? now) >= s.openMs) return "half_open";
  return state.state;
}

/** May a request go to this target now? A half-open admission takes a probe slot. */
export function canPass(state: BreakerState, now: number, settings: Partial<BreakerSettings> = {}): PassDecision {
  const s = breakerSettings(settings);
  let current = state;
  let transition: BreakerTransition | undefined;
  if (current.state === "closed") return { allowed: true, probe: false, state: current };
  if (current.state === "open") {
    if (effectiveState(current, now, s) !== "half_open") return { allowed: false, probe: false, state: current };
    current = { ...current, state: "half_open", probesInFlight: 0 };
    transition = "half_opened";
  }
  const t = transition ? { transition } : {};
  if (current.probesInFlight >= s.halfOpenProbes) return { allowed: false, probe: false, state: current, ...t };
  return { allowed: true, probe: true, state: { ...current, probesInFlight: current.probesInFlight + 1 }, ...t };
}

/** Record the outcome of a request that `canPass` admitted. */
export function recordResult(state: BreakerState, ok: boolean, now: number, settings: Partial<BreakerSettings> = {}): RecordOutcome {
  const s = breakerSettings(settings);
  switch (state.state) {
    case "closed": {
      const window = addOutcome(state.window, ok, now, s.windowMs, s.buckets);
      const { failed, total } = windowTotals(window, now, s.windowMs);
      if (total >= s.minRequests && failed / total >= s.failureRateToOpen) {
        return { state: { state: "open", openedAt: now, window, probesInFlight: 0 }, transition: "opened" };
      }
      return { state: { ...state, window } };
    }
    case "open":
      // Late results of requests admitted before the breaker opened change nothing.
      return { state };
    case "half_open":
      if (ok) return { state: initialBreakerState(), transition: "closed" };
      return { state: { state: "open", openedAt: now, window: state.window, probesInFlight: 0 }, transition: "opened" };
    default: {
      const never: never = state.state;
      throw new Error(`unknown breaker state: ${String(never)}`);
    }
  }
}

/** Give back a probe slot without a verdict (the client went away, the deadline was spent elsewhere). */
export function releaseProbe(state: BreakerState): BreakerState {
  if (state.state !== "half_open" || state.probesInFlight === 0) return state;
  return { ...state, probesInFlight: state.probesInFlight - 1 };
}
