/**
 * The outbox: every event is written to the plugin's store (scoped to the tenant) before the
 * first attempt, and deleted only after the receiver answered 2xx. Failed attempts are retried
 * with exponential backoff (with jitter) until `keep_ms` runs out. After a restart, a tenant's
 * pending deliveries are picked up again with its next event. Delivery is at least once: the
 * `x-tollgate-delivery` id lets a receiver drop duplicates.
 */
import type { PluginKv } from "tollgate/plugin";
import { SIGNATURE_HEADER, signatureHeader } from "./sign.ts";

export interface Delivery {
  id: string;
  tenant: string;
  url: string;
  secretEnv: string;
  body: string;
  type: string;
  attempts: number;
  createdAt: number;
}

export interface OutboxSettings {
  backoff_base_ms: number;
  backoff_max_ms: number;
  keep_ms: number;
}

const INDEX = "outbox-index";

/** Backoff before attempt n+1 (n ≥ 1): base·2^(n-1), capped, ±20 % jitter. */
export function backoffMs(attempts: number, base: number, max: number, random = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

export class Outbox {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly recovered = new Set<string>();
  private stopped = false;
  /** Serializes index updates per tenant (read-modify-write). */
  private chain = new Map<string, Promise<unknown>>();

  constructor(private readonly fetchFn: typeof fetch = fetch) {}

  /** Store the delivery, then try it now. */
  async add(kv: PluginKv, d: Delivery, s: OutboxSettings): Promise<void> {
    await kv.set(`outbox:${d.id}`, JSON.stringify(d), { ttlMs: s.keep_ms });
    await this.index(kv, d.tenant, (ids) => [...ids, d.id], s);
    this.schedule(kv, d, s, 0);
  }

  /** After a restart: reschedule what the tenant's outbox still holds (once per tenant per process). */
  async recover(kv: PluginKv, tenant: string, s: OutboxSettings): Promise<void> {
    if (this.recovered.has(tenant)) return;
    this.recovered.add(tenant);
    for (const id of await this.ids(kv)) {
      if (this.timers.has(id)) continue;
      const raw = await kv.get(`outbox:${id}`);
      if (raw) this.schedule(kv, JSON.parse(raw) as Delivery, s, 0);
      else await this.index(kv, tenant, (ids) => ids.filter((x) => x !== id), s);
    }
  }

  pending(): number {
    return this.timers.size;
  }

  private schedule(kv: PluginKv, d: Delivery, s: OutboxSettings, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => void this.attempt(kv, d, s), delayMs);
    this.timers.set(d.id, timer);
  }

  private async attempt(kv: PluginKv, d: Delivery, s: OutboxSettings): Promise<void> {
    if (this.stopped) return;
    d.attempts++;
    let ok = false;
    try {
      const secret = process.env[d.secretEnv] ?? "";
      const res = await this.fetchFn(d.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-tollgate-event": d.type,
          "x-tollgate-delivery": d.id,
          "x-tollgate-attempt": String(d.attempts),
          [SIGNATURE_HEADER]: signatureHeader(secret, d.body, Math.floor(Date.now() / 1000)),
        },
        body: d.body,
        signal: AbortSignal.timeout(10_000),
      });
      ok = res.ok;
      await res.body?.cancel();
    } catch {
      ok = false; // network error, timeout: retried like a 5xx
    }
    this.timers.delete(d.id);
    if (ok || Date.now() - d.createdAt > s.keep_ms) {
      await kv.del(`outbox:${d.id}`).catch(() => {});
      await this.index(kv, d.tenant, (ids) => ids.filter((x) => x !== d.id), s).catch(() => {});
      return;
    }
    await kv.set(`outbox:${d.id}`, JSON.stringify(d), { ttlMs: s.keep_ms }).catch(() => {});
    this.schedule(kv, d, s, backoffMs(d.attempts, s.backoff_base_ms, s.backoff_max_ms));
  }

  private async ids(kv: PluginKv): Promise<string[]> {
    const raw = await kv.get(INDEX);
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  private index(kv: PluginKv, tenant: string, change: (ids: string[]) => string[], s: OutboxSettings): Promise<void> {
    const next = (this.chain.get(tenant) ?? Promise.resolve()).then(async () => {
      await kv.set(INDEX, JSON.stringify(change(await this.ids(kv))), { ttlMs: s.keep_ms });
    });
    this.chain.set(tenant, next.catch(() => {}));
    return next;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
