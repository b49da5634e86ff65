/**
 * Hot-path benchmark: the gateway in its own process (embedded file log, echo provider),
 * loaded by wrk (Debian package `wrk`) on loopback. Bounded: each run lasts DURATION seconds.
 *
 *   bun run bench/echo.ts               # (make bench runs bench/compare.ts)
 *   DURATION=10 CONNECTIONS=32 bun run bench/echo.ts
 *   TOLLGATE_ANALYTICS=off bun run bench/echo.ts   # without the in-process usage projection
 *
 * With analytics on (the default), it then waits for the usage projection to catch up and
 * reports how long that took and whether the analytics total equals the requests answered.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
/** The admin API always needs a key (issue 22). */
const BENCH_ADMIN_KEY = "bench-echo-admin-key-0123456789";
const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is missing: apt-get install -y wrk");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-"));
const port = 18000 + Math.floor(Math.random() * 1000);
const gateway = spawn(process.execPath, ["run", "src/main.ts"], {
  cwd: ROOT,
  env: { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: dir, TOLLGATE_PLUGINS_DIR: join(dir, "none"), TOLLGATE_ADMIN_KEY: BENCH_ADMIN_KEY },
  stdio: "ignore",
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) break;
  if (i > 200) throw new Error("gateway did not start");
  await Bun.sleep(50);
}

function luaPost(body: unknown): string {
  const file = join(dir, `post-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["Content-Type"] = "application/json"\n`);
  return file;
}

function wrk(name: string, path: string, script?: string) {
  const args = ["-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", ...(script ? ["-s", script] : []), `${base}${path}`];
  const r = spawnSync("wrk", args, { encoding: "utf8" });
  const out = r.stdout;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /50%\s+([\d.]+\w+)/.exec(out)?.[1];
  const p99 = /99%\s+([\d.]+\w+)/.exec(out)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  console.log(`| ${name} | ${Number(rps).toFixed(0)} | ${p50} | ${p99} | ${errors} |`);
  return Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
}

const short = { model: "echo", messages: [{ role: "user", content: "Hello, how are you today?" }] };
console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}s, ${new Date().toISOString()}\n`);
console.log("| scenario | req/s | p50 | p99 | non-2xx |");
console.log("| --- | --- | --- | --- | --- |");
wrk("GET /health (HTTP floor)", "/health");
let sent = 0; // requests that each end in one request.completed (every POST, answered or refused)
sent += wrk("POST /v1/chat/completions, echo, JSON", "/v1/chat/completions", luaPost(short));
sent += wrk("POST /v1/chat/completions, echo, stream", "/v1/chat/completions", luaPost({ ...short, stream: true, stream_options: { include_usage: true } }));
sent += wrk("POST /api/v1/generate, echo", "/api/v1/generate", luaPost({ prompt: "Hello, how are you today?" }));
sent += wrk("POST /v1/chat/completions, invalid (400)", "/v1/chat/completions", luaPost({ model: 5, messages: [] }));

if ((process.env.TOLLGATE_ANALYTICS ?? "on") === "on") {
  // The projection runs beside the request path: measure how far behind it fell and how fast it catches up.
  const lagOf = async () => ((await (await fetch(`${base}/ready`, { headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` } })).json()) as { checks: { analytics: { lag: number | null } } }).checks.analytics.lag ?? Infinity;
  const t0 = performance.now();
  const lag0 = await lagOf();
  while ((await lagOf()) > 0) await Bun.sleep(100);
  const caughtUp = performance.now() - t0;
  const sum = (await (await fetch(`${base}/api/v1/usage/summary?days=1`, { headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}` } })).json()) as { data: { requests: number } };
  console.log(`\nusage projection: ${lag0} records behind when the load stopped, caught up in ${(caughtUp / 1000).toFixed(1)} s; analytics counts ${sum.data.requests} requests of ${sent} sent (wrk may count a few cut off at the end)`);
}

gateway.kill("SIGTERM");
await new Promise((r) => gateway.once("exit", r));
rmSync(dir, { recursive: true, force: true });
