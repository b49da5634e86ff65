/**
 * Operator-plugin hook overhead per request, in one process and one run (the machine is shared:
 * only differences within a run mean anything). Each configuration runs the full pipeline
 * (built-ins + echo provider) on the same request; the operator plugin is a no-op `inspect`.
 *
 *   bun run bench/plugins.ts            N=20000 CONCURRENCY=32
 *
 * - none: built-ins only (the baseline; what every gateway without operator plugins pays)
 * - trusted: a no-op plugin passed as a built-in (no guard) — the raw cost of one hook
 * - single-file: today's form, loaded from the plugins dir (guard: timeout, breaker, stats)
 * - inline: a folder plugin, isolation inline (guard + restricted ctx view)
 * - worker: a folder plugin, isolation worker (guard + a round trip to its thread)
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { emptySnapshot } from "../src/config/snapshot.ts";
import type { Ctx } from "../src/pipeline/context.ts";
import { definePlugin, type Plugin } from "../src/pipeline/plugin.ts";
import { Pipeline } from "../src/pipeline/runner.ts";
import { builtinPlugins } from "../src/main.ts";
import { echoProvider } from "../src/providers/echo.ts";
import { MemoryStateStore } from "../src/stores/memory-state-store.ts";
import { loadOperatorPlugins, pluginCatalog } from "../src/pipeline/operator/index.ts";

const N = Number(process.env.N ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const API = resolve(import.meta.dir, "../src/pipeline/operator/api.ts");
const LEGACY = resolve(import.meta.dir, "../src/pipeline/plugin.ts");
const echo = echoProvider();
const store = new MemoryStateStore();

function ctx(i: number): Ctx {
  const aborter = new AbortController();
  return {
    requestId: `r${i}`,
    startedAt: performance.now(),
    endpoint: "chat.completions",
    request: { model: "echo", messages: [{ role: "user", content: "hello there, how are you today?" }] },
    operation: "chat",
    stream: false,
    principal: { tenant: "t1" },
    meta: {},
    config: emptySnapshot(),
    providers: { get: (id) => (id === "echo" ? echo : undefined), list: () => [echo] },
    attempts: 0,
    costUsd: 0,
    responseHeaders: {},
    signal: aborter.signal,
    timings: {},
    state: {},
    emit: () => {},
  };
}

async function fromDir(setup: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-plugins-"));
  setup(dir);
  const loaded = await loadOperatorPlugins({ dir, store, catalog: pluginCatalog(), quiet: true });
  return { plugins: loaded.pipelinePlugins, stop: async () => (await loaded.host.stop(), rmSync(dir, { recursive: true, force: true })) };
}
function folder(dir: string, isolation: "inline" | "worker") {
  mkdirSync(join(dir, "noop"));
  writeFileSync(join(dir, "noop", "manifest.ts"), `import { defineManifest } from "${API}";\nexport default defineManifest({ name: "noop", version: "1", phases: ["inspect"], isolation: "${isolation}", timeoutMs: 1000 });\n`);
  writeFileSync(join(dir, "noop", "index.ts"), `import { definePlugin } from "${API}";\nexport default definePlugin({ hooks: { inspect(ctx) { if (ctx.request.messages.length > 99) ctx.emit({ type: "never", payload: {} }); } } });\n`);
}

const trusted: Plugin = definePlugin({ name: "noop", version: "1", phases: { inspect(c) { if (c.request.messages.length > 99) c.emit({ type: "never", payload: {} }); } } });

const ROUNDS = Number(process.env.ROUNDS ?? 4);

/** Sequential latencies of `n` requests, then `n` more at CONCURRENCY (req/s). */
async function round(pipeline: Pipeline, n: number) {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await pipeline.run(ctx(i));
    lat.push(performance.now() - t0);
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      next++;
      await pipeline.run(ctx(next));
    }
  }));
  return { lat, secs: (performance.now() - t0) / 1000 };
}

const file = await fromDir((d) => writeFileSync(join(d, "noop.ts"), `import { definePlugin } from "${LEGACY}";\nexport default definePlugin({ name: "noop", version: "1", phases: { inspect(c) { if (c.request.messages.length > 99) c.emit({ type: "never", payload: {} }); } } });\n`));
const inline = await fromDir((d) => folder(d, "inline"));
const worker = await fromDir((d) => folder(d, "worker"));
const configs: [string, Pipeline][] = [
  ["none (built-ins only)", new Pipeline(builtinPlugins(undefined, store))],
  ["trusted no-op (no guard)", new Pipeline([...builtinPlugins(undefined, store), trusted])],
  ["single-file (guarded)", new Pipeline([...builtinPlugins(undefined, store), ...file.plugins])],
  ["folder, inline", new Pipeline([...builtinPlugins(undefined, store), ...inline.plugins])],
  ["folder, worker", new Pipeline([...builtinPlugins(undefined, store), ...worker.plugins])],
];
for (const [, p] of configs) for (let i = 0; i < 2000; i++) await p.run(ctx(i)); // warm up
// Interleaved rounds: each configuration sees the same machine load on average.
const acc = configs.map(() => ({ lat: [] as number[], secs: 0 }));
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [, p]] of configs.entries()) {
    const out = await round(p, Math.ceil(N / ROUNDS));
    acc[i]!.lat.push(...out.lat);
    acc[i]!.secs += out.secs;
  }
}
const rows = configs.map(([name], i) => {
  const sorted = acc[i]!.lat.sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! * 1000;
  return { name, p50_us: q(0.5), p90_us: q(0.9), p99_us: q(0.99), rps: sorted.length / acc[i]!.secs };
});
const base = rows[0]!;
console.log(`N=${N} sequential requests per configuration (latency) + N at concurrency ${CONCURRENCY} (throughput), ${ROUNDS} interleaved rounds; bun ${Bun.version}`);
console.log(`| configuration | p50 µs | p90 µs | p99 µs | p50 overhead vs none (µs) | req/s at c=${CONCURRENCY} |`);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.name} | ${r.p50_us.toFixed(1)} | ${r.p90_us.toFixed(1)} | ${r.p99_us.toFixed(1)} | ${(r.p50_us - base.p50_us).toFixed(1)} | ${Math.round(r.rps)} |`);
await Promise.all([file.stop(), inline.stop(), worker.stop()]);
await store.close();
