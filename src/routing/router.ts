/**
 * The routing shell's state for one gateway process: the health tracker (EWMA latency, error
 * rate, circuit breakers) and the round-robin state. Decisions are the pure functions of
 * this folder; this class only holds their state and the clock.
 */
import type { BreakerSettings, BreakerTransition } from "./breaker.ts";
import { admit, createHealthTracker, type HealthTracker, recordLatency, recordOutcome, snapshot } from "./health.ts";
import { selectTargets } from "./select.ts";
import { RoundRobinState } from "./swrr.ts";
import type { Price, Route, RoutingHints, Selection, TargetHealth } from "./types.ts";

export class Router {
  private tracker: HealthTracker = createHealthTracker();
  private readonly rr = new RoundRobinState();
  private breakerKey = "{}";

  constructor(
    private readonly clock: () => number = Date.now,
    readonly rand: () => number = Math.random,
  ) {}

  /** Apply breaker settings from config (keeps every target's history). */
  configure(breaker: Partial<BreakerSettings>): void {
    const key = JSON.stringify(breaker);
    if (key === this.breakerKey) return;
    this.breakerKey = key;
    this.tracker = { settings: createHealthTracker({ breaker }).settings, targets: this.tracker.targets };
  }

  select(route: Route, prices: Readonly<Record<string, Price>>, hints: RoutingHints): Selection {
    return selectTargets(route, this.health(), prices, hints, this.rand, this.rr);
  }

  /** May a request go to this target now? (A half-open breaker lets a probe through.) */
  admit(key: string): { allowed: boolean; probe: boolean; transition?: BreakerTransition } {
    const r = admit(this.tracker, key, this.clock());
    this.tracker = r.tracker;
    return r.transition ? { allowed: r.allowed, probe: r.probe, transition: r.transition } : { allowed: r.allowed, probe: r.probe };
  }

  /** Record an attempt's outcome (and its latency when it succeeded); returns a breaker transition, if any. */
  record(key: string, ok: boolean, latencyMs?: number): BreakerTransition | undefined {
    if (ok && latencyMs !== undefined) this.tracker = recordLatency(this.tracker, key, latencyMs);
    const r = recordOutcome(this.tracker, key, ok, this.clock());
    this.tracker = r.tracker;
    return r.transition;
  }

  health(): Map<string, TargetHealth> {
    return snapshot(this.tracker, this.clock());
  }
}
