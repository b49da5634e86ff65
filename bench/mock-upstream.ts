/**
 * The benchmarks' upstream: an OpenAI-compatible chat completions server (JSON and SSE) in Bun.
 *
 *   PORT=9000 MOCK_LATENCY_MS=0 MOCK_TOKENS=16 bun bench/mock-upstream.ts
 *
 * MOCK_LATENCY_MS delays each answer (a stream: its first chunk); MOCK_TOKENS is the answer's
 * size in tokens (one SSE chunk per token). Serves `/v1/chat/completions` and
 * `/chat/completions` (Portkey's custom host appends the path to the base URL it is given).
 */
const latency = Number(process.env.MOCK_LATENCY_MS ?? 0);
const tokens = Number(process.env.MOCK_TOKENS ?? 16);
const words = Array.from({ length: tokens }, (_, i) => (i === 0 ? "Hello" : " word"));
const text = words.join("");
const usage = { prompt_tokens: 12, completion_tokens: tokens, total_tokens: 12 + tokens };
const encoder = new TextEncoder();

function completion(model: string): string {
  return JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage,
  });
}

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, withUsage = false): Uint8Array {
  const c = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, choices: withUsage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage } : {}) };
  return encoder.encode(`data: ${JSON.stringify(c)}\n\n`);
}

function stream(model: string, includeUsage: boolean): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      if (latency > 0) await Bun.sleep(latency);
      controller.enqueue(chunk(model, { role: "assistant", content: "" }, null));
      for (const w of words) controller.enqueue(chunk(model, { content: w }, null));
      controller.enqueue(chunk(model, {}, "stop"));
      if (includeUsage) controller.enqueue(chunk(model, {}, null, true));
      controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/health") return new Response("ok");
    if (path.endsWith("/models")) return Response.json({ object: "list", data: [{ id: "gpt-4o-mini", object: "model", owned_by: "bench" }] });
    if (!path.endsWith("/chat/completions") || req.method !== "POST") return new Response("not found", { status: 404 });
    const body = (await req.json()) as { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    const model = body.model ?? "gpt-4o-mini";
    if (body.stream) return stream(model, body.stream_options?.include_usage === true);
    if (latency > 0) await Bun.sleep(latency);
    return new Response(completion(model), { headers: { "content-type": "application/json" } });
  },
});
console.log(`mock upstream on ${server.port}`);
export {};
