/**
 * One semantic scope's nearest-neighbour index: exact search (one contiguous Float32Array,
 * {@link VectorIndex}) while the scope is small, an approximate HNSW graph (usearch) once it
 * passes `crossover` entries — exact is both faster and perfect there, HNSW keeps a lookup near
 * a millisecond at 100k entries (bench/semantic-index.ts, docs/benchmarks.md). Kept
 * incrementally: add on store, remove on expiry and purge, never rebuilt per request.
 *
 * Vectors are unit length; similarity is the dot product. Entries carry their expiry: a search
 * skips expired ones, `prune` removes them. `save`/`load` persist the scope (a snapshot) so a
 * restart loads it instead of rebuilding the graph.
 */
import { existsSync, readFileSync, renameSync, writeFileSync, unlinkSync } from "node:fs";
import { Index, MetricKind, ScalarKind } from "usearch";
import { VectorIndex } from "../semantic.ts";

/** Entries from which a scope switches from exact search to HNSW (measured: bench/semantic-index.ts). */
export const DEFAULT_CROSSOVER = 1024;

export interface HnswParams {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/** Chosen for recall@1 ≥ 0.95 at 100k with add ≤ 1 ms (bench/semantic-index.ts). */
export const DEFAULT_HNSW: HnswParams = { connectivity: 16, expansionAdd: 64, expansionSearch: 128 };

interface Meta {
  v: 1;
  dims: number;
  savedAt: number;
  kind: "exact" | "hnsw";
  /** [label, id, expiresAt] of every entry. */
  entries: Array<[number, string, number]>;
}

export class ScopeIndex {
  private exact: VectorIndex | undefined;
  private hnsw: Index | undefined;
  private readonly labelOf = new Map<string, number>();
  private readonly idOf = new Map<number, string>();
  private readonly expiry = new Map<number, number>();
  private nextLabel = 1;
  /** Changed since the last save. */
  dirty = false;

  constructor(readonly dims: number, private readonly opts: { crossover?: number; hnsw?: HnswParams } = {}) {
    this.exact = new VectorIndex(dims);
  }

  get size(): number {
    return this.labelOf.size;
  }

  get kind(): "exact" | "hnsw" {
    return this.hnsw ? "hnsw" : "exact";
  }

  has(id: string): boolean {
    return this.labelOf.has(id);
  }

  ids(): string[] {
    return [...this.labelOf.keys()];
  }

  private newHnsw(): Index {
    const p = this.opts.hnsw ?? DEFAULT_HNSW;
    return new Index({ dimensions: this.dims, metric: MetricKind.IP, quantization: ScalarKind.F32, connectivity: p.connectivity, expansion_add: p.expansionAdd, expansion_search: p.expansionSearch, multi: false });
  }

  /** Add (or replace) an entry. */
  add(id: string, unit: Float32Array, expiresAt: number): void {
    if (unit.length !== this.dims) throw new RangeError(`vector has ${unit.length} dimensions, the index ${this.dims}`);
    if (this.labelOf.has(id)) this.remove(id);
    const label = this.nextLabel++;
    this.labelOf.set(id, label);
    this.idOf.set(label, id);
    this.expiry.set(label, expiresAt);
    this.dirty = true;
    if (this.hnsw) {
      this.hnsw.add(BigInt(label), unit, 1);
      return;
    }
    this.exact!.add(String(label), unit, expiresAt);
    if (this.exact!.size > (this.opts.crossover ?? DEFAULT_CROSSOVER)) this.promote();
  }

  /** Exact → HNSW: every vector of the exact index into a new graph (once, when the scope passes the crossover). */
  private promote(): void {
    const ex = this.exact!;
    const h = this.newHnsw();
    for (const [label] of this.idOf) h.add(BigInt(label), ex.vector(String(label))!, 1);
    this.hnsw = h;
    this.exact = undefined;
  }

  remove(id: string): boolean {
    const label = this.labelOf.get(id);
    if (label === undefined) return false;
    this.labelOf.delete(id);
    this.idOf.delete(label);
    this.expiry.delete(label);
    if (this.hnsw) this.hnsw.remove(BigInt(label));
    else this.exact!.remove(String(label));
    this.dirty = true;
    return true;
  }

  /** The most similar live entry (expiry after `now`). */
  nearest(unit: Float32Array, now: number): { id: string; similarity: number } | undefined {
    if (unit.length !== this.dims || this.size === 0) return undefined;
    if (!this.hnsw) {
      const best = this.exact!.nearest(unit, now);
      return best ? { id: this.idOf.get(Number(best.id))!, similarity: best.similarity } : undefined;
    }
    // A few candidates, so an expired entry not yet pruned does not hide the next best.
    const m = this.hnsw.search(unit, Math.min(4, this.size), 1);
    for (let i = 0; i < m.keys.length; i++) {
      const label = Number(m.keys[i]);
      const x = this.expiry.get(label);
      if (x === undefined || x <= now) continue;
      return { id: this.idOf.get(label)!, similarity: Math.min(1, 1 - m.distances[i]!) };
    }
    return undefined;
  }

  /** Remove expired entries; their ids. */
  prune(now: number): string[] {
    const dead: string[] = [];
    for (const [label, x] of this.expiry) if (x <= now) dead.push(this.idOf.get(label)!);
    for (const id of dead) this.remove(id);
    return dead;
  }

  /** Persist to `<base>.json` (+ `<base>.usearch` for a graph, `<base>.f32` for exact), atomically per file. */
  save(base: string, now: number): void {
    const entries: Meta["entries"] = [];
    for (const [label, id] of this.idOf) entries.push([label, id, this.expiry.get(label)!]);
    if (this.hnsw) {
      this.hnsw.save(`${base}.usearch.tmp`);
      renameSync(`${base}.usearch.tmp`, `${base}.usearch`);
    } else {
      const rows = new Float32Array(entries.length * this.dims);
      entries.forEach(([label], i) => rows.set(this.exact!.vector(String(label))!, i * this.dims));
      writeFileSync(`${base}.f32.tmp`, new Uint8Array(rows.buffer));
      renameSync(`${base}.f32.tmp`, `${base}.f32`);
    }
    const meta: Meta = { v: 1, dims: this.dims, savedAt: now, kind: this.kind, entries };
    writeFileSync(`${base}.json.tmp`, JSON.stringify(meta));
    renameSync(`${base}.json.tmp`, `${base}.json`);
    this.dirty = false;
  }

  /** Load a snapshot written by {@link save}; undefined when there is none (or it is unreadable). */
  static load(base: string, opts: { crossover?: number; hnsw?: HnswParams } = {}): { index: ScopeIndex; savedAt: number } | undefined {
    try {
      if (!existsSync(`${base}.json`)) return undefined;
      const meta = JSON.parse(readFileSync(`${base}.json`, "utf8")) as Meta;
      if (meta.v !== 1) return undefined;
      const idx = new ScopeIndex(meta.dims, opts);
      if (meta.kind === "hnsw") {
        const h = idx.newHnsw();
        h.load(`${base}.usearch`);
        idx.hnsw = h;
        idx.exact = undefined;
      } else {
        const buf = readFileSync(`${base}.f32`);
        const rows = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
        meta.entries.forEach(([label, , x], i) => idx.exact!.add(String(label), rows.subarray(i * meta.dims, (i + 1) * meta.dims), x));
      }
      for (const [label, id, x] of meta.entries) {
        idx.labelOf.set(id, label);
        idx.idOf.set(label, id);
        idx.expiry.set(label, x);
        if (label >= idx.nextLabel) idx.nextLabel = label + 1;
      }
      return { index: idx, savedAt: meta.savedAt };
    } catch {
      return undefined;
    }
  }

  static remove(base: string): void {
    for (const ext of [".json", ".usearch", ".f32"]) {
      try {
        unlinkSync(base + ext);
      } catch {
        /* absent */
      }
    }
  }
}
