/**
 * Cache benchmark: hit vs miss, on the in-process store and on Redis, in the same run. Each
 * gateway runs in its own process in front of the fake OpenAI upstream (test/fakes, a real HTTP
 * server in this process), loaded by wrk on loopback.
 *
 *   REDIS_URL=redis://… bun run bench/cache.ts          # without REDIS_URL: memory only
 *   DURATION=5 CONNECTIONS=32 bun run bench/cache.ts
 *
 * hit:  the same deterministic request again and again (one upstream call, then hits).
 * miss: every request unique (a counter in the wrk script), so each goes upstream and is stored.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFakeOpenAI } from "../test/fakes/openai-upstream.ts";
import { planRequest } from "../src/cache/plan.ts";
import { emptySnapshot } from "../src/config/snapshot.ts";

const ROOT = resolve(import.meta.dir, "..");
const DURATION = Number(process.env.DURATION ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is missing: apt-get install -y wrk");
  process.exit(1);
}

const fake = startFakeOpenAI();
const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-cache-"));
const configFile = join(dir, "tollgate.yaml");
writeFileSync(configFile, ["providers:", "  - id: mock", "    kind: custom", `    base_url: ${fake.url}`, "    models: [gpt-x]"].join("\n"));

/** The admin key (the admin API and /ready details always need one, issue 22). */
const BENCH_ADMIN_KEY = "bench-cache-admin-key-0123456789";

async function startGateway(name: string, env: Record<string, string>) {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const data = join(dir, name);
  const proc = spawn(process.execPath, ["run", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: "", KAFKA_BROKERS: "", ...env, PORT: String(port), TOLLGATE_DATA_DIR: data, TOLLGATE_PLUGINS_DIR: join(dir, "none"), TOLLGATE_CONFIG: configFile, TOLLGATE_ANALYTICS: "off", TOLLGATE_ADMIN_KEY: BENCH_ADMIN_KEY },
    stdio: "ignore",
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) break;
    if (i > 200) throw new Error(`gateway ${name} did not start`);
    await Bun.sleep(50);
  }
  for (let i = 0; ; i++) {
    const ready = (await (await fetch(`${base}/ready`, { headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` } })).json()) as { checks: { cache?: { ok: boolean } } };
    if (ready.checks.cache?.ok) break;
    if (i > 200) throw new Error(`gateway ${name}: cache store not ready`);
    await Bun.sleep(50);
  }
  return { base, stop: () => proc.kill("SIGTERM") };
}

const body = { model: "mock/gpt-x", temperature: 0, messages: [{ role: "user", content: "Describe our refund policy in two sentences." }] };
function script(unique: boolean): string {
  const file = join(dir, `post-${unique ? "miss" : "hit"}-${Math.random().toString(36).slice(2)}.lua`);
  const json = JSON.stringify(JSON.stringify(body));
  const lua = unique
    ? // Each wrk thread has its own Lua state: a thread id from setup() keeps the threads' bodies apart.
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal threads = 0\nfunction setup(thread)\n  threads = threads + 1\n  thread:set("tid", threads)\nend\nlocal n = 0\nlocal base = ${json}\nrequest = function()\n  n = n + 1\n  local b = string.gsub(base, "two sentences", "two sentences " .. tid .. "-" .. n .. "-${Date.now()}")\n  return wrk.format(nil, nil, nil, b)\nend\n`
    : `wrk.method = "POST"\nwrk.body = ${json}\nwrk.headers["Content-Type"] = "application/json"\n`;
  writeFileSync(file, lua);
  return file;
}

/** Async: the fake upstream lives in this process and must keep answering while wrk runs. */
async function wrk(label: string, base: string, lua: string): Promise<void> {
  const proc = Bun.spawn(["wrk", "-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", lua, `${base}/v1/chat/completions`], { stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /50%\s+([\d.]+\w+)/.exec(out)?.[1];
  const p99 = /99%\s+([\d.]+\w+)/.exec(out)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  console.log(`| ${label} | ${Number(rps).toFixed(0)} | ${p50} | ${p99} | ${errors} |`);
}

// The pure part of a lookup: policy, Cache-Control and the key (canonical JSON + SHA-256).
for (const [label, chars] of [["1 KB prompt", 1_000], ["20 KB prompt", 20_000]] as const) {
  const request = { ...body, messages: [{ role: "system" as const, content: "You are terse." }, { role: "user" as const, content: "x".repeat(chars) }] };
  const cfg = emptySnapshot();
  for (let i = 0; i < 1000; i++) planRequest({ config: cfg, tenant: "t", operation: "chat", request });
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) planRequest({ config: cfg, tenant: "t", operation: "chat", request });
  console.log(`key derivation, ${label}: ${(((performance.now() - t0) / n) * 1000).toFixed(1)} µs per request`);
}
const notes: string[] = [];
const stores: Array<[string, Record<string, string>]> = [["memory", {}]];
if (process.env.REDIS_URL) stores.push(["redis", { REDIS_URL: process.env.REDIS_URL, TOLLGATE_REDIS_PREFIX: `tollgate-bench:${Date.now().toString(36)}:` }]);
console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}s, ${new Date().toISOString()}\n`);
console.log("| store, scenario | req/s | p50 | p99 | non-2xx |");
console.log("| --- | --- | --- | --- | --- |");
try {
  for (const [name, env] of stores) {
    const gw = await startGateway(name, env);
    try {
      const first = await fetch(`${gw.base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      await first.text();
      await Bun.sleep(200); // the entry is written after the response
      const check = await fetch(`${gw.base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (check.headers.get("x-tollgate-cache") !== "hit") throw new Error(`${name}: expected a hit, got ${check.headers.get("x-tollgate-cache")}`);
      await check.text();
      await wrk(`${name}, miss (upstream + store)`, gw.base, script(true));
      await wrk(`${name}, hit`, gw.base, script(false));
      const st = (await (await fetch(`${gw.base}/v1/cache/stats`)).json()) as { hits: number; misses: number; errors: number; entries: number };
      notes.push(`${name}: ${st.hits} hits, ${st.misses} misses, ${st.errors} store errors/timeouts, ${st.entries} entries`);
      if (name === "redis") await fetch(`${gw.base}/v1/cache`, { method: "DELETE" });
    } finally {
      gw.stop();
    }
  }
  console.log(`\n${notes.join("\n")}`);
} finally {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}
