/**
 * `make bench`: Tollgate beside a bare proxy, Portkey and LiteLLM, in one run on one machine,
 * against one mock upstream (bench/mock-upstream.ts). For c = 1, 16, 64 it reports req/s,
 * p50/p99, the latency added over calling the mock directly, the stream time-to-first-token
 * overhead and RSS; writes bench/results/latest.json and the table in docs/benchmarks.md
 * (between the `bench:table` markers).
 *
 * Environment (all optional):
 *   BENCH_SECONDS=5         seconds per point (a full run of 7 set-ups ≈ 7 × (3 × (s + 1) + startup))
 *   BENCH_WARMUP=1          seconds of warm-up before each point
 *   BENCH_CONCURRENCY=1,16,64
 *   BENCH_SETUPS=direct,bare,embedded,embedded-noanalytics,full,fleet,portkey,litellm   (a subset to run)
 *   BENCH_TTFT_N=200        sequential streams for the TTFT measurement
 *   MOCK_LATENCY_MS=0 MOCK_TOKENS=16   the mock upstream's delay and answer size
 *   KAFKA_BROKERS, REDIS_URL for the fleet set-up (skipped, with the reason, without them)
 *   BENCH_WRITE_DOCS=0      print only, leave docs/benchmarks.md alone
 *   BENCH_PROFILE_DIR=DIR   a CPU profile of each Tollgate process there (bun --cpu-prof; bench/profile-top.ts reads it)
 * Memory soak: BENCH_SETUPS=embedded BENCH_CONCURRENCY=64 BENCH_SECONDS=300 BENCH_WRITE_DOCS=0
 *   (points of 30 s or more record RSS every 5 s in the JSON: rss_series_mib)
 */
import { execSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/helpers/services.ts";
import { type Point, ttft, type Ttft, wrk, wrkScript } from "./lib/load.ts";
import { cpuMs, httpOk, rssMiB, start, stop, waitUntil } from "./lib/proc.ts";
import { ROOT, SETUPS } from "./lib/setups.ts";
import { renderMarkdown, type SetupResult } from "./lib/report.ts";

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 5);
const WARMUP = Number(env.BENCH_WARMUP ?? 1);
const CONCURRENCY = (env.BENCH_CONCURRENCY ?? "1,16,64").split(",").map(Number);
const ONLY = env.BENCH_SETUPS ? new Set(env.BENCH_SETUPS.split(",")) : undefined;
const TTFT_N = Number(env.BENCH_TTFT_N ?? 200);


if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is missing: run bench/install.sh (apt-get install wrk)");
  process.exit(1);
}

const sh = (cmd: string) => {
  try {
    return execSync(cmd, { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  kernel: sh("uname -r"),
  os: sh(". /etc/os-release && echo $PRETTY_NAME"),
  bun: Bun.version,
  node: sh("node --version"),
  wrk: sh("wrk --version 2>&1 | head -1").split(" ").slice(0, 2).join(" "),
  load_average_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
};
const params = { seconds: SECONDS, warmup: WARMUP, concurrency: CONCURRENCY, ttft_n: TTFT_N, mock_latency_ms: Number(env.MOCK_LATENCY_MS ?? 0), mock_tokens: Number(env.MOCK_TOKENS ?? 16) };
console.log(`machine: ${JSON.stringify(machine)}\nparams: ${JSON.stringify(params)}`);

const work = mkdtempSync(join(tmpdir(), "tollgate-bench-"));
const mockPort = freePort();
const mockProc = start(process.execPath, ["bench/mock-upstream.ts"], { cwd: ROOT, env: { PORT: String(mockPort) } });
const mock = `http://127.0.0.1:${mockPort}`;
await waitUntil("mock upstream", mockProc, httpOk(`${mock}/health`));

const results: SetupResult[] = [];
for (const setup of SETUPS) {
  if (ONLY && !ONLY.has(setup.id)) continue;
  const result: SetupResult = { id: setup.id, name: setup.name, notes: [], points: [] };
  results.push(result);
  const why = setup.unavailable?.();
  if (why) {
    result.skipped = why;
    console.log(`\n## ${setup.name}: skipped (${why})`);
    continue;
  }
  console.log(`\n## ${setup.name}`);
  let run;
  try {
    run = await setup.start(mock);
  } catch (err) {
    result.error = (err as Error).message.split("\n")[0]!;
    console.log(`  could not start: ${(err as Error).message.slice(0, 2000)}`);
    continue;
  }
  try {
    result.notes = run.notes;
    const pidOf = run.pid || mockProc.child.pid!; // direct: the mock itself
    await Bun.sleep(500);
    result.rss_idle_mib = rssMiB(pidOf);
    let peak = 0;
    let peakOwn = 0; // the gateway process alone (its analytics engine process is counted in the tree)
    const script = wrkScript(work, run.target);
    for (const c of CONCURRENCY) {
      if (WARMUP > 0) await wrk(run.target.url, script, c, WARMUP);
      const cpu0 = cpuMs(pidOf);
      const series: number[] = [];
      let ticks = 0;
      const point = await wrk(run.target.url, script, c, SECONDS, () => {
        const rss = rssMiB(pidOf);
        peak = Math.max(peak, rss);
        peakOwn = Math.max(peakOwn, rssMiB(pidOf, true));
        if (ticks++ % 20 === 0) series.push(rss); // every 5 s: flat or growing?
      });
      if (SECONDS >= 30) point.rss_series_mib = series;
      if (point.requests > 0) point.cpu_us_per_req = Math.round(((cpuMs(pidOf) - cpu0) * 1000) / point.requests);
      result.points.push(point);
      console.log(`  c=${c}: ${point.rps} req/s, p50 ${point.p50_ms} ms, p99 ${point.p99_ms} ms, errors ${point.errors}, ${point.cpu_us_per_req} µs CPU/request`);
    }
    result.rss_load_mib = peak;
    result.rss_load_own_mib = peakOwn;
    result.ttft = await ttft(run.target, TTFT_N);
    console.log(`  ttft: p50 ${result.ttft.p50_ms.toFixed(3)} ms, p99 ${result.ttft.p99_ms.toFixed(3)} ms (${result.ttft.errors} errors); rss idle ${result.rss_idle_mib} MiB, peak under load ${peak} MiB (the gateway process alone: ${peakOwn} MiB)`);
    if (run.notes.length) console.log(`  notes: ${run.notes.join("; ")}`);
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await run.stop();
  }
}
await stop(mockProc);

const report = { date: new Date().toISOString(), machine, params, results };
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/latest.json"), `${JSON.stringify(report, null, 2)}\n`);
const table = renderMarkdown(report);
console.log(`\n${table}`);
if (env.BENCH_WRITE_DOCS !== "0") {
  const file = join(ROOT, "docs/benchmarks.md");
  let doc = "";
  try {
    doc = readFileSync(file, "utf8");
  } catch {
    doc = "# Benchmarks\n";
  }
  const [a, b] = ["<!-- bench:table:start -->", "<!-- bench:table:end -->"];
  const block = `${a}\n${table}\n${b}`;
  doc = doc.includes(a) && doc.includes(b) ? doc.slice(0, doc.indexOf(a)) + block + doc.slice(doc.indexOf(b) + b.length) : `${doc.trimEnd()}\n\n## Side by side (\`make bench\`)\n\n${block}\n`;
  writeFileSync(file, doc);
  console.log(`written: docs/benchmarks.md, bench/results/latest.json`);
}
process.exit(0);
