/**
 * Adapter for Google's Gemini API (Generative Language API v1beta). Canonical requests are
 * translated by `translate.ts`, streams by `stream.ts`; this module is the HTTP shell:
 * URLs and headers, timeouts, cancellation, embeddings, and mapping failures to ProviderErrors.
 */
import { type Attempt, startAttempt } from "../attempt.ts";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../../canonical/chat.ts";
import type { EmbeddingsRequest, EmbeddingsResponse } from "../../canonical/embeddings.ts";
import { errors, GatewayError } from "../../pipeline/errors.ts";
import { ProviderError, providerHttpError } from "../errors.ts";
import { parseSSE } from "../sse.ts";
import { countTextTokens } from "../tokens.ts";
import type { ProviderAdapter, ProviderCallOptions, ProviderConfig } from "../types.ts";
import { invalidResponse, parseGoogleError, parseJsonObject, translateGeminiStream } from "./stream.ts";
import { fromGeminiResponse, toGeminiRequest } from "./translate.ts";
import type { GeminiBatchEmbedRequest, GeminiResponse } from "./wire.ts";

export { fromGeminiResponse, toGeminiRequest } from "./translate.ts";
export { translateGeminiStream } from "./stream.ts";

const DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta";
/** `batchEmbedContents` takes at most 100 requests per call: larger inputs are sent in batches. */
const MAX_EMBED_BATCH = 100;

/**
 * Creates an adapter for the Gemini API.
 *
 * `POST {base}/models/{model}:generateContent`, and `:streamGenerateContent?alt=sse` for
 * streams (base `https://generativelanguage.googleapis.com/v1beta` unless `cfg.baseUrl`; a
 * model id containing `/`, e.g. `tunedModels/x`, is used as the resource path as is). The key
 * goes in the `x-goog-api-key` header, next to `cfg.headers`.
 *
 * The per-attempt timeout (`opts.timeoutMs`, else `cfg.timeoutMs`, else 60 s) covers the wait
 * for response headers (and the whole body when not streaming) → 504 `upstream_timeout`.
 * Google's error body `{"error":{code,message,status,details}}` is mapped by
 * `providerHttpError` (400/404 keep the lower-cased status, e.g. `invalid_argument`, as their
 * code; `RetryInfo.retryDelay` is used when there is no `Retry-After`); a 400 with
 * `ErrorInfo.reason` `API_KEY_INVALID` is the gateway's credential problem → 502
 * `upstream_auth_failed`. Connection failures → 502 `upstream_unreachable`. When `opts.signal`
 * aborts, the upstream request is cancelled and the signal's reason rethrown.
 *
 * `embed` calls `:batchEmbedContents` and answers in OpenAI's shape (`encoding_format: "base64"`
 * = little-endian float32, like OpenAI).
 *
 * @example
 * const gemini = geminiProvider({ id: "gemini", kind: "gemini", apiKey: process.env.GEMINI_API_KEY, models: ["gemini-2.5-flash"] });
 * const res = await gemini.complete({ model: "flash", messages: [{ role: "user", content: "Hi" }] }, { model: "gemini-2.5-flash", signal });
 */
export function geminiProvider(cfg: ProviderConfig): ProviderAdapter {
  const base = (cfg.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  const provider = cfg.id;
  const endpoint = (model: string, method: string) => `${base}/${resourceName(model)}:${method}`;

  async function send(url: string, body: unknown, attempt: Attempt): Promise<Response> {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...cfg.headers, ...(cfg.apiKey ? { "x-goog-api-key": cfg.apiKey } : {}), ...attempt.headers },
      body: JSON.stringify(body),
      signal: attempt.signal,
    });
    if (!res.ok) throw httpError(res.status, await res.text(), res.headers);
    return res;
  }

  function httpError(status: number, bodyText: string, headers: Headers): ProviderError {
    const info = parseGoogleError(bodyText);
    const message = info.message ?? (bodyText.trim().slice(0, 300) || `upstream answered HTTP ${status}`);
    // Google answers an invalid or expired key with 400 INVALID_ARGUMENT + ErrorInfo reason API_KEY_*.
    if (info.reason?.startsWith("API_KEY_")) {
      return new ProviderError({ provider, status: 502, code: "upstream_auth_failed", upstreamStatus: status, message, retryable: false });
    }
    const hint = info.status ? { code: info.status.toLowerCase() } : {};
    return providerHttpError(provider, status, { message, ...hint }, headers.get("retry-after") ?? info.retryDelaySeconds);
  }

  /** Maps anything thrown during an attempt to what the caller should see. */
  function classify(err: unknown, attempt: Attempt, opts: ProviderCallOptions, phase: "request" | "stream"): unknown {
    if (err instanceof GatewayError) return err;
    if (opts.signal.aborted) return opts.signal.reason;
    if (attempt.timedOut) {
      return new ProviderError({ provider, status: 504, code: "upstream_timeout", message: `no response within ${attempt.timeoutMs} ms`, retryable: true, cause: err });
    }
    const why = err instanceof Error ? err.message : String(err);
    if (phase === "stream") {
      return new ProviderError({ provider, status: 502, code: "upstream_stream_truncated", message: `stream broke off: ${why}`, retryable: false, cause: err });
    }
    return new ProviderError({ provider, status: 502, code: "upstream_unreachable", message: `cannot reach ${base}: ${why}`, retryable: true, cause: err });
  }

  return {
    id: cfg.id,
    kind: "gemini",
    models: cfg.models,

    async complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion> {
      const body = toGeminiRequest(req);
      const attempt = startAttempt(opts, cfg);
      try {
        const res = await send(endpoint(opts.model, "generateContent"), body, attempt);
        const raw = parseJsonObject(provider, await res.text());
        if (raw.error !== undefined) throw httpError(parseGoogleError(raw).code ?? 500, JSON.stringify(raw), new Headers());
        const candidates = raw.candidates;
        if (candidates !== undefined ? !Array.isArray(candidates) : typeof raw.promptFeedback !== "object") throw invalidResponse(provider, "a response without a `candidates` list");
        return fromGeminiResponse(raw as GeminiResponse, req, opts.model);
      } catch (err) {
        throw classify(err, attempt, opts, "request");
      } finally {
        attempt.dispose();
      }
    },

    async *stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncGenerator<ChatCompletionChunk> {
      const body = toGeminiRequest(req);
      const attempt = startAttempt(opts, cfg);
      let res: Response;
      try {
        res = await send(`${endpoint(opts.model, "streamGenerateContent")}?alt=sse`, body, attempt);
      } catch (err) {
        attempt.dispose();
        throw classify(err, attempt, opts, "request");
      }
      attempt.stopTimer(); // the timeout covers the wait for headers only
      let complete = false;
      try {
        if (!res.body) throw invalidResponse(provider, "an empty body");
        yield* translateGeminiStream(parseSSE(res.body, attempt.signal), { provider, model: opts.model, req });
        complete = true;
      } catch (err) {
        throw classify(err, attempt, opts, "stream");
      } finally {
        if (!complete) attempt.abort(); // consumer left early, or failure: cancel upstream
        attempt.dispose();
      }
    },

    async embed(req: EmbeddingsRequest, opts: ProviderCallOptions): Promise<EmbeddingsResponse> {
      const inputs = embeddingInputs(req.input);
      const model = resourceName(opts.model);
      const attempt = startAttempt(opts, cfg);
      try {
        const vectors: number[][] = [];
        for (let i = 0; i < inputs.length; i += MAX_EMBED_BATCH) {
          const batch = inputs.slice(i, i + MAX_EMBED_BATCH);
          const body: GeminiBatchEmbedRequest = {
            requests: batch.map((text) => ({ model, content: { parts: [{ text }] }, ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}) })),
          };
          const raw = parseJsonObject(provider, await (await send(endpoint(opts.model, "batchEmbedContents"), body, attempt)).text());
          vectors.push(...embeddingValues(raw, batch.length, provider));
        }
        // Gemini's batchEmbedContents reports no token counts: usage is counted locally (o200k_base),
        // an estimate of what Google bills.
        const tokens = inputs.reduce((n, text) => n + countTextTokens(text), 0);
        return {
          object: "list",
          data: vectors.map((v, index) => ({ object: "embedding", index, embedding: req.encoding_format === "base64" ? float32Base64(v) : v })),
          model: opts.model,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        };
      } catch (err) {
        throw classify(err, attempt, opts, "request");
      } finally {
        attempt.dispose();
      }
    },
  };
}

/** `gemini-2.5-flash` → `models/gemini-2.5-flash`; `models/x` and `tunedModels/x` stay as they are. */
function resourceName(model: string): string {
  return model.includes("/") ? model : `models/${model}`;
}

function embeddingInputs(input: EmbeddingsRequest["input"]): string[] {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.every((x): x is string => typeof x === "string")) return list;
  throw errors.invalidRequest("Gemini embeddings take text only: token-id arrays are not supported", "input");
}

function embeddingValues(raw: Record<string, unknown>, expected: number, provider: string): number[][] {
  const list = raw.embeddings;
  if (!Array.isArray(list) || list.length !== expected) throw invalidResponse(provider, `${Array.isArray(list) ? list.length : "no"} embeddings for ${expected} inputs`);
  return list.map((e) => {
    const values = (e as { values?: unknown } | null)?.values;
    if (!Array.isArray(values) || !values.every((v) => typeof v === "number")) throw invalidResponse(provider, "an embedding without numeric `values`");
    return values as number[];
  });
}

/** OpenAI's `encoding_format: "base64"`: the vector as little-endian float32 bytes, base64-encoded. */
function float32Base64(values: number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return Buffer.from(view.buffer).toString("base64");
}

