/**
 * StateStore: the fast, shared state every gateway instance reads on the hot path (config
 * projection, later rate windows, budgets, cache). Two implementations pass one contract suite
 * (test/stores/state-store.contract.ts): MemoryStateStore (embedded default, rebuilt from the
 * event log at start) and RedisStateStore (`REDIS_URL`, atomic work in Lua).
 *
 * Keys are plain strings; implementations may prefix them (Redis: `tollgate:`).
 *
 * Admission (rate limits + budget reservations, {@link StateStore.admit}) is one atomic step:
 * one Lua call on Redis, one synchronous run in memory. Its state lives under the reserved key
 * namespaces `rate:`, `ratemeta:`, `budget:`, `holds:` and `settled:` — do not use them for
 * anything else.
 */

export type HashWrite =
  | { op: "hset"; key: string; field: string; value: string }
  | { op: "hdel"; key: string; field: string }
  | { op: "del"; key: string };

/** A sliding-window limit: at most `limit` units in any `windowMs`. One key has one window. */
export interface RateLimitSpec {
  key: string;
  /** Units allowed in any window (an integer ≥ 0). */
  limit: number;
  windowMs: number;
  /** Units this request takes now: 1 for RPM, estimated tokens for TPM (rounded up; 0 records nothing). */
  cost: number;
}

/** A spending limit per calendar period (UTC, from the store's clock). */
export interface BudgetSpec {
  key: string;
  limitMicros: number;
  period: "day" | "month";
  /** Percent (e.g. 80) whose crossing is reported once per period (`crossedThreshold`). */
  thresholdPct?: number;
}

export interface AdmissionRequest {
  /** Identifies the request: its reservations are settled under this id. */
  requestId: string;
  rates: RateLimitSpec[];
  budgets: BudgetSpec[];
  /** The most the request can cost, micro-USD (rounded up; a negative value counts as 0). */
  reserveMicros: number;
  /**
   * Flexible reservation: when set below `reserveMicros`, reserve what every budget can still
   * fit, between this and `reserveMicros` (the result's `reservedMicros` says how much); denied
   * only when not even this much fits. Absent: exactly `reserveMicros` (all or nothing).
   */
  minReserveMicros?: number;
  /** How long the hold lives if never settled. */
  reservationTtlMs: number;
}

export interface RateState {
  key: string;
  limit: number;
  /** `limit` minus the units in the window (never below 0). */
  remaining: number;
  /** Ms until the oldest entry leaves the window (0 when the window is empty). */
  resetMs: number;
}

export interface BudgetState {
  key: string;
  /** `day:2026-11-22` or `month:2026-11`, from the store's clock (Redis: server `TIME`), UTC. */
  period: string;
  /** The limit of this admission; for {@link StateStore.peekBudget}, the last one admitted this period (0 if none). */
  limitMicros: number;
  /** Settled spend this period. */
  spentMicros: number;
  /** Sum of the live (unsettled, unexpired) reservations. */
  reservedMicros: number;
  /** True only on the admission that first found spent + reserved at or over `thresholdPct` this period. */
  crossedThreshold: boolean;
}

export type AdmissionResult =
  | { allowed: true; nowMs: number; rates: RateState[]; budgets: BudgetState[]; /** The reservation made per budget, micro-USD. */ reservedMicros: number }
  | {
      allowed: false;
      nowMs: number;
      /** The failing check with the longest wait (when several fail, nothing fits before then). */
      denied: { kind: "rate" | "budget"; key: string; retryAfterMs: number };
      /** State as it is: a denied admission records nothing. */
      rates: RateState[];
      budgets: BudgetState[];
    };

export interface SettleRequest {
  requestId: string;
  /** The budgets and periods the admission reported (`BudgetState.period`). */
  budgets: Array<{ key: string; period: string }>;
  /** Actual cost, micro-USD (rounded up), added to `spent` of each budget. */
  actualMicros: number;
  /**
   * Extra units to add to rate windows (e.g. completion tokens for TPM); added even over the limit.
   * With `at` (an earlier store time, e.g. the admission's `nowMs`) the units are placed at that
   * time, so they leave the window together with that admission's entry, and `cost` may be
   * negative: that corrects an admission's estimate to the actual figure (a window never counts
   * less than what was actually taken). Dropped when `at` has already left the window.
   */
  rates?: Array<{ key: string; windowMs: number; cost: number; at?: number }>;
}

export interface StateStore {
  readonly kind: "memory" | "redis";

  get(key: string): Promise<string | null>;
  /** Set a value, optionally expiring after `ttlMs`. */
  set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void>;
  del(key: string): Promise<void>;

  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  /**
   * One step of an incremental read of a hash (Redis `HSCAN … COUNT`), so a large hash is never
   * one huge reply: start with cursor `"0"` and pass back the returned cursor until it is `"0"`
   * again. `count` (an integer ≥ 1) is a hint of how many fields one step returns (Redis may
   * return more, e.g. a small hash at once). Every field present for the whole scan is returned
   * at least once — possibly twice (callers dedupe); fields added or removed meanwhile may or may
   * not appear. A missing key is an empty hash; a string key rejects (`WRONGTYPE`).
   */
  hscan(key: string, cursor: string, count: number): Promise<{ cursor: string; entries: Array<[field: string, value: string]> }>;

  /**
   * Atomically: if `version` is greater than the integer stored at `versionKey` (absent = -1),
   * apply every write in order and store `version` at `versionKey`; otherwise change nothing.
   * Returns whether it applied. This makes a projection idempotent: replaying an event that was
   * already applied is a no-op.
   */
  applyVersioned(versionKey: string, version: number, writes: HashWrite[]): Promise<boolean>;

  /**
   * Atomically apply every write in order, unconditionally (no version): for writers that never
   * conflict (distinct fields), e.g. two instances adding entries to one hash in the same
   * millisecond — both land. A write of the wrong type rejects (`WRONGTYPE`).
   */
  applyWrites(writes: HashWrite[]): Promise<void>;

  /** Take a lock if free (or expired): returns a token, or null when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Release a lock only if `token` still holds it. Returns whether it released. */
  releaseLock(key: string, token: string): Promise<boolean>;

  /** Delete every key that starts with `prefix` (e.g. one tenant's stored responses); returns how many. */
  deletePrefix(prefix: string): Promise<number>;

  /** Delete every key this store owns (its prefix), e.g. to rebuild a projection. */
  flushAll(): Promise<void>;

  /** Server time in ms (Redis `TIME`; memory: Date.now()) — windows use one clock. */
  timeMs(): Promise<number>;

  /**
   * Atomically check every rate limit and budget and, only if all of them fit, record one
   * window entry per rate and one reservation of `reserveMicros` per budget (all or nothing).
   *
   * - rate: admitted when `used + cost <= limit` over the sliding window ending now; a cost
   *   above the limit itself is denied with `retryAfterMs = windowMs`; otherwise a denial waits
   *   until enough of the oldest entries have left the window.
   * - budget: admitted when `spent + reserved + reserveMicros <= limitMicros` for the current
   *   period; a denial waits until the period ends. Expired reservations are dropped first.
   *
   * Rejects (RangeError) on malformed input: negative/non-finite numbers, duplicate rate keys,
   * or the same budget key and period twice.
   */
  admit(req: AdmissionRequest): Promise<AdmissionResult>;
  /**
   * Release the request's reservation in each budget, add `actualMicros` to its spend and the
   * optional rate units — once per request id: a second settle (within the store's retention of
   * settled ids, default 1 h) changes nothing and returns `settled: false`. A settle after the
   * reservation expired still adds the spend (once).
   */
  settle(req: SettleRequest): Promise<{ settled: boolean }>;
  /** The current period's budget state (drops expired reservations; `crossedThreshold` is false). */
  peekBudget(key: string, period: "day" | "month"): Promise<BudgetState>;
  /** The window's state right now (drops entries that left it). */
  peekRate(key: string, limit: number, windowMs: number): Promise<RateState>;

  health(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}
