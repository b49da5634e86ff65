/**
 * Guardrails cost, all in ONE run so the numbers compare on the same (loaded) machine:
 *   1. scan throughput of the pure core (every type, `redact`), MB/s, on prose with some PII,
 *      and on adversarial inputs (one huge word, long digit runs, many `@`, a 4 MiB prompt);
 *   2. a blocklist regex on re2js, and a term, MB/s;
 *   3. added p50 per request through two in-process gateways (echo), guardrails off vs on,
 *      at 1 KB and 32 KB prompts, requests interleaved;
 *   4. streamed output: added time to first token and the largest hold-back.
 *
 *   bun run bench/guardrails.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings } from "../src/config/env.ts";
import { compilePolicy, effectiveFields, type GuardrailsFields } from "../src/guardrails/config.ts";
import { Redactor } from "../src/guardrails/redact.ts";
import { StreamScanner } from "../src/guardrails/stream.ts";
import { startGateway } from "../src/main.ts";
import { startFakeOpenAI } from "../test/fakes/openai-upstream.ts";
import { writeFileSync } from "node:fs";

const PROSE = "The quarterly report is attached; please review section 4.2 before the meeting on 2024-03-15 at 10:30. Prices rose to $1,299.00 and order #482913 shipped via 1Z999AA10123456784. ";
const PII = ["Contact jane.doe@example.com or +84 912 345 678. ", "Card 4111 1111 1111 1111 was charged. ", "SSN 123-45-6789 on file. ", "Key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD leaked. ", "Server 192.168.10.24 is down. "];
const text = (chars: number) => {
  let s = "";
  for (let i = 0; s.length < chars; i++) s += i % 4 === 3 ? PII[i % PII.length] : PROSE;
  return s.slice(0, chars);
};
const policy = (f: GuardrailsFields) => compilePolicy(effectiveFields(f, undefined));
const ALL_REDACT = policy({ pii: { action: "redact" } });

function throughput(label: string, input: string, p = ALL_REDACT, reps = 3): void {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    new Redactor(p).process(input, "input");
    best = Math.min(best, performance.now() - t0);
  }
  const mb = input.length / 1e6;
  console.log(`| ${label} | ${(input.length / 1024).toFixed(0)} KiB | ${best.toFixed(1)} ms | ${(mb / (best / 1000)).toFixed(1)} MB/s |`);
}

console.log("\n### Scan throughput (pure core, best of 3)\n\n| input | size | time | throughput |\n| --- | --- | --- | --- |");
throughput("prose with PII, every type", text(1 << 20));
throughput("4 MiB prompt, every type", text(4 << 20), ALL_REDACT, 1);
throughput("one 1 MiB word (no spaces)", "a".repeat(1 << 20));
throughput("1 MiB of digits and spaces", "1234 ".repeat(1 << 18).slice(0, 1 << 20));
throughput("1 MiB of `a@`", "a@".repeat(1 << 19));
throughput("blocklist regex `(?i)proj(ect)?[- ]falcon-[0-9]+` only", text(1 << 20), policy({ blocklist: [{ pattern: "(?i)proj(ect)?[- ]falcon-[0-9]+", kind: "regex", action: "block", direction: "input" }] }));
throughput("blocklist regex `(a+)+$x` on 1 MiB of `a`", "a".repeat(1 << 20), policy({ blocklist: [{ pattern: "(a+)+$x", kind: "regex", action: "block", direction: "input" }] }));
throughput("blocklist term only", text(1 << 20), policy({ blocklist: [{ pattern: "Project Falcon", kind: "term", action: "block", direction: "input" }] }));

// Stream hold-back: feed the 32 KB answer word by word.
{
  const r = new Redactor(ALL_REDACT);
  const s = new StreamScanner(r);
  const words = text(32 * 1024).split(/(?<= )/);
  const t0 = performance.now();
  for (const w of words) s.push(w);
  s.flush();
  const ms = performance.now() - t0;
  console.log(`\nStream scan of a 32 KB answer in ${words.length} word chunks: ${ms.toFixed(1)} ms total (${((ms / words.length) * 1000).toFixed(1)} µs per chunk); largest hold-back ${s.maxHeld} characters.`);
}

// Through the gateway: two gateways, off and on, requests interleaved.
// Streams come from a fake OpenAI upstream that sends its chunks 1 ms apart (a real stream's pace),
// so time to first token is the first chunk's time, not the whole stream's.
const fake = startFakeOpenAI();
const dirs = [mkdtempSync(join(tmpdir(), "tg-bench-off-")), mkdtempSync(join(tmpdir(), "tg-bench-on-"))];
const cfg = join(dirs[0]!, "tollgate.yaml");
writeFileSync(cfg, ["providers:", "  - id: local", "    kind: openai", `    base_url: ${fake.url}`, "    models: [m]"].join("\n"));
const gws = await Promise.all(dirs.map((d) => startGateway(loadSettings({ PORT: "0", TOLLGATE_DATA_DIR: d, TOLLGATE_PLUGINS_DIR: join(d, "none"), TOLLGATE_ANALYTICS: "off", TOLLGATE_CONFIG: cfg, TOLLGATE_ADMIN_KEY: "bench-guardrails-admin-key-0123" }), { quiet: true })));
const [off, on] = gws as [(typeof gws)[0], (typeof gws)[0]];
await fetch(`${on.url}/api/v1/admin/guardrails`, { method: "PUT", headers: { "content-type": "application/json", authorization: "Bearer bench-guardrails-admin-key-0123" }, body: JSON.stringify({ pii: { action: "restore" } }) });

const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
async function timeOne(url: string, prompt: string, stream: boolean): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: stream ? "local/m" : "echo", stream, messages: [{ role: "user", content: prompt }] }) });
  if (!stream) {
    await res.text();
    return performance.now() - t0;
  }
  const reader = res.body!.getReader();
  let first = 0;
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += new TextDecoder().decode(value);
    // First content delta (not the role chunk).
    if (!first && /"content":"[^"]/.test(buf)) first = performance.now() - t0;
  }
  return first;
}

console.log("\n### Through the gateway (echo), guardrails off vs on (`restore`, every type), interleaved, same run\n\n| prompt | metric | off p50 | on p50 | added p50 | n |\n| --- | --- | --- | --- | --- | --- |");
for (const [size, n] of [[1024, 200], [32 * 1024, 60]] as const) {
  const prompt = text(size);
  fake.setBehavior({ kind: "ok", content: text(size), chunkSize: 64, chunkDelayMs: 1 });
  for (const stream of [false, true]) {
    const t: Record<"off" | "on", number[]> = { off: [], on: [] };
    for (let i = 0; i < 10; i++) (await timeOne(off.url, prompt, stream), await timeOne(on.url, prompt, stream));
    for (let i = 0; i < n; i++) {
      t.off.push(await timeOne(off.url, prompt, stream));
      t.on.push(await timeOne(on.url, prompt, stream));
    }
    const a = pct(t.off, 50), b = pct(t.on, 50);
    console.log(`| ${size / 1024} KB | ${stream ? "time to first token (fake upstream, 64-char chunks 1 ms apart)" : "latency (JSON, echo)"} | ${a.toFixed(2)} ms | ${b.toFixed(2)} ms | ${(b - a).toFixed(2)} ms | ${n} |`);
  }
}
for (const g of gws) await g.stop();
await fake.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
