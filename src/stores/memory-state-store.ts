/**
 * The embedded {@link StateStore}: plain Maps in this process (rebuilt from the event log at
 * start). Every method runs to completion without awaiting in between, so each one is atomic
 * by construction — `applyVersioned` and the lock operations included.
 *
 * Semantics follow the Redis implementation so both pass one contract suite: one keyspace for
 * strings and hashes (a string op on a hash key, or the reverse, rejects with `WRONGTYPE`),
 * `set` replaces any value and clears its TTL, a hash whose last field is removed disappears.
 * TTLs are honoured lazily on read and by a periodic sweep whose timer never keeps the process
 * alive.
 *
 * Admission (rate windows, budget reservations) lives in {@link MemoryAdmission}, on the wall
 * clock `now` (the same clock `timeMs` reports), not the monotonic TTL clock: budget periods are
 * calendar days and months.
 */
import { DEFAULT_SETTLED_RETENTION_MS } from "./admission.ts";
import { checkScanCount, checkVersioned, ttlOf } from "./rules.ts";
import { MemoryAdmission } from "./memory-admission.ts";
import type {
  AdmissionRequest,
  AdmissionResult,
  BudgetState,
  HashWrite,
  RateState,
  SettleRequest,
  StateStore,
} from "./state-store.ts";

export interface MemoryStateStoreOptions {
  /** How often expired keys are swept without being read (default 1000 ms). */
  sweepIntervalMs?: number;
  /** Monotonic clock for TTLs, in ms (default `performance.now`). Injectable for tests. */
  clock?: () => number;
  /** Wall clock in epoch ms (default `Date.now`): `timeMs`, rate windows, budget periods, reservations. Injectable for tests. */
  now?: () => number;
  /** How long a settled request id is remembered, so a second settle is a no-op (default 1 h). */
  settledRetentionMs?: number;
}

type Entry =
  | { type: "string"; value: string; expiresAt?: number }
  | { type: "hash"; fields: Map<string, string> };

/** Open `hscan` cursors kept at most (the oldest is forgotten first: its next step rejects). */
const MAX_OPEN_SCANS = 10_000;

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

/**
 * In-process {@link StateStore}.
 *
 * @example
 * const store = new MemoryStateStore();
 * await store.applyVersioned("v:provider:openai", 3, [{ op: "hset", key: "provider:openai", field: "url", value: "…" }]);
 * await store.hget("provider:openai", "url");
 */
export class MemoryStateStore implements StateStore {
  readonly kind = "memory" as const;
  private readonly entries = new Map<string, Entry>();
  /** Keys that carry a TTL, with their deadline: what the sweep looks at. */
  private readonly expiring = new Map<string, number>();
  private readonly clock: () => number;
  private readonly admission: MemoryAdmission;
  private readonly sweeper: ReturnType<typeof setInterval>;
  /** Open `hscan` cursors (oldest first). */
  private readonly scans = new Map<string, { fields: Map<string, string>; iter: Iterator<[string, string]> }>();
  private scanSeq = 0;
  private closed = false;

  constructor(opts: MemoryStateStoreOptions = {}) {
    this.clock = opts.clock ?? (() => performance.now());
    const retention = opts.settledRetentionMs ?? DEFAULT_SETTLED_RETENTION_MS;
    if (!(retention > 0)) throw new RangeError(`settledRetentionMs must be > 0, got ${retention}`);
    this.admission = new MemoryAdmission(opts.now ?? Date.now, retention);
    const every = opts.sweepIntervalMs ?? 1000;
    if (!(every > 0)) throw new RangeError(`sweepIntervalMs must be > 0, got ${every}`);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  /** Keys currently held (admission windows, budget periods and settled ids included), expired-but-not-yet-swept ones too (for tests and metrics). */
  get size(): number {
    return this.entries.size + this.admission.size;
  }

  async get(key: string): Promise<string | null> {
    this.open();
    const entry = this.live(key);
    if (!entry) return null;
    if (entry.type !== "string") throw new Error(WRONGTYPE);
    return entry.value;
  }

  async set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void> {
    this.open();
    if (opts?.ttlMs === undefined) {
      this.put(key, { type: "string", value });
      return;
    }
    const ttl = ttlOf(opts.ttlMs);
    this.put(key, { type: "string", value, expiresAt: this.clock() + ttl });
  }

  async del(key: string): Promise<void> {
    this.open();
    this.remove(key);
  }

  async hget(key: string, field: string): Promise<string | null> {
    this.open();
    return this.hash(key)?.get(field) ?? null;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    this.open();
    return Object.fromEntries(this.hash(key) ?? []);
  }

  /**
   * A cursor is a live iterator over the hash's Map (Maps iterate in insertion order, skip fields
   * deleted before they are reached and visit fields added meanwhile), so every field present for
   * the whole scan comes exactly once. Cursors of abandoned scans are forgotten past
   * {@link MAX_OPEN_SCANS}; a scan whose hash was deleted (or replaced) meanwhile ends empty.
   */
  async hscan(key: string, cursor: string, count: number): Promise<{ cursor: string; entries: Array<[string, string]> }> {
    this.open();
    checkScanCount(count);
    const fields = this.hash(key);
    let scan: { fields: Map<string, string>; iter: Iterator<[string, string]> } | undefined;
    if (cursor === "0") {
      if (!fields) return { cursor: "0", entries: [] };
      scan = { fields, iter: fields.entries() };
    } else {
      scan = this.scans.get(cursor);
      this.scans.delete(cursor);
      if (!scan) throw new Error("ERR invalid cursor");
      if (scan.fields !== fields) return { cursor: "0", entries: [] };
    }
    const entries: Array<[string, string]> = [];
    while (entries.length < count) {
      const next = scan.iter.next();
      if (next.done) return { cursor: "0", entries };
      entries.push(next.value);
    }
    const id = String(++this.scanSeq);
    this.scans.set(id, scan);
    if (this.scans.size > MAX_OPEN_SCANS) this.scans.delete(this.scans.keys().next().value!);
    return { cursor: id, entries };
  }

  async applyVersioned(versionKey: string, version: number, writes: HashWrite[]): Promise<boolean> {
    this.open();
    checkVersioned(versionKey, version, writes);
    const stored = this.live(versionKey);
    let current = -1;
    if (stored) {
      if (stored.type !== "string") throw new Error(WRONGTYPE);
      current = Number(stored.value);
      if (!Number.isInteger(current)) throw new Error(`ERR version key holds a non-integer value`);
    }
    if (version <= current) return false;
    this.applyAll(writes);
    this.put(versionKey, { type: "string", value: String(version) });
    return true;
  }

  async applyWrites(writes: HashWrite[]): Promise<void> {
    this.open();
    this.applyAll(writes);
  }

  /** Check every write before making any, so a bad write leaves nothing half-applied; then apply them in order. */
  private applyAll(writes: HashWrite[]): void {
    const types = new Map<string, "hash" | "none" | "string">();
    for (const w of writes) {
      const type = types.get(w.key) ?? this.live(w.key)?.type ?? "none";
      if (w.op === "del") types.set(w.key, "none");
      else if (type === "string") throw new Error(WRONGTYPE);
      else types.set(w.key, w.op === "hset" ? "hash" : type);
    }

    for (const w of writes) {
      if (w.op === "del") {
        this.remove(w.key);
        continue;
      }
      const fields = this.hash(w.key);
      if (w.op === "hset") {
        if (fields) fields.set(w.field, w.value);
        else this.put(w.key, { type: "hash", fields: new Map([[w.field, w.value]]) });
      } else if (fields) {
        fields.delete(w.field);
        if (fields.size === 0) this.remove(w.key);
      }
    }
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    this.open();
    const ttl = ttlOf(ttlMs);
    if (this.live(key)) return null;
    const token = crypto.randomUUID();
    this.put(key, { type: "string", value: token, expiresAt: this.clock() + ttl });
    return token;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    this.open();
    const entry = this.live(key);
    if (!entry) return false;
    if (entry.type !== "string") throw new Error(WRONGTYPE);
    if (entry.value !== token) return false;
    this.remove(key);
    return true;
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.open();
    let n = 0;
    for (const key of [...this.entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.remove(key);
      n++;
    }
    return n;
  }

  async flushAll(): Promise<void> {
    this.open();
    this.entries.clear();
    this.expiring.clear();
    this.scans.clear();
    this.admission.clear();
  }

  async timeMs(): Promise<number> {
    this.open();
    return this.admission.now();
  }

  async admit(req: AdmissionRequest): Promise<AdmissionResult> {
    this.open();
    return this.admission.admit(req);
  }

  async settle(req: SettleRequest): Promise<{ settled: boolean }> {
    this.open();
    return this.admission.settle(req);
  }

  async peekBudget(key: string, period: "day" | "month"): Promise<BudgetState> {
    this.open();
    return this.admission.peekBudget(key, period);
  }

  async peekRate(key: string, limit: number, windowMs: number): Promise<RateState> {
    this.open();
    return this.admission.peekRate(key, limit, windowMs);
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    return this.closed ? { ok: false, detail: "closed" } : { ok: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.scans.clear();
    this.entries.clear();
    this.expiring.clear();
    this.admission.clear();
  }

  /** Drop every expired key (only keys with a TTL are visited) and idle admission state. */
  private sweep(): void {
    const now = this.clock();
    for (const [key, deadline] of this.expiring) {
      if (deadline <= now) this.remove(key);
    }
    this.admission.sweep();
  }

  private open(): void {
    if (this.closed) throw new Error("MemoryStateStore is closed");
  }

  /** The entry under `key`, or undefined when absent or expired (expired ones are removed). */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.type === "string" && entry.expiresAt !== undefined && entry.expiresAt <= this.clock()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private hash(key: string): Map<string, string> | undefined {
    const entry = this.live(key);
    if (!entry) return undefined;
    if (entry.type !== "hash") throw new Error(WRONGTYPE);
    return entry.fields;
  }

  private put(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    if (entry.type === "string" && entry.expiresAt !== undefined) this.expiring.set(key, entry.expiresAt);
    else this.expiring.delete(key);
  }

  private remove(key: string): void {
    this.entries.delete(key);
    this.expiring.delete(key);
  }
}

