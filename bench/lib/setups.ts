/**
 * The seven set-ups `make bench` compares, each started as its own process(es) against one mock
 * upstream. `start` returns where to send chat completions, the pid whose tree's RSS counts,
 * and notes (e.g. a feature that could not be configured).
 */
import { execSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../../test/helpers/services.ts";
import type { Target } from "./load.ts";
import { httpOk, type Proc, start, stop, waitUntil } from "./proc.ts";

export const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const ADMIN = "bench-admin-key-0123456789abcdef";
export const PORTKEY = join(ROOT, ".services/bench/portkey/node_modules/@portkey-ai/gateway/build/start-server.js");
export const LITELLM = join(ROOT, ".services/bench/litellm/bin/litellm");

export interface Running {
  target: Target;
  pid: number;
  notes: string[];
  stop(): Promise<void>;
}

export interface Setup {
  id: string;
  name: string;
  /** Why it cannot run here (not installed, no services), or undefined. */
  unavailable?: () => string | undefined;
  start(mock: string): Promise<Running>;
}

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `tollgate-bench-${what}-`));

function running(p: Proc, target: Target, notes: string[] = [], after?: () => void): Running {
  return { target, pid: p.child.pid!, notes, stop: async () => { await stop(p); after?.(); } };
}

/** A Tollgate process on `env`, with the mock registered as provider `mock` (model gpt-4o-mini, priced). */
async function tollgate(mock: string, env: Record<string, string>, full: boolean, root = ROOT): Promise<Running> {
  const port = freePort();
  const dir = tmp("tollgate");
  // BENCH_PROFILE_DIR: a CPU profile of each Tollgate process (bun --cpu-prof), summarised by bench/profile-top.ts.
  const prof = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const p = start(BUN, [...prof, "run", "src/main.ts"], {
    cwd: root,
    env: { PORT: String(port), TOLLGATE_DATA_DIR: dir, TOLLGATE_PLUGINS_DIR: join(dir, "none"), TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "bench-master-key-0123456789abcdef", TOLLGATE_CONFIG: "", BUN_JSC_forceRAMSize: process.env.BUN_JSC_forceRAMSize ?? "402653184", OPENAI_API_KEY: "", KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "", ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil("tollgate", p, httpOk(`${base}/health`));
  const admin = async (method: string, path: string, body: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const must = async (method: string, path: string, body: unknown) => {
    const r = await admin(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  await must("POST", "/api/v1/providers", { id: "mock", kind: "openai", base_url: `${mock}/v1`, api_key: "sk-bench", models: ["gpt-4o-mini"] });
  await must("POST", "/api/v1/prices", { id: "mock/gpt-4o-mini", input: 0.15, output: 0.6 });
  const notes: string[] = [];
  const headers: Record<string, string> = {};
  if (full) {
    await must("POST", "/api/v1/admin/tenants", { id: "bench", name: "Bench", rpm_limit: 100_000_000, budget: { amount_usd: 1_000_000, period: "month" } });
    const key = await must("POST", "/api/v1/admin/keys", { tenant_id: "bench", service: "bench", name: "bench", rpm_limit: 100_000_000, tpm_limit: 1_000_000_000, budget: { amount_usd: 1_000_000, period: "day" } });
    headers.authorization = `Bearer ${key.key as string}`;
    // Guardrails and cache: configured through their admin routes where this build has them.
    const guard = await admin("PUT", "/api/v1/admin/guardrails", { pii: { action: "redact" }, blocklist: [{ pattern: "forbidden-bench-term", kind: "term", action: "block", direction: "both" }] });
    notes.push(guard.status === 404 ? "guardrails: not in this build (PUT /api/v1/admin/guardrails → 404)" : guard.status < 300 ? "guardrails: PII redact + a blocklist term, both directions" : `guardrails: PUT → ${guard.status}`);
    const cache = await admin("PUT", "/api/v1/admin/cache", { mode: "all", ttl_seconds: 3600 });
    notes.push(cache.status === 404 ? "cache: not in this build (PUT /api/v1/admin/cache → 404)" : cache.status < 300 ? "cache: mode all, every request a miss (unique prompts)" : `cache: PUT → ${cache.status}`);
    // Config reaches the request path through the config projection: wait until a request goes through.
    await waitUntil("tollgate config", p, async () => (await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "warm up" }] }) })).status === 200, 20_000);
  } else {
    await waitUntil("tollgate config", p, async () => (await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "warm up" }] }) })).status === 200, 20_000);
  }
  return running(p, { url: `${base}/v1/chat/completions`, headers, model: "gpt-4o-mini" }, notes);
}

/** Tollgate on the harness's Redis and Kafka (KAFKA_BROKERS, REDIS_URL), fresh key/topic prefixes. */
function fleet(mock: string, root = ROOT): Promise<Running> {
  const id = `b${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return tollgate(mock, { KAFKA_BROKERS: process.env.KAFKA_BROKERS!, REDIS_URL: process.env.REDIS_URL!, TOLLGATE_KAFKA_TOPIC_PREFIX: `${id}.`, TOLLGATE_REDIS_PREFIX: `${id}:` }, true, root);
}

/**
 * Before/after in one run: BENCH_BASELINE_ROOT=<checkout of an older commit> adds its embedded
 * and full-pipeline Tollgate as set-ups `*-baseline` (e.g. `git worktree add /tmp/base HEAD~1`
 * and a `bun install` there).
 */
const BASELINE = process.env.BENCH_BASELINE_ROOT;
const baselines: Setup[] = BASELINE
  ? [
      { id: "embedded-baseline", name: `Tollgate, embedded defaults (baseline ${BASELINE})`, start: (mock) => tollgate(mock, {}, false, BASELINE) },
      { id: "full-baseline", name: `Tollgate, full pipeline (baseline ${BASELINE})`, start: (mock) => tollgate(mock, { TOLLGATE_ANALYTICS: "on" }, true, BASELINE) },
      { id: "fleet-baseline", name: `Tollgate, full pipeline on Redis + Kafka (baseline ${BASELINE})`, start: (mock) => fleet(mock, BASELINE) },
    ]
  : [];

export const SETUPS: Setup[] = [
  {
    id: "direct",
    name: "direct → mock",
    async start(mock) {
      return { target: { url: `${mock}/v1/chat/completions`, headers: {}, model: "gpt-4o-mini" }, pid: 0, notes: [], stop: async () => {} };
    },
  },
  {
    id: "bare",
    name: "bare Bun pass-through proxy",
    async start(mock) {
      const port = freePort();
      const p = start(BUN, ["bench/bare-proxy.ts"], { cwd: ROOT, env: { PORT: String(port), UPSTREAM: mock } });
      await waitUntil("bare proxy", p, httpOk(`http://127.0.0.1:${port}/health`));
      return running(p, { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: {}, model: "gpt-4o-mini" });
    },
  },
  ...baselines,
  { id: "embedded", name: "Tollgate, embedded defaults", start: (mock) => tollgate(mock, {}, false) },
  { id: "embedded-inline", name: "Tollgate, embedded defaults, analytics engine inside the gateway process", start: (mock) => tollgate(mock, { TOLLGATE_ANALYTICS_ENGINE: "inline" }, false) },
  { id: "embedded-noanalytics", name: "Tollgate, embedded defaults, analytics off", start: (mock) => tollgate(mock, { TOLLGATE_ANALYTICS: "off" }, false) },
  {
    id: "full",
    name: "Tollgate, full pipeline (key, limits, budget, guardrails, cache miss, analytics)",
    start: (mock) => tollgate(mock, { TOLLGATE_ANALYTICS: "on" }, true),
  },
  {
    id: "fleet",
    name: "Tollgate, full pipeline on Redis + Kafka",
    unavailable: () => (process.env.KAFKA_BROKERS && process.env.REDIS_URL ? undefined : "KAFKA_BROKERS and REDIS_URL not set (source a services.env or start scripts/kafka.sh and scripts/redis.sh)"),
    start: (mock) => fleet(mock),
  },
  {
    id: "portkey",
    name: "Portkey gateway (npm)",
    unavailable: () => (existsSync(PORTKEY) ? undefined : `not installed (${PORTKEY}); run bench/install.sh`),
    async start(mock) {
      const port = freePort();
      const p = start("node", [PORTKEY, `--port=${port}`, "--headless"], { cwd: ROOT });
      const headers = { authorization: "Bearer sk-bench", "x-portkey-provider": "openai", "x-portkey-custom-host": `${mock}/v1` };
      const url = `http://127.0.0.1:${port}/v1/chat/completions`;
      await waitUntil("portkey", p, async () => (await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "warm up" }] }) })).status === 200);
      // Measured on Node 20 with 1.15.2: its streams fail ("TypeError: immutable" appending a header
      // to the upstream response); under Bun they work. JSON is unaffected.
      return running(p, { url, headers, model: "gpt-4o-mini" }, [`Node ${execSync("node --version", { encoding: "utf8" }).trim()}`]);
    },
  },
  {
    id: "litellm",
    name: "LiteLLM proxy (PyPI, 2 workers)",
    unavailable: () => (existsSync(LITELLM) ? undefined : `not installed (${LITELLM}); run bench/install.sh`),
    async start(mock) {
      const port = freePort();
      const dir = tmp("litellm");
      const config = join(dir, "config.yaml");
      writeFileSync(config, ["model_list:", "  - model_name: gpt-4o-mini", "    litellm_params:", "      model: openai/gpt-4o-mini", `      api_base: ${mock}/v1`, "      api_key: sk-bench", "general_settings:", "  master_key: sk-bench-master", "litellm_settings:", "  telemetry: false", ""].join("\n"));
      const p = start(LITELLM, ["--config", config, "--port", String(port), "--host", "127.0.0.1", "--num_workers", "2"], { cwd: dir, env: { LITELLM_LOG: "ERROR", LITELLM_TELEMETRY: "False", NO_DOCS: "True" } });
      const headers = { authorization: "Bearer sk-bench-master" };
      const url = `http://127.0.0.1:${port}/v1/chat/completions`;
      await waitUntil("litellm", p, async () => (await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "warm up" }] }) })).status === 200, 180_000);
      return running(p, { url, headers, model: "gpt-4o-mini" });
    },
  },
];
