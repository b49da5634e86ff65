/**
 * Pure-ish pieces of hook isolation: a per-plugin circuit breaker, hook timing stats (p50/p99),
 * and a timeout race. No I/O; the host (host.ts) wires them around every operator hook call.
 */
import { withTimeout as raceTimeout } from "../../util/with-timeout.ts";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failuresToOpen?: number;
  /** How long it stays open before one trial call. Default 30 s. */
  openMs?: number;
  now?: () => number;
}

/**
 * Consecutive-failure breaker: `failuresToOpen` failures in a row open it; after `openMs` one
 * trial call is let through (half-open); its success closes it, its failure opens it again.
 */
export class PluginBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  state: BreakerState = "closed";
  readonly failuresToOpen: number;
  readonly openMs: number;
  private readonly now: () => number;

  constructor(opts: BreakerOptions = {}) {
    this.failuresToOpen = opts.failuresToOpen ?? 5;
    this.openMs = opts.openMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether a call may go to the plugin now (half-open lets exactly one through). */
  allow(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open" && this.now() - this.openedAt >= this.openMs) {
      this.state = "half-open";
      this.trialInFlight = false;
    }
    if (this.state === "half-open" && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** Returns the transition, if any (`closed` when a trial succeeded). */
  success(): BreakerState | undefined {
    this.failures = 0;
    if (this.state !== "closed") {
      this.state = "closed";
      this.trialInFlight = false;
      return "closed";
    }
    return undefined;
  }

  /** Returns `open` when this failure opened the breaker. */
  failure(): BreakerState | undefined {
    this.failures++;
    if (this.state === "half-open" || (this.state === "closed" && this.failures >= this.failuresToOpen)) {
      this.state = "open";
      this.openedAt = this.now();
      this.trialInFlight = false;
      return "open";
    }
    return undefined;
  }
}

/** A ring of the last `size` durations per hook; quantiles on demand (admin listing only). */
export class HookStats {
  private readonly rings = new Map<string, { values: Float64Array; n: number; count: number }>();
  constructor(private readonly size = 512) {}

  record(hook: string, ms: number): void {
    let r = this.rings.get(hook);
    if (!r) this.rings.set(hook, (r = { values: new Float64Array(this.size), n: 0, count: 0 }));
    r.values[r.n % this.size] = ms;
    r.n++;
    r.count++;
  }

  summary(): Record<string, { calls: number; p50_ms: number; p99_ms: number }> {
    const out: Record<string, { calls: number; p50_ms: number; p99_ms: number }> = {};
    for (const [hook, r] of this.rings) {
      const xs = Array.from(r.values.subarray(0, Math.min(r.n, this.size))).sort((a, b) => a - b);
      out[hook] = { calls: r.count, p50_ms: round3(quantile(xs, 0.5)), p99_ms: round3(quantile(xs, 0.99)) };
    }
    return out;
  }
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export class HookTimeoutError extends Error {
  override name = "HookTimeoutError";
}

/** Resolve with `p`, or reject with HookTimeoutError after `ms` (the timer is always cleared). */
export function withTimeout<T>(p: Promise<T> | T, ms: number): Promise<T> {
  if (!(p instanceof Promise)) return Promise.resolve(p);
  return raceTimeout(p, ms, () => new HookTimeoutError(`hook did not finish within ${ms} ms`));
}
