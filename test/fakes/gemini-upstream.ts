/**
 * A fake Gemini upstream for tests: a real HTTP server (`Bun.serve`, random port) speaking
 * the Generative Language API v1beta wire format:
 * - `POST /v1beta/models/{model}:generateContent` → a `GenerateContentResponse`;
 * - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` → `data: {GenerateContentResponse}\r\n\r\n`
 *   events (text pieces, then the last piece with `finishReason` and full `usageMetadata`);
 * - `POST /v1beta/models/{model}:batchEmbedContents` → deterministic vectors.
 * Errors use Google's body `{"error":{"code","message","status","details"}}`.
 *
 * ```ts
 * const fake = startFakeGemini({ apiKey: "g-key" });
 * const provider = geminiProvider({ id: "gemini", kind: "gemini", baseUrl: fake.url, apiKey: "g-key", models: ["gemini-2.5-flash"] });
 * fake.setBehavior({ kind: "error", status: 429, retryDelay: "30s" }); // every request from now on
 * fake.enqueue({ kind: "error", status: 500 }, { kind: "ok" });        // the next two, then the default
 * fake.requests[0]?.body.contents; // what the upstream received
 * await fake.close();
 * ```
 */

import { createFakeServer, type FakeServer } from "./fake-server.ts";

/** What the fake does with the next generate request (embeddings always answer). */
export type FakeGeminiBehavior =
  /** Answer normally (JSON, or SSE in `chunkSize`-character pieces when streaming). */
  | {
      kind: "ok";
      /** Answer text (default `"Hello from the fake Gemini!"`; `""` with `functionCalls` for calls only). */
      text?: string;
      /** Function calls in the answer, after the text (sent whole, in the last event). */
      functionCalls?: Array<{ name: string; args?: Record<string, unknown>; thoughtSignature?: string }>;
      /** Default `"STOP"`. */
      finishReason?: string;
      /** `modelVersion` (default: the model in the URL). */
      modelVersion?: string;
      /** Extra `usageMetadata` fields, e.g. `{ cachedContentTokenCount: 12, thoughtsTokenCount: 5 }`. */
      usage?: Record<string, number>;
      /** Send no `usageMetadata` at all. */
      omitUsage?: boolean;
      /** Characters per streamed text event (default 5). */
      chunkSize?: number;
      /** Pause before each streamed event, ms (default 0). */
      chunkDelayMs?: number;
    }
  /** Google's error body with `status`; `retryDelay` (e.g. `"30s"`) adds a `RetryInfo` detail. */
  | { kind: "error"; status: number; message?: string; googleStatus?: string; retryDelay?: string; reason?: string; headers?: Record<string, string> }
  /** 200 with a body (or an SSE `data:` line) that is not JSON. */
  | { kind: "malformed" }
  /** Stream some text, then close without any `finishReason`. */
  | { kind: "truncate"; text?: string }
  /** Never send response headers (until the client gives up or the server closes). */
  | { kind: "hang" }
  /** Blocked: `"prompt"` → `promptFeedback.blockReason` and no candidates; `"response"` → finishReason `SAFETY`. */
  | { kind: "safety"; where?: "prompt" | "response" };

/** A request as the fake received it. */
export interface RecordedGeminiRequest {
  method: string;
  /** Path without the query, e.g. `/v1beta/models/gemini-2.5-flash:generateContent`. */
  path: string;
  /** The query string including `?` (`""` when none). */
  search: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when absent or not JSON). */
  body: any;
}

/** The fake's controls (`requests`, `cancellations`, `setBehavior`, `enqueue`, `waitForCancellation`, `close`: see `FakeServer`). */
export interface FakeGemini extends Omit<FakeServer<FakeGeminiBehavior, RecordedGeminiRequest>, "port"> {
  /** Base URL to configure as `baseUrl`, ending in `/v1beta`. */
  readonly url: string;
  /** Clears requests, queue and cancellations; restores `{ kind: "ok" }`. */
  reset(): void;
}

export interface FakeGeminiOptions {
  behavior?: FakeGeminiBehavior;
  /** When set, a request without `x-goog-api-key` gets 403, a wrong key 400 `API_KEY_INVALID` (as Google does). */
  apiKey?: string;
}

export const FAKE_GEMINI_TEXT = "Hello from the fake Gemini!";
/** Dimensions of the fake's embeddings unless `outputDimensionality` asks otherwise. */
export const FAKE_EMBEDDING_DIMENSIONS = 8;
const ROUTE = /^\/v1beta\/((?:models|tunedModels)\/[^:/]+):(generateContent|streamGenerateContent|batchEmbedContents)$/;

/** Starts a fake Gemini upstream on a random local port. */
export function startFakeGemini(options: FakeGeminiOptions = {}): FakeGemini {
  return createFakeServer<FakeGeminiBehavior, RecordedGeminiRequest>({
    name: "fake Gemini",
    basePath: "/v1beta",
    defaultBehavior: { kind: "ok" },
    behavior: options.behavior,
    sseHeaders: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-content-type-options": "nosniff" },
    record: (req, url, body) => ({ method: req.method, path: url.pathname, search: url.search, headers: Object.fromEntries(req.headers), body }),
    handle(req, { url, body, next, sse, hang }) {
      const key = req.headers.get("x-goog-api-key");
      if (options.apiKey !== undefined && key === null) return googleError({ kind: "error", status: 403 });
      if (options.apiKey !== undefined && key !== options.apiKey) {
        return googleError({ kind: "error", status: 400, message: "API key not valid. Please pass a valid API key.", reason: "API_KEY_INVALID" });
      }
      const route = ROUTE.exec(url.pathname);
      if (req.method !== "POST" || !route) return googleError({ kind: "error", status: 404, message: `Method not found: ${url.pathname}` });
      if (!body) return googleError({ kind: "error", status: 400, message: "Invalid JSON payload received." });
      const [, resource = "", method] = route;
      if (method === "batchEmbedContents") return embed(body);

      const stream = method === "streamGenerateContent";
      const model = resource.replace(/^models\//, "");
      const b = next();
      switch (b.kind) {
        case "error":
          return googleError(b);
        case "hang":
          return hang();
        case "malformed":
          return stream ? sse(['data: {"candidates": [{"content": {"parts": [{"text": "Hel\r\n\r\n']) : new Response('{"candidates": [', { headers: { "content-type": "application/json" } });
        case "truncate": {
          const text = b.text ?? FAKE_GEMINI_TEXT;
          return sse([event({ candidates: [candidate([{ text: text.slice(0, 5) }])], modelVersion: model })]);
        }
        case "safety": {
          const blocked = safety(b.where ?? "prompt", body, model);
          return stream ? sse([event(blocked)]) : Response.json(blocked);
        }
        case "ok":
          return stream ? sse(streamEvents(body, b, model), b.chunkDelayMs ?? 0) : Response.json(answer(body, b, model, b.text ?? FAKE_GEMINI_TEXT, true));
      }
    },
  });
}

const GOOGLE_ERRORS: Record<number, { status: string; message: string }> = {
  400: { status: "INVALID_ARGUMENT", message: "Request contains an invalid argument." },
  401: { status: "UNAUTHENTICATED", message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential." },
  403: { status: "PERMISSION_DENIED", message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API." },
  404: { status: "NOT_FOUND", message: "models/nope is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods." },
  429: { status: "RESOURCE_EXHAUSTED", message: "You exceeded your current quota, please check your plan and billing details." },
  500: { status: "INTERNAL", message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting" },
  503: { status: "UNAVAILABLE", message: "The model is overloaded. Please try again later." },
  504: { status: "DEADLINE_EXCEEDED", message: "Deadline expired before operation could complete." },
};

function googleError(b: Extract<FakeGeminiBehavior, { kind: "error" }>): Response {
  const defaults = GOOGLE_ERRORS[b.status] ?? { status: "UNKNOWN", message: `Error ${b.status}` };
  const details: unknown[] = [];
  if (b.reason) details.push({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: b.reason, domain: "googleapis.com", metadata: { service: "generativelanguage.googleapis.com" } });
  if (b.retryDelay) {
    details.push({ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests", quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" }] });
    details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: b.retryDelay });
  }
  const error = { code: b.status, message: b.message ?? defaults.message, status: b.googleStatus ?? defaults.status, ...(details.length ? { details } : {}) };
  return Response.json({ error }, { status: b.status, ...(b.headers ? { headers: b.headers } : {}) });
}

type OkBehavior = Extract<FakeGeminiBehavior, { kind: "ok" }>;

const candidate = (parts: unknown[], finishReason?: string) => ({
  content: { parts, role: "model" },
  ...(finishReason ? { finishReason } : {}),
  index: 0,
});

function usageMetadata(body: any, text: string, extra: Record<string, number> = {}) {
  const prompt = Math.max(1, JSON.stringify(body.contents ?? []).length >> 2);
  const candidates = Math.max(1, text.length >> 2);
  const thoughts = extra.thoughtsTokenCount ?? 0;
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + thoughts,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
    ...extra,
  };
}

/** One full `GenerateContentResponse` (or, streaming, the last event carrying `text`). */
function answer(body: any, b: OkBehavior, model: string, text: string, withCalls: boolean) {
  const parts: unknown[] = text ? [{ text }] : [];
  if (withCalls) for (const c of b.functionCalls ?? []) parts.push({ functionCall: { name: c.name, args: c.args ?? {} }, ...(c.thoughtSignature ? { thoughtSignature: c.thoughtSignature } : {}) });
  const full = (b.text ?? FAKE_GEMINI_TEXT) + JSON.stringify(b.functionCalls ?? []);
  return {
    candidates: [candidate(parts, b.finishReason ?? "STOP")],
    ...(b.omitUsage ? {} : { usageMetadata: usageMetadata(body, full, b.usage) }),
    modelVersion: b.modelVersion ?? model,
    responseId: "fakeResp0001",
  };
}

/** The SSE events of an `ok` streamed answer. */
function streamEvents(body: any, b: OkBehavior, model: string): string[] {
  const text = b.text ?? FAKE_GEMINI_TEXT;
  const size = Math.max(1, b.chunkSize ?? 5);
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  const last = pieces.pop() ?? "";
  const prompt = usageMetadata(body, "").promptTokenCount;
  const events = pieces.map((piece) =>
    event({ candidates: [candidate([{ text: piece }])], ...(b.omitUsage ? {} : { usageMetadata: { promptTokenCount: prompt, totalTokenCount: prompt } }), modelVersion: b.modelVersion ?? model, responseId: "fakeResp0002" }),
  );
  events.push(event({ ...answer(body, b, model, last, true), responseId: "fakeResp0002" }));
  return events;
}

/** The answer to a blocked prompt or response (JSON, or the one SSE event). */
function safety(where: "prompt" | "response", body: any, model: string) {
  const usage = { promptTokenCount: usageMetadata(body, "").promptTokenCount, totalTokenCount: usageMetadata(body, "").promptTokenCount };
  return where === "prompt"
    ? { promptFeedback: { blockReason: "SAFETY", safetyRatings: [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true }] }, usageMetadata: usage, modelVersion: model }
    : {
        candidates: [{ finishReason: "SAFETY", index: 0, safetyRatings: [{ category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH", blocked: true }] }],
        usageMetadata: usage,
        modelVersion: model,
      };
}

/** Deterministic vectors: value i of text t is a multiple of 1/1024 (exact in float32). */
export function fakeEmbedding(text: string, dimensions = FAKE_EMBEDDING_DIMENSIONS): number[] {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
  return Array.from({ length: dimensions }, (_, i) => (((h + i * 7919) % 2048) - 1024) / 1024);
}

function embed(body: any): Response {
  if (!Array.isArray(body.requests)) return googleError({ kind: "error", status: 400, message: "Invalid JSON payload received. Unknown name \"input\"." });
  const embeddings = body.requests.map((r: any) => ({
    values: fakeEmbedding((r.content?.parts ?? []).map((p: any) => p.text ?? "").join(""), r.outputDimensionality ?? FAKE_EMBEDDING_DIMENSIONS),
  }));
  return Response.json({ embeddings });
}

/** One SSE event as Google writes it (CRLF line endings). */
const event = (data: unknown) => `data: ${JSON.stringify(data)}\r\n\r\n`;
