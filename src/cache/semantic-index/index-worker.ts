/**
 * Worker thread that holds every semantic scope's index ({@link ScopeIndex}) of this process, so
 * no search, add, graph growth or snapshot load ever runs on the request thread. Snapshots are
 * files `<dir>/<key>.{json,usearch,f32}`; a scope's key is `<tenant hash>-<scope hash>` (purging
 * a tenant drops every key with its prefix).
 */
import { parentPort, workerData } from "node:worker_threads";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { serveRpc } from "../worker-rpc.ts";
import { ScopeIndex, type HnswParams } from "./scope-index.ts";

const { dir, crossover, hnsw } = workerData as { dir?: string; crossover?: number; hnsw?: HnswParams };
const opts = { ...(crossover ? { crossover } : {}), ...(hnsw ? { hnsw } : {}) };
const scopes = new Map<string, ScopeIndex>();
if (dir) mkdirSync(dir, { recursive: true });
const base = (key: string) => join(dir!, key);

serveRpc(parentPort!, {
  /** Make a scope available: in memory already, or from its snapshot. */
  open({ key }: { key: string }) {
    const cur = scopes.get(key);
    if (cur) return { state: "memory", size: cur.size };
    const snap = dir ? ScopeIndex.load(base(key), opts) : undefined;
    if (!snap) return { state: "none" };
    scopes.set(key, snap.index);
    return { state: "snapshot", size: snap.index.size, savedAt: snap.savedAt };
  },
  /** Add entries (rows of `vectors`); ids already present are skipped unless `replace`. */
  addMany({ key, ids, xs, vectors, dims, replace }: { key: string; ids: string[]; xs: number[]; vectors: Float32Array; dims: number; replace?: boolean }) {
    let idx = scopes.get(key);
    if (!idx) scopes.set(key, (idx = new ScopeIndex(dims, opts)));
    if (idx.dims !== dims) return 0; // another embeddings model's vectors
    let added = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!replace && idx.has(ids[i]!)) continue;
      idx.add(ids[i]!, vectors.subarray(i * dims, (i + 1) * dims), xs[i]!);
      added++;
    }
    return added;
  },
  remove({ key, ids }: { key: string; ids: string[] }) {
    const idx = scopes.get(key);
    let n = 0;
    if (idx) for (const id of ids) if (idx.remove(id)) n++;
    return n;
  },
  nearest({ key, vector, now }: { key: string; vector: Float32Array; now: number }) {
    return scopes.get(key)?.nearest(vector, now) ?? null;
  },
  ids({ key }: { key: string }) {
    return scopes.get(key)?.ids() ?? [];
  },
  /** Remove expired entries everywhere; what was removed, per scope. */
  prune({ now }: { now: number }) {
    const out: Array<{ key: string; ids: string[] }> = [];
    for (const [key, idx] of scopes) {
      const ids = idx.prune(now);
      if (ids.length) out.push({ key, ids });
    }
    return out;
  },
  /** Snapshot every changed scope. */
  save({ now }: { now: number }) {
    if (!dir) return 0;
    let n = 0;
    for (const [key, idx] of scopes) {
      if (!idx.dirty) continue;
      if (idx.size === 0) ScopeIndex.remove(base(key));
      else idx.save(base(key), now);
      n++;
    }
    return n;
  },
  /** Forget scopes (and their snapshots) whose key starts with `prefix` ("" = all). */
  drop({ prefix }: { prefix: string }) {
    for (const key of [...scopes.keys()]) if (key.startsWith(prefix)) scopes.delete(key);
    if (dir) for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith(".json")) ScopeIndex.remove(base(f.slice(0, -5)));
    return true;
  },
  stats() {
    let entries = 0;
    let hnswScopes = 0;
    for (const idx of scopes.values()) {
      entries += idx.size;
      if (idx.kind === "hnsw") hnswScopes++;
    }
    return { scopes: scopes.size, hnsw_scopes: hnswScopes, entries };
  },
});
