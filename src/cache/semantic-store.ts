/**
 * The semantic tier's entries in the StateStore (Redis with REDIS_URL, else in process), so every
 * instance finds another's entries, and an in-process index per scope rebuilt from there.
 *
 *   semcache:scope:<tenant>:<scope>   HASH  entry id → {"u": unit vector (base64 float32), "x": expiry ms, "e": encoded entry}
 *   semcache:scopes:<tenant>          HASH  scope → "1"        (for purge)
 *   semcache:tenants                  HASH  tenant → "1"       (for purge of all)
 *
 * Writes go through `applyVersioned` (the StateStore's one multi-key write) with a time-based
 * version per scope. An index is loaded with one HGETALL the first time a scope is searched (how
 * a restarted instance rebuilds) and reloaded in the background once older than `refreshMs` (how
 * an instance picks up entries another one wrote). Expired entries are skipped on load and
 * dropped from the store then.
 */
import type { StateStore } from "../stores/state-store.ts";
import { VectorIndex } from "./semantic.ts";

interface Loaded {
  index: VectorIndex | undefined;
  entries: Map<string, string>;
  loadedAt: number;
}

export interface SemanticMatch {
  /** The encoded entry of the best match at or over the threshold. */
  entry?: string;
  /** The best similarity found (undefined: the scope is empty). */
  similarity?: number;
}

export class SemanticTier {
  private readonly scopes = new Map<string, Loaded>();
  private readonly reloading = new Set<string>();
  private seq = 0;

  constructor(private readonly state: StateStore, private readonly opts: { refreshMs?: number; now?: () => number } = {}) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private static scopeKey(tenant: string, scope: string): string {
    return `semcache:scope:${tenant}:${scope}`;
  }

  /**
   * A scope's index: loaded from the store on first use (one HGETALL); afterwards, when older than
   * `refreshMs`, the current index answers while a reload runs in the background (one at a time
   * per scope), so a lookup waits for the store only the first time.
   */
  private async load(tenant: string, scope: string): Promise<Loaded> {
    const key = `${tenant}\u0000${scope}`;
    const cur = this.scopes.get(key);
    if (!cur) return this.reload(tenant, scope);
    if (this.now() - cur.loadedAt >= (this.opts.refreshMs ?? 1000) && !this.reloading.has(key)) {
      this.reloading.add(key);
      void this.reload(tenant, scope).catch(() => {}).finally(() => this.reloading.delete(key));
    }
    return cur;
  }

  private async reload(tenant: string, scope: string): Promise<Loaded> {
    const key = `${tenant}\u0000${scope}`;
    const now = this.now();
    const all = await this.state.hgetall(SemanticTier.scopeKey(tenant, scope));
    const loaded: Loaded = { index: undefined, entries: new Map(), loadedAt: now };
    const dead: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      try {
        const r = JSON.parse(raw) as { u: string; x: number; e: string };
        if (r.x <= now) {
          dead.push(id);
          continue;
        }
        const buf = Buffer.from(r.u, "base64");
        const unit = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        loaded.index ??= new VectorIndex(unit.length);
        if (unit.length !== loaded.index.dims) continue; // another embeddings model's vector
        loaded.index.add(id, unit, r.x);
        loaded.entries.set(id, r.e);
      } catch {
        dead.push(id);
      }
    }
    this.scopes.set(key, loaded);
    if (dead.length) void this.write(tenant, scope, dead.map((field) => ({ op: "hdel" as const, key: SemanticTier.scopeKey(tenant, scope), field }))).catch(() => {});
    return loaded;
  }

  private write(tenant: string, scope: string, writes: Parameters<StateStore["applyVersioned"]>[2]): Promise<boolean> {
    // Time-based version, unique within this process; another instance's concurrent write to the same scope may lose (a missed entry, never a wrong one).
    const version = this.now() * 1000 + (this.seq++ % 1000);
    return this.state.applyVersioned(`semcache:ver:${tenant}:${scope}`, version, writes);
  }

  /** The best match in a scope: an entry when its similarity reaches `threshold`. */
  async nearest(tenant: string, scope: string, unit: Float32Array, threshold: number): Promise<SemanticMatch> {
    const loaded = await this.load(tenant, scope);
    const best = loaded.index?.nearest(unit, this.now());
    if (!best) return {};
    const entry = best.similarity >= threshold ? loaded.entries.get(best.id) : undefined;
    return { similarity: best.similarity, ...(entry ? { entry } : {}) };
  }

  /** Store an entry in the StateStore and the local index. */
  async add(tenant: string, scope: string, unit: Float32Array, entry: string, expiresAt: number): Promise<void> {
    const id = crypto.randomUUID();
    const value = JSON.stringify({ u: Buffer.from(unit.buffer, unit.byteOffset, unit.byteLength).toString("base64"), x: expiresAt, e: entry });
    await this.write(tenant, scope, [
      { op: "hset", key: SemanticTier.scopeKey(tenant, scope), field: id, value },
      { op: "hset", key: `semcache:scopes:${tenant}`, field: scope, value: "1" },
      { op: "hset", key: "semcache:tenants", field: tenant, value: "1" },
    ]);
    const loaded = this.scopes.get(`${tenant}\u0000${scope}`);
    if (loaded) {
      loaded.index ??= new VectorIndex(unit.length);
      if (unit.length === loaded.index.dims) {
        loaded.index.add(id, unit, expiresAt);
        loaded.entries.set(id, entry);
      }
    }
  }

  /** Live entries of one tenant or all. */
  async size(tenant?: string): Promise<number> {
    let n = 0;
    const now = this.now();
    for (const t of await this.tenants(tenant)) {
      for (const scope of Object.keys(await this.state.hgetall(`semcache:scopes:${t}`))) {
        for (const raw of Object.values(await this.state.hgetall(SemanticTier.scopeKey(t, scope)))) {
          try {
            if ((JSON.parse(raw) as { x: number }).x > now) n++;
          } catch {
            /* skip */
          }
        }
      }
    }
    return n;
  }

  /** Delete every entry of one tenant or of all; local indexes are dropped. */
  async purge(tenant?: string): Promise<number> {
    let n = 0;
    for (const t of await this.tenants(tenant)) {
      const scopes = Object.keys(await this.state.hgetall(`semcache:scopes:${t}`));
      for (const scope of scopes) {
        n += Object.keys(await this.state.hgetall(SemanticTier.scopeKey(t, scope))).length;
        await this.state.del(SemanticTier.scopeKey(t, scope));
        this.scopes.delete(`${t}\u0000${scope}`);
      }
      await this.state.del(`semcache:scopes:${t}`);
    }
    if (tenant === undefined) {
      await this.state.del("semcache:tenants");
      this.scopes.clear();
    }
    return n;
  }

  private async tenants(tenant?: string): Promise<string[]> {
    return tenant !== undefined ? [tenant] : Object.keys(await this.state.hgetall("semcache:tenants"));
  }
}
