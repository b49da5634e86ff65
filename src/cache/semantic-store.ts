/**
 * The semantic tier's entries in the StateStore (Redis with REDIS_URL, else in process), so every
 * instance finds another's entries, and the nearest-neighbour index of each scope in a worker
 * thread (src/cache/semantic-index/), kept incrementally and snapshotted to disk.
 *
 *   semcache:scope:<tenant>:<scope>   HASH  entry id → {"u": unit vector (base64 float32), "x": expiry ms, "e": encoded entry}
 *   semcache:scopes:<tenant>          HASH  scope → "1"        (for purge)
 *   semcache:tenants                  HASH  tenant → "1"       (for purge of all)
 *   semcache:j:<tenant>:<second>      HASH  "<scope>\n<id>" → the entry's record   (journal: what was added that second)
 *   semcache:epoch:<tenant>           STRING  changes on every purge
 *
 * Writes: one `applyWrites` per add (unconditional, atomic): entry ids are random, so two
 * instances adding to one scope in the same millisecond both land (issue 18's lost update came
 * from a time-based version per scope, where the second writer's version lost).
 *
 * Index: a scope is opened on its first lookup in this process — from its snapshot file (a
 * restart loads the graph instead of rebuilding it), else from the store in HSCAN steps (see
 * `loadFromStore`: the request thread is never held by one huge reply); lookups meanwhile wait for
 * the load up to OPEN_WAIT_MS, then answer from what is indexed so far (a hit is a real entry at
 * or over the threshold, possibly not the nearest until the load ends). Every
 * `refreshMs` (1 s) each tenant's journal buckets since the last poll are read and what other
 * instances added goes into the open scopes; a purge elsewhere (epoch changed) drops the
 * tenant's scopes. A snapshot older than the journal's window is reconciled with the store in
 * the background (missing entries added, deleted ones removed) while it already answers.
 * Expired entries are pruned from the index and the store every `pruneMs`; snapshots of changed
 * scopes are written every `saveMs` and on close. A match is read back with one HGET (so only
 * hits pay a store round trip for the entry itself).
 */
import type { HashWrite, StateStore } from "../stores/state-store.ts";
import { WorkerRpc } from "./worker-rpc.ts";
import { bucketKey, decodeSlice, decodeVector, encodeRecord, epochKey, indexKey, parseRecord, peekRecord, scopeKey, scopesKey, tenantPrefix, TENANTS_KEY } from "./semantic-index/records.ts";
import type { LocalEmbedder } from "./embedder/local-embedder.ts";

/** How long journal buckets are read back (a snapshot younger than this catches up from them). */
export const JOURNAL_WINDOW_MS = 60_000;
/** Longest a first lookup waits for its scope to load from the store before answering from what is there. */
export const OPEN_WAIT_MS = 1500;
/** Longest a lookup waits for the index worker (slower: a miss). */
export const LOOKUP_TIMEOUT_MS = 1000;
/** Fields read per HSCAN step when a scope is loaded from the store (measured: 1,000 — replies of ~2 MB — blocked the request thread twice as long at p99; bench/semantic-coldload.ts). */
export const LOAD_SCAN_COUNT = 500;
/** Records decoded between two yields to the event loop during a load (well under 1 ms of work). */
export const LOAD_PARSE_SLICE = 100;

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export interface SemanticMatch {
  /** The encoded entry of the best match at or over the threshold. */
  entry?: string;
  /** The best similarity found (undefined: the scope is empty). */
  similarity?: number;
}

export interface SemanticTierOptions {
  /** How often other instances' additions are picked up (default 500 ms). */
  refreshMs?: number;
  now?: () => number;
  /** Where scope snapshots are written (absent: no snapshots, a restart reloads from the store). */
  snapshotDir?: string;
  /** Entries from which a scope uses HNSW instead of exact search (default 1024). */
  crossover?: number;
  /** Expired entries removed every … (default 30 s). */
  pruneMs?: number;
  /** Changed scopes snapshotted every … (default 30 s). */
  saveMs?: number;
  /** The built-in local embedder (`embeddings_model: local`, the default); absent: provider embeddings only. */
  embedder?: LocalEmbedder;
}

interface OpenScope {
  tenant: string;
  scope: string;
}

export class SemanticTier {
  private readonly index: WorkerRpc;
  /** Worker key → scope, for scopes open in this process. */
  private readonly open = new Map<string, OpenScope>();
  private readonly opening = new Map<string, Promise<void>>();
  /** Per tenant with open scopes: the last journal second read and the purge epoch seen. */
  private readonly tenants = new Map<string, { polledSec: number; epoch: string | null; seen: Set<number> }>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private polling = false;
  private generation = 0;
  private closed = false;

  /** The built-in local embedder, when this gateway has one. */
  readonly embedder: LocalEmbedder | undefined;

  constructor(private readonly state: StateStore, private readonly opts: SemanticTierOptions = {}) {
    this.embedder = opts.embedder;
    this.index = new WorkerRpc(new URL("./semantic-index/index-worker.ts", import.meta.url), { dir: opts.snapshotDir, crossover: opts.crossover }, { timeoutMs: 10_000 });
    const every = (ms: number, f: () => Promise<unknown>) => {
      const t = setInterval(() => void f().catch(() => {}), ms);
      t.unref?.();
      this.timers.push(t);
    };
    every(opts.refreshMs ?? 500, () => this.poll());
    every(opts.pruneMs ?? 30_000, () => this.prune());
    // The index worker starts with the first scope opened: a gateway whose semantic tier is off never spawns it.
    if (opts.snapshotDir) every(opts.saveMs ?? 30_000, async () => (this.open.size ? this.index.call("save", { now: this.now() }) : undefined));
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Open a scope once per process (concurrent lookups share the work). */
  private ensure(tenant: string, scope: string): Promise<void> {
    // A crashed index worker comes back empty: every scope is opened again (snapshot or store).
    if (this.generation && this.index.generation !== this.generation) {
      this.open.clear();
      this.generation = this.index.generation;
    }
    const key = indexKey(tenant, scope);
    if (this.open.has(key)) return Promise.resolve();
    let p = this.opening.get(key);
    if (!p) {
      p = this.openScope(key, tenant, scope).finally(() => this.opening.delete(key));
      this.opening.set(key, p);
    }
    return p;
  }

  private async openScope(key: string, tenant: string, scope: string): Promise<void> {
    const now = this.now();
    if (!this.tenants.has(tenant)) this.tenants.set(tenant, { polledSec: Math.floor(now / 1000), epoch: await this.state.get(epochKey(tenant)), seen: new Set() });
    const r = await this.index.call<{ state: "memory" | "snapshot" | "none"; savedAt?: number }>("open", { key });
    if (!this.generation) this.generation = this.index.generation;
    this.open.set(key, { tenant, scope });
    if (r.state === "none") {
      // A large scope takes a while to index: lookups wait for the load, at most OPEN_WAIT_MS from
      // the first one, then answer from what is indexed so far — a hit is still a stored, live
      // entry at or over the threshold (read back with HGET), but until the load ends it may not
      // be the nearest one, and an entry not yet indexed is a miss.
      const load = this.loadFromStore(key, tenant, scope, false);
      load.catch(() => {});
      await Promise.race([load, new Promise((r) => setTimeout(r, OPEN_WAIT_MS).unref?.())]);
      return;
    }
    if (r.state === "snapshot") {
      // The snapshot answers now; what changed since it was written comes from the journal or, when it is too old, a reconcile.
      const since = r.savedAt ?? 0;
      if (now - since < JOURNAL_WINDOW_MS - 5000) void this.catchUp(tenant, Math.floor(since / 1000) - 2, Math.floor(now / 1000), key).catch(() => {});
      else void this.loadFromStore(key, tenant, scope, true).catch(() => {});
    }
  }

  /**
   * Every live entry of the scope from the store into the index; `reconcile` also removes what the
   * store no longer has. Read in HSCAN steps of {@link LOAD_SCAN_COUNT} fields (never one reply of
   * the whole hash); each step decoded in slices of {@link LOAD_PARSE_SLICE} records (vector and
   * expiry only, straight into the buffer the worker takes) with a yield to the event loop after
   * each, every slice posted to the index worker as it is decoded; the next step is read once the
   * worker has taken the previous one. Stops when the scope is dropped meanwhile (a purge, or the
   * worker restarted).
   */
  private async loadFromStore(key: string, tenant: string, scope: string, reconcile: boolean): Promise<void> {
    const hash = scopeKey(tenant, scope);
    const now = this.now();
    // The scope as this load found it open: a purge or a worker restart replaces (or removes) it.
    const mine = this.open.get(key);
    const live = () => mine !== undefined && this.open.get(key) === mine;
    const have = new Set<string>();
    const dead: string[] = [];
    let dims: number | undefined;
    let adding: Promise<unknown> = Promise.resolve();
    let cursor = "0";
    do {
      await adding;
      if (!live()) return;
      const { cursor: next, entries } = await this.state.hscan(hash, cursor, LOAD_SCAN_COUNT);
      cursor = next;
      for (let from = 0; from < entries.length; from += LOAD_PARSE_SLICE) {
        const part = decodeSlice(entries, from, Math.min(entries.length, from + LOAD_PARSE_SLICE), now, have, dead, dims);
        if (part) {
          dims = part.dims;
          adding = adding.then(() => (live() ? this.index.call("addMany", { key, ...part }, [part.vectors.buffer as ArrayBuffer], 60_000) : undefined));
        }
        await yieldToLoop();
      }
    } while (cursor !== "0");
    await adding;
    if (reconcile && live()) {
      const gone = (await this.index.call<string[]>("ids", { key })).filter((id) => !have.has(id));
      if (gone.length) await this.index.call("remove", { key, ids: gone });
    }
    if (dead.length) void this.state.applyWrites(dead.map((field) => ({ op: "hdel" as const, key: hash, field }))).catch(() => {});
  }

  /** Add vectors of one dimension count (others, from another embeddings model, are skipped). */
  private async addToIndex(key: string, ids: string[], xs: number[], vecs: Float32Array[]): Promise<void> {
    if (ids.length === 0) return;
    const dims = vecs[0]!.length;
    const keep = vecs.map((v, i) => (v.length === dims ? i : -1)).filter((i) => i >= 0);
    // Slices of 500: a lookup queued behind a bulk load waits for one slice at most.
    for (let start = 0; start < keep.length; start += 500) {
      const part = keep.slice(start, start + 500);
      const flat = new Float32Array(part.length * dims);
      part.forEach((i, j) => flat.set(vecs[i]!, j * dims));
      await this.index.call("addMany", { key, ids: part.map((i) => ids[i]!), xs: part.map((i) => xs[i]!), vectors: flat, dims }, [flat.buffer as ArrayBuffer], 60_000);
    }
  }

  /** Journal buckets [fromSec, toSec] of a tenant into its open scopes (or only `onlyKey`). */
  private async catchUp(tenant: string, fromSec: number, toSec: number, onlyKey?: string): Promise<void> {
    const now = this.now();
    const byKey = new Map<string, { ids: string[]; xs: number[]; vecs: Float32Array[] }>();
    const t = this.tenants.get(tenant);
    for (let sec = Math.max(fromSec, toSec - Math.ceil(JOURNAL_WINDOW_MS / 1000)); sec <= toSec; sec++) {
      const bucket = await this.state.hgetall(bucketKey(tenant, sec));
      const fields = Object.entries(bucket);
      if (fields.length) t?.seen.add(sec);
      for (const [field, raw] of fields) {
        const nl = field.indexOf("\n");
        const key = indexKey(tenant, field.slice(0, nl));
        if (onlyKey ? key !== onlyKey : !this.open.has(key)) continue;
        const r = parseRecord(raw);
        if (!r || r.x <= now) continue; // expired, or not a record: skipped
        const b = byKey.get(key) ?? { ids: [], xs: [], vecs: [] };
        b.ids.push(field.slice(nl + 1));
        b.xs.push(r.x);
        b.vecs.push(decodeVector(r.u));
        byKey.set(key, b);
      }
    }
    for (const [key, b] of byKey) await this.addToIndex(key, b.ids, b.xs, b.vecs);
  }

  /** Pick up other instances' additions and purges (every `refreshMs`). */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const nowSec = Math.floor(this.now() / 1000);
      for (const [tenant, t] of this.tenants) {
        const epoch = await this.state.get(epochKey(tenant));
        if (epoch !== t.epoch) {
          t.epoch = epoch;
          await this.dropTenant(tenant);
          continue;
        }
        // Two seconds of overlap: a write stamped by another instance's clock just before ours.
        await this.catchUp(tenant, t.polledSec - 2, nowSec);
        t.polledSec = nowSec;
        const old = [...t.seen].filter((sec) => sec < nowSec - JOURNAL_WINDOW_MS / 1000);
        if (old.length) {
          await this.state.applyWrites(old.map((sec) => ({ op: "del" as const, key: bucketKey(tenant, sec) })));
          for (const sec of old) t.seen.delete(sec);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  /** Remove expired entries from the index and the store. */
  private async prune(): Promise<void> {
    if (this.open.size === 0) return;
    const dead = await this.index.call<Array<{ key: string; ids: string[] }>>("prune", { now: this.now() });
    const writes: HashWrite[] = [];
    for (const { key, ids } of dead) {
      const s = this.open.get(key);
      if (s) for (const id of ids) writes.push({ op: "hdel", key: scopeKey(s.tenant, s.scope), field: id });
    }
    if (writes.length) await this.state.applyWrites(writes);
  }

  private async dropTenant(tenant: string): Promise<void> {
    const prefix = tenantPrefix(tenant);
    for (const key of [...this.open.keys()]) if (key.startsWith(prefix)) this.open.delete(key);
    await this.index.call("drop", { prefix });
  }

  /** The best match in a scope: an entry when its similarity reaches `threshold`. */
  async nearest(tenant: string, scope: string, unit: Float32Array, threshold: number): Promise<SemanticMatch> {
    await this.ensure(tenant, scope);
    const key = indexKey(tenant, scope);
    const query = new Float32Array(unit);
    const best = await this.index.call<{ id: string; similarity: number } | null>("nearest", { key, vector: query, now: this.now() }, [query.buffer as ArrayBuffer], LOOKUP_TIMEOUT_MS);
    if (!best) return {};
    if (best.similarity < threshold) return { similarity: best.similarity };
    const rec = parseRecord(await this.state.hget(scopeKey(tenant, scope), best.id));
    if (!rec || rec.x <= this.now()) {
      // Gone from the store (purged or expired elsewhere): gone from the index too.
      void this.index.call("remove", { key, ids: [best.id] }).catch(() => {});
      return { similarity: best.similarity };
    }
    return { similarity: best.similarity, entry: rec.e };
  }

  /** Store an entry in the StateStore (and its journal) and in the local index. */
  async add(tenant: string, scope: string, unit: Float32Array, entry: string, expiresAt: number): Promise<void> {
    const id = crypto.randomUUID();
    const record = encodeRecord(unit, expiresAt, entry);
    const sec = Math.floor(this.now() / 1000);
    await this.state.applyWrites([
      { op: "hset", key: scopeKey(tenant, scope), field: id, value: record },
      { op: "hset", key: scopesKey(tenant), field: scope, value: "1" },
      { op: "hset", key: TENANTS_KEY, field: tenant, value: "1" },
      { op: "hset", key: bucketKey(tenant, sec), field: `${scope}\n${id}`, value: record },
      // Journal buckets are read for a minute; every writer also clears the one of two minutes ago.
      { op: "del", key: bucketKey(tenant, sec - 2 * Math.ceil(JOURNAL_WINDOW_MS / 1000)) },
    ]);
    const key = indexKey(tenant, scope);
    if (this.open.has(key)) await this.addToIndex(key, [id], [expiresAt], [unit]);
  }

  /** Live entries of one tenant or all. */
  async size(tenant?: string): Promise<number> {
    let n = 0;
    const now = this.now();
    for (const t of await this.tenantIds(tenant)) {
      for (const scope of Object.keys(await this.state.hgetall(scopesKey(t)))) {
        await this.scanScope(t, scope, (_, raw) => void ((peekRecord(raw)?.x ?? 0) > now && n++));
      }
    }
    return n;
  }

  /** Delete every entry of one tenant or of all; indexes and snapshots are dropped here and, within `refreshMs`, on every instance. */
  async purge(tenant?: string): Promise<number> {
    let n = 0;
    for (const t of await this.tenantIds(tenant)) {
      const scopes = Object.keys(await this.state.hgetall(scopesKey(t)));
      for (const scope of scopes) {
        n += await this.scanScope(t, scope, () => {});
        await this.state.del(scopeKey(t, scope));
      }
      await this.state.del(scopesKey(t));
      const epoch = crypto.randomUUID();
      await this.state.set(epochKey(t), epoch);
      const known = this.tenants.get(t);
      if (known) known.epoch = epoch;
      await this.dropTenant(t);
    }
    if (tenant === undefined) {
      await this.state.del(TENANTS_KEY);
      this.open.clear();
      await this.index.call("drop", { prefix: "" });
    }
    return n;
  }

  /** Index statistics of this process (scopes open, of which HNSW, entries). */
  stats(): Promise<{ scopes: number; hnsw_scopes: number; entries: number }> {
    return this.index.call("stats", {});
  }

  /** Snapshot changed scopes and stop the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.opts.snapshotDir && this.open.size) await this.index.call("save", { now: this.now() }).catch(() => {});
    await this.index.close();
  }

  /** Every field of a scope's hash once, in HSCAN steps with a yield between them (a scope may hold 100k records); returns how many. */
  private async scanScope(tenant: string, scope: string, each: (id: string, raw: string) => void): Promise<number> {
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const step = await this.state.hscan(scopeKey(tenant, scope), cursor, LOAD_SCAN_COUNT);
      cursor = step.cursor;
      for (const [id, raw] of step.entries) if (!seen.has(id)) (seen.add(id), each(id, raw));
      await yieldToLoop();
    } while (cursor !== "0");
    return seen.size;
  }

  private async tenantIds(tenant?: string): Promise<string[]> {
    return tenant !== undefined ? [tenant] : Object.keys(await this.state.hgetall(TENANTS_KEY));
  }
}
