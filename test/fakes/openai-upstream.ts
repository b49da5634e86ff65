/**
 * A fake OpenAI-compatible upstream for tests: a real HTTP server (`Bun.serve`, random
 * port) speaking OpenAI's wire format for `POST /v1/chat/completions` (JSON
 * `chat.completion`, or SSE `data: {chunk}\n\n` … `data: [DONE]\n\n`), `POST /v1/embeddings`
 * (deterministic vectors, see `fakeEmbedding`) and `GET /v1/models`.
 *
 * It also answers Azure OpenAI's layout: `POST /openai/deployments/{deployment}/chat/completions`
 * and `…/embeddings` with `?api-version=` (404 without it) and the `api-key` header, Azure's
 * error bodies, and Azure's content-filter annotations (`prompt_filter_results` on the answer,
 * or as a first stream chunk with empty id/model and no choices; `content_filter_results` on
 * the choice, `filtered: true` when the answer ends with `finish_reason: "content_filter"`).
 *
 * ```ts
 * const fake = startFakeOpenAI({ apiKey: "sk-test" });
 * const provider = openaiProvider({ id: "openai", kind: "openai", baseUrl: fake.url, apiKey: "sk-test", models: ["gpt-4o-mini"] });
 * fake.setBehavior({ kind: "error", status: 429, headers: { "retry-after": "7" } }); // every request from now on
 * fake.enqueue({ kind: "error", status: 500 }, { kind: "ok" }); // the next two requests, then back to the default
 * fake.requests[0]?.body.model; // what the upstream received
 * fake.requests[0]?.query["api-version"]; fake.requests[0]?.deployment; // Azure routes
 * await fake.close();
 * ```
 */

import { createFakeServer, type FakeServer } from "./fake-server.ts";

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
      /**
       * Usage to report instead of the computed one, in OpenAI's shape: `prompt_tokens` includes
       * `cached_tokens`, `completion_tokens` includes `reasoning_tokens`.
       */
      usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number; reasoning_tokens?: number };
      /** Characters per streamed content chunk (default 5). */
      chunkSize?: number;
      /** Stream exactly these content pieces, one SSE chunk each (overrides `content` and `chunkSize`). */
      contentChunks?: string[];
      /** Pause before each streamed content chunk, ms (default 0): "stream slowly". */
      chunkDelayMs?: number;
      finishReason?: string;
      /**
       * Answer with tool calls (finish_reason `tool_calls`; no text unless `content` is set).
       * Streamed like OpenAI: per call a delta with `index`, `id`, `type`, `function.name` and
       * `arguments: ""`, then the arguments in `argumentChunkSize`-character fragments.
       */
      toolCalls?: FakeToolCall[];
      /** Characters per streamed tool-call argument fragment (default 4). */
      argumentChunkSize?: number;
    }
  /**
   * Fail with an OpenAI error body `{"error":{"message","type","param","code"}}`, or with
   * `body` sent verbatim as JSON (other vendors' shapes).
   */
  | {
      kind: "error";
      status: number;
      message?: string;
      type?: string;
      code?: string | null;
      param?: string | null;
      headers?: Record<string, string>;
      body?: unknown;
    }
  /** 200 whose JSON body is `{"error":{…}}` (non-stream), or an error event mid-stream after one content chunk. */
  | { kind: "error-in-200"; message?: string }
  /** 200 with an invalid JSON body (non-stream) or an SSE `data:` line that is not JSON (stream). */
  | { kind: "malformed" }
  /**
   * Stream a role chunk and some content, then close without a finish_reason or `[DONE]`
   * (non-streaming and embeddings: a JSON body cut off midway).
   */
  | {
      kind: "truncate";
      content?: string;
      /** How many chunks to send before closing (default 2: the role chunk and 5 characters). */
      afterChunks?: number;
    }
  /** Never send response headers (until the client gives up or the server closes). */
  | { kind: "hang" };

export interface FakeToolCall {
  /** Default `call_fake<index>`. */
  id?: string;
  name: string;
  /** The JSON arguments text, as the model would write it. */
  arguments: string;
  /** Stream the arguments in exactly these pieces (their concatenation must equal `arguments`). */
  argumentChunks?: string[];
}

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Query parameters, e.g. `{ "api-version": "2024-10-21" }`. */
  query: Record<string, string>;
  /** Azure routes: the deployment named in the path. */
  deployment?: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when absent or not JSON). */
  body: any;
}

/** The fake's controls (`requests`, `cancellations`, `setBehavior`, `enqueue`, `waitForCancellation`, `close`: see `FakeServer`). */
export interface FakeOpenAI extends FakeServer<FakeBehavior, RecordedRequest> {
  /** Base URL to configure as `baseUrl`, ending in `/v1` (no trailing slash). */
  readonly url: string;
  /** Clears recorded requests, the queue, the cancellation count, and restores `{ kind: "ok" }`. */
  reset(): void;
}

export interface FakeOpenAIOptions {
  /** Default behavior (default `{ kind: "ok" }`). */
  behavior?: FakeBehavior;
  /**
   * When set, requests without `Authorization: Bearer <apiKey>` (Azure routes: without
   * `api-key: <apiKey>`) get the vendor's 401.
   */
  apiKey?: string;
}

const DEFAULT_CONTENT = "Hello from the fake upstream!";
const AZURE_ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const OPENAI_ROUTES: Record<string, string> = { "/v1/chat/completions": "chat/completions", "/v1/embeddings": "embeddings" };
const CUT_COMPLETION = '{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hel';
const CUT_EMBEDDINGS = '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,';
const AZURE_401 =
  "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
const JSON_HEADERS = { "content-type": "application/json" };

/** Starts a fake OpenAI upstream on a random local port. */
export function startFakeOpenAI(options: FakeOpenAIOptions = {}): FakeOpenAI {
  return createFakeServer<FakeBehavior, RecordedRequest>({
    name: "fake upstream",
    basePath: "/v1",
    defaultBehavior: { kind: "ok" },
    behavior: options.behavior,
    sseHeaders: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
    record(req, url, body) {
      const deployment = azureDeployment(url.pathname);
      return { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), ...(deployment !== undefined ? { deployment } : {}), headers: Object.fromEntries(req.headers), body };
    },
    handle(req, { url, body, next, sse, hang }) {
      const path = url.pathname;
      const azure = AZURE_ROUTE.exec(path);
      if (options.apiKey !== undefined) {
        if (azure && req.headers.get("api-key") !== options.apiKey) {
          return Response.json({ error: { code: "401", message: AZURE_401 } }, { status: 401 });
        }
        if (!azure && req.headers.get("authorization") !== `Bearer ${options.apiKey}`) {
          return errorResponse(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        }
      }
      if (req.method === "GET" && path === "/v1/models") {
        return Response.json({ object: "list", data: [{ id: "gpt-4o-mini", object: "model", created: 1721172741, owned_by: "system" }] });
      }
      const op = azure ? azure[2] : OPENAI_ROUTES[path];
      if (req.method !== "POST" || !op) {
        return errorResponse(404, `Invalid URL (${req.method} ${path})`, "invalid_request_error", null);
      }
      if (azure && !Object.fromEntries(url.searchParams)["api-version"]) return Response.json({ error: { code: "404", message: "Resource not found" } }, { status: 404 });
      if (!body) return errorResponse(400, "We could not parse the JSON body of your request.", "invalid_request_error", null);

      const behavior = next();
      const model: string = (behavior.kind === "ok" ? behavior.model : undefined) ?? body.model ?? azureDeployment(path) ?? "fake-model";
      const streaming = op === "chat/completions" && body.stream === true;
      switch (behavior.kind) {
        case "error":
          return behavior.body !== undefined
            ? Response.json(behavior.body, { status: behavior.status, headers: behavior.headers })
            : errorResponse(behavior.status, behavior.message, behavior.type, behavior.code, behavior.headers, behavior.param);
        case "error-in-200": {
          const error = { message: behavior.message ?? "The server had an error while processing your request.", type: "server_error", param: null, code: null };
          if (!streaming) return Response.json({ error });
          const c = chunkFactory(model);
          return sse([c({ role: "assistant", content: "" }), c({ content: "Hel" }), `data: ${JSON.stringify({ error })}\n\n`]);
        }
        case "hang":
          return hang();
        case "malformed":
          return streaming
            ? sse(["data: {\"id\":\"chatcmpl-bad\",\"object\":\"chat.completion.chunk\",\n\n"])
            : new Response('{"id":"chatcmpl-bad","object":"chat.completion","choices":[', { headers: JSON_HEADERS });
        case "truncate": {
          if (!streaming) return new Response(op === "embeddings" ? CUT_EMBEDDINGS : CUT_COMPLETION, { headers: JSON_HEADERS });
          const c = chunkFactory(model);
          const content = behavior.content ?? DEFAULT_CONTENT;
          const chunks = [c({ role: "assistant", content: "", refusal: null }), c({ content: content.slice(0, 5) })];
          return sse(chunks.slice(0, behavior.afterChunks ?? 2));
        }
        case "ok":
          if (op === "embeddings") return embeddingsOk(body, behavior, model);
          return streaming ? sse(streamEvents(body, behavior, model, azure !== null), behavior.chunkDelayMs ?? 0) : jsonOk(body, behavior, model, azure !== null);
      }
    },
  });
}

/** The deployment an Azure route names (undefined on other paths). */
function azureDeployment(path: string): string | undefined {
  const azure = AZURE_ROUTE.exec(path);
  return azure ? decodeURIComponent(azure[1]!) : undefined;
}

function errorResponse(
  status: number,
  message?: string,
  type?: string,
  code?: string | null,
  headers?: Record<string, string>,
  param?: string | null,
): Response {
  const defaults = DEFAULT_ERRORS[status] ?? { message: `Error ${status}`, type: "server_error", code: null };
  const error = {
    message: message ?? defaults.message,
    type: type ?? defaults.type,
    param: param ?? null,
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

function fakeUsage(body: any, content: string, given?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number; reasoning_tokens?: number }) {
  const prompt = given?.prompt_tokens ?? JSON.stringify(body.messages ?? []).length >> 2;
  const completion = given?.completion_tokens ?? Math.max(1, content.length >> 2);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: given?.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: given?.reasoning_tokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** The tool calls of an `ok` answer in OpenAI's message shape (undefined when none). */
function toolCallsOf(b: OkBehavior) {
  return b.toolCalls?.map((t, i) => ({ id: t.id ?? `call_fake${i}`, type: "function", function: { name: t.name, arguments: t.arguments } }));
}

/** The answer text: none when the answer is tool calls only. */
function textOf(b: OkBehavior): string | undefined {
  if (b.contentChunks) return b.contentChunks.join("");
  return b.toolCalls && b.content === undefined ? undefined : (b.content ?? DEFAULT_CONTENT);
}

/** What the fake counts completion tokens of: the text and the tool calls. */
function generatedText(b: OkBehavior): string {
  return (textOf(b) ?? "") + (b.toolCalls ?? []).map((t) => t.name + t.arguments).join("");
}

const FILTER_CATEGORIES = ["hate", "self_harm", "sexual", "violence"];

/** Azure's per-category content-filter verdicts (`violence` trips when `filtered`). */
function filterResults(filtered: boolean) {
  return Object.fromEntries(
    FILTER_CATEGORIES.map((c) => [c, filtered && c === "violence" ? { filtered: true, severity: "high" } : { filtered: false, severity: "safe" }]),
  );
}

const promptFilterResults = () => [{ prompt_index: 0, content_filter_results: filterResults(false) }];

function jsonOk(body: any, b: OkBehavior, model: string, azure: boolean): Response {
  const toolCalls = toolCallsOf(b);
  const finish = b.finishReason ?? (toolCalls ? "tool_calls" : "stop");
  return Response.json({
    id: "chatcmpl-fake0001",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    ...(azure ? { prompt_filter_results: promptFilterResults() } : {}),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: textOf(b) ?? null, refusal: null, annotations: [], ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: finish,
        ...(azure ? { content_filter_results: filterResults(finish === "content_filter") } : {}),
      },
    ],
    ...(b.omitUsage ? {} : { usage: fakeUsage(body, generatedText(b), b.usage) }),
    service_tier: "default",
    system_fingerprint: "fp_fake",
  });
}

/** Returns a function that renders one SSE `data:` line for a chunk with the given delta. */
function chunkFactory(model: string, created = Math.floor(Date.now() / 1000)) {
  return (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}, choiceExtra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-fake0002",
      object: "chat.completion.chunk",
      created,
      model,
      service_tier: "default",
      system_fingerprint: "fp_fake",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...choiceExtra }],
      ...extra,
    })}\n\n`;
}

/** The SSE events of an `ok` streamed answer. */
function streamEvents(body: any, b: OkBehavior, model: string, azure: boolean): string[] {
  const text = textOf(b);
  const withUsage = body.stream_options?.include_usage === true && !b.omitUsage;
  const extra = withUsage ? { usage: null } : {};
  const c = chunkFactory(model);
  const events: string[] = [];
  // Azure opens with the prompt's filter verdicts: no choices, empty id and model, created 0.
  if (azure) events.push(`data: ${JSON.stringify({ choices: [], created: 0, id: "", model: "", object: "", prompt_filter_results: promptFilterResults() })}\n\n`);
  if (text !== undefined) {
    const size = Math.max(1, b.chunkSize ?? 5);
    events.push(c({ role: "assistant", content: "", refusal: null }, null, extra));
    const pieces = b.contentChunks ?? Array.from({ length: Math.ceil(text.length / size) }, (_, k) => text.slice(k * size, (k + 1) * size));
    for (const piece of pieces) events.push(c({ content: piece }, null, extra));
  }
  const argSize = Math.max(1, b.argumentChunkSize ?? 4);
  for (const [index, call] of (toolCallsOf(b) ?? []).entries()) {
    const head = { index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } };
    events.push(c(index === 0 && text === undefined ? { role: "assistant", content: null, tool_calls: [head], refusal: null } : { tool_calls: [head] }, null, extra));
    const args = call.function.arguments;
    const argPieces = b.toolCalls?.[index]?.argumentChunks ?? Array.from({ length: Math.ceil(args.length / argSize) }, (_, k) => args.slice(k * argSize, (k + 1) * argSize));
    for (const piece of argPieces) events.push(c({ tool_calls: [{ index, function: { arguments: piece } }] }, null, extra));
  }
  const finish = b.finishReason ?? (b.toolCalls ? "tool_calls" : "stop");
  events.push(c({}, finish, extra, azure ? { content_filter_results: filterResults(finish === "content_filter") } : {}));
  if (withUsage) {
    const usageChunk = JSON.parse(c({}).slice(6));
    events.push(`data: ${JSON.stringify({ ...usageChunk, choices: [], usage: fakeUsage(body, generatedText(b), b.usage) })}\n\n`);
  }
  events.push("data: [DONE]\n\n");
  return events;
}

/**
 * The fake's embedding of one input: `dims` numbers from a hash of the input, scaled to
 * unit length. Deterministic, so tests can compute what to expect.
 */
export function fakeEmbedding(input: string | number[], dims = 8): number[] {
  const text = typeof input === "string" ? input : input.join(",");
  const raw = Array.from({ length: dims }, (_, j) => (fnv1a(`${j}:${text}`) / 0xffffffff) * 2 - 1);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => x / norm);
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function embeddingsOk(body: any, b: OkBehavior, model: string): Response {
  const input = body.input;
  const inputs: Array<string | number[]> =
    typeof input === "string" ? [input] : Array.isArray(input) && typeof input[0] === "number" ? [input] : Array.isArray(input) ? input : [];
  if (inputs.length === 0) return errorResponse(400, "'input' is a required property", "invalid_request_error", null, undefined, "input");
  const dims = typeof body.dimensions === "number" ? body.dimensions : 8;
  const data = inputs.map((x, index) => {
    const vector = fakeEmbedding(x, dims);
    const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
    return { object: "embedding", index, embedding };
  });
  const tokens = inputs.reduce((sum, x) => sum + (typeof x === "string" ? Math.max(1, x.length >> 2) : x.length), 0);
  return Response.json({ object: "list", data, model, ...(b.omitUsage ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }) });
}
