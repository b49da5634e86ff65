/**
 * /v1/responses beside /v1/chat/completions over echo (issue 27): what the Responses
 * translation (request → canonical, canonical → Response / Responses events, the stored
 * conversation) adds to the chat path.
 *
 *   bun run bench/responses.ts                       # 3 interleaved rounds, 5 s each, c=8
 *   ROUNDS=5 DURATION=10 CONNECTIONS=16 bun run bench/responses.ts
 *
 * Two measures:
 * 1. Through the gateway (its own process, embedded log, analytics off), wrk, scenarios
 *    interleaved round by round so machine load hits them alike; median req/s per scenario.
 * 2. The translation alone (pure functions, in this process): µs per request for
 *    toCanonical + fromCanonical (JSON) and for the stream writer over echo-like chunks,
 *    against the gateway's chat time per request (1 / chat req/s, at this concurrency).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ChatCompletion, ChatCompletionChunk } from "../src/canonical/chat.ts";
import { toCanonical } from "../src/canonical/responses-request.ts";
import { fromCanonical, responseShell } from "../src/canonical/responses-output.ts";
import { ResponsesStreamWriter } from "../src/canonical/responses-stream.ts";
import { splitForStreaming } from "../src/providers/tokens.ts";
import { openaiChunkFormatter } from "../src/api/openai.ts";

const ROOT = resolve(import.meta.dir, "..");
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);
if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is missing: apt-get install -y wrk");
  process.exit(1);
}

const TEXT = "Hello, how are you today? Please answer in one short sentence.";
const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-resp-"));
const port = 18000 + Math.floor(Math.random() * 1000);
const gateway = spawn(process.execPath, ["run", "src/main.ts"], {
  cwd: ROOT,
  env: { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: dir, TOLLGATE_PLUGINS_DIR: join(dir, "none"), TOLLGATE_ANALYTICS: "off", TOLLGATE_ADMIN_KEY: "bench-admin-key-0123456789" },
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

function wrk(path: string, script: string): { rps: number; p50: string; p99: string; errors: number } {
  const r = spawnSync("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", script, `${base}${path}`], { encoding: "utf8" });
  const out = r.stdout;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: /50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "?",
    p99: /99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "?",
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

const chat = { model: "echo", messages: [{ role: "user", content: TEXT }] };
const scenarios = [
  { name: "POST /v1/chat/completions, echo, JSON", path: "/v1/chat/completions", body: chat },
  { name: "POST /v1/responses, echo, JSON (store: false)", path: "/v1/responses", body: { model: "echo", input: TEXT, store: false } },
  { name: "POST /v1/responses, echo, JSON (stored)", path: "/v1/responses", body: { model: "echo", input: TEXT } },
  { name: "POST /v1/chat/completions, echo, stream", path: "/v1/chat/completions", body: { ...chat, stream: true, stream_options: { include_usage: true } } },
  { name: "POST /v1/responses, echo, stream (store: false)", path: "/v1/responses", body: { model: "echo", input: TEXT, stream: true, store: false } },
].map((s) => ({ ...s, script: luaPost(s.body), runs: [] as ReturnType<typeof wrk>[] }));

for (let round = 0; round < ROUNDS; round++) for (const s of scenarios) s.runs.push(wrk(s.path, s.script));
gateway.kill("SIGTERM");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}s, ${ROUNDS} interleaved rounds (median), ${new Date().toISOString()}, load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}\n`);
console.log("| scenario | req/s (median) | vs chat | p50 | p99 | non-2xx |");
console.log("| --- | --- | --- | --- | --- | --- |");
const chatJson = median(scenarios[0]!.runs.map((r) => r.rps));
const chatStream = median(scenarios[3]!.runs.map((r) => r.rps));
for (const s of scenarios) {
  const rps = median(s.runs.map((r) => r.rps));
  const ref = s.body === scenarios[0]!.body || !("stream" in s.body) ? chatJson : chatStream;
  const mid = s.runs.find((r) => r.rps === rps)!;
  console.log(`| ${s.name} | ${rps.toFixed(0)} | ${((rps / ref - 1) * 100).toFixed(1)}% | ${mid.p50} | ${mid.p99} | ${s.runs.reduce((n, r) => n + r.errors, 0)} |`);
}

// 2. The translation alone.
const N = 20_000;
const completion: ChatCompletion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "echo",
  choices: [{ index: 0, message: { role: "assistant", content: TEXT }, finish_reason: "stop" }],
  usage: { prompt_tokens: 20, completion_tokens: 14, total_tokens: 34 },
};
const pieces = splitForStreaming(TEXT);
const chunks: ChatCompletionChunk[] = [
  { id: "c", object: "chat.completion.chunk", created: 1, model: "echo", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
  ...pieces.map((p): ChatCompletionChunk => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "echo", choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
  { id: "c", object: "chat.completion.chunk", created: 1, model: "echo", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  { id: "c", object: "chat.completion.chunk", created: 1, model: "echo", choices: [], usage: completion.usage! },
];
const request = { model: "echo", input: TEXT };
const shellOf = () => responseShell(request, { id: "resp_x", createdAt: 1, previousResponseId: null, store: false });
const time = (fn: () => void) => {
  for (let i = 0; i < 2000; i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn();
  return ((performance.now() - t0) * 1000) / N;
};
const jsonUs = time(() => {
  toCanonical(request);
  JSON.stringify(fromCanonical(completion, shellOf()));
});
// What the chat path does in the same place (serialise the completion / format each chunk as OpenAI SSE).
const chatJsonBase = time(() => {
  JSON.stringify(completion);
});
const format = openaiChunkFormatter(true);
const chatStreamBase = time(() => {
  let out = "";
  for (const c of chunks) out += format(c) ?? "";
  out += "data: [DONE]\n\n";
});
const streamUs = time(() => {
  toCanonical({ ...request, stream: true });
  const w = new ResponsesStreamWriter(shellOf());
  let out = "";
  for (const c of chunks) out += w.write(c);
  out += w.end();
});
const addedJson = jsonUs - chatJsonBase;
const addedStream = streamUs - chatStreamBase;
console.log(`\ntranslation alone (this process, ${N} iterations): JSON ${jsonUs.toFixed(1)} µs/request (chat's own serialisation ${chatJsonBase.toFixed(1)} µs → added ${addedJson.toFixed(1)} µs); stream (${chunks.length} chunks → ${pieces.length + 9} events) ${streamUs.toFixed(1)} µs (chat's SSE formatting ${chatStreamBase.toFixed(1)} µs → added ${addedStream.toFixed(1)} µs)`);
console.log(`chat path at this load: ${(1e6 / chatJson).toFixed(0)} µs of gateway time per JSON request, ${(1e6 / chatStream).toFixed(0)} µs per stream (1 / req/s: JS runs on one thread) → added by the translation: ${((addedJson / (1e6 / chatJson)) * 100).toFixed(1)}% (JSON), ${((addedStream / (1e6 / chatStream)) * 100).toFixed(1)}% (stream)`);
rmSync(dir, { recursive: true, force: true });
