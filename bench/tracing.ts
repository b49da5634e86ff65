/**
 * Tracing overhead, side by side in one run: the same gateway (embedded file log, echo
 * provider) started with tracing off, on at 100% sampling and on at 1% sampling, each loaded by
 * wrk on `POST /v1/chat/completions` for DURATION seconds, the scenarios interleaved over ROUNDS
 * rounds (the machine is shared: interleaving spreads the noise; the table gives every round and
 * the median). Spans go over OTLP/HTTP to JAEGER_OTLP_URL when set (a real Jaeger), else to a
 * local sink in this process that answers 200 to every export. The request log is silenced
 * (LOG_LEVEL=warn) except in the "request log on" scenario, which measures the JSON line.
 *
 * Besides req/s it reports the gateway process's CPU time per request (user + system, from
 * /proc/<pid>/stat): on a machine shared with other work, throughput swings with the neighbours'
 * load, CPU per request much less.
 *
 *   bun run bench/tracing.ts
 *   DURATION=10 ROUNDS=3 CONNECTIONS=32 bun run bench/tracing.ts
 *   BASELINE_ROOT=/tmp/base bun run bench/tracing.ts   # adds another checkout (e.g. before telemetry)
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const DURATION = Number(process.env.DURATION ?? 6);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is missing: apt-get install -y wrk");
  process.exit(1);
}

let exported = 0;
const sink = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    exported += (await req.arrayBuffer()).byteLength;
    return new Response("{}", { headers: { "content-type": "application/json" } });
  },
});
const otlp = process.env.JAEGER_OTLP_URL ?? `http://127.0.0.1:${sink.port}`;
const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-tracing-"));
const script = join(dir, "post.lua");
writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify({ model: "echo", messages: [{ role: "user", content: "Hello, how are you today?" }] }))}\nwrk.headers["Content-Type"] = "application/json"\n`);

interface Scenario {
  name: string;
  env: Record<string, string>;
  root?: string;
}
const scenarios: Scenario[] = [
  ...(process.env.BASELINE_ROOT ? [{ name: "baseline checkout (BASELINE_ROOT)", env: {}, root: process.env.BASELINE_ROOT }] : []),
  { name: "tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)", env: {} },
  { name: "tracing on, 100% sampled", env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" } },
  { name: "tracing on, 1% sampled", env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" } },
  { name: "tracing on, 0% sampled (SDK loaded, nothing recorded)", env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" } },
  { name: "tracing off, request log on (LOG_LEVEL=info, to /dev/null)", env: { LOG_LEVEL: "info" } },
];

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

interface Result {
  rps: number;
  /** Gateway CPU µs per request. */
  cpuUs: number;
  p50: string;
  p99: string;
  errors: string;
  kib: number;
}

async function run(s: Scenario): Promise<Result> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const data = mkdtempSync(join(dir, "data-"));
  const base: Record<string, string | undefined> = { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: data, TOLLGATE_PLUGINS_DIR: join(data, "none"), TOLLGATE_ANALYTICS: "off", LOG_LEVEL: "warn" };
  for (const k of Object.keys(base)) if (k.startsWith("OTEL_")) delete base[k];
  const gateway = spawn(process.execPath, ["run", "src/main.ts"], { cwd: s.root ?? ROOT, env: { ...base, ...s.env }, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error("gateway did not start");
    await Bun.sleep(50);
  }
  const before = exported;
  const cpu0 = cpuSeconds(gateway.pid!);
  // wrk runs in a child process; this event loop stays free for the sink meanwhile.
  const out = await new Promise<string>((done) => {
    const w = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", script, `${url}/v1/chat/completions`]);
    let text = "";
    w.stdout.on("data", (d) => (text += d));
    w.on("close", () => done(text));
  });
  await Bun.sleep(1500); // let the last batch export (its CPU counts too)
  const cpu = cpuSeconds(gateway.pid!) - cpu0;
  gateway.kill("SIGTERM");
  await new Promise((r) => gateway.on("exit", r));
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  return {
    cpuUs: requests ? (cpu * 1e6) / requests : 0,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: /50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "?",
    p99: /99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "?",
    errors: /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0",
    kib: (exported - before) / 1024,
  };
}

console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}s × ${ROUNDS} rounds, POST /v1/chat/completions (echo, JSON), OTLP to ${process.env.JAEGER_OTLP_URL ? "Jaeger" : "a local sink"}, ${new Date().toISOString()}\n`);
const results = new Map<string, Result[]>(scenarios.map((s) => [s.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const s of scenarios) {
    const res = await run(s);
    results.get(s.name)!.push(res);
    console.error(`round ${r + 1}: ${s.name}: ${res.rps.toFixed(0)} req/s, ${res.cpuUs.toFixed(0)} µs CPU/req, p50 ${res.p50}, p99 ${res.p99}, non-2xx ${res.errors}, OTLP ${res.kib.toFixed(0)} KiB`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log("| scenario | req/s per round | median req/s | gateway CPU µs/request per round | median CPU µs/request | p50 (median round) | non-2xx | OTLP KiB sent (median) |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const s of scenarios) {
  const rs = results.get(s.name)!;
  const m = median(rs.map((r) => r.rps));
  const mid = rs.find((r) => r.rps === m)!;
  const kib = process.env.JAEGER_OTLP_URL ? "n/a" : median(rs.map((r) => r.kib)).toFixed(0);
  console.log(`| ${s.name} | ${rs.map((r) => r.rps.toFixed(0)).join(", ")} | ${m.toFixed(0)} | ${rs.map((r) => r.cpuUs.toFixed(0)).join(", ")} | ${median(rs.map((r) => r.cpuUs)).toFixed(0)} | ${mid.p50} | ${rs.reduce((a, r) => a + Number(r.errors), 0)} | ${kib} |`);
}
sink.stop(true);
rmSync(dir, { recursive: true, force: true });
