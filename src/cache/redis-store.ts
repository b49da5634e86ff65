/**
 * The Redis cache store (`REDIS_URL`): entries shared by every gateway instance.
 *
 * - A lookup is ONE `GET` with a short command timeout (default 50 ms). A Redis that is down
 *   (no offline queue: the command fails at once) or slow (the timeout) makes the lookup reject,
 *   which the plugin counts as a miss: never an error, never a stall.
 * - The connection is made in the background: the gateway starts and serves while Redis is away,
 *   and the client reconnects by itself.
 * - Keys: `<prefix>cache:e:<tenant>:<hash>` (value with `PX` expiry), counters in the hash
 *   `<prefix>cache:s:<tenant>`. Tenant ids are slugs, so a tenant's keys are one SCAN pattern.
 * - Counters (hits, misses, …) add up in memory and are written every 250 ms: no command per
 *   request for them (a crash loses at most that span of counts, never an entry).
 * - The request path (GET, SET) and the counters go through Bun's built-in client (`RedisClient`,
 *   native, auto-pipelined: a fraction of ioredis's CPU per command under Bun, see
 *   bench/redis-clients.ts); stats and purges (SCAN and friends) through ioredis.
 */
import { RedisClient } from "bun";
import { Redis } from "ioredis";
import { type CacheCounter, type CacheStore, type CacheUsage, emptyCounters } from "./store.ts";
import { withTimeout } from "../util/with-timeout.ts";

export interface RedisCacheOptions {
  /** Key prefix (the gateway's `TOLLGATE_REDIS_PREFIX`); `cache:` is appended. */
  prefix?: string;
  /** Timeout of every command, ms (default 50). */
  timeoutMs?: number;
}

/** How long counts add up in memory before they are written. */
const COUNT_FLUSH_MS = 250;

/** A failure this recent makes the store report itself degraded. */
const DEGRADED_FOR_MS = 5_000;

export class RedisCacheStore implements CacheStore {
  readonly kind = "redis" as const;
  private readonly redis: RedisClient;
  private readonly timeoutMs: number;
  /** Stats and purge (SCAN over every entry) get a client of their own with a longer timeout. */
  private admin: Redis | undefined;
  private readonly url: string;
  private readonly p: string;
  private lastFailure: { at: number; message: string } | undefined;

  constructor(url: string, opts: RedisCacheOptions = {}) {
    this.p = `${opts.prefix ?? "tollgate:"}cache:`;
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.redis = new RedisClient(url, {
      autoReconnect: true,
      enableOfflineQueue: false, // Redis away: a lookup fails at once (a miss), never waits
      enableAutoPipelining: true,
      connectionTimeout: 2_000,
      maxRetries: 4_294_967_295, // keep reconnecting while the gateway runs
    });
    this.redis.onclose = (err) => this.fail(err ?? new Error("redis connection closed"));
    this.redis.connect().catch((err) => this.fail(err)); // keeps retrying by itself
  }

  private fail(err: unknown): void {
    this.lastFailure = { at: Date.now(), message: err instanceof Error ? err.message : String(err) };
  }

  /** A hot-path command, rejected after the command timeout. */
  private async run<T>(p: Promise<T>): Promise<T> {
    try {
      return await withTimeout(p, this.timeoutMs, () => new Error(`redis did not answer within ${this.timeoutMs} ms`));
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  private management(): Redis {
    if (!this.admin) {
      this.admin = new Redis(this.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectTimeout: 2_000, retryStrategy: (times) => Math.min(2_000, 25 * 2 ** Math.min(times, 16)) });
      this.admin.on("error", () => {}); // reported by the lookups' client
    }
    return this.admin;
  }

  private entry(tenant: string, hash: string): string {
    return `${this.p}e:${tenant}:${hash}`;
  }

  get(tenant: string, hash: string): Promise<string | null> {
    return this.run(this.redis.get(this.entry(tenant, hash)));
  }

  async set(tenant: string, hash: string, value: string, ttlMs: number): Promise<void> {
    await this.run(this.redis.send("SET", [this.entry(tenant, hash), value, "PX", String(Math.max(1, Math.ceil(ttlMs)))]));
  }

  /** Every entry key of a tenant (or all), by SCAN. */
  private async keys(tenant?: string): Promise<string[]> {
    const match = `${this.p.replace(/[*?[\]\\]/g, "\\$&")}e:${tenant ?? "*"}:*`;
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.management().scan(cursor, "MATCH", match, "COUNT", 1000);
      cursor = next;
      out.push(...batch);
    } while (cursor !== "0");
    return out;
  }

  async purge(tenant?: string): Promise<number> {
    const keys = await this.keys(tenant);
    let n = 0;
    for (let i = 0; i < keys.length; i += 500) n += await this.management().unlink(...keys.slice(i, i + 500));
    return n;
  }

  async usage(tenant?: string): Promise<CacheUsage> {
    const keys = await this.keys(tenant);
    const sizes = await Promise.all(keys.map((k) => this.management().strlen(k)));
    return { entries: sizes.filter((s) => s > 0).length, bytes: sizes.reduce((a, b) => a + b, 0) };
  }

  /** Counts not yet written: stats hash → counter → amount. */
  private pending = new Map<string, Map<string, number>>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  /** Added up in memory and written every COUNT_FLUSH_MS (one HINCRBY per counter that moved), not one command per request. */
  count(tenant: string, counter: CacheCounter, n = 1): void {
    const key = `${this.p}s:${tenant}`;
    let h = this.pending.get(key);
    if (!h) this.pending.set(key, (h = new Map()));
    h.set(counter, (h.get(counter) ?? 0) + Math.round(n));
    this.flushTimer ??= setTimeout(() => void this.flushCounts(), COUNT_FLUSH_MS);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  private async flushCounts(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pending;
    if (!batch.size) return;
    this.pending = new Map();
    const sends: Promise<unknown>[] = [];
    for (const [key, h] of batch) for (const [counter, n] of h) sends.push(this.redis.send("HINCRBY", [key, counter, String(n)]));
    // Stats only: a failed write loses these counts (the health check reports the failure).
    await Promise.all(sends).catch((err) => this.fail(err));
  }

  async counters(tenant?: string): Promise<Record<string, number>> {
    await this.flushCounts(); // this instance's counts so far are in the answer
    const out = emptyCounters();
    const keys: string[] = [];
    if (tenant !== undefined) keys.push(`${this.p}s:${tenant}`);
    else {
      let cursor = "0";
      do {
        const [next, batch] = await this.management().scan(cursor, "MATCH", `${this.p.replace(/[*?[\]\\]/g, "\\$&")}s:*`, "COUNT", 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
    }
    for (const k of keys) {
      const h = await this.management().hgetall(k);
      for (const [c, v] of Object.entries(h)) out[c] = (out[c] ?? 0) + Number(v);
    }
    return out;
  }

  health(): { ok: boolean; detail?: string } {
    if (!this.redis.connected) return { ok: false, detail: "redis not connected" };
    const f = this.lastFailure;
    if (f && Date.now() - f.at < DEGRADED_FOR_MS) return { ok: false, detail: f.message };
    return { ok: true };
  }

  async close(): Promise<void> {
    await this.flushCounts();
    this.redis.close();
    this.admin?.disconnect();
  }
}
