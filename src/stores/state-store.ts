/**
 * StateStore: the fast, shared state every gateway instance reads on the hot path (config
 * projection, later rate windows, budgets, cache). Two implementations pass one contract suite
 * (test/stores/state-store.contract.ts): MemoryStateStore (embedded default, rebuilt from the
 * event log at start) and RedisStateStore (`REDIS_URL`, atomic work in Lua).
 *
 * Keys are plain strings; implementations may prefix them (Redis: `tollgate:`).
 */

export type HashWrite =
  | { op: "hset"; key: string; field: string; value: string }
  | { op: "hdel"; key: string; field: string }
  | { op: "del"; key: string };

export interface StateStore {
  readonly kind: "memory" | "redis";

  get(key: string): Promise<string | null>;
  /** Set a value, optionally expiring after `ttlMs`. */
  set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void>;
  del(key: string): Promise<void>;

  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;

  /**
   * Atomically: if `version` is greater than the integer stored at `versionKey` (absent = -1),
   * apply every write in order and store `version` at `versionKey`; otherwise change nothing.
   * Returns whether it applied. This makes a projection idempotent: replaying an event that was
   * already applied is a no-op.
   */
  applyVersioned(versionKey: string, version: number, writes: HashWrite[]): Promise<boolean>;

  /** Take a lock if free (or expired): returns a token, or null when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Release a lock only if `token` still holds it. Returns whether it released. */
  releaseLock(key: string, token: string): Promise<boolean>;

  /** Delete every key this store owns (its prefix), e.g. to rebuild a projection. */
  flushAll(): Promise<void>;

  /** Server time in ms (Redis `TIME`; memory: Date.now()) — windows use one clock. */
  timeMs(): Promise<number>;

  health(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}
