/**
 * Adapter for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama, Groq,
 * Together, …). The canonical request already is the OpenAI shape, so the work here is
 * the HTTP call, timeouts and cancellation, SSE, and mapping upstream failures to
 * GatewayErrors with stable codes.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from "../canonical/chat.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { parseSSE } from "./sse.ts";
import { countPromptTokens, countTextTokens } from "./tokens.ts";
import type { ProviderAdapter, ProviderCallOptions, ProviderConfig } from "./types.ts";

const DEFAULT_BASE_URL = "https://api.openai.com/v1";
const DEFAULT_TIMEOUT_MS = 60_000;

type Json = Record<string, unknown>;

/**
 * Creates an adapter for an OpenAI-compatible endpoint: `POST {baseUrl}/chat/completions`
 * (default base `https://api.openai.com/v1`), `Authorization: Bearer {apiKey}` when set.
 *
 * The per-attempt timeout (`opts.timeoutMs`, else `cfg.timeoutMs`, else 60 s) covers the
 * time until response headers, and for non-streaming calls the whole body. When the
 * caller's `opts.signal` aborts, the upstream request is aborted and its reason rethrown.
 * Upstream failures become GatewayErrors: 400/404/413/422 pass through, 401/403 → 502
 * `upstream_auth_failed`, 429 → 429 `upstream_rate_limited` (Retry-After kept), other
 * statuses → 502 `upstream_error`, timeout → 504 `upstream_timeout`, network failure →
 * 502 `upstream_unreachable`, bad JSON → 502 `upstream_invalid_response`, a stream that
 * ends without `[DONE]` or a finish_reason → 502 `upstream_stream_truncated`.
 */
export function openaiProvider(cfg: ProviderConfig): ProviderAdapter {
  const url = `${(cfg.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")}/chat/completions`;
  const fail = (status: number, code: string, message: string, headers?: Record<string, string>) =>
    new GatewayError({ status, code, message: `${cfg.id}: ${message}`, ...(headers ? { headers } : {}) });

  function headersFor(stream: boolean): Record<string, string> {
    return {
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
      ...cfg.headers,
      ...(cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : {}),
    };
  }

  /** Fetches with the attempt's signal; HTTP errors are read and thrown as GatewayErrors. */
  async function send(body: Json, stream: boolean, attempt: Attempt): Promise<Response> {
    const res = await fetch(url, {
      method: "POST",
      headers: headersFor(stream),
      body: JSON.stringify(body),
      signal: attempt.signal,
    });
    if (!res.ok) throw httpError(res.status, await res.text(), res.headers);
    return res;
  }

  function httpError(status: number, bodyText: string, headers: Headers): GatewayError {
    const info = parseErrorBody(bodyText);
    const detail = info.message ?? (bodyText.trim().slice(0, 300) || `HTTP ${status}`);
    if (status === 400 || status === 404 || status === 413 || status === 422) {
      return new GatewayError({
        status,
        code: info.code ?? "upstream_bad_request",
        message: `${cfg.id}: ${detail}`,
        param: info.param ?? null,
      });
    }
    if (status === 401 || status === 403) return fail(502, "upstream_auth_failed", `upstream rejected the gateway's credentials (HTTP ${status}): ${detail}`);
    if (status === 429) {
      const retryAfter = headers.get("retry-after");
      return fail(429, "upstream_rate_limited", `upstream rate limit: ${detail}`, retryAfter ? { "retry-after": retryAfter } : undefined);
    }
    if (status === 408 || status === 504) return fail(504, "upstream_timeout", `upstream timed out (HTTP ${status}): ${detail}`);
    return fail(502, "upstream_error", `upstream returned HTTP ${status}: ${detail}`);
  }

  /** Maps anything thrown during an attempt to what the caller should see. */
  function classify(err: unknown, attempt: Attempt, opts: ProviderCallOptions, phase: "request" | "stream"): unknown {
    if (err instanceof GatewayError) return err;
    if (attempt.timedOut) return fail(504, "upstream_timeout", `no response within ${attempt.timeoutMs} ms`);
    if (opts.signal.aborted) return opts.signal.reason;
    const why = err instanceof Error ? err.message : String(err);
    if (phase === "stream") return fail(502, "upstream_stream_truncated", `stream broke off: ${why}`);
    return fail(502, "upstream_unreachable", `cannot reach ${url}: ${why}`);
  }

  const invalid = (what: string) => fail(502, "upstream_invalid_response", `upstream sent ${what}`);

  return {
    id: cfg.id,
    kind: "openai",
    models: cfg.models,

    async complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion> {
      const attempt = startAttempt(opts, cfg);
      try {
        const { stream_options: _dropped, ...rest } = req;
        const res = await send({ ...rest, model: opts.model, stream: false }, false, attempt);
        const text = await res.text();
        const raw = parseJson(text, invalid);
        if (raw.error !== undefined) throw fail(502, "upstream_error", `upstream answered 200 with an error: ${parseErrorBody(text).message ?? text.slice(0, 200)}`);
        return normalizeCompletion(raw, req, opts, invalid);
      } catch (err) {
        throw classify(err, attempt, opts, "request");
      } finally {
        attempt.dispose();
      }
    },

    async *stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncGenerator<ChatCompletionChunk> {
      const attempt = startAttempt(opts, cfg);
      const body = { ...req, model: opts.model, stream: true, stream_options: { ...req.stream_options, include_usage: true } };
      let res: Response;
      try {
        res = await send(body, true, attempt);
      } catch (err) {
        attempt.dispose();
        throw classify(err, attempt, opts, "request");
      }
      attempt.stopTimer(); // the timeout covers the wait for headers only
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
          if (raw.error !== undefined) {
            const message = parseErrorBody(ev.data).message ?? "unknown error";
            throw fail(502, "upstream_error", `upstream failed mid-stream: ${message}`);
          }
          yield state.accept(raw);
        }
        if (!sawDone && !state.finished) throw fail(502, "upstream_stream_truncated", "stream ended without [DONE] or a finish_reason");
        const usageChunk = state.usageChunkIfMissing();
        if (usageChunk) yield usageChunk;
        complete = true;
      } catch (err) {
        throw classify(err, attempt, opts, "stream");
      } finally {
        if (!complete) attempt.abort(); // consumer left early, or failure: cancel upstream
        attempt.dispose();
      }
    },
  };
}

/** One upstream attempt: its combined abort signal and its (clearable) timeout. */
interface Attempt {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly timedOut: boolean;
  stopTimer(): void;
  abort(): void;
  dispose(): void;
}

function startAttempt(opts: ProviderCallOptions, cfg: ProviderConfig): Attempt {
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort(new DOMException(`Upstream attempt timed out after ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  return {
    signal: AbortSignal.any([opts.signal, ctrl.signal]),
    timeoutMs,
    get timedOut() {
      return timedOut;
    },
    stopTimer: () => clearTimeout(timer),
    abort: () => ctrl.abort(new DOMException("Upstream request cancelled", "AbortError")),
    dispose: () => clearTimeout(timer),
  };
}

/** Tracks a stream's identity (id/created/model), completion and usage across chunks. */
class StreamState {
  finished = false;
  private id: string | undefined;
  private created: number | undefined;
  private model: string | undefined;
  private sawUsage = false;
  private completionText = "";

  constructor(
    private readonly req: ChatCompletionRequest,
    private readonly requestedModel: string,
    private readonly invalid: (what: string) => GatewayError,
  ) {}

  accept(raw: Json): ChatCompletionChunk {
    if (raw.choices !== undefined && !Array.isArray(raw.choices)) throw this.invalid("a chunk whose `choices` is not a list");
    this.id ??= typeof raw.id === "string" && raw.id ? raw.id : undefined;
    this.created ??= typeof raw.created === "number" ? raw.created : undefined;
    this.model ??= typeof raw.model === "string" && raw.model ? raw.model : undefined;
    const chunk = { ...raw, ...this.identity(), object: "chat.completion.chunk", choices: raw.choices ?? [] } as ChatCompletionChunk;
    for (const choice of chunk.choices) {
      if (choice.finish_reason) this.finished = true;
      const delta = choice.delta ?? {};
      if (typeof delta.content === "string") this.completionText += delta.content;
      for (const call of delta.tool_calls ?? []) this.completionText += (call.function?.name ?? "") + (call.function?.arguments ?? "");
    }
    if (chunk.usage) this.sawUsage = true;
    return chunk;
  }

  /** A final `choices: []` chunk with computed usage, when the upstream sent none. */
  usageChunkIfMissing(): ChatCompletionChunk | undefined {
    if (this.sawUsage) return undefined;
    return { ...this.identity(), object: "chat.completion.chunk", choices: [], usage: computeUsage(this.req, this.completionText) };
  }

  private identity() {
    this.id ??= `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
    this.created ??= Math.floor(Date.now() / 1000);
    return { id: this.id, created: this.created, model: this.model ?? this.requestedModel };
  }
}

function normalizeCompletion(
  raw: Json,
  req: ChatCompletionRequest,
  opts: ProviderCallOptions,
  invalid: (what: string) => GatewayError,
): ChatCompletion {
  if (!Array.isArray(raw.choices)) throw invalid("a completion without `choices`");
  const completion = {
    ...raw,
    id: typeof raw.id === "string" && raw.id ? raw.id : `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
    object: "chat.completion",
    created: typeof raw.created === "number" ? raw.created : Math.floor(Date.now() / 1000),
    model: typeof raw.model === "string" && raw.model ? raw.model : opts.model,
  } as ChatCompletion;
  if (!completion.usage) {
    const text = completion.choices
      .map((c) => (c.message?.content ?? "") + (c.message?.tool_calls ?? []).map((t) => t.function.name + t.function.arguments).join(""))
      .join("");
    completion.usage = computeUsage(req, text);
  }
  return completion;
}

function computeUsage(req: ChatCompletionRequest, completionText: string): Usage {
  const prompt = countPromptTokens(req.messages);
  const completion = countTextTokens(completionText);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function parseJson(text: string, invalid: (what: string) => GatewayError): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`malformed JSON: ${text.slice(0, 120)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("JSON that is not an object");
  return value as Json;
}

/** Reads `{error:{message,type,code,param}}` (OpenAI) or `{error:"..."}` (Ollama and others). */
function parseErrorBody(text: string): { message?: string; code?: string; param?: string } {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const err = body.error;
    if (typeof err === "string") return { message: err };
    if (typeof err === "object" && err !== null) {
      const e = err as Json;
      return {
        ...(typeof e.message === "string" ? { message: e.message } : {}),
        ...(typeof e.code === "string" && e.code ? { code: e.code } : {}),
        ...(typeof e.param === "string" ? { param: e.param } : {}),
      };
    }
    if (typeof body.message === "string") return { message: body.message };
  } catch {
    // not JSON: the caller falls back to the raw text
  }
  return {};
}
