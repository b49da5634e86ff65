/**
 * Semantic index benchmark: lookup time vs entries per scope (1k, 10k, 100k) for the exact
 * cosine search over one contiguous Float32Array (src/cache/semantic.ts, what the gateway uses)
 * and for usearch's HNSW index (approximate; a devDependency, loaded only here), same vectors,
 * same queries, same run.
 *
 *   bun run bench/semantic-index.ts            DIMS=384 QUERIES=200 bun run bench/semantic-index.ts
 */
import usearch from "usearch";
import { normalized, VectorIndex } from "../src/cache/semantic.ts";

const DIMS = Number(process.env.DIMS ?? 384);
const QUERIES = Number(process.env.QUERIES ?? 200);
const SIZES = (process.env.SIZES ?? "1000,10000,100000").split(",").map(Number);

let seed = 42;
const rand = () => ((seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 0xffffffff - 0.5;
const vec = () => normalized(Array.from({ length: DIMS }, rand))!;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

console.log(`dims ${DIMS}, ${QUERIES} queries per size, ${new Date().toISOString()}\n`);
console.log("| entries | exact p50 | exact p99 | usearch p50 | usearch p99 | usearch build | usearch recall@1 |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const n of SIZES) {
  const vectors = Array.from({ length: n }, vec);
  const exact = new VectorIndex(DIMS, n);
  vectors.forEach((v, i) => exact.add(String(i), v, Number.MAX_SAFE_INTEGER));
  const t0 = performance.now();
  const hnsw = new (usearch as any).Index({ metric: "cos", connectivity: 16, dimensions: DIMS });
  const keys = new BigUint64Array(n).map((_, i) => BigInt(i));
  const flat = new Float32Array(n * DIMS);
  vectors.forEach((v, i) => flat.set(v, i * DIMS));
  hnsw.add(keys, flat);
  const build = performance.now() - t0;
  // Queries near stored vectors (a paraphrase of something asked before).
  const queries = Array.from({ length: QUERIES }, () => {
    const base = vectors[Math.floor(Math.abs(rand()) * 2 * n) % n]!;
    return normalized(Array.from(base, (x) => x + rand() * 0.02))!;
  });
  const te: number[] = [];
  const tu: number[] = [];
  let agree = 0;
  for (const q of queries) {
    let s = performance.now();
    const a = exact.nearest(q, 0)!;
    te.push(performance.now() - s);
    s = performance.now();
    const b = hnsw.search(q, 1);
    tu.push(performance.now() - s);
    if (String(b.keys[0]) === a.id) agree++;
  }
  const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
  console.log(`| ${n.toLocaleString("en")} | ${ms(pct(te, 0.5))} | ${ms(pct(te, 0.99))} | ${ms(pct(tu, 0.5))} | ${ms(pct(tu, 0.99))} | ${(build / 1000).toFixed(2)} s | ${((agree / QUERIES) * 100).toFixed(0)}% |`);
}
