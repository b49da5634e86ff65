/**
 * Tracing overhead, side by side in one run: the same gateway (embedded file log, echo
 * provider) started with tracing off, on at 100% sampling and on at 1% sampling, each loaded by
 * wrk on `POST /v1/chat/completions` for DURATION seconds. Spans go over OTLP/HTTP to
 * JAEGER_OTLP_URL when set (a real Jaeger), else to a local sink in this process that answers
 * 200 to every export (so only the gateway's own cost is measured). A second "off" round at the
 * end shows the run-to-run noise. The request log is silenced (LOG_LEVEL=warn) except in the
 * last row, which measures the JSON log line.
 *
 *   bun run bench/tracing.ts
 *   DURATION=10 CONNECTIONS=32 bun run bench/tracing.ts
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const DURATION = Number(process.env.DURATION ?? 8);
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

async function run(name: string, env: Record<string, string>) {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const data = mkdtempSync(join(dir, "data-"));
  const base: Record<string, string | undefined> = { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: data, TOLLGATE_PLUGINS_DIR: join(data, "none"), TOLLGATE_ANALYTICS: "off", LOG_LEVEL: "warn" };
  for (const k of Object.keys(base)) if (k.startsWith("OTEL_")) delete base[k];
  const gateway = spawn(process.execPath, ["run", "src/main.ts"], { cwd: ROOT, env: { ...base, ...env }, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error("gateway did not start");
    await Bun.sleep(50);
  }
  const before = exported;
  // wrk runs in a child process; keep this event loop free for the sink meanwhile.
  const out = await new Promise<string>((done) => {
    const w = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", script, `${url}/v1/chat/completions`]);
    let text = "";
    w.stdout.on("data", (d) => (text += d));
    w.on("close", () => done(text));
  });
  await Bun.sleep(1500); // let the last batch export
  gateway.kill("SIGTERM");
  await new Promise((r) => gateway.on("exit", r));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /50%\s+([\d.]+\w+)/.exec(out)?.[1];
  const p99 = /99%\s+([\d.]+\w+)/.exec(out)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  const kb = process.env.JAEGER_OTLP_URL ? "n/a" : ((exported - before) / 1024).toFixed(0);
  console.log(`| ${name} | ${rps.toFixed(0)} | ${p50} | ${p99} | ${errors} | ${kb} |`);
}

console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}s, POST /v1/chat/completions (echo, JSON), OTLP to ${process.env.JAEGER_OTLP_URL ? "Jaeger" : "a local sink"}, ${new Date().toISOString()}\n`);
console.log("| tracing | req/s | p50 | p99 | non-2xx | OTLP KiB sent |");
console.log("| --- | --- | --- | --- | --- | --- |");
await run("off (no OTEL_EXPORTER_OTLP_ENDPOINT)", {});
await run("on, 100% sampled", { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" });
await run("on, 1% sampled", { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.01" });
await run("off again (noise check)", {});
await run("off, request log on (LOG_LEVEL=info, to /dev/null)", { LOG_LEVEL: "info" });
sink.stop(true);
rmSync(dir, { recursive: true, force: true });
