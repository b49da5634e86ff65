/**
 * A fake OpenAI-compatible upstream for tests: a real HTTP server (`Bun.serve`, random
 * port) speaking OpenAI's wire format for `POST /v1/chat/completions` (JSON
 * `chat.completion`, or SSE `data: {chunk}\n\n` … `data: [DONE]\n\n`) and `GET /v1/models`.
 *
 * ```ts
 * const fake = startFakeOpenAI({ apiKey: "sk-test" });
 * const provider = openaiProvider({ id: "openai", kind: "openai", baseUrl: fake.url, apiKey: "sk-test", models: ["gpt-4o-mini"] });
 * fake.setBehavior({ kind: "error", status: 429, headers: { "retry-after": "7" } }); // every request from now on
 * fake.enqueue({ kind: "error", status: 500 }, { kind: "ok" }); // the next two requests, then back to the default
 * fake.requests[0]?.body.model; // what the upstream received
 * await fake.close();
 * ```
 */

/** What the fake does with the next chat completion request. */
export type FakeBehavior =
  /** Answer normally: JSON, or SSE in `chunkSize`-character pieces when `stream: true`. */
  | {
      kind: "ok";
      /** Answer text (default: `"Hello from the fake upstream!"`). */
      content?: string;
      /** The `model` field in responses (default: the request's model). */
      model?: string;
      /** Omit `usage` even when asked for (tests the adapter's own counting). */
      omitUsage?: boolean;
      /** Characters per streamed content chunk (default 5). */
      chunkSize?: number;
      /** Pause before each streamed content chunk, ms (default 0): "stream slowly". */
      chunkDelayMs?: number;
      finishReason?: string;
    }
  /** Fail with an OpenAI error body `{"error":{"message","type","param","code"}}`. */
  | { kind: "error"; status: number; message?: string; type?: string; code?: string | null; headers?: Record<string, string> }
  /** 200 with an invalid JSON body (non-stream) or an SSE `data:` line that is not JSON (stream). */
  | { kind: "malformed" }
  /** Stream a role chunk and some content, then close without a finish_reason or `[DONE]`. */
  | { kind: "truncate"; content?: string }
  /** Never send response headers (until the client gives up or the server closes). */
  | { kind: "hang" };

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when absent or not JSON). */
  body: any;
}

export interface FakeOpenAI {
  /** Base URL to configure as `baseUrl`, ending in `/v1` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** How many streamed responses the client cancelled before the fake finished them. */
  readonly cancellations: number;
  /** Sets the default behavior for all following requests. */
  setBehavior(behavior: FakeBehavior): void;
  /** Queues one-shot behaviors, used (in order) before the default. */
  enqueue(...behaviors: FakeBehavior[]): void;
  /** Resolves when `cancellations` reaches `count` (default: one more than now); rejects after `timeoutMs`. */
  waitForCancellation(count?: number, timeoutMs?: number): Promise<void>;
  /** Clears recorded requests, the queue, the cancellation count, and restores `{ kind: "ok" }`. */
  reset(): void;
  /** Stops the server, closing open connections. */
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  /** Default behavior (default `{ kind: "ok" }`). */
  behavior?: FakeBehavior;
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401. */
  apiKey?: string;
}

const DEFAULT_CONTENT = "Hello from the fake upstream!";
const encoder = new TextEncoder();
const JSON_HEADERS = { "content-type": "application/json" };

/** Starts a fake OpenAI upstream on a random local port. */
export function startFakeOpenAI(options: FakeOpenAIOptions = {}): FakeOpenAI {
  let defaultBehavior: FakeBehavior = options.behavior ?? { kind: "ok" };
  const queue: FakeBehavior[] = [];
  const requests: RecordedRequest[] = [];
  let cancellations = 0;
  const pending = new Set<() => void>(); // hanging requests, released on close

  const onCancel = () => void cancellations++;

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const body = parseJsonOrUndefined(await req.text());
      requests.push({ method: req.method, path, headers: Object.fromEntries(req.headers), body });

      if (options.apiKey !== undefined && req.headers.get("authorization") !== `Bearer ${options.apiKey}`) {
        return errorResponse(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
      }
      if (req.method === "GET" && path === "/v1/models") {
        return Response.json({ object: "list", data: [{ id: "gpt-4o-mini", object: "model", created: 1721172741, owned_by: "system" }] });
      }
      if (req.method !== "POST" || path !== "/v1/chat/completions") {
        return errorResponse(404, `Invalid URL (${req.method} ${path})`, "invalid_request_error", null);
      }
      if (!body) return errorResponse(400, "We could not parse the JSON body of your request.", "invalid_request_error", null);

      const behavior = queue.shift() ?? defaultBehavior;
      switch (behavior.kind) {
        case "error":
          return errorResponse(behavior.status, behavior.message, behavior.type, behavior.code, behavior.headers);
        case "hang":
          return new Promise<Response>((resolve) => {
            const release = () => resolve(new Response(null, { status: 503 }));
            pending.add(release);
            req.signal.addEventListener("abort", release, { once: true });
          });
        case "malformed":
          return body.stream
            ? sse(["data: {\"id\":\"chatcmpl-bad\",\"object\":\"chat.completion.chunk\",\n\n"], onCancel)
            : new Response('{"id":"chatcmpl-bad","object":"chat.completion","choices":[', { headers: JSON_HEADERS });
        case "truncate": {
          const c = chunkFactory(body.model);
          const content = behavior.content ?? DEFAULT_CONTENT;
          return sse([c({ role: "assistant", content: "", refusal: null }), c({ content: content.slice(0, 5) })], onCancel);
        }
        case "ok":
          return body.stream ? streamOk(body, behavior, onCancel) : jsonOk(body, behavior);
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    port: server.port!,
    requests,
    get cancellations() {
      return cancellations;
    },
    setBehavior(behavior) {
      defaultBehavior = behavior;
    },
    enqueue(...behaviors) {
      queue.push(...behaviors);
    },
    async waitForCancellation(count = cancellations + 1, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (cancellations < count) {
        if (Date.now() > deadline) {
          throw new Error(`fake upstream: no cancellation within ${timeoutMs} ms (seen ${cancellations}, want ${count})`);
        }
        await Bun.sleep(5);
      }
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      cancellations = 0;
      defaultBehavior = { kind: "ok" };
    },
    async close() {
      for (const release of pending) release();
      pending.clear();
      await server.stop(true);
    },
  };
}

function parseJsonOrUndefined(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function errorResponse(
  status: number,
  message?: string,
  type?: string,
  code?: string | null,
  headers?: Record<string, string>,
): Response {
  const defaults = DEFAULT_ERRORS[status] ?? { message: `Error ${status}`, type: "server_error", code: null };
  const error = {
    message: message ?? defaults.message,
    type: type ?? defaults.type,
    param: null,
    code: code === undefined ? defaults.code : code,
  };
  return Response.json({ error }, { status, headers });
}

const DEFAULT_ERRORS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: "Invalid value for 'temperature': must be between 0 and 2.", type: "invalid_request_error", code: "invalid_value" },
  401: { message: "Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.", type: "invalid_request_error", code: "invalid_api_key" },
  404: { message: "The model `nope` does not exist or you do not have access to it.", type: "invalid_request_error", code: "model_not_found" },
  429: { message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.", type: "requests", code: "rate_limit_exceeded" },
  500: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", code: null },
  503: { message: "The engine is currently overloaded, please try again later.", type: "server_error", code: null },
};

type OkBehavior = Extract<FakeBehavior, { kind: "ok" }>;

function fakeUsage(body: any, content: string) {
  const prompt = JSON.stringify(body.messages ?? []).length >> 2;
  const completion = Math.max(1, content.length >> 2);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function jsonOk(body: any, b: OkBehavior): Response {
  const content = b.content ?? DEFAULT_CONTENT;
  return Response.json({
    id: "chatcmpl-fake0001",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: b.model ?? body.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: b.finishReason ?? "stop",
      },
    ],
    ...(b.omitUsage ? {} : { usage: fakeUsage(body, content) }),
    service_tier: "default",
    system_fingerprint: "fp_fake",
  });
}

/** Returns a function that renders one SSE `data:` line for a chunk with the given delta. */
function chunkFactory(model: string, created = Math.floor(Date.now() / 1000)) {
  return (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-fake0002",
      object: "chat.completion.chunk",
      created,
      model,
      service_tier: "default",
      system_fingerprint: "fp_fake",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...extra,
    })}\n\n`;
}

function streamOk(body: any, b: OkBehavior, onCancel: () => void): Response {
  const content = b.content ?? DEFAULT_CONTENT;
  const model = b.model ?? body.model;
  const withUsage = body.stream_options?.include_usage === true && !b.omitUsage;
  const extra = withUsage ? { usage: null } : {};
  const c = chunkFactory(model);
  const size = Math.max(1, b.chunkSize ?? 5);
  const events: string[] = [c({ role: "assistant", content: "", refusal: null }, null, extra)];
  for (let i = 0; i < content.length; i += size) events.push(c({ content: content.slice(i, i + size) }, null, extra));
  events.push(c({}, b.finishReason ?? "stop", extra));
  if (withUsage) {
    const usageChunk = JSON.parse(c({}).slice(6));
    events.push(`data: ${JSON.stringify({ ...usageChunk, choices: [], usage: fakeUsage(body, content) })}\n\n`);
  }
  events.push("data: [DONE]\n\n");
  return sse(events, onCancel, b.chunkDelayMs ?? 0);
}

/** An SSE response writing `events` in order (with an optional pause before each). */
function sse(events: string[], onCancel: () => void, delayMs = 0): Response {
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next >= events.length) return controller.close();
      if (delayMs > 0) await Bun.sleep(delayMs);
      controller.enqueue(encoder.encode(events[next++]!));
    },
    cancel() {
      onCancel();
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}
