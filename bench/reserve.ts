/**
 * Token reservation without full tokenization (issue 30): what the limits plugin costs per
 * request for 1 KB and 32 KB prompts, now (cheap bound) and before (o200k count of every prompt).
 *
 *   bun run bench/reserve.ts                               # in-process parts only
 *   BENCH_BASELINE_ROOT=/tmp/before bun run bench/reserve.ts   # + the same against an older tree
 *
 * 1. The prompt figure alone: countPromptTokens (exact) vs the byte bound, µs per request.
 * 2. The limits plugin in-process (route + onEnd on the memory store, a key with RPM + TPM +
 *    budget), µs per request, now vs the baseline tree's plugin when given (interleaved rounds).
 * 3. End to end: a gateway process (embedded store) in front of bench/mock-upstream.ts, a key with
 *    RPM + TPM + budget, c=4; the gateway's CPU µs per request (/proc utime+stime), now vs baseline.
 *
 * A baseline tree: `mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before &&
 * ln -s $PWD/node_modules /tmp/before/node_modules`.
 */
import { join, resolve } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { cpuMs, httpOk, start, stop, waitUntil } from "./lib/proc.ts";
import { freePort } from "../test/helpers/services.ts";

const ROOT = resolve(import.meta.dir, "..");
const BASE = process.env.BENCH_BASELINE_ROOT;
const BUN = process.execPath;

const WORDS = "the gateway reserves tokens from a cheap bound and settles from the reported usage while budgets stay exact".split(" ");
function prompt(bytes: number): string {
  let s = "";
  for (let i = 0; s.length < bytes; i++) s += WORDS[(i * 7 + (i >> 3)) % WORDS.length] + (i % 17 === 16 ? ". " : " ");
  return s.slice(0, bytes);
}
const SIZES = [["1 KB", prompt(1024)], ["32 KB", prompt(32 * 1024)]] as const;
/** Ten flat (not concatenated-rope) variants of a prompt, as JSON.parse would hand them over. */
const variants = (text: string) => Array.from({ length: 10 }, (_, i) => Buffer.from(`${i} ${text}`).toString("utf8"));

function timeIt(n: number, f: (i: number) => unknown): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  return ((performance.now() - t0) * 1000) / n;
}

// ---- 1. the prompt figure alone ------------------------------------------------------------
const { countPromptTokens } = await import(join(ROOT, "src/providers/tokens.ts"));
const { promptTokenBoundOf, promptExtras } = await import(join(ROOT, "src/pipeline/prompt-bound.ts"));
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (2 shared cores)\n`);
console.log("### 1. The prompt figure per request (µs)\n\n| prompt | exact o200k count | byte bound | bound / exact (tokens) |\n| --- | --- | --- | --- |");
for (const [label, text] of SIZES) {
  const n = label === "1 KB" ? 3000 : 200;
  // A fresh message per call: no memo between requests.
  const v = variants(text);
  const exact = timeIt(n, (i) => countPromptTokens([{ role: "user", content: v[i % 10] }]));
  const bound = timeIt(n * 10, (i) => {
    const req = { messages: [{ role: "user" as const, content: v[i % 10]! }] };
    return promptTokenBoundOf(req.messages) + promptExtras(req, false);
  });
  const m = [{ role: "user" as const, content: text }];
  console.log(`| ${label} | ${exact.toFixed(1)} | ${bound.toFixed(2)} | ${(promptTokenBoundOf(m) / countPromptTokens(m)).toFixed(2)} |`);
}

// ---- 2. the limits plugin in-process -------------------------------------------------------
async function pluginBench(root: string) {
  const { limitsPlugin } = await import(join(root, "src/plugins/limits.ts"));
  const { MemoryStateStore } = await import(join(root, "src/stores/memory-state-store.ts"));
  const { testCtx } = await import(join(root, "test/pipeline/helpers.ts"));
  const plugin = limitsPlugin(new MemoryStateStore());
  const key = { id: "bench", rpm_limit: 1e9, tpm_limit: 1e12, budget: { amount_usd: 1e9, period: "day" } };
  let seq = 0;
  return async (text: string, n: number): Promise<number> => {
    const v = variants(text);
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const { ctx } = testCtx({ messages: [{ role: "user", content: v[i % 10] }], max_tokens: 64 });
      ctx.requestId = `r${++seq}`;
      ctx.config = { ...ctx.config, prices: { "mock/gpt-4o-mini": { input: 0.15, output: 0.6 } } };
      ctx.target = { provider: { id: "mock", kind: "openai" }, model: "gpt-4o-mini", requested: "gpt-4o-mini" };
      ctx.state["auth.key"] = key;
      await plugin.phases.route(ctx);
      await plugin.phases.onEnd(ctx, { status: "ok", httpStatus: 200, usage: { prompt_tokens: 250, completion_tokens: 64, total_tokens: 314 }, latencyMs: 1 });
    }
    const d = process.cpuUsage(cpu0);
    return (d.user + d.system) / n;
  };
}
const now = await pluginBench(ROOT);
const before = BASE ? await pluginBench(BASE) : undefined;
console.log(`\n### 2. The limits plugin in-process, route + onEnd, memory store (CPU µs per request, best of 3 interleaved rounds)\n\n| prompt | now (bound) | ${before ? "before (exact count) |" : ""}\n| --- | --- | ${before ? "--- |" : ""}`);
for (const [label, text] of SIZES) {
  const n = label === "1 KB" ? 2000 : 200;
  const best = { now: Infinity, before: Infinity };
  for (let round = 0; round < 3; round++) {
    best.now = Math.min(best.now, await now(text, n));
    if (before) best.before = Math.min(best.before, await before(text, n));
  }
  console.log(`| ${label} | ${best.now.toFixed(1)} | ${before ? `${best.before.toFixed(1)} |` : ""}`);
}

// ---- 3. end to end -------------------------------------------------------------------------
const ADMIN = "bench-reserve-admin-0123456789";
async function gateway(root: string, mock: string) {
  const port = freePort();
  const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-reserve-"));
  const p = start(BUN, ["run", "src/main.ts"], {
    cwd: root,
    env: { PORT: String(port), TOLLGATE_DATA_DIR: dir, TOLLGATE_PLUGINS_DIR: join(dir, "none"), TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "bench-master-key-0123456789abcdef", TOLLGATE_CONFIG: "", OPENAI_API_KEY: "", KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "", TOLLGATE_ANALYTICS: "off" },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil("tollgate", p, httpOk(`${base}/health`));
  const must = async (path: string, body: unknown) => {
    const r = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`${path} → ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, unknown>;
  };
  await must("/api/v1/providers", { id: "mock", kind: "openai", base_url: `${mock}/v1`, api_key: "sk-bench", models: ["gpt-4o-mini"] });
  await must("/api/v1/prices", { id: "mock/gpt-4o-mini", input: 0.15, output: 0.6 });
  await must("/api/v1/admin/tenants", { id: "bench", name: "Bench" });
  const key = (await must("/api/v1/admin/keys", { tenant_id: "bench", name: "bench", rpm_limit: 100_000_000, tpm_limit: 1_000_000_000_000, budget: { amount_usd: 1_000_000, period: "day" } })).key as string;
  const send = (text: string) =>
    fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "gpt-4o-mini", max_tokens: 64, messages: [{ role: "user", content: text }] }) }).then((r) => {
      if (r.status !== 200) throw new Error(`chat → ${r.status}`);
      return r.arrayBuffer();
    });
  await waitUntil("tollgate config", p, async () => (await send("warm up").then(() => true, () => false)), 20_000);
  return {
    async cpuPerRequest(text: string, n: number, c = 4): Promise<number> {
      for (let i = 0; i < 50; i++) await send(text); // warm
      const cpu0 = cpuMs(p.child.pid!);
      let next = 0;
      await Promise.all(Array.from({ length: c }, async () => {
        while (next < n) await send(`${next++} ${text}`);
      }));
      return ((cpuMs(p.child.pid!) - cpu0) * 1000) / n;
    },
    stop: () => stop(p),
  };
}
if (process.env.BENCH_E2E !== "0") {
  const mockPort = freePort();
  const mock = start(BUN, [join(ROOT, "bench/mock-upstream.ts")], { env: { PORT: String(mockPort), MOCK_LATENCY_MS: "0", MOCK_TOKENS: "16" } });
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  await waitUntil("mock", mock, httpOk(`${mockUrl}/health`));
  const gws = [["now (bound)", await gateway(ROOT, mockUrl)] as const, ...(BASE ? [["before (exact count)", await gateway(BASE, mockUrl)] as const] : [])];
  console.log(`\n### 3. Gateway process CPU per request, end to end (µs; embedded store, key with RPM + TPM + budget, mock upstream, c=4, best of 3 interleaved rounds)\n\n| prompt | ${gws.map(([l]) => l).join(" | ")} |\n| --- | ${gws.map(() => "---").join(" | ")} |`);
  for (const [label, text] of SIZES) {
    const n = label === "1 KB" ? 2000 : 500;
    const best = gws.map(() => Infinity);
    for (let round = 0; round < 3; round++) for (const [i, [, g]] of gws.entries()) best[i] = Math.min(best[i]!, await g.cpuPerRequest(text, n));
    console.log(`| ${label} | ${best.map((b) => b.toFixed(0)).join(" | ")} |`);
  }
  for (const [, g] of gws) await g.stop();
  await stop(mock);
}
console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
process.exit(0);
