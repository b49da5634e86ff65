/**
 * The distributed {@link StateStore}: Redis through ioredis, shared by every gateway instance.
 *
 * - Every key is prefixed (default `tollgate:`), so several stores (or tenants of one Redis)
 *   never see each other's keys and `flushAll` only touches its own (SCAN + UNLINK, never FLUSHDB).
 * - `applyVersioned` and `releaseLock` are Lua scripts registered with `defineCommand`: one
 *   EVALSHA round trip each, atomic on the server (ioredis falls back to EVAL after a restart
 *   emptied the script cache). The script checks every write before making one, so a bad write
 *   (`WRONGTYPE`) leaves nothing half-applied — Redis does not roll a failed script back.
 * - Commands are auto-pipelined. Once connected the offline queue is off and a request is retried
 *   at most once, so while Redis is down calls reject at once instead of piling up; a command
 *   without a reply within `commandTimeoutMs` rejects too (a hung server). The client keeps
 *   reconnecting in the background (capped backoff) and the same object works again afterwards.
 * - Admission (`admit`, `settle`, `peekBudget`, `peekRate`) is admission.lua, one EVALSHA per
 *   call on the server's clock (see redis-admission.ts), sent through Bun's built-in client by
 *   default (bun-redis-script.ts: a fraction of ioredis's CPU per call on the hot path).
 */
import { Redis } from "ioredis";
import { DEFAULT_SETTLED_RETENTION_MS } from "./admission.ts";
import { checkScanCount, checkVersioned, ttlOf } from "./rules.ts";
import { ADMISSION_LUA, RedisAdmission } from "./redis-admission.ts";
import { BunRedisScript } from "./bun-redis-script.ts";
import type {
  AdmissionRequest,
  AdmissionResult,
  BudgetState,
  HashWrite,
  RateState,
  SettleRequest,
  StateStore,
} from "./state-store.ts";

export interface RedisStateStoreOptions {
  /** Prepended to every key (default `tollgate:`). */
  prefix?: string;
  /** How long `connect` keeps trying before it rejects (default 5000 ms). */
  connectTimeoutMs?: number;
  /** A command without a reply after this long rejects (default 2000 ms). */
  commandTimeoutMs?: number;
  /** How long `health()` waits for PING (default 1000 ms). */
  healthTimeoutMs?: number;
  /** Longest pause between reconnect attempts (default 2000 ms). */
  maxReconnectDelayMs?: number;
  /** Connection errors (refused, reset, …) as they happen. Default: kept for `health().detail` only. */
  onError?: (err: Error) => void;
  /** How long a settled request id is remembered, so a second settle is a no-op (default 1 h). */
  settledRetentionMs?: number;
  /**
   * The client admission runs on (one EVALSHA per admit/settle, the request hot path): Bun's
   * built-in `RedisClient` (default: 3–5× less CPU per call here) or this store's ioredis client.
   */
  admissionClient?: "bun" | "ioredis";
}

/**
 * KEYS[1] = version key, KEYS[1 + i] = key of write i.
 * ARGV[1] = version, then three per write: op, field, value ("" where unused).
 * Returns 1 when applied, 0 when the stored version is equal or greater.
 */
const APPLY_VERSIONED_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local n = tonumber(current)
  if n == nil then return redis.error_reply('ERR version key holds a non-integer value') end
  if tonumber(ARGV[1]) <= n then return 0 end
end
local count = #KEYS - 1
local types = {}
for i = 1, count do
  local key = KEYS[i + 1]
  local op = ARGV[3 * i - 1]
  local t = types[key]
  if t == nil then t = redis.call('TYPE', key).ok end
  if op == 'del' then
    types[key] = 'none'
  elseif op == 'hset' or op == 'hdel' then
    if t ~= 'hash' and t ~= 'none' then
      return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
    end
    if op == 'hset' then types[key] = 'hash' else types[key] = t end
  else
    return redis.error_reply('ERR unknown write op ' .. tostring(op))
  end
end
for i = 1, count do
  local key = KEYS[i + 1]
  local op = ARGV[3 * i - 1]
  if op == 'hset' then
    redis.call('HSET', key, ARGV[3 * i], ARGV[3 * i + 1])
  elseif op == 'hdel' then
    redis.call('HDEL', key, ARGV[3 * i])
  else
    redis.call('DEL', key)
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** KEYS[1] = lock key, ARGV[1] = token. Deletes the key only while it still holds the token. */
const RELEASE_LOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** The client with the scripts `defineCommand` added. */
interface ScriptedRedis extends Redis {
  tgApplyVersioned(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  tgReleaseLock(key: string, token: string): Promise<number>;
  tgAdmission(numKeys: number, ...keysAndArgs: string[]): Promise<unknown[]>;
}

/**
 * {@link StateStore} over Redis.
 *
 * @example
 * const store = await RedisStateStore.connect(process.env.REDIS_URL!, { prefix: "tollgate:" });
 * const token = await store.acquireLock("lock:projector", 5_000);
 * if (token) try { … } finally { await store.releaseLock("lock:projector", token); }
 * await store.close();
 */
export class RedisStateStore implements StateStore {
  readonly kind = "redis" as const;
  readonly prefix: string;
  private lastError: Error | undefined;
  private closing = false;
  private readonly admission: RedisAdmission;

  private constructor(
    private readonly redis: ScriptedRedis,
    prefix: string,
    private readonly healthTimeoutMs: number,
    settledRetentionMs: number,
    private readonly hotPath: BunRedisScript | undefined,
  ) {
    this.prefix = prefix;
    this.admission = new RedisAdmission(hotPath ? hotPath.run : (n, ...rest) => redis.tgAdmission(n, ...rest), prefix, settledRetentionMs);
  }

  /**
   * Connect and wait until Redis answers (retrying with backoff for up to `connectTimeoutMs`, so a
   * gateway may start a moment before Redis does). Rejects — and stops trying — after that.
   */
  static async connect(url: string, opts: RedisStateStoreOptions = {}): Promise<RedisStateStore> {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const settledRetentionMs = opts.settledRetentionMs ?? DEFAULT_SETTLED_RETENTION_MS;
    if (!Number.isFinite(settledRetentionMs) || settledRetentionMs <= 0) {
      throw new RangeError(`settledRetentionMs must be a positive number, got ${settledRetentionMs}`);
    }
    const maxDelay = opts.maxReconnectDelayMs ?? 2000;
    const redis = new Redis(url, {
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      // On while connecting (nothing is sent before `ready` anyway), off once connected: see below.
      enableOfflineQueue: true,
      connectTimeout: Math.max(1, Math.min(connectTimeoutMs, 10_000)),
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      retryStrategy: (times) => Math.min(maxDelay, 25 * 2 ** Math.min(times, 16)) + Math.floor(Math.random() * 25),
    }) as ScriptedRedis;
    redis.defineCommand("tgApplyVersioned", { lua: APPLY_VERSIONED_LUA });
    redis.defineCommand("tgReleaseLock", { lua: RELEASE_LOCK_LUA, numberOfKeys: 1 });
    redis.defineCommand("tgAdmission", { lua: ADMISSION_LUA });

    let lastError: Error | undefined;
    const onError = (err: Error) => {
      lastError = err;
      if (store) store.lastError = err;
      opts.onError?.(err);
    };
    let store: RedisStateStore | undefined;
    redis.on("error", onError);

    let hotPath: BunRedisScript | undefined;
    try {
      await waitUntilReady(redis, connectTimeoutMs, () => lastError);
      if ((opts.admissionClient ?? "bun") === "bun") hotPath = await BunRedisScript.connect(url, ADMISSION_LUA, { commandTimeoutMs: opts.commandTimeoutMs ?? 2000, connectTimeoutMs });
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    store = new RedisStateStore(redis, opts.prefix ?? "tollgate:", opts.healthTimeoutMs ?? 1000, Math.ceil(settledRetentionMs), hotPath);
    store.lastError = lastError;
    // From now on a command sent while the connection is down fails at once instead of waiting
    // in the offline queue for a Redis that may not come back (requests must not hang).
    redis.options.enableOfflineQueue = false;
    return store;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.k(key));
  }

  async set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void> {
    if (opts?.ttlMs === undefined) await this.redis.set(this.k(key), value);
    else await this.redis.set(this.k(key), value, "PX", ttlOf(opts.ttlMs));
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.k(key));
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.redis.hget(this.k(key), field);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.k(key));
  }

  async hscan(key: string, cursor: string, count: number): Promise<{ cursor: string; entries: Array<[string, string]> }> {
    checkScanCount(count);
    // Through Bun's native client when the store has it (the admission client): it parses a large reply faster.
    const [next, flat] = this.hotPath ? await this.hotPath.hscan(this.k(key), cursor, count) : await this.redis.hscan(this.k(key), cursor, "COUNT", count);
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i]!, flat[i + 1]!]);
    return { cursor: next, entries };
  }

  async applyVersioned(versionKey: string, version: number, writes: HashWrite[]): Promise<boolean> {
    checkVersioned(versionKey, version, writes);
    const keys = [this.k(versionKey)];
    const args = [String(version)];
    for (const w of writes) {
      keys.push(this.k(w.key));
      if (w.op === "hset") args.push("hset", w.field, w.value);
      else if (w.op === "hdel") args.push("hdel", w.field, "");
      else args.push("del", "", "");
    }
    const applied = await this.redis.tgApplyVersioned(keys.length, ...keys, ...args);
    return applied === 1;
  }

  /** One MULTI/EXEC (atomic on the server; unlike the Lua script, a WRONGTYPE write does not stop the others). */
  async applyWrites(writes: HashWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const m = this.redis.multi();
    for (const w of writes) {
      if (w.op === "hset") m.hset(this.k(w.key), w.field, w.value);
      else if (w.op === "hdel") m.hdel(this.k(w.key), w.field);
      else m.del(this.k(w.key));
    }
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (!res) throw new Error("applyWrites: transaction aborted");
    if (failed) throw failed[0]!;
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    const token = crypto.randomUUID();
    const reply = await this.redis.set(this.k(key), token, "PX", ttlOf(ttlMs), "NX");
    return reply === "OK" ? token : null;
  }

  async releaseLock(key: string, token: string): Promise<boolean> {
    return (await this.redis.tgReleaseLock(this.k(key), token)) === 1;
  }

  /** SCAN + UNLINK over `{storePrefix}{prefix}*` (never KEYS): not atomic, keys written meanwhile may stay. */
  async deletePrefix(prefix: string): Promise<number> {
    const match = `${escapeGlob(this.k(prefix))}*`;
    let cursor = "0";
    let n = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", match, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) n += await this.redis.unlink(...keys);
    } while (cursor !== "0");
    return n;
  }

  async flushAll(): Promise<void> {
    const match = `${escapeGlob(this.prefix)}*`;
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", match, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== "0");
  }

  async timeMs(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async admit(req: AdmissionRequest): Promise<AdmissionResult> {
    return this.admission.admit(req);
  }

  async settle(req: SettleRequest): Promise<{ settled: boolean }> {
    return this.admission.settle(req);
  }

  async peekBudget(key: string, period: "day" | "month"): Promise<BudgetState> {
    return this.admission.peekBudget(key, period);
  }

  async peekRate(key: string, limit: number, windowMs: number): Promise<RateState> {
    return this.admission.peekRate(key, limit, windowMs);
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (this.closing) return { ok: false, detail: "closed" };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PING reply within ${this.healthTimeoutMs} ms`)), this.healthTimeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
      return { ok: true };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const last = this.lastError && this.lastError.message !== reason ? `; last connection error: ${this.lastError.message}` : "";
      return { ok: false, detail: `redis ${this.redis.status}: ${reason}${last}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Quit cleanly (pending replies are delivered first); when Redis is unreachable, just disconnect. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.hotPath?.close();
    if (this.redis.status === "end") return;
    if (this.redis.status !== "ready") {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private k(key: string): string {
    return this.prefix + key;
  }
}

/** Resolve on `ready`; keep letting ioredis reconnect until `timeoutMs`, then reject. */
function waitUntilReady(redis: Redis, timeoutMs: number, lastError: () => Error | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      const why = lastError()?.message ?? `status ${redis.status}`;
      reject(new Error(`could not connect to Redis at ${describe(redis)} within ${timeoutMs} ms: ${why}`));
    }, timeoutMs);
    redis.once("ready", onReady);
    // The first failure rejects this promise, but retryStrategy keeps reconnecting: wait for `ready`.
    redis.connect().catch(() => {});
  });
}

/** host:port only — never the password from the URL. */
function describe(redis: Redis): string {
  const { host, port, path } = redis.options;
  return path ? String(path) : `${host}:${port}`;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

