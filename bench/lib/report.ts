/** The markdown of a `make bench` run: one table per concurrency, TTFT and memory, the machine. */
import type { Point, Ttft } from "./load.ts";

/** One set-up's outcome (bench/compare.ts fills it in). */
export interface SetupResult {
  id: string;
  name: string;
  skipped?: string;
  error?: string;
  notes: string[];
  points: Point[];
  ttft?: Ttft;
  rss_idle_mib?: number;
  rss_load_mib?: number;
  /** Peak RSS of the gateway process alone, without child processes (the analytics engine). */
  rss_load_own_mib?: number;
}
interface Report {
  date: string;
  machine: Record<string, unknown>;
  params: { seconds: number; concurrency: number[]; ttft_n: number; mock_latency_ms: number; mock_tokens: number };
  results: SetupResult[];
}

const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "–" : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const plus = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "–" : `${x < 0 ? "−" : "+"}${ms(Math.abs(x))}`);

export function renderMarkdown(r: Report): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`Run ${r.date}: ${m.cores} cores (${m.cpu}), ${m.memory_gib} GiB, ${m.os}, kernel ${m.kernel}; Bun ${m.bun}, Node ${m.node}, ${m.wrk}; load average at start ${(m.load_average_at_start as number[]).join(" / ")}.`);
  lines.push(`CPU/request: CPU time (user + system) of the set-up's processes over the point, per request (for direct: the mock's own). wrk, the set-up and the mock upstream share the machine. ${r.params.seconds} s per point after a warm-up; chat completion JSON with a unique prompt per request; mock latency ${r.params.mock_latency_ms} ms, ${r.params.mock_tokens} tokens per answer.`);
  lines.push("");
  const direct = r.results.find((x) => x.id === "direct");
  const bare = r.results.find((x) => x.id === "bare");
  for (const c of r.params.concurrency) {
    lines.push(`**c = ${c}**`, "", "| set-up | req/s | % of bare proxy | p50 | p99 | added p50 | added p99 | CPU/request | non-2xx/errors |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    const d = direct?.points.find((p) => p.c === c);
    const b = bare?.points.find((p) => p.c === c);
    for (const x of r.results) {
      if (x.skipped || x.error) continue;
      const p = x.points.find((q) => q.c === c);
      if (!p) continue;
      const pct = b && b.rps > 0 ? `${Math.round((p.rps / b.rps) * 100)}%` : "–";
      const added = x.id === "direct" ? ["–", "–"] : [plus(d ? p.p50_ms - d.p50_ms : undefined), plus(d ? p.p99_ms - d.p99_ms : undefined)];
      lines.push(`| ${x.name} | ${p.rps.toLocaleString("en-US")} | ${pct} | ${ms(p.p50_ms)} | ${ms(p.p99_ms)} | ${added[0]} | ${added[1]} | ${p.cpu_us_per_req === undefined ? "–" : `${p.cpu_us_per_req} µs`} | ${p.errors} |`);
    }
    lines.push("");
  }
  lines.push(`**Streams and memory** (TTFT: ${r.params.ttft_n} sequential streams, time to the first non-empty content delta)`, "", "| set-up | TTFT p50 | TTFT p99 | added TTFT p50 | RSS idle | RSS peak under load | of which the gateway process |", "| --- | --- | --- | --- | --- | --- | --- |");
  for (const x of r.results) {
    if (x.skipped || x.error || !x.ttft) continue;
    if (x.ttft.errors >= x.ttft.n) {
      lines.push(`| ${x.name} | streams failed (${x.ttft.errors}/${x.ttft.n}) | – | – | ${x.rss_idle_mib} MiB | ${x.rss_load_mib} MiB | ${own(x)} |`);
      continue;
    }
    const added = x.id === "direct" ? "–" : plus(direct?.ttft ? x.ttft.p50_ms - direct.ttft.p50_ms : undefined);
    const rss = x.id === "direct" ? "(the mock)" : `${x.rss_idle_mib} MiB`;
    lines.push(`| ${x.name} | ${ms(x.ttft.p50_ms)} | ${ms(x.ttft.p99_ms)} | ${added} | ${rss} | ${x.id === "direct" ? "–" : `${x.rss_load_mib} MiB`} | ${x.id === "direct" ? "–" : own(x)} |`);
  }
  const notes = r.results.flatMap((x) => [
    ...(x.skipped ? [`${x.name}: skipped — ${x.skipped}`] : []),
    ...(x.error ? [`${x.name}: failed — ${x.error}`] : []),
    ...x.notes.map((n) => `${x.name}: ${n}`),
  ]);
  if (notes.length) lines.push("", ...notes.map((n) => `- ${n}`));
  return lines.join("\n");
}

/** The gateway process's own peak RSS (child processes such as the analytics engine left out). */
const own = (x: SetupResult) => (x.rss_load_own_mib === undefined ? "–" : `${x.rss_load_own_mib} MiB`);
