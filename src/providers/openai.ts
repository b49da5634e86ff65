/**
 * The OpenAI wire protocol, shared by every OpenAI-style provider (OpenAI, Azure OpenAI,
 * Mistral, Together, vLLM, Ollama, Groq, …). The canonical request already is the OpenAI
 * shape, so the work here is the HTTP call, timeouts and cancellation, SSE, checking the
 * answers, and mapping every upstream failure to a `ProviderError`.
 *
 * What differs between vendors (URL layout, auth header, body fixes) is an `OpenAIWire`;
 * `openaiWireAdapter(cfg, wire)` builds the adapter from one. See `openai-compatible.ts`
 * (per-kind table) and `azure.ts`.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../canonical/chat.ts";
import type { EmbeddingsRequest, EmbeddingsResponse } from "../canonical/embeddings.ts";
import { type Attempt, startAttempt } from "./attempt.ts";
import { ProviderError, providerHttpError } from "./errors.ts";
import { errorInBody, type Json, normalizeCompletion, normalizeEmbeddings, parseErrorBody, parseJson, StreamState } from "./openai-parse.ts";
import { parseSSE } from "./sse.ts";
import { responsesCalls } from "./openai-responses.ts";
import type { ProviderAdapter, ProviderCallOptions, ProviderConfig } from "./types.ts";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** The two endpoints an OpenAI-style provider offers, as path suffixes. */
export type OpenAIOperation = "chat/completions" | "embeddings" | "responses";

/** How one OpenAI-style vendor is called: where, with which credentials, and body fixes. */
export interface OpenAIWire {
  /** The full URL of `op` for a provider model id. */
  url(op: OpenAIOperation, model: string): string;
  /** Credential headers (`authorization: Bearer …`, Azure's `api-key`, …). */
  headers: Record<string, string>;
  /** Last change to the outgoing JSON body (fields a vendor rejects or names differently). */
  fixBody?(body: Json, op: OpenAIOperation): Json;
  /** The vendor speaks the Responses API (`url("responses", model)`): /v1/responses passes through. */
  nativeResponses?: boolean;
}

/**
 * The wire of a plain OpenAI-compatible server: `POST {baseUrl}/{op}`, `Authorization:
 * Bearer {apiKey}` when a key is set, and the given body fixes.
 */
export function bearerWire(cfg: ProviderConfig, baseUrl: string, fixBody?: OpenAIWire["fixBody"]): OpenAIWire {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    url: (op) => `${base}/${op}`,
    headers: cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : {},
    ...(fixBody ? { fixBody } : {}),
  };
}

/**
 * Creates an adapter for OpenAI itself (or any server that needs no body fixes):
 * `POST {baseUrl}/chat/completions` and `/embeddings`, default base `https://api.openai.com/v1`.
 *
 * @example
 * const openai = openaiProvider({ id: "openai", kind: "openai", apiKey: key, models: ["gpt-4o-mini"] });
 * const answer = await openai.complete(req, { model: "gpt-4o-mini", signal });
 */
export function openaiProvider(cfg: ProviderConfig): ProviderAdapter {
  return openaiWireAdapter(cfg, { ...bearerWire(cfg, cfg.baseUrl ?? OPENAI_BASE_URL), nativeResponses: true });
}

/**
 * Builds an adapter that speaks the OpenAI protocol over `wire`.
 *
 * The per-attempt timeout (`opts.timeoutMs`, else `cfg.timeoutMs`, else 60 s) covers the
 * time until response headers, and for non-streaming calls the whole body. When the
 * caller's `opts.signal` aborts, the upstream request is aborted and the signal's reason is
 * rethrown as is (not an upstream failure). Everything else fails with a `ProviderError`:
 * HTTP statuses as `providerHttpError` maps them (`retry-after-ms`, else `Retry-After`, is
 * kept); timeout → 504 `upstream_timeout`; network failure → 502 `upstream_unreachable`
 * (both retryable); bad JSON or shape → 502 `upstream_invalid_response` (not retryable);
 * an `error` in a 200 → 502 `upstream_error`; a stream that breaks off, or ends without
 * `[DONE]` or a finish_reason → 502 `upstream_stream_truncated`. The last two are
 * retryable only while nothing has been passed on to the caller.
 */
export function openaiWireAdapter(cfg: ProviderConfig, wire: OpenAIWire): ProviderAdapter {
  const fail = (status: number, code: string, message: string, retryable: boolean, cause?: unknown) =>
    new ProviderError({ provider: cfg.id, status, code, message, retryable, ...(cause !== undefined ? { cause } : {}) });
  const invalid = (what: string) => fail(502, "upstream_invalid_response", `upstream sent ${what}`, false);
  const fixBody = (body: Json, op: OpenAIOperation) => (wire.fixBody ? wire.fixBody(body, op) : body);

  /** POSTs `body`; an HTTP error status is read and thrown as a ProviderError. */
  async function post(op: OpenAIOperation, model: string, body: Json, attempt: Attempt, stream: boolean): Promise<Response> {
    const res = await fetch(wire.url(op, model), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: stream ? "text/event-stream" : "application/json",
        ...cfg.headers,
        ...wire.headers,
        ...attempt.headers,
      },
      body: JSON.stringify(fixBody(body, op)),
      signal: attempt.signal,
    });
    if (res.ok) return res;
    const text = await res.text().catch(() => "");
    const info = parseErrorBody(text);
    const message = info.message ?? (text.trim().slice(0, 300) || undefined);
    throw providerHttpError(cfg.id, res.status, { ...info, ...(message ? { message } : {}) }, retryAfterHint(res.headers));
  }

  /** Maps anything thrown during an attempt to what the caller should see. */
  function classify(err: unknown, attempt: Attempt, opts: ProviderCallOptions, op: OpenAIOperation, streamed?: { yielded: boolean }): unknown {
    if (err instanceof ProviderError) return err;
    if (attempt.timedOut) return fail(504, "upstream_timeout", `no response within ${attempt.timeoutMs} ms`, true, err);
    if (opts.signal.aborted) return opts.signal.reason;
    const why = err instanceof Error ? err.message : String(err);
    if (streamed) return fail(502, "upstream_stream_truncated", `stream broke off: ${why}`, !streamed.yielded, err);
    return fail(502, "upstream_unreachable", `cannot reach ${wire.url(op, opts.model)}: ${why}`, true, err);
  }

  /** One non-streaming call: the parsed JSON answer. */
  async function callJson(op: OpenAIOperation, body: Json, opts: ProviderCallOptions): Promise<Json> {
    const attempt = startAttempt(opts, cfg);
    try {
      const res = await post(op, opts.model, body, attempt, false);
      const text = await res.text();
      const raw = parseJson(text, invalid);
      const upstreamError = errorInBody(raw, text);
      if (upstreamError !== undefined) throw fail(502, "upstream_error", `upstream answered 200 with an error: ${upstreamError}`, true);
      return raw;
    } catch (err) {
      throw classify(err, attempt, opts, op);
    } finally {
      attempt.dispose();
    }
  }

  const responses = wire.nativeResponses
    ? responsesCalls({
        cfg,
        post: (model, body, attempt, stream) => post("responses", model, body, attempt, stream),
        classify: (err, attempt, opts, streamed) => classify(err, attempt, opts, "responses", streamed),
        fail: (status, code, message, retryable) => fail(status, code, message, retryable),
        invalid,
      })
    : undefined;

  return {
    id: cfg.id,
    kind: cfg.kind,
    models: cfg.models,
    ...(responses ? { responses } : {}),

    async complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion> {
      const { stream_options: _notForJson, ...rest } = req;
      const raw = await callJson("chat/completions", { ...rest, model: opts.model, stream: false }, opts);
      return normalizeCompletion(raw, req, opts.model, invalid);
    },

    async embed(req: EmbeddingsRequest, opts: ProviderCallOptions): Promise<EmbeddingsResponse> {
      const raw = await callJson("embeddings", { ...req, model: opts.model }, opts);
      return normalizeEmbeddings(raw, req, opts.model, invalid);
    },

    async *stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncGenerator<ChatCompletionChunk> {
      const op = "chat/completions";
      const attempt = startAttempt(opts, cfg);
      const body = { ...req, model: opts.model, stream: true, stream_options: { ...req.stream_options, include_usage: true } };
      let res: Response;
      try {
        res = await post(op, opts.model, body, attempt, true);
      } catch (err) {
        attempt.dispose();
        throw classify(err, attempt, opts, op);
      }
      attempt.stopTimer(); // the timeout covers the wait for headers only
      const progress = { yielded: false };
      let complete = false;
      try {
        if (!res.body) throw invalid("an empty body");
        const state = new StreamState(req, opts.model, invalid);
        let sawDone = false;
        for await (const ev of parseSSE(res.body, attempt.signal)) {
          if (ev.data === "[DONE]") {
            sawDone = true;
            break;
          }
          const raw = parseJson(ev.data, invalid);
          const upstreamError = errorInBody(raw, ev.data);
          if (upstreamError !== undefined) throw fail(502, "upstream_error", `upstream failed mid-stream: ${upstreamError}`, !progress.yielded);
          const chunk = state.accept(raw);
          if (!chunk) continue;
          progress.yielded = true;
          yield chunk;
        }
        if (!sawDone && !state.finished) {
          throw fail(502, "upstream_stream_truncated", "stream ended without [DONE] or a finish_reason", !progress.yielded);
        }
        const usageChunk = state.usageChunkIfMissing();
        if (usageChunk) yield usageChunk;
        complete = true;
      } catch (err) {
        throw classify(err, attempt, opts, op, progress);
      } finally {
        if (!complete) attempt.abort(); // consumer left early, or failure: cancel upstream
        attempt.dispose();
      }
    },
  };
}

/** `retry-after-ms` (OpenAI, Azure) is finer than `Retry-After`; both become the seconds text `parseRetryAfter` reads. */
function retryAfterHint(headers: Headers): string | null {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return String(Number(ms) / 1000);
  return headers.get("retry-after");
}
