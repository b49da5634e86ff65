/** Load generation: wrk for throughput/latency, a sequential Bun client for stream TTFT. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Target {
  /** Full URL of the chat completions endpoint. */
  url: string;
  headers: Record<string, string>;
  model: string;
}

export interface Point {
  c: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  requests: number;
  /** CPU time of the set-up's processes per request, µs (see proc.ts cpuMs). */
  cpu_us_per_req?: number;
  /** RSS every 5 s during the point (points of 30 s or more), MiB. */
  rss_series_mib?: number[];
}

/**
 * A wrk Lua script posting a chat completion whose user text differs per request (so a cache
 * always misses and no setup gets an unfair hit): a number random per script (a digit run, as
 * order ids and references are in real prompts: the guardrails' phone check sees one), the wrk thread,
 * a nonce per wrk run (the warm-up and each point are runs of their own) and a counter. (Before issue
 * 30's fourth part the prefix came from Lua's unseeded `math.random`: the same in both wrk threads
 * and in every run, so about half the full pipeline's requests were cache hits.)
 */
export function wrkScript(dir: string, t: Target, stream = false): string {
  const file = join(dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  const headers = Object.entries({ "Content-Type": "application/json", ...t.headers })
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join("\n");
  const head = JSON.stringify(`{"model":${JSON.stringify(t.model)},${stream ? '"stream":true,' : ""}"messages":[{"role":"user","content":"Summarise request number `);
  const tail = JSON.stringify(` for the benchmark, in one short sentence please."}]}`);
  writeFileSync(
    file,
    [
      `wrk.method = "POST"`,
      headers,
      `local threads = 0`,
      `setup = function(thread) threads = threads + 1; thread:set("tid", threads) end`,
      `local n = 0`,
      `local id = ""`,
      `init = function(args) id = "${100_000_000 + Math.floor(Math.random() * 900_000_000)}-" .. (args[1] or "") .. "-" .. tostring(tid) end`,
      `request = function()`,
      `  n = n + 1`,
      `  return wrk.format(nil, nil, nil, ${head} .. id .. "-" .. n .. ${tail})`,
      `end`,
      ``,
    ].join("\n"),
  );
  return file;
}

const unit = (s: string | undefined): number => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s ?? "");
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
};

/** One wrk run; `sample` is called every 250 ms while it runs (e.g. to read RSS). */
export async function wrk(url: string, script: string, c: number, seconds: number, sample?: () => void): Promise<Point> {
  const args = [`-t${Math.min(2, c)}`, `-c${c}`, `-d${seconds}s`, "--latency", "-s", script, url, "--", String(10_000 + Math.floor(Math.random() * 90_000))];
  const proc = Bun.spawn(["wrk", ...args], { stdout: "pipe", stderr: "pipe" });
  const timer = sample ? setInterval(sample, 250) : undefined;
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  if (timer) clearInterval(timer);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  return {
    c,
    rps: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)),
    p50_ms: requests > 0 ? unit(/50%\s+([\d.]+\w+)/.exec(out)?.[1]) : Number.NaN,
    p99_ms: requests > 0 ? unit(/99%\s+([\d.]+\w+)/.exec(out)?.[1]) : Number.NaN,
    errors,
    requests,
  };
}

export interface Ttft {
  n: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

/** Sequential streams: time from sending the request to the first non-empty content delta. */
export async function ttft(t: Target, n: number): Promise<Ttft> {
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ model: t.model, stream: true, messages: [{ role: "user", content: `Stream number ${i} ${Math.random()}` }] });
    const t0 = performance.now();
    try {
      const res = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json", ...t.headers }, body });
      if (res.status !== 200 || !res.body) {
        errors++;
        await res.arrayBuffer().catch(() => {});
        continue;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      let first: number | undefined;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        if (first === undefined && /"content":\s*"[^"]/.test(buf)) first = performance.now() - t0;
      }
      if (first === undefined) errors++;
      else times.push(first);
    } catch {
      errors++;
    }
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))]! : Number.NaN);
  return { n, p50_ms: q(0.5), p99_ms: q(0.99), errors };
}
