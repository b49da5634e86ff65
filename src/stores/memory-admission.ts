/**
 * Admission for the in-process store: rate windows, budget reservations and settled ids in
 * plain Maps. Every method runs to completion synchronously, so each admission is atomic by
 * construction. The rules mirror admission.lua line for line (see that file for the why):
 * ms timestamps from one wall clock, windows that hold an entry while `now - at < windowMs`,
 * holds that die at `expiresAt <= now`, state that is dropped once idle.
 */
import {
  BUDGET_GRACE_MS,
  checkPeekRate,
  checkPeriodKind,
  normalizeAdmission,
  normalizeSettle,
  periodEndMs,
  periodOf,
} from "./admission.ts";
import { ExpiryHeap } from "./expiry-heap.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, RateState, SettleRequest } from "./state-store.ts";

interface RateEntry {
  at: number;
  cost: number;
}

interface RateWindow {
  /** The window last used with this key (what the sweep goes by). */
  windowMs: number;
  /** Ascending by `at`; the live ones start at `head` (dropping from the front is O(1)). */
  entries: RateEntry[];
  head: number;
  /** Units in the live entries. */
  sum: number;
}

interface BudgetPeriod {
  spent: number;
  reserved: number;
  /** The limit of the last admission in this period (what peekBudget reports). */
  limit: number;
  crossed: boolean;
  holds: Map<string, { amount: number; expiresAt: number }>;
  /** The holds by expiry (lazily cleaned: see {@link ExpiryHeap}). */
  expiries: ExpiryHeap;
  /** When the whole record may go (period end, or its latest hold, plus a grace). */
  expiresAt: number;
}

export class MemoryAdmission {
  private readonly windows = new Map<string, RateWindow>();
  /** Keyed by `${period}\0${key}`. */
  private readonly budgets = new Map<string, BudgetPeriod>();
  /** Settled request id → when we may forget it. */
  private readonly settled = new Map<string, number>();

  constructor(
    /** Wall clock, epoch ms. */
    private readonly clock: () => number,
    private readonly settledRetentionMs: number,
  ) {}

  /** Rate windows, budget periods and settled ids currently held. */
  get size(): number {
    return this.windows.size + this.budgets.size + this.settled.size;
  }

  now(): number {
    return Math.floor(this.clock());
  }

  admit(input: AdmissionRequest): AdmissionResult {
    const req = normalizeAdmission(input);
    const now = this.now();
    let denied: { kind: "rate" | "budget"; key: string; retryAfterMs: number } | undefined;
    const deny = (kind: "rate" | "budget", key: string, retryAfterMs: number) => {
      if (!denied || retryAfterMs > denied.retryAfterMs) denied = { kind, key, retryAfterMs };
    };

    const rates = req.rates.map((spec) => {
      const window = this.liveWindow(spec.key, spec.windowMs, now);
      const used = window?.sum ?? 0;
      if (spec.cost > spec.limit) deny("rate", spec.key, spec.windowMs);
      else if (used + spec.cost > spec.limit && window) deny("rate", spec.key, waitForRoom(window, spec.windowMs, used + spec.cost - spec.limit, now));
      return { spec, window };
    });
    const budgets = req.budgets.map((spec) => {
      const period = periodOf(spec.period, now);
      const id = `${period.name}\u0000${spec.key}`;
      const budget = this.liveBudget(id, now);
      const spent = budget?.spent ?? 0;
      const reserved = budget?.reserved ?? 0;
      return { spec, period, id, budget, available: spec.limitMicros - spent - reserved };
    });
    // A flexible reservation (minReserveMicros < reserveMicros): what every budget can still fit, at least the minimum.
    let reserve = req.reserveMicros;
    const minReserve = req.minReserveMicros ?? reserve;
    if (minReserve < reserve) {
      for (const b of budgets) reserve = Math.min(reserve, Math.max(0, b.available));
      reserve = Math.max(reserve, minReserve);
    }
    for (const b of budgets) if (reserve > b.available) deny("budget", b.spec.key, b.period.endMs - now);

    if (denied) {
      return {
        allowed: false,
        nowMs: now,
        denied,
        rates: rates.map(({ spec, window }) => rateState(spec.key, spec.limit, spec.windowMs, window, now)),
        budgets: budgets.map(({ spec, period, budget }) => ({
          key: spec.key,
          period: period.name,
          limitMicros: spec.limitMicros,
          spentMicros: budget?.spent ?? 0,
          reservedMicros: budget?.reserved ?? 0,
          crossedThreshold: false,
        })),
      };
    }

    // Everything fits: record it all.
    const rateStates = rates.map(({ spec, window }) => {
      const w = this.record(spec.key, spec.windowMs, window, spec.cost, now);
      return rateState(spec.key, spec.limit, spec.windowMs, w, now);
    });
    const budgetStates = budgets.map(({ spec, period, id, budget }): BudgetState => {
      const b = budget ?? this.newBudget(id);
      if (reserve > 0) {
        // One hold per request id (a repeated admit adds to it and keeps the later expiry).
        const hold = b.holds.get(req.requestId);
        const expiresAt = Math.max(now + req.reservationTtlMs, hold?.expiresAt ?? 0);
        b.holds.set(req.requestId, { amount: (hold?.amount ?? 0) + reserve, expiresAt });
        if (expiresAt !== hold?.expiresAt) b.expiries.push(expiresAt, req.requestId);
        b.reserved += reserve;
      }
      b.limit = spec.limitMicros;
      b.expiresAt = Math.max(b.expiresAt, Math.max(period.endMs, now + req.reservationTtlMs) + BUDGET_GRACE_MS);
      let crossedThreshold = false;
      const pct = spec.thresholdPct;
      if (pct !== undefined && !b.crossed && spec.limitMicros > 0 && (b.spent + b.reserved) * 100 >= pct * spec.limitMicros) {
        b.crossed = true;
        crossedThreshold = true;
      }
      return { key: spec.key, period: period.name, limitMicros: spec.limitMicros, spentMicros: b.spent, reservedMicros: b.reserved, crossedThreshold };
    });
    return { allowed: true, nowMs: now, rates: rateStates, budgets: budgetStates, reservedMicros: reserve };
  }

  settle(input: SettleRequest): { settled: boolean } {
    const req = normalizeSettle(input);
    const now = this.now();
    const until = this.settled.get(req.requestId);
    if (until !== undefined && until > now) return { settled: false };
    this.settled.set(req.requestId, now + this.settledRetentionMs);

    for (const { key, period } of req.budgets) {
      const id = `${period}\u0000${key}`;
      const b = this.liveBudget(id, now) ?? this.newBudget(id);
      const hold = b.holds.get(req.requestId);
      if (hold) {
        b.reserved -= hold.amount;
        b.holds.delete(req.requestId);
        // Settled holds stay in the heap until they surface; rebuild once they dominate it.
        if (b.expiries.size > 2 * b.holds.size + 64) {
          b.expiries.rebuild([...b.holds].map(([id, h]) => ({ at: h.expiresAt, id })));
        }
      }
      b.spent += req.actualMicros;
      b.expiresAt = Math.max(b.expiresAt, Math.max(periodEndMs(period) ?? now, now) + BUDGET_GRACE_MS);
    }
    for (const r of req.rates) {
      const window = this.liveWindow(r.key, r.windowMs, now);
      if (r.at === undefined) this.record(r.key, r.windowMs, window, r.cost, now);
      // A correction at the admission's time: only while that entry is still in the window.
      else if (window && r.at > now - r.windowMs && r.cost !== 0) this.record(r.key, r.windowMs, window, r.cost, Math.min(r.at, now), true);
    }
    return { settled: true };
  }

  peekBudget(key: string, kind: "day" | "month"): BudgetState {
    checkPeriodKind(kind);
    const now = this.now();
    const period = periodOf(kind, now);
    const b = this.liveBudget(`${period.name}\u0000${key}`, now);
    return {
      key,
      period: period.name,
      limitMicros: b?.limit ?? 0,
      spentMicros: b?.spent ?? 0,
      reservedMicros: b?.reserved ?? 0,
      crossedThreshold: false,
    };
  }

  peekRate(key: string, limit: number, windowMs: number): RateState {
    const ms = checkPeekRate(limit, windowMs);
    const now = this.now();
    return rateState(key, limit, ms, this.liveWindow(key, ms, now), now);
  }

  /** Drop idle windows, finished budget periods and forgotten settled ids. */
  sweep(): void {
    const now = this.now();
    for (const [key, w] of this.windows) {
      const last = w.entries[w.entries.length - 1];
      if (!last || w.head >= w.entries.length || last.at <= now - w.windowMs) this.windows.delete(key);
    }
    for (const [id, b] of this.budgets) if (b.expiresAt <= now) this.budgets.delete(id);
    for (const [id, until] of this.settled) if (until <= now) this.settled.delete(id);
  }

  clear(): void {
    this.windows.clear();
    this.budgets.clear();
    this.settled.clear();
  }

  /** The window under `key` with entries that left it dropped (undefined when empty). */
  private liveWindow(key: string, windowMs: number, now: number): RateWindow | undefined {
    const w = this.windows.get(key);
    if (!w) return undefined;
    const cutoff = now - windowMs;
    while (w.head < w.entries.length && (w.entries[w.head] as RateEntry).at <= cutoff) {
      w.sum -= (w.entries[w.head] as RateEntry).cost;
      w.head++;
    }
    if (w.head >= w.entries.length) {
      this.windows.delete(key);
      return undefined;
    }
    if (w.head >= 1024 && w.head * 2 >= w.entries.length) {
      w.entries.splice(0, w.head);
      w.head = 0;
    }
    return w;
  }

  /** Add `cost` units at `now` (nothing for 0; a negative correction only when asked); returns the window. */
  private record(key: string, windowMs: number, window: RateWindow | undefined, cost: number, now: number, correction = false): RateWindow | undefined {
    if (cost <= 0 && !correction) return window;
    const w = window ?? { windowMs, entries: [], head: 0, sum: 0 };
    if (!window) this.windows.set(key, w);
    w.windowMs = windowMs;
    // Usually an append; a clock that stepped back still keeps the log sorted.
    let i = w.entries.length;
    while (i > w.head && (w.entries[i - 1] as RateEntry).at > now) i--;
    w.entries.splice(i, 0, { at: now, cost });
    w.sum += cost;
    return w;
  }

  /** The budget period record with expired holds released (undefined when absent or expired). */
  private liveBudget(id: string, now: number): BudgetPeriod | undefined {
    const b = this.budgets.get(id);
    if (!b) return undefined;
    if (b.expiresAt <= now) {
      this.budgets.delete(id);
      return undefined;
    }
    for (let next = b.expiries.peek(); next && next.at <= now; next = b.expiries.peek()) {
      b.expiries.pop();
      const hold = b.holds.get(next.id);
      if (hold && hold.expiresAt === next.at) {
        b.reserved -= hold.amount;
        b.holds.delete(next.id);
      }
    }
    return b;
  }

  private newBudget(id: string): BudgetPeriod {
    const b: BudgetPeriod = { spent: 0, reserved: 0, limit: 0, crossed: false, holds: new Map(), expiries: new ExpiryHeap(), expiresAt: 0 };
    this.budgets.set(id, b);
    return b;
  }
}

function rateState(key: string, limit: number, windowMs: number, window: RateWindow | undefined, now: number): RateState {
  const used = window?.sum ?? 0;
  const oldest = window?.entries[window.head];
  return { key, limit, remaining: Math.max(0, limit - used), resetMs: oldest ? oldest.at + windowMs - now : 0 };
}

/** Ms until the oldest entries that free `need` units have left the window. */
function waitForRoom(window: RateWindow, windowMs: number, need: number, now: number): number {
  let freed = 0;
  for (let i = window.head; i < window.entries.length; i++) {
    const e = window.entries[i] as RateEntry;
    freed += e.cost;
    if (freed >= need) return Math.max(1, e.at + windowMs - now);
  }
  return windowMs; // unreachable while cost <= limit
}
